/**
 * The lifetime part's SRQ step on a device without SRQs (QUERY_DEVICE
 * max_srq 0): skipped with the reason, nothing made, nothing thrown (it
 * used to create the SRQ regardless, and the throw lost the whole report).
 */

import { describe, expect, it } from 'vitest';
import { srqStep } from '../src/check/lifetime.js';
import { newPart } from '../src/check/report.js';
import type { Context } from '../src/verbs/context.js';

describe('uverbs check: lifetime', () => {
  it('a device without SRQs: the SRQ step is skipped with the reason', () => {
    const made: string[] = [];
    let disposed = 0;
    const ctx = {
      queryDevice: () => ({ maxSrq: 0 }),
      allocPd: () => {
        made.push('pd');
        throw new Error('the SRQ step must not make anything on a device without SRQs');
      },
      [Symbol.dispose]: () => {
        disposed++;
      },
    } as unknown as Context;
    const part = newPart('lifetime');
    srqStep(part, () => ctx);
    expect(part.notes).toEqual(['SRQ step skipped: the device has no SRQs (QUERY_DEVICE max_srq 0)']);
    expect(part.counts).toEqual({ 'unsupported SRQ': 1 });
    expect([made, disposed, part.disagreements]).toEqual([[], 1, []]);
  });
});

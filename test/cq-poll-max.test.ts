// cq.poll(out, max): only an absent max means "what fits in out" (bbdeabe made it `max ?? fits`, so a null max polled everything)
import { describe, expect, it } from 'vitest';
import { Context } from '../src/verbs/context.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

describe('cq.poll max', () => {
  it('null or NaN is ERR_OUT_OF_RANGE before anything is read, as before', () => {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const cq = ctx.createCq({ cqe: 4 });
    const out = new Uint8Array(4 * 48);
    for (const max of [null, Number.NaN, 5, -1, 1.5]) {
      expect(() => cq.poll(out, max as never)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
    ctx.close();
  });
});

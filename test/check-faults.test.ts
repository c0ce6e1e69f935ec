/**
 * The fail-nth sweep's logic without a fault-injection kernel: the fake
 * kernel (test/support/fake-kernel.ts) stands in, failing its n-th system
 * call (open, ioctl, write) with ENOMEM once armed, as fail-nth fails the
 * n-th fault site. Every verb's sweep ends, each failure surfaces as a
 * typed UverbsError and the library's objects stay consistent; a kernel
 * layer whose failure is not typed makes the sweep report a disagreement.
 */

import { describe, expect, it } from 'vitest';
import { type FaultSite, sweepVerb, VERBS } from '../src/check/fault-injection.js';
import { newPart } from '../src/check/report.js';
import { ENOMEM } from '../src/errno.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

class FaultyKernel extends FakeKernel {
  #left = 0;
  /** The fail-nth stand-in: arms this kernel's countdown, reads it back. */
  readonly site: FaultSite = {
    arm: (n) => {
      this.#left = n;
    },
    read: () => this.#left,
    disarm: () => {
      this.#left = 0;
    },
  };
  constructor(readonly untyped = false) {
    super();
  }
  /** True when this call is the armed one. */
  #fails(): boolean {
    if (this.#left === 0) return false;
    this.#left--;
    if (this.#left !== 0) return false;
    if (this.untyped) throw new Error('not an errno');
    return true;
  }
  override open(): number {
    return this.#fails() ? -ENOMEM : super.open();
  }
  override ioctl(fd: number, request: number, arg: bigint): number {
    return this.#fails() ? -ENOMEM : super.ioctl(fd, request, arg);
  }
  override write(fd: number, address: bigint, length: number): number {
    return this.#fails() ? -ENOMEM : super.write(fd, address, length);
  }
}

describe('uverbs check: the fail-nth sweep against a fake kernel', () => {
  it('every verb: each injected failure is a typed UverbsError, objects stay consistent, the sweep ends', () => {
    const kernel = new FaultyKernel();
    const part = newPart('fault-injection');
    // the fake has no GID table to find a RoCE GID in: the AH verbs are for real devices
    const verbs = VERBS.filter((v) => !v.name.startsWith('AH'));
    const rows = verbs.map((verb) => sweepVerb(part, FAKE_DEVICE, verb, kernel.site, undefined, 32, kernel));
    expect(part.disagreements).toEqual([]);
    for (const row of rows) {
      // a comp channel's destroy is close(2) of its fd, which the fake never fails
      if (row.verb === 'comp channel destroy') {
        expect([row.tried, row.injected]).toEqual([1, 0]);
        continue;
      }
      expect(row.injected, row.verb).toBeGreaterThan(0);
      expect(row.tried, row.verb).toBe(row.injected + 1);
      // a destroy that fails asks the kernel again (kernel-object.ts): the fake's ENOMEM came before
      // anything happened, so the second destroy does it, and close() returns with the object closed
      const destroy = VERBS.find((v) => v.name === row.verb)?.destroys === true;
      expect(
        Object.keys(row.surfaced).every((s) => (destroy ? s === 'success' : /^Uverbs\w*Error ENOMEM/.test(s))),
        JSON.stringify(row),
      ).toBe(true);
    }
    expect(part.agreements).toBeGreaterThan(rows.length * 3);
  });

  it('a failure that is not a typed error is reported as a disagreement', () => {
    const kernel = new FaultyKernel(true);
    const part = newPart('fault-injection');
    const pd = VERBS.find((v) => v.name === 'PD alloc');
    const row = sweepVerb(part, FAKE_DEVICE, pd as (typeof VERBS)[number], kernel.site, undefined, 8, kernel);
    expect(row.surfaced).toEqual({ 'UNTYPED Error': row.injected });
    expect(part.disagreements.length).toBeGreaterThan(0);
    expect(part.disagreements[0]).toMatchObject({
      case: 'PD alloc, fail-nth 1: surfaces as a typed UverbsError or succeeds',
      kind: 'verb',
      note: expect.stringMatching(/^surfaced as UNTYPED Error: Error: not an errno/),
    });
  });
});

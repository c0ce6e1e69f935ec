/**
 * Destroys the kernel carried out but reported as failed (fail_usercopy on
 * the copy of a destroy's response: the handle is gone, the call says
 * EFAULT), `Context.open` failures (every one a typed UverbsError, nothing
 * left open) and `Context.close()` with a child whose destroy fails (the fd
 * is closed all the same): the fake kernel stands in, its `staleHandles`
 * being the handles the kernel no longer has (a lookup of one is ENOENT).
 */

import { describe, expect, it } from 'vitest';
import { EFAULT, ENOMEM } from '../src/errno.js';
import { UverbsError } from '../src/errors.js';
import { Context } from '../src/verbs/context.js';
import type { KernelObject } from '../src/verbs/kernel-object.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

/** A kernel whose next ioctl carries the call out, then fails it with EFAULT (the response's copy-out failed). */
class CommitThenFault extends FakeKernel {
  readonly stale: number[];
  /** The handle the armed destroy removes (undefined: not armed). */
  commits?: number;
  /** The next ioctl fails with this errno before doing anything. */
  refuse?: number;
  /** The fds closed, in order. */
  readonly closes: number[] = [];
  override close(fd?: number): number {
    this.closes.push(fd ?? -1);
    return super.close();
  }
  override open(): number {
    if (this.refuse === undefined) return super.open();
    return -this.refuse;
  }
  constructor(stale: number[] = []) {
    super({ staleHandles: stale });
    this.stale = stale;
  }
  override ioctl(fd: number, request: number, arg: bigint): number {
    if (this.refuse !== undefined) return -this.refuse;
    const r = super.ioctl(fd, request, arg);
    if (this.commits === undefined || r !== 0) return r;
    this.stale.push(this.commits);
    this.commits = undefined;
    return -EFAULT;
  }
}

const handleOf = (o: KernelObject) => (o as unknown as { handle: number }).handle;

describe('a destroy the kernel carried out but reported as failed', () => {
  for (const which of ['PD', 'CQ', 'QP', 'MR', 'SRQ'] as const) {
    it(`${which}: EFAULT after the handle is gone closes the object, and close() does not throw`, () => {
      const kernel = new CommitThenFault();
      const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
      const pd = ctx.allocPd();
      const cq = ctx.createCq({ cqe: 8 });
      const target: KernelObject =
        which === 'PD'
          ? pd
          : which === 'CQ'
            ? cq
            : which === 'MR'
              ? pd.registerMemory(4096, { localWrite: true })
              : which === 'SRQ'
                ? pd.createSrq({ maxWr: 8, maxSge: 1 })
                : pd.createQp({
                    type: 'RC',
                    sendCq: cq,
                    recvCq: cq,
                    cap: { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 },
                  });
      kernel.commits = handleOf(target);
      expect(() => target.close()).not.toThrow();
      expect(target.closed).toBe(true);
      expect(() => ctx.close()).not.toThrow();
    });
  }

  it('a destroy that failed before the kernel did anything throws and leaves the object open', () => {
    const kernel = new CommitThenFault();
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const pd = ctx.allocPd();
    kernel.refuse = ENOMEM;
    expect(() => pd.close()).toThrow(expect.objectContaining({ code: 'ENOMEM', name: 'UverbsError' }));
    expect(pd.closed).toBe(false);
    kernel.refuse = undefined;
    pd.close();
    expect(pd.closed).toBe(true);
    ctx.close();
  });
});

describe('Context.close() with a child whose destroy fails', () => {
  it('closes its fd and every child all the same, then reports the failure', () => {
    const kernel = new CommitThenFault();
    const closes = kernel.closes;
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096, { localWrite: true });
    kernel.refuse = ENOMEM;
    let thrown: unknown;
    try {
      ctx.close();
    } catch (error) {
      thrown = error;
    }
    kernel.refuse = undefined;
    expect(closes).toContain(kernel.uverbsFd);
    expect([ctx.closed, pd.closed, mr.closed]).toEqual([true, true, true]);
    expect(thrown).toBeInstanceOf(UverbsError);
    expect(thrown).toMatchObject({ code: 'ENOMEM' });
  });
});

describe('Context.open failures', () => {
  it('an untyped failure inside open (the addon, fs) is a typed UverbsError, the fd closed, nothing mapped', () => {
    for (const failing of ['mapAnonymous', 'ioctl'] as const) {
      const kernel = new CommitThenFault();
      const closes = kernel.closes;
      const native = Object.assign(new Error('N-API call failed'), { code: 'ERR_UVERBS_NATIVE' });
      const fs = Object.assign(new Error('ENOMEM: cannot allocate memory, read'), {
        code: 'ENOMEM',
        errno: -ENOMEM,
        syscall: 'read',
      });
      let mapped = 0;
      if (failing === 'mapAnonymous') {
        kernel.mapAnonymous = () => {
          throw native;
        };
      } else {
        const map = kernel.mapAnonymous.bind(kernel);
        kernel.mapAnonymous = (length: number) => {
          const m = map(length);
          mapped++;
          return {
            ...m,
            unmap: () => {
              mapped--;
              m.unmap();
            },
          };
        };
        kernel.ioctl = () => {
          throw fs;
        };
      }
      let thrown: unknown;
      try {
        Context.open(FAKE_DEVICE, { sys: kernel });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, failing).toBeInstanceOf(UverbsError);
      expect(thrown, failing).toMatchObject({ errno: ENOMEM, code: 'ENOMEM' });
      expect((thrown as UverbsError).syscall, failing).toBe(failing === 'mapAnonymous' ? 'mmap' : 'read');
      expect(closes, failing).toEqual([kernel.uverbsFd]);
      expect(mapped, failing).toBe(0);
    }
  });
});

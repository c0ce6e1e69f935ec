/**
 * Every legacy path on a real kernel: a context opened with `ioctl: false`
 * behaves as on a kernel without RDMA_VERBS_IOCTL, so each object goes
 * through its write / write-ex form and the trace shows nothing else. What
 * has no write form (QP_CREATE, the GID queries) is a typed "unsupported".
 */

import { describe, expect, it } from 'vitest';
import { UverbsUnsupportedError } from '../../src/errors.js';
import type { TraceEvent } from '../../src/transport/dispatch.js';
import { Context } from '../../src/verbs/context.js';
import { fdCount, TEST_DEVICE, VM_KERNEL } from './support.js';

describe.runIf(TEST_DEVICE)(`legacy paths on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const iwarp = name.startsWith('siw');

  it('with ioctl off, every verb that has a write form takes it, and closes cleanly', () => {
    const fds = fdCount();
    const trace: TraceEvent[] = [];
    const ctx = Context.open(name, { ioctl: false, trace: (e) => trace.push(e) });
    expect(trace.map((e) => e.method)).toContain('IB_USER_VERBS_CMD_GET_CONTEXT');
    // legacy GET_CONTEXT hands back an async event fd with the context: adopted, not leaked
    const events = ctx.asyncEvents();
    expect(events.next()).toBeUndefined();

    const port = ctx.queryPort(1);
    expect(ctx.lastPath).toBe('write');
    expect(port.state).toBe('ACTIVE');

    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096, { localWrite: true, remoteRead: true });
    expect(mr.path).toBe('write');
    const channel = ctx.createCompletionChannel();
    const cq = ctx.createCq({ cqe: 8, channel });
    expect(cq.path).toBe('write');
    if (!iwarp) {
      pd.allocMw(1);
      expect(ctx.lastPath).toBe('write');
    }
    const unsupported = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof UverbsUnsupportedError ? error.code : error;
      }
      return 'succeeded';
    };
    expect(
      unsupported(() =>
        pd.createQp({
          type: 'RC',
          sendCq: cq,
          recvCq: cq,
          cap: { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 },
        }),
      ),
    ).toBe('ENOTTY');
    expect(unsupported(() => ctx.queryGid(1, 0))).toBe('ENOTTY');

    ctx.close();
    expect([mr.closed, cq.closed, channel.closed, events.closed, pd.closed]).toEqual([true, true, true, true, true]);
    const paths = new Set(trace.map((e) => e.path));
    expect(paths.has('ioctl')).toBe(false);
    expect(trace.filter((e) => e.errno !== 0).map((e) => e.method)).toEqual([]);
    expect(fdCount()).toBe(fds);
  });
});

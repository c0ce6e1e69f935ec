/**
 * Memory windows on a real device: two RC QPs of one context connected to
 * each other (RoCE v2 looped back through the netdev, as in
 * datapath.device.test.ts). QP `b` binds a window over part of its region;
 * QP `a` writes and reads through the window's rkey; then the window is
 * revoked (by `a`'s SEND_WITH_INV, or `b`'s LOCAL_INV) and the same access
 * fails with a remote access error, a completion that reports no opcode.
 *
 * rxe has type 1 and type 2 windows on every kernel here (rxe_mw.c, 5.13);
 * a device whose kernel answers ALLOC_MW with "unsupported" skips with that
 * answer (siw has no windows), unless MUST_HAVE says it must have them.
 */

import { describe, expect, it } from 'vitest';
import { ib_wc_flags } from '../../src/abi/kernel-internal.js';
import type { CompletionQueue } from '../../src/verbs/completion-queue.js';
import { Context } from '../../src/verbs/context.js';
import type { QueuePair } from '../../src/verbs/queue-pair.js';
import type { Completion } from '../../src/verbs/work-request.js';
import {
  awaitCompletions,
  Calls,
  fillPattern,
  handConnected,
  kernelErrno,
  loopbackPair,
  orSkip,
  resourceCounts,
  settle,
  TEST_DEVICE,
  VM_KERNEL,
} from './support.js';

const name = TEST_DEVICE as string;
const ALL = { localWrite: true, remoteWrite: true, remoteRead: true, remoteAtomic: true, mwBind: true };
const WINDOW = { offset: 4096, length: 1024 };

function rig(type: 1 | 2, test: { skip: (note?: string) => void }) {
  const calls = new Calls();
  const ctx = Context.open(name, { trace: calls.trace });
  const pd = ctx.allocPd();
  // allocated before the regions it is bound over: a bind makes the window close before its region
  const mw = orSkip(test, `ALLOC_MW type ${type}`, calls, () => pd.allocMw(type));
  const channel = ctx.createCompletionChannel();
  const cq = ctx.createCq({ cqe: 64, channel });
  const { a, b } = loopbackPair(pd, cq);
  const ma = pd.registerMemory(16384, ALL);
  const mb = pd.registerMemory(16384, ALL);
  return { ctx, pd, cq, a, b, ma, mb, mw, channel };
}

/** The next `count` completions, awaited through the channel (with a timeout: a lost one fails, never hangs). */
const next = (cq: CompletionQueue, count: number) => awaitCompletions(cq, count, 10_000);
const pattern = fillPattern;

/** `a` RDMA-writes `length` bytes of its region to the window's start, through `rkey`; resolves with the completion. */
type Rig = ReturnType<typeof rig>;

async function writeThrough(r: Rig, rkey: number, wrId: bigint): Promise<Completion | undefined> {
  const { a, ma, mb, cq } = r;
  a.postSend({
    wrId,
    opcode: 'RDMA_WRITE',
    signaled: true,
    sg: [{ mr: ma, offset: 0, length: 256 }],
    remote: { addr: mb.address + BigInt(WINDOW.offset), rkey },
  });
  return (await next(cq, 1))[0];
}

function bindSucceeded(list: Completion[], qp: QueuePair, wrId: bigint) {
  expect(list).toEqual([expect.objectContaining({ wrId, status: 'IB_WC_SUCCESS', opcode: 'IB_WC_BIND_MW' })]);
  expect(list[0]?.qpNum).toBe(qp.qpNum);
}

// registered for what the library has on this device: the datapath (rxe) or none (siw), never both as skips
// windows are bound on a hand-connected pair (rxe); siw has no windows (ALLOC_MW is its EOPNOTSUPP): the second block
const datapath = handConnected();

describe.runIf(TEST_DEVICE && datapath)(`memory windows on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it('type 2: bind over part of a region, WRITE and READ through its rkey, SEND_WITH_INV revokes it (WITH_INVALIDATE), then the rkey is a remote access error', async ({
    skip,
  }) => {
    const r = rig(2, { skip });
    const { ctx, a, b, ma, mb, mw, cq } = r;
    try {
      const allocated = mw.rkey;
      const rkey = mw.bind(b, {
        mr: mb,
        ...WINDOW,
        access: { remoteWrite: true, remoteRead: true },
        key: 0x42,
        wrId: 1n,
        signaled: true,
      });
      expect(rkey).toBe(((allocated & ~0xff) | 0x42) >>> 0);
      expect(mw.rkey).toBe(rkey);
      bindSucceeded(await next(cq, 1), b, 1n);

      const sent = pattern(ma, 0, 256, 7);
      expect(await writeThrough(r, rkey, 2n)).toMatchObject({
        wrId: 2n,
        status: 'IB_WC_SUCCESS',
        opcode: 'IB_WC_RDMA_WRITE',
      });
      expect(mb.bytes.subarray(WINDOW.offset, WINDOW.offset + 256)).toEqual(sent);

      const there = pattern(mb, WINDOW.offset + 512, 128, 99);
      a.postSend({
        wrId: 3n,
        opcode: 'RDMA_READ',
        signaled: true,
        sg: [{ mr: ma, offset: 8192, length: 128 }],
        remote: { addr: mb.address + BigInt(WINDOW.offset + 512), rkey },
      });
      expect(await next(cq, 1)).toEqual([
        expect.objectContaining({ wrId: 3n, status: 'IB_WC_SUCCESS', opcode: 'IB_WC_RDMA_READ' }),
      ]);
      expect(ma.bytes.subarray(8192, 8192 + 128)).toEqual(there);

      b.postRecv({ wrId: 4n, sg: [{ mr: mb, offset: 12288, length: 64 }] });
      a.postSend({
        wrId: 5n,
        opcode: 'SEND_WITH_INV',
        invalidateRkey: rkey,
        signaled: true,
        sg: [{ mr: ma, length: 16 }],
      });
      const both = await next(cq, 2);
      const recv = both.find((c) => c.wrId === 4n);
      expect(recv).toMatchObject({ status: 'IB_WC_SUCCESS', opcode: 'IB_WC_RECV', byteLen: 16, invalidatedRkey: rkey });
      expect((recv?.wcFlags ?? 0) & ib_wc_flags.IB_WC_WITH_INVALIDATE).toBe(ib_wc_flags.IB_WC_WITH_INVALIDATE);
      expect(both.find((c) => c.wrId === 5n)).toMatchObject({ status: 'IB_WC_SUCCESS', opcode: 'IB_WC_SEND' });

      // revoked: the same write is the responder's access error, and a failed completion has no opcode
      const before = mb.bytes.slice(WINDOW.offset, WINDOW.offset + 256);
      pattern(ma, 0, 256, 200);
      const failed = await writeThrough(r, rkey, 6n);
      expect(failed).toMatchObject({ wrId: 6n, status: 'IB_WC_REM_ACCESS_ERR', opcode: undefined });
      expect(mb.bytes.subarray(WINDOW.offset, WINDOW.offset + 256)).toEqual(before);
    } finally {
      ctx.close();
    }
  });

  it.for([1, 2] as const)(
    'type %i: a window allocated before its region and bound over it closes with the context, and `rdma res` is back where it was',
    async (type, { skip }) => {
      const baseline = resourceCounts(name);
      const r = rig(type, { skip });
      const { ctx, b, mb, mw, cq } = r;
      let closed = false;
      try {
        mw.bind(b, { mr: mb, ...WINDOW, access: { remoteWrite: true }, wrId: 1n, signaled: true });
        bindSucceeded(await next(cq, 1), b, 1n);
        // the kernel's own rule: a region a window is bound to is not deregistered (rxe_dereg_mr, num_mw > 0)
        expect(kernelErrno(() => mb.close({ cascade: false }))).toBeDefined();
        expect(mb.closed).toBe(false);
        const started = Date.now();
        ctx.close(); // the window first, then its region and (type 2) its QP: no refusal half-way
        closed = true;
        // a type 2 window still holding its QP made 6.1's QP destroy wait 50 s (rxe_pool.c WARN) before giving up
        expect(Date.now() - started).toBeLessThan(10_000);
        expect([mw.closed, mb.closed, r.pd.closed, ctx.closed]).toEqual([true, true, true, true]);
        expect(await settle(() => resourceCounts(name), baseline)).toEqual(baseline);
      } finally {
        if (!closed) ctx.close();
      }
    },
  );

  it('a write through an rkey that names nothing fails with IB_WC_REM_ACCESS_ERR, and its completion reports no opcode', async ({
    skip,
  }) => {
    const r = rig(2, { skip });
    try {
      // the region's own rkey with another key byte: the index names the region, the key does not match
      const wrong = (r.mb.rkey ^ 0x80) >>> 0;
      const failed = await writeThrough(r, wrong, 9n);
      expect(failed).toMatchObject({ wrId: 9n, status: 'IB_WC_REM_ACCESS_ERR', opcode: undefined });
      expect(failed?.qpNum).toBe(r.a.qpNum);
    } finally {
      r.ctx.close();
    }
  });

  it('type 2: LOCAL_INV on the binding QP revokes the window', async ({ skip }) => {
    const r = rig(2, { skip });
    const { ctx, b, mb, mw, cq } = r;
    try {
      const rkey = mw.bind(b, { mr: mb, ...WINDOW, access: { remoteWrite: true }, wrId: 1n, signaled: true });
      bindSucceeded(await next(cq, 1), b, 1n);
      expect(await writeThrough(r, rkey, 2n)).toMatchObject({ status: 'IB_WC_SUCCESS' });
      b.postSend({ wrId: 3n, opcode: 'LOCAL_INV', invalidateRkey: rkey, signaled: true });
      expect(await next(cq, 1)).toEqual([
        expect.objectContaining({ wrId: 3n, status: 'IB_WC_SUCCESS', opcode: 'IB_WC_LOCAL_INV' }),
      ]);
      expect(await writeThrough(r, rkey, 4n)).toMatchObject({ status: 'IB_WC_REM_ACCESS_ERR', opcode: undefined });
    } finally {
      ctx.close();
    }
  });

  it('type 1: mw.bind() gives read-only access through the new rkey; a write through it is refused', async ({
    skip,
  }) => {
    const r = rig(1, { skip });
    const { ctx, a, b, ma, mb, mw, cq } = r;
    try {
      const rkey = mw.bind(b, { mr: mb, ...WINDOW, access: { remoteRead: true }, wrId: 1n, signaled: true });
      bindSucceeded(await next(cq, 1), b, 1n);
      const there = pattern(mb, WINDOW.offset, 64, 3);
      a.postSend({
        wrId: 2n,
        opcode: 'RDMA_READ',
        signaled: true,
        sg: [{ mr: ma, offset: 0, length: 64 }],
        remote: { addr: mb.address + BigInt(WINDOW.offset), rkey },
      });
      expect(await next(cq, 1)).toEqual([expect.objectContaining({ wrId: 2n, status: 'IB_WC_SUCCESS' })]);
      expect(ma.bytes.subarray(0, 64)).toEqual(there);
      expect(await writeThrough(r, rkey, 3n)).toMatchObject({ status: 'IB_WC_REM_ACCESS_ERR', opcode: undefined });
    } finally {
      ctx.close();
    }
  });
});

describe.runIf(TEST_DEVICE && !datapath)(`memory windows on ${TEST_DEVICE} (no hand-connected datapath)`, () => {
  if (!datapath)
    it.for([1, 2] as const)('a type %i window: allocated, or skipped with the kernel’s answer', (type, test) => {
      const calls = new Calls();
      using ctx = Context.open(name, { trace: calls.trace });
      const pd = ctx.allocPd();
      const mw = orSkip(test, `ALLOC_MW type ${type}`, calls, () => pd.allocMw(type));
      // a device with windows but no datapath in this library: binding is the datapath's typed "unsupported"
      const cq = ctx.createCq({ cqe: 4 });
      const qp = pd.createQp({
        type: 'RC',
        sendCq: cq,
        recvCq: cq,
        cap: { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 },
      });
      const mr = pd.registerMemory(4096, ALL);
      expect(() => mw.bind(qp, { mr, length: 8 })).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP' }));
    });
});

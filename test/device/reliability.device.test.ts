/**
 * Scenarios of DESIGN §Reliability (the numbers are the list's) about whole
 * files, processes, threads and limits: 1, closing the fd with thousands of
 * objects live; 2, a process killed mid-create; 3, a mapping that outlives
 * its fd; 10, destroy racing a use from another thread; 11, exhaustion (the
 * AH pool, RLIMIT_MEMLOCK); 12, CQ overflow; 14, posting outside RTS and
 * past the receive queue; 15, nothing of ours crosses exec; and 7, the
 * kernel's own wqe_size floor (the bytes the addon's doorbell sends are read
 * back in the host datapath test). The others live with what they are
 * about: 4–6 abi.device and fuzz.device, 8–9 lifecycle.device, 13
 * datapath.device.
 */

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/abi/layout.js';
import { UVERBS_METHOD_CQ_CREATE, UVERBS_METHOD_GET_CONTEXT } from '../../src/abi/methods.js';
import { ib_uverbs_cmd_hdr, ib_uverbs_post_send, ib_uverbs_send_wr } from '../../src/abi/structs.js';
import { WRITE_COMMANDS } from '../../src/abi/write-commands.js';
import { errnoName } from '../../src/errno.js';
import { UverbsError } from '../../src/errors.js';
import { providerFor, ringsFor, uhwFor } from '../../src/providers/index.js';
import type { TraceEvent } from '../../src/transport/dispatch.js';
import { UserMemory } from '../../src/transport/memory.js';
import { mapRings, type Ring } from '../../src/transport/ring.js';
import type { AddressHandle } from '../../src/verbs/address-handle.js';
import { Context, sysOf } from '../../src/verbs/context.js';
import type { ProtectionDomain } from '../../src/verbs/protection-domain.js';
import { COMPLETION_SIZE } from '../../src/verbs/work-request.js';
import {
  Calls,
  cmConnectedPair,
  deviceKind,
  driverIdOf,
  fdCount,
  handConnected,
  libraryDatapath,
  openDevice,
  orSkip,
  resourceCounts,
  settle,
  TEST_DEVICE,
  VM_KERNEL,
  vmPinKiB,
} from './support.js';

const child = (script: string) => fileURLToPath(new URL(`./children/${script}`, import.meta.url));

const name = TEST_DEVICE as string;
// the RC pairs here are connected by hand: rxe; siw's QPs reach RTS only through the CM
const datapath = handConnected();
// siw: tests 7 and 12 connect their pair through rdma_cm instead (cmConnectedPair; `uverbs vm --devs siw`)
const viaCm = TEST_DEVICE !== undefined && deviceKind(name) === 'siw' && libraryDatapath();
const SGID = 1;

/** A test of posting or polling: registered only where the library has a datapath for the device (rxe; see datapath.device). */
function withDatapath(title: string, fn: () => unknown): void {
  if (datapath) it(title, fn);
}

function rcPair(cqe: number) {
  const ctx = Context.open(name);
  // before the CQ: an object's events go to the async event fd the context had when it was created
  const events = ctx.asyncEvents();
  const pd = ctx.allocPd();
  const cq = ctx.createCq({ cqe, userHandle: 0xc0ffeen });
  const rcq = ctx.createCq({ cqe: 256 });
  const cap = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1 };
  const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: rcq, cap });
  const b = pd.createQp({ type: 'RC', sendCq: rcq, recvCq: rcq, cap });
  const mr = pd.registerMemory(4096, { localWrite: true, remoteWrite: true });
  return { ctx, events, pd, cq, rcq, a, b, mr };
}

/**
 * An RC pair in RTS whose `a` sends on a CQ of `cqe` entries (the context's async events taken
 * first): rxe's connected by hand (rcPair), siw's through rdma_cm on one CQ (RDMA writes complete
 * only at the sender). `close()` disconnects (siw) and closes the context.
 */
async function connectedPair(cqe: number) {
  if (!viaCm) {
    const { ctx, events, cq, a, b, mr } = rcPair(cqe);
    const { gid } = ctx.queryGid(1, SGID);
    a.connect({ qpNum: b.qpNum, psn: 0, gid }, { sgidIndex: SGID });
    b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: SGID });
    return { ctx, events, cq, a, b, mr, close: async () => ctx.close() };
  }
  const fds = fdCount();
  const ctx = Context.open(name);
  try {
    const events = ctx.asyncEvents();
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe, userHandle: 0xc0ffeen });
    const cap = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1 };
    const { a, b, dispose } = await cmConnectedPair(ctx, { pd, cq, cap });
    const mr = pd.registerMemory(4096, { localWrite: true, remoteWrite: true });
    const close = async () => {
      try {
        await dispose();
      } finally {
        ctx.close();
      }
      // every fd back (the event channel's may close a moment later): none left to a later test's count
      expect(await settle(fdCount, fds)).toBe(fds);
    };
    return { ctx, events, cq, a, b, mr, close };
  } catch (error) {
    ctx.close();
    throw error;
  }
}

/** A test over a connected RC pair: rxe (by hand) and siw (rdma_cm), where the library has their datapath. */
function withConnectedPair(title: string, fn: () => unknown): void {
  if (datapath || viaCm) it(title, fn);
}

describe.runIf(TEST_DEVICE)(`reliability on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it('1: closing the fd with 1000 QPs, 1000 MRs and 200 CQs live gives back every resource, fd and pinned page', () => {
    const before = { fds: fdCount(), res: resourceCounts(name), pinned: vmPinKiB() };
    const calls: TraceEvent[] = [];
    const ctx = Context.open(name, { trace: (e) => calls.push(e) });
    const pd = ctx.allocPd();
    const cap = { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };
    const cqs = Array.from({ length: 200 }, () => ctx.createCq({ cqe: 1 }));
    const mrs = Array.from({ length: 1000 }, () => pd.registerMemory(4096, { localWrite: true }));
    const qps = Array.from({ length: 1000 }, (_, i) =>
      pd.createQp({ type: 'RC', sendCq: cqs[i % 200] as never, recvCq: cqs[(i + 1) % 200] as never, cap }),
    );
    const live = resourceCounts(name);
    expect({ pd: live.pd, cq: live.cq, qp: live.qp, mr: live.mr, ctx: live.ctx }).toEqual({
      pd: (before.res.pd ?? 0) + 1,
      cq: (before.res.cq ?? 0) + 200,
      qp: (before.res.qp ?? 0) + 1000,
      mr: (before.res.mr ?? 0) + 1000,
      ctx: (before.res.ctx ?? 0) + 1,
    });
    expect(vmPinKiB()).toBe(before.pinned + 1000 * 4);
    // the fd goes with everything on it: no destroy is sent, the kernel takes it all down
    const sent = calls.length;
    ctx.close({ cascade: false });
    expect(calls.length).toBe(sent);
    expect([...qps, ...mrs, ...cqs, pd].every((o) => o.closed)).toBe(true);
    expect({ fds: fdCount(), res: resourceCounts(name), pinned: vmPinKiB() }).toEqual(before);
  });

  it('2: a process killed in the middle of creating objects leaves nothing behind', async () => {
    const baseline = resourceCounts(name);
    for (const delay of [0, 150, 600]) {
      const creator = spawn(process.execPath, [child('create-forever.mjs'), name], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const [ready] = (await once(creator.stdout, 'data')) as [Buffer];
      expect(ready.toString()).toBe('ready\n');
      await new Promise((resolve) => setTimeout(resolve, delay));
      const alive = resourceCounts(name);
      expect(alive.qp).toBeGreaterThan(baseline.qp ?? 0); // it got somewhere
      creator.kill('SIGKILL');
      const [, signal] = await once(creator, 'exit');
      expect(signal).toBe('SIGKILL');
      expect(await settle(() => resourceCounts(name), baseline)).toEqual(baseline);
    }
  });

  it('3: a live mapping keeps the file, and every object on it, until it is unmapped; then they go', () => {
    // below the object model, which never lets a ring outlive its fd: a context and a CQ by hand, its ring mapped
    const baseline = resourceCounts(name);
    const dev = openDevice(name);
    const provider = providerFor(driverIdOf(name));
    dev.dispatch.invoke(UVERBS_METHOD_GET_CONTEXT, { numCompVectors: true }, uhwFor(provider, 'getContext'));
    const cq = dev.dispatch.invoke(
      UVERBS_METHOD_CQ_CREATE,
      { cqe: 8, compVector: 0, userHandle: 0n },
      uhwFor(provider, 'createCq'),
    );
    const rings = mapRings(dev.fd, ringsFor(provider, 'createCq', cq.udataOut), 'reliability 3');
    expect(rings.length).toBe(1);
    const before = (rings[0] as Ring).bytes.slice();
    dev.close(); // close(2) on the uverbs fd; the mapping still holds the file
    const held = resourceCounts(name);
    expect([held.ctx, held.cq]).toEqual([(baseline.ctx ?? 0) + 1, (baseline.cq ?? 0) + 1]);
    const bytes = rings[0]?.bytes as Uint8Array;
    expect(bytes.byteLength).toBe(rings[0]?.length); // still mapped, and readable: the same bytes as before close(2)
    expect(bytes.slice()).toEqual(before);
    for (const ring of rings) ring.unmap(); // the file's last reference: the kernel releases it and all on it
    expect(resourceCounts(name)).toEqual(baseline);
  });

  withConnectedPair(
    '7: the doorbell’s wqe_size floor is the kernel’s own: on an RTS QP, 56 rings it, 55 is EINVAL; the library refuses 55 before write()',
    async () => {
      const { ctx, a, close } = await connectedPair(16);
      // (siw_post_send answers ENOTCONN outside RTS, so the doorbell ringing at 56 is also the proof
      // that the CM pair is in RTS: siw's QUERY_QP reports no state)
      const command = WRITE_COMMANDS.IB_USER_VERBS_CMD_POST_SEND;
      const doorbell = { qp_handle: a.handle, wr_count: 0, sge_count: 0 };
      expect(() => ctx.dispatch.write(command, { ...doorbell, wqe_size: 55 })).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
      );
      // the same command as raw bytes, past the library's check: the kernel's answer for each size
      using memory = UserMemory.allocate(sysOf(ctx), 64);
      const size = ib_uverbs_cmd_hdr.size + ib_uverbs_post_send.size;
      const send = (wqe_size: number) => {
        encode(ib_uverbs_cmd_hdr, { command: command.command, in_words: size / 4, out_words: 1 }, memory.bytes);
        const body = { ...doorbell, response: memory.address + 48n, wqe_size };
        encode(ib_uverbs_post_send, body, memory.bytes, ib_uverbs_cmd_hdr.size);
        const r = sysOf(ctx).write(ctx.fd, memory.address, size);
        return r < 0 ? errnoName(-r) : r;
      };
      expect([send(55), send(56), send(48), send(ib_uverbs_send_wr.size)]).toEqual(['EINVAL', size, 'EINVAL', size]);
      await close();
    },
  );

  it('10: a destroy racing a use from another thread is EBUSY until it wins; nothing leaks, nothing crashes', {
    timeout: 60_000,
  }, async () => {
    // Each wait has its own deadline, all of them together (cleanup included) well inside the test's 60 s;
    // one that does not end fails saying which it was, how long it waited and what the worker had reported.
    const RUNNING_MS = 10_000; // a new thread loading the library, under TCG
    const LOOP_MS = 20_000;
    const FINAL_MS = 5_000;
    const EXIT_MS = 5_000;
    const [REFUSALS, STOP, USES, BUSY] = [0, 1, 2, 3]; // the indices of `shared`, as use-pd.mjs spells them
    const before = { fds: fdCount(), res: resourceCounts(name) };
    const ctx = Context.open(name);
    const pd = ctx.allocPd();
    // live state either thread reads while the other is in a synchronous loop: the destroy's EBUSY count
    // (the worker holds its first MR until it reaches holdUntilRefusals), a stop flag, the worker's counts
    const shared = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
    const worker = new Worker(child('use-pd.mjs'), {
      workerData: {
        fd: ctx.fd,
        driverId: driverIdOf(name),
        release: ctx.release,
        pdHandle: pd.handle,
        shared: shared.buffer,
        holdUntilRefusals: 3,
      },
    });
    // Everything the worker does is recorded from the start, never by a listener attached later: when its
    // last message and its end are both pending, which they are after the synchronous loop below, Node
    // delivers the message and emits 'exit' in one pass (Worker[kOnExit] drains the port, then emits), so
    // a once(worker, 'exit') attached after awaiting that message could miss the exit and wait forever.
    const seen: { messages: Record<string, unknown>[]; error?: unknown; exit?: number } = { messages: [] };
    let changed = () => {};
    worker.on('message', (message) => {
      seen.messages.push(message);
      changed();
    });
    worker.on('error', (error) => {
      seen.error = error;
      changed();
    });
    worker.on('exit', (code) => {
      seen.exit = code;
      changed();
    });
    const reported = () =>
      `the worker had posted ${JSON.stringify(seen.messages)}${seen.exit === undefined ? '' : ` and exited (${seen.exit})`}; ` +
      `it had made ${Atomics.load(shared, USES)} MRs and met ${Atomics.load(shared, BUSY)} EBUSY`;
    /** The ms until `done()` holds; a rejection naming `what` after `ms`, or once the worker is gone without it. */
    const waitFor = (what: string, ms: number, done: () => boolean) =>
      new Promise<number>((resolve, reject) => {
        const start = performance.now();
        const finish = (how: () => void) => {
          clearTimeout(timer);
          changed = () => {};
          how();
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`reliability 10: no ${what} after ${ms} ms; ${reported()}`))),
          ms,
        );
        changed = () => {
          if (done()) finish(() => resolve(Math.round(performance.now() - start)));
          else if (seen.exit !== undefined)
            finish(() => {
              const how = seen.error === undefined ? 'ended' : `failed (${seen.error})`;
              reject(
                new Error(`reliability 10: the worker ${how} while waiting for ${what}; ${reported()}`, {
                  cause: seen.error,
                }),
              );
            });
        };
        changed();
      });
    try {
      // { running }: the worker holds an MR on the PD, and keeps it until the destroy has been refused 3 times
      const running = await waitFor('{ running } from the worker', RUNNING_MS, () => seen.messages.length > 0);
      let refusals = 0;
      const started = performance.now();
      while (!pd.closed && performance.now() - started < LOOP_MS) {
        try {
          pd.close({ cascade: false });
        } catch (error) {
          // the worker holds the PD's lock, or an MR on it: EBUSY, and the PD stays open
          expect(error).toMatchObject({ code: 'EBUSY', method: 'UVERBS_METHOD_PD_DESTROY' });
          expect(pd.closed).toBe(false);
          refusals = Atomics.add(shared, REFUSALS, 1) + 1;
        }
      }
      const loop = Math.round(performance.now() - started);
      expect(
        pd.closed,
        `reliability 10: the destroy had not won after ${loop} ms, ${refusals} refusals; ${reported()}`,
      ).toBe(true);
      expect(refusals).toBeGreaterThanOrEqual(3);
      const final = await waitFor('final { uses, busy, end } from the worker', FINAL_MS, () =>
        seen.messages.some((message) => 'uses' in message),
      );
      const exit = await waitFor('exit of the worker', EXIT_MS, () => seen.exit !== undefined);
      const result = seen.messages.at(-1) as { uses: number; busy: number; end: Record<string, unknown> };
      process.stderr.write(
        `reliability 10 on ${name}: running after ${running} ms, loop ${loop} ms, ${refusals} refusals, final after ${final} ms, exit after ${exit} ms; ` +
          `the worker made ${result.uses} MRs (${result.busy} EBUSY)\n`,
      );
      expect(seen.exit).toBe(0);
      // the worker stops when the PD is gone: the handle lookup's ENOENT, by ioctl (7.x) or write (6.1, 6.12),
      // which REG_MR passes through (uverbs_cmd.c: PTR_ERR of uobj_get_obj_read)
      expect(result.end).toEqual({
        code: 'ENOENT',
        path: expect.any(String),
        method: expect.stringMatching(/REG_MR/),
      });
      expect(resourceCounts(name).mr).toBe(before.res.mr); // no MR of the worker's outlived the race
    } finally {
      // after a failure: the worker is stopped before the fd is closed under it (the fd number is anyone's next)
      if (seen.exit === undefined) {
        Atomics.store(shared, STOP, 1);
        Atomics.notify(shared, REFUSALS);
        await waitFor('exit of the worker after the stop flag', 3_000, () => seen.exit !== undefined).catch(() => {
          void worker.terminate();
          return waitFor('exit of the worker after terminate()', 2_000, () => seen.exit !== undefined).catch(() => 0);
        });
      }
      ctx.close();
    }
    expect({ fds: fdCount(), res: resourceCounts(name) }).toEqual(before);
  });

  it('11: the AH pool fills to max_ah and refuses the next; what is freed can be made again, the full count in a new context', (test) => {
    // rxe's QP, CQ and MR pools hold 2^20 each, more than a 2 GiB guest can make; its AH pool, 32 Ki - 1, fits
    // a multicast destination (IPv4-mapped 239.1.2.3) needs no neighbour resolution: ~10x faster to create under TCG
    const dgid = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 239, 1, 2, 3]);
    const fill = (pd: ProtectionDomain, ahs: AddressHandle[]) => {
      for (;;) {
        try {
          ahs.push(pd.createAh({ dgid, sgidIndex: SGID, hopLimit: 64, port: 1 }));
        } catch (error) {
          if (!(error instanceof UverbsError)) throw error;
          return error.code; // rxe_pool.c: an add past max_elem is EINVAL
        }
      }
    };
    const baseline = resourceCounts(name);
    {
      // a device without AHs (iWARP) says so here, to the first one
      const calls = new Calls();
      using ctx = Context.open(name, { trace: calls.trace });
      const pd = ctx.allocPd();
      orSkip(test, 'CREATE_AH', calls, () => pd.createAh({ dgid, sgidIndex: SGID, hopLimit: 64, port: 1 }));
    }
    const first = Context.open(name);
    const maxAh = first.queryDevice().maxAh;
    const pd = first.allocPd();
    const ahs: AddressHandle[] = [];
    expect([fill(pd, ahs), ahs.length]).toEqual(['EINVAL', maxAh]);
    for (const ah of ahs.splice(0, 100)) ah.close();
    expect([fill(pd, ahs), ahs.length]).toEqual(['EINVAL', maxAh]);
    first.close({ cascade: false }); // the fd takes its 32 Ki AHs down with it
    const second = Context.open(name);
    const again: AddressHandle[] = [];
    expect([fill(second.allocPd(), again), again.length]).toEqual(['EINVAL', maxAh]);
    second.close({ cascade: false });
    expect(resourceCounts(name)).toEqual(baseline);
  }, 300_000);

  it('11: pinning past RLIMIT_MEMLOCK without CAP_IPC_LOCK is ENOMEM; after freeing, the full count again', () => {
    const limit = 64 * 1024;
    const run = spawnSync(
      'prlimit',
      [
        `--memlock=${limit}:${limit}`,
        'setpriv',
        '--inh-caps=-ipc_lock',
        '--bounding-set=-ipc_lock',
        process.execPath,
        child('pin-until-refused.mjs'),
        name,
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const pages = limit / 4096;
    const refusal = { code: 'ENOMEM', syscall: expect.any(String), method: expect.stringMatching(/REG_MR/) };
    expect(JSON.parse(run.stdout)).toEqual({
      ipcLock: false,
      registered: pages,
      refusal,
      pinnedAtLimit: limit / 1024,
      pinnedAfterFree: 0,
      again: pages,
      refusalAgain: refusal,
      pinnedAtEnd: 0,
    });
  });

  withConnectedPair(
    '12: a CQ that overflows raises IB_EVENT_CQ_ERR, and polling it reads no more than its ring holds',
    async () => {
      const { events, cq, a, mr, close } = await connectedPair(4);
      // rxe: index_mask + 1 (one slot always empty); siw: num_cqe slots, each owned by its VALID flag
      const slots = viaCm ? cq.cqe : (cq.rings[0]?.words[1] ?? 0) + 1;
      // RDMA writes: every one completes on the small CQ, nothing to receive on the peer
      const writes = Array.from({ length: slots + 8 }, (_, i) => ({
        wrId: BigInt(i),
        opcode: 'RDMA_WRITE' as const,
        signaled: true,
        sg: [{ mr, length: 8 }],
        remote: { addr: mr.address, rkey: mr.rkey },
      }));
      for (let i = 0; i < writes.length; i += 16) a.postSend(writes.slice(i, i + 16));
      const event = await events.wait();
      expect(event).toEqual({ type: 'IB_EVENT_CQ_ERR', element: 0xc0ffeen });
      const out = new Uint8Array(4 * slots * COMPLETION_SIZE);
      const n = cq.poll(out, 4 * slots);
      if (viaCm) {
        // siw fills every slot, then raises CQ_ERR for the first completion with none free
        expect(n).toBe(slots);
      } else {
        // rxe: one slot always stays empty: at most slots - 1 completions were ever in the ring
        expect(n).toBeLessThanOrEqual(slots - 1);
        expect(n).toBeGreaterThan(0);
      }
      await close();
    },
  );

  withDatapath(
    '14: posting to a QP that is not in RTS is EINVAL before the ring (the kernel would take the WQE and refuse only the doorbell); a full receive queue is ENOMEM with nothing posted',
    () => {
      const { ctx, a, mr } = rcPair(16);
      // RESET: refused before the ring (rxe_post_send would refuse the doorbell, state < RTS, with the WQE already in)
      const sq = a.rings.find((r) => r.name === 'sq');
      const sent = sq?.words[32];
      let error: unknown;
      try {
        a.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UverbsError);
      expect(error).toMatchObject({ code: 'EINVAL', syscall: 'none', state: 'RESET', path: 'ring' });
      expect(sq?.words[32]).toBe(sent);
      // receives need INIT
      a.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: { localWrite: true, remoteWrite: true } });
      const rq = a.rings.find((r) => r.name === 'rq');
      const slots = (rq?.words[1] ?? 0) + 1;
      const recv = { sg: [{ mr, length: 64 }] };
      a.postRecv(Array.from({ length: slots - 1 }, () => recv)); // a ring holds slots - 1
      const producer = rq?.words[32];
      expect(() => a.postRecv(recv)).toThrow(expect.objectContaining({ code: 'ENOMEM', path: 'ring' }));
      expect(rq?.words[32]).toBe(producer);
      ctx.close();
    },
  );

  // siw: its RC QPs reach RTS only through the CM, and a full receive queue is datapath.device's ENOMEM test there
  if (TEST_DEVICE && deviceKind(name) === 'siw' && libraryDatapath())
    it('14 (siw): posting to a QP that is not in RTS is EINVAL before the ring: the SQ’s slots are as they were', () => {
      const { ctx, a, mr } = rcPair(16);
      const sq = a.rings.find((r) => r.name === 'sq');
      const before = sq?.bytes.slice();
      let error: unknown;
      try {
        a.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UverbsError);
      expect(error).toMatchObject({ code: 'EINVAL', syscall: 'none', state: 'RESET', path: 'ring' });
      expect(sq?.bytes).toEqual(before);
      ctx.close();
    });

  it('15: nothing of ours crosses exec: a child sees no uverbs, channel or event fd (O_CLOEXEC)', () => {
    const ctx = Context.open(name);
    const channel = ctx.createCompletionChannel();
    const events = ctx.asyncEvents();
    // ours exist here: the uverbs node, and the channel and event fds (anon inodes)
    const mine = spawnSync('ls', ['-l', `/proc/${process.pid}/fd`], { encoding: 'utf8' }).stdout;
    expect(mine).toMatch(/\/dev\/infiniband\/uverbs/);
    expect(mine).toMatch(new RegExp(` ${channel.fd} -> anon_inode:`));
    expect(mine).toMatch(new RegExp(` ${events.fd} -> anon_inode:`));
    const child = spawnSync('sh', ['-c', 'ls -l /proc/$$/fd'], { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout).not.toMatch(/infiniband|anon_inode/);
    ctx.close();
  });
});

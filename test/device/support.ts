/**
 * Device-test plumbing: which uverbs device to use, and skipping a test
 * only on the kernel's own "unsupported" answer to the one call that may
 * be missing here, never on a feature this device and kernel must have.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { O_CLOEXEC, O_RDWR } from '../../ioctl/index.js';
import { rdma_driver_id } from '../../src/abi/constants.js';
import { parseRdmaRes } from '../../src/check/resources.js';
import { EventChannel } from '../../src/cm/event-channel.js';
import { UverbsError, UverbsUnsupportedError } from '../../src/errors.js';
import { Dispatcher, type TraceEvent } from '../../src/transport/dispatch.js';
import { Scratch } from '../../src/transport/memory.js';
import { libcSys, type Sys } from '../../src/transport/sys.js';
import type { CompletionQueue } from '../../src/verbs/completion-queue.js';
import { Context } from '../../src/verbs/context.js';
import type { MemoryRegion } from '../../src/verbs/memory-region.js';
import type { ProtectionDomain } from '../../src/verbs/protection-domain.js';
import type { QpCapabilities, QueuePair } from '../../src/verbs/queue-pair.js';
import type { SharedReceiveQueue } from '../../src/verbs/shared-receive-queue.js';
import { COMPLETION_SIZE, type Completion, decodeCompletions } from '../../src/verbs/work-request.js';

/** The ibdev under test (`UVERBS_TEST_DEVICE`, set by `uverbs vm`), or undefined on a host without one. */
export const TEST_DEVICE = process.env.UVERBS_TEST_DEVICE;
/** The kernel series `uverbs vm` booted (6.1, 6.12, 7). */
export const VM_KERNEL = process.env.UVERBS_VM_KERNEL;

type Series = '6.1' | '6.12' | '7';
type DeviceKind = 'rxe' | 'siw';

/**
 * What a test may skip on, and the kernel calls that implement it: a skip
 * must come from one of these (by the trace's method name).
 */
const FEATURES = {
  CREATE_AH: /^IB_USER_VERBS_CMD_CREATE_AH$/,
  'ALLOC_MW type 1': /^IB_USER_VERBS_CMD_ALLOC_MW$/,
  'ALLOC_MW type 2': /^IB_USER_VERBS_CMD_ALLOC_MW$/,
  REREG_MR: /^IB_USER_VERBS_CMD_REREG_MR$/,
  RESIZE_CQ: /^IB_USER_VERBS_CMD_RESIZE_CQ$/,
  'UC QP': /^(UVERBS_METHOD_QP_CREATE|IB_USER_VERBS_(EX_)?CMD_CREATE_QP)$/,
  'UD QP': /^(UVERBS_METHOD_QP_CREATE|IB_USER_VERBS_(EX_)?CMD_CREATE_QP)$/,
  ATTACH_MCAST: /^IB_USER_VERBS_CMD_ATTACH_MCAST$/,
} as const;
export type Feature = keyof typeof FEATURES;

const RXE_ALWAYS: Feature[] = [
  'CREATE_AH',
  'ALLOC_MW type 1',
  'ALLOC_MW type 2',
  'RESIZE_CQ',
  'UC QP',
  'UD QP',
  'ATTACH_MCAST',
];

/**
 * Features each device must have on each kernel series: a test that would
 * skip on one of them fails instead, so a regression cannot hide as a skip.
 * rxe (drivers/infiniband/sw/rxe) is RoCE: AHs, MW types 1 and 2, CQ
 * resize, RC/UC/UD QPs and UD multicast (rxe_attach_mcast) on every kernel
 * here; REREG_MR (rxe_rereg_user_mr, PD and access changes) from 6.12 on (the probe's 6.1 -> 6.12 diff adds
 * IB_USER_VERBS_CMD_REREG_MR). siw is iWARP (RC only, no AH, MW, resize or
 * rereg): nothing of this list is promised there.
 */
export const MUST_HAVE: Record<DeviceKind, Record<Series, readonly Feature[]>> = {
  rxe: { '6.1': RXE_ALWAYS, '6.12': [...RXE_ALWAYS, 'REREG_MR'], '7': [...RXE_ALWAYS, 'REREG_MR'] },
  siw: { '6.1': [], '6.12': [], '7': [] },
};

/** The device kind under test (`rxe`, `siw`), from its name as `uverbs vm` made it. */
export function deviceKind(ibdev: string = TEST_DEVICE as string): DeviceKind {
  const kind = ibdev.replace(/\d+$/, '');
  if (kind !== 'rxe' && kind !== 'siw') throw new Error(`test devices are rxe* or siw*, not ${ibdev}`);
  return kind;
}

/** The syscalls a context made, for {@link orSkip}: pass `trace` to `Context.open`. */
export class Calls {
  readonly events: TraceEvent[] = [];
  readonly trace = (event: TraceEvent): void => {
    this.events.push(event);
  };
}

/**
 * Runs `call`, the one call that may be unsupported here, and returns its
 * result. The test is skipped only when `call` throws an
 * UverbsUnsupportedError whose errno the kernel gave to a syscall `call`
 * itself made (the last one `calls` recorded during it, of a method that
 * implements `feature`), and only if `feature` is not one this device must
 * have on this kernel ({@link MUST_HAVE}); the reason, with the errno and the
 * syscall, goes to stderr too. Anything else is rethrown: an error the
 * library raised with no syscall, one from another call, any other error.
 * Keep `call` to that single call; what follows it belongs outside.
 */
export function orSkip<T>(test: { skip: (note?: string) => void }, feature: Feature, calls: Calls, call: () => T): T {
  const from = calls.events.length;
  try {
    return call();
  } catch (error) {
    if (!(error instanceof UverbsUnsupportedError)) throw error;
    const made = calls.events.slice(from);
    const last = made.at(-1);
    const fresh =
      error.syscall !== 'none' &&
      last !== undefined &&
      last.method === error.method &&
      last.path === error.path &&
      last.errno === error.errno &&
      FEATURES[feature].test(last.method);
    if (!fresh) {
      throw new Error(
        `${feature}: not a skip: ${error.name} ${error.code} (syscall ${error.syscall}, ${error.method}) is not the ` +
          `kernel's answer to a ${feature} call made here (calls made: ${JSON.stringify(made)})`,
        { cause: error },
      );
    }
    // read when called (not at import), so the host test of this helper can set them
    const device = process.env.UVERBS_TEST_DEVICE as string;
    const kernel = process.env.UVERBS_VM_KERNEL as Series;
    const reason = `${device} on ${kernel}: ${feature}: the kernel answers ${error.code} (errno ${error.errno}) to ${error.syscall} ${error.method}`;
    const must = MUST_HAVE[deviceKind(device)][kernel];
    if (must === undefined) throw new Error(`${reason}; no MUST_HAVE list for kernel ${kernel}`, { cause: error });
    if (must.includes(feature)) {
      throw new Error(`${reason}, but ${deviceKind(device)} on ${kernel} must have ${feature} (MUST_HAVE)`, {
        cause: error,
      });
    }
    process.stderr.write(`skipped: ${reason}\n`);
    test.skip(reason);
    throw error; // test.skip() throws; never reached
  }
}

/**
 * Whether the library has a datapath (posting, polling) for the device under
 * test: asked of the provider the kernel's driver id picks. Tests of posting
 * and polling exist only where it does; elsewhere a test asserts the typed
 * refusal instead.
 */
/**
 * Two RC QPs of `pd` on one CQ, connected to each other through the port's
 * RoCE v2 IPv4 GID (looped back through the netdev): the rig of the
 * datapath tests. `a` sends from PSN 100, `b` from 200.
 */
export function loopbackPair(pd: ProtectionDomain, cq: CompletionQueue): { a: QueuePair; b: QueuePair } {
  const cap = { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 2, maxRecvSge: 2 };
  const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  const b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  const { gid, index } = pd.context.findGid({ type: 'RoCEv2', family: 'ipv4' });
  a.connect({ qpNum: b.qpNum, psn: 200, gid }, { sgidIndex: index, psn: 100 });
  b.connect({ qpNum: a.qpNum, psn: 100, gid }, { sgidIndex: index, psn: 200 });
  return { a, b };
}

/**
 * Awaits `count` completions on `cq` through its channel (no spinning), in
 * arrival order; each wait gives up after `timeout` ms when one is given,
 * so a lost completion fails the test instead of hanging it.
 */
export async function awaitCompletions(cq: CompletionQueue, count: number, timeout?: number): Promise<Completion[]> {
  const out = new Uint8Array(64 * COMPLETION_SIZE);
  const got: Completion[] = [];
  while (got.length < count) {
    const n = await cq.wait(out, Math.min(64, count - got.length), timeout === undefined ? {} : { timeout });
    got.push(...decodeCompletions(out, n));
  }
  return got;
}

/** Writes a pattern (from `seed`) into `mr`; returns a copy of it (never a view of `mr`, which a transfer may change). */
export function fillPattern(mr: MemoryRegion, offset: number, length: number, seed: number): Uint8Array {
  const bytes = mr.bytes.subarray(offset, offset + length);
  for (let i = 0; i < length; i++) bytes[i] = (seed + i * 7) & 0xff;
  return bytes.slice();
}

/**
 * Whether the library has a datapath for the device and its RC QPs can be connected by hand
 * (`qp.connect()` with the peer's QPN and GID): RoCE (rxe). siw's QPs reach RTS only through the
 * connection manager (cmConnectedPair), so a test that connects by hand registers where this holds.
 */
export function handConnected(ibdev = TEST_DEVICE): boolean {
  return ibdev !== undefined && deviceKind(ibdev) === 'rxe' && libraryDatapath(ibdev);
}

export function libraryDatapath(ibdev = TEST_DEVICE): boolean {
  if (ibdev === undefined) return false;
  using ctx = Context.open(ibdev);
  return ctx.provider?.datapath !== undefined;
}

/** Lines of /proc/self/maps that map a uverbs device (the driver rings this process has mapped). */
export function uverbsMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/dev/infiniband/uverbs')).length;
}

/** The `code` of the kernel's refusal (an errno name), or undefined when `fn` succeeds. Anything else is rethrown. */
export function kernelErrno(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof UverbsError) return error.code;
    throw error;
  }
  return undefined;
}

export { fdCount } from '../../src/check/resources.js';

/** This device's line of `rdma res show` (counts of pd, cq, qp, cm_id, mr, ctx); other devices may come and go. */
export function resources(ibdev: string): string {
  const out = execFileSync('rdma', ['res', 'show'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(` ${ibdev}: `))
    .join('\n');
}

/** This device's `rdma res show` counts by kind (`{ pd, cq, qp, cm_id, mr, ctx, srq }`). */
export function resourceCounts(ibdev: string): Record<string, number> {
  return parseRdmaRes(execFileSync('rdma', ['res', 'show'], { encoding: 'utf8' }), ibdev) ?? {};
}

/** Pinned memory of this process in KiB (`VmPin` of /proc/self/status: the MRs' pages). */
export function vmPinKiB(): number {
  const m = /^VmPin:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmPin in /proc/self/status');
  return Number(m[1]);
}

/** Polls `read` until it equals `want` or `ms` pass (the kernel may finish a release after a process is reaped); returns the last value. */
export async function settle<T>(read: () => T, want: T, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  let value = read();
  while (JSON.stringify(value) !== JSON.stringify(want) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = read();
  }
  return value;
}

/** uverbs char device of an ibdev, from sysfs. */
export function uverbsPathOf(ibdev: string): string {
  for (const node of readdirSync('/sys/class/infiniband_verbs')) {
    if (!node.startsWith('uverbs')) continue;
    const name = readFileSync(`/sys/class/infiniband_verbs/${node}/ibdev`, 'utf8').trim();
    if (name === ibdev) return `/dev/infiniband/${node}`;
  }
  throw new Error(`no uverbs node for ${ibdev}`);
}

/**
 * The ioctl driver id of a soft-RDMA device. The library proper will read it
 * over netlink (RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID); the test devices here are
 * the two software drivers, named by their link type.
 */
export function driverIdOf(ibdev: string): number {
  if (ibdev.startsWith('rxe')) return rdma_driver_id.RDMA_DRIVER_RXE;
  if (ibdev.startsWith('siw')) return rdma_driver_id.RDMA_DRIVER_SIW;
  throw new Error(`test devices are rxe* or siw*, not ${ibdev}`);
}

export interface Opened {
  sys: Sys;
  fd: number;
  scratch: Scratch;
  dispatch: Dispatcher;
  trace: TraceEvent[];
  release: string;
  close(): void;
}

export function openDevice(ibdev: string): Opened {
  const sys = libcSys();
  const fd = sys.open(uverbsPathOf(ibdev), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw new Error(`open ${ibdev}: errno ${-fd}`);
  const scratch = new Scratch(sys);
  const trace: TraceEvent[] = [];
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const dispatch = new Dispatcher(sys, fd, driverIdOf(ibdev), scratch, { release, trace: (e) => trace.push(e) });
  return {
    sys,
    fd,
    scratch,
    dispatch,
    trace,
    release,
    close() {
      scratch.free();
      sys.close(fd);
    },
  };
}

/** The guest's eth0 address (src/vm/guest-init.ts), which carries the devices `uverbs vm` makes. */
export const GUEST_ADDR = '10.0.2.15';

/** Two RC QPs connected through rdma_cm, and how to take them down. */
export interface CmPair {
  /** The client's QP (it connected). */
  readonly a: QueuePair;
  /** The server's QP (it accepted). */
  readonly b: QueuePair;
  /** The listener's port (the kernel chose a free one). */
  readonly port: number;
  /** Disconnects (both ends see DISCONNECTED), destroys the three IDs and both QPs, closes the event channel. */
  dispose(): Promise<void>;
}

export interface CmPairOptions {
  readonly pd: ProtectionDomain;
  readonly cq: CompletionQueue;
  readonly cap: QpCapabilities;
  /** The server QP receives through this SRQ. */
  readonly srq?: SharedReceiveQueue;
  readonly sqSigAll?: boolean;
  /** Each CM event's wait, ms (default 15 s). */
  readonly timeout?: number;
}

/**
 * An RC pair of `ctx`'s device connected by the kernel's connection manager, as librdmacm users
 * connect: a listener on the guest's own address ({@link GUEST_ADDR}) on a port the kernel picks,
 * a client that resolves it and connects, the request accepted; the QPs reach RTS through
 * INIT_QP_ATTR (iWARP: the kernel moves them). Works on siw, whose QPs reach RTS no other way; on
 * rxe as well, where rdma_cm binds the address to the device under test (scripts/device-tests
 * runs each device with the other's links off its netdev; by hand: `uverbs vm --devs siw`).
 */
export async function cmConnectedPair(ctx: Context, options: CmPairOptions): Promise<CmPair> {
  const wait = { timeout: options.timeout ?? 15_000 };
  const { pd, cq, cap, srq } = options;
  const sqSigAll = options.sqSigAll === true;
  if (pd.context !== ctx) throw new Error('cmConnectedPair: the PD is not of this context');
  const ch = EventChannel.open();
  const made: { close(): void }[] = [];
  try {
    const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap, sqSigAll });
    made.push(a);
    const b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap, sqSigAll, ...(srq ? { srq } : {}) });
    made.push(b);
    const server = ch.createId();
    made.push(server);
    server.bind({ address: GUEST_ADDR, port: 0 });
    server.listen();
    const port = server.query().source?.port ?? 0;
    const client = ch.createId();
    made.push(client);
    client.resolveAddress({ address: GUEST_ADDR, port }, { timeoutMs: 2000 });
    await client.event('ADDR_RESOLVED', wait);
    client.resolveRoute({ timeoutMs: 2000 });
    await client.event('ROUTE_RESOLVED', wait);
    client.connect({ qp: a });
    const request = await server.event('CONNECT_REQUEST', wait);
    const conn = request.id;
    made.push(conn);
    conn.accept({ qp: b });
    await Promise.all([client.event('ESTABLISHED', wait), conn.event('ESTABLISHED', wait)]);
    let disposed = false;
    const dispose = async () => {
      if (disposed) return;
      disposed = true;
      try {
        client.disconnect();
        await conn.event('DISCONNECTED', wait);
        conn.disconnect();
        await client.event('DISCONNECTED', wait);
      } finally {
        for (const o of made.reverse()) o.close();
        ch.close();
      }
    };
    return { a, b, port, dispose };
  } catch (error) {
    for (const o of made.reverse()) o.close();
    ch.close();
    throw error;
  }
}

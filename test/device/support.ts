/**
 * Device-test plumbing: which uverbs device to use, and skipping with a
 * reason when the kernel says a feature is unsupported.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { O_CLOEXEC, O_RDWR } from '../../ioctl/index.js';
import { rdma_driver_id } from '../../src/abi/constants.js';
import { Dispatcher, type TraceEvent } from '../../src/dispatch.js';
import { UverbsError, UverbsUnsupportedError } from '../../src/errors.js';
import { Scratch } from '../../src/memory.js';
import { libcSys, type Sys } from '../../src/sys.js';

/** The ibdev under test (`UVERBS_TEST_DEVICE`, set by `uverbs vm`), or undefined on a host without one. */
export const TEST_DEVICE = process.env.UVERBS_TEST_DEVICE;
/** The kernel series `uverbs vm` booted (6.1, 6.12, 7). */
export const VM_KERNEL = process.env.UVERBS_VM_KERNEL;

/** Runs `fn`; a driver that does not implement it skips the test with the kernel's answer, said on stderr too. */
export function orSkip(test: { skip: (note?: string) => void }, what: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof UverbsUnsupportedError)) throw error;
    skipWith(test, `${TEST_DEVICE} on ${VM_KERNEL}: ${what} answers ${error.code}`);
  }
}

export function skipWith(test: { skip: (note?: string) => void }, reason: string): void {
  process.stderr.write(`skipped: ${reason}\n`);
  test.skip(reason);
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

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

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
  const line = resources(ibdev);
  return Object.fromEntries([...line.matchAll(/ ([a-z_]+) (\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
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

/**
 * Device-test plumbing: which uverbs device to use, and skipping with a
 * reason when the kernel says a feature is unsupported.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { libcSys, O_CLOEXEC, O_RDWR, type Sys } from '../../ioctl/index.js';
import { rdma_driver_id } from '../../src/abi/constants.js';
import { Dispatcher, type TraceEvent } from '../../src/dispatch.js';
import { Scratch } from '../../src/memory.js';

/** The ibdev under test (`UVERBS_TEST_DEVICE`, set by `uverbs vm`), or undefined on a host without one. */
export const TEST_DEVICE = process.env.UVERBS_TEST_DEVICE;
/** The kernel series `uverbs vm` booted (6.1, 6.12, 7). */
export const VM_KERNEL = process.env.UVERBS_VM_KERNEL;

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

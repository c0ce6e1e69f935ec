/**
 * The object model on a real device (inside `uverbs vm`).
 */

import { describe, expect, it } from 'vitest';
import { rdma_driver_id } from '../../src/abi/constants.js';
import { UVERBS_METHOD_QUERY_GID_TABLE, UVERBS_METHOD_QUERY_PORT } from '../../src/abi/methods.js';
import { ib_uverbs_gid_entry } from '../../src/abi/structs.js';
import { EINVAL } from '../../src/errno.js';
import type { TraceEvent } from '../../src/transport/dispatch.js';
import { Context } from '../../src/verbs/context.js';
import { findDevice, listDevices } from '../../src/verbs/device.js';
import { kernelErrno, TEST_DEVICE, VM_KERNEL } from './support.js';

describe.runIf(TEST_DEVICE)(`objects on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const siw = name.startsWith('siw');

  it('lists the device from sysfs', () => {
    const d = findDevice(name);
    expect(d).toBeDefined();
    expect(d?.path).toMatch(/^\/dev\/infiniband\/uverbs\d+$/);
    expect(d?.nodeGuid).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
    expect(d?.driverAbiVersion).toBe(siw ? 1 : 2);
    expect(listDevices().length).toBeGreaterThanOrEqual(1);
  });

  it('opens a context: the kernel tells the driver id, the provider follows', () => {
    using ctx = Context.open(name);
    expect(ctx.driverId).toBe(siw ? rdma_driver_id.RDMA_DRIVER_SIW : rdma_driver_id.RDMA_DRIVER_RXE);
    expect(ctx.provider?.name).toBe(siw ? 'siw' : 'rxe');
    expect(ctx.numCompVectors).toBeGreaterThanOrEqual(1);
  });

  it('queries the port and the device (typed results: test/device/queries.device.test.ts)', () => {
    using ctx = Context.open(name);
    const port = ctx.queryPort(1);
    expect(port.state).toBe('ACTIVE');
    expect(ctx.lastPath).toBe('ioctl');
    const dev = ctx.queryDevice();
    expect(dev.maxQp).toBeGreaterThan(0);
    expect(ctx.lastPath).toBe('write-ex');
  });

  it('PD and MR over library memory; REG_MR takes the path the kernel offers; close order is safe', () => {
    const ctx = Context.open(name);
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(8192, { localWrite: true, remoteWrite: true, remoteRead: true });
    // rxe registers by write everywhere: 7.x's REG_MR ioctl leaves the MR unusable to it (rxe provider, writeFirst)
    expect(mr.path).toBe(VM_KERNEL === '7' && siw ? 'ioctl' : 'write');
    expect(mr.bytes.byteLength).toBe(8192);
    expect(mr.address % 4096n).toBe(0n);
    ctx.close();
    expect([pd.closed, mr.closed]).toEqual([true, true]);
    expect(() => mr.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
  });

  // uverbs_std_types_device.c: no ops.query_ucontext -> EOPNOTSUPP. Neither rxe nor siw has one, so a
  // decoded QUERY_CONTEXT reply (comp vectors, core support bits) is checked on no device of this suite.
  it('QUERY_CONTEXT: rxe and siw have no query_ucontext, and the kernel says so (EOPNOTSUPP to the ioctl)', () => {
    using ctx = Context.open(name);
    expect(() => ctx.queryContext()).toThrow(
      expect.objectContaining({
        code: 'EOPNOTSUPP',
        unsupported: true,
        syscall: 'ioctl',
        path: 'ioctl',
        method: 'UVERBS_METHOD_QUERY_CONTEXT',
      }),
    );
  });

  it("the GID table agrees with GID entries; too small a buffer is the kernel's EINVAL", () => {
    using ctx = Context.open(name);
    const table = ctx.queryGidTable();
    expect(table.length).toBeGreaterThanOrEqual(1);
    // rxe: the link-local GID and the IPv4-mapped RoCE v2 one; siw: one GID from the MAC
    if (!siw) expect(table.length).toBeGreaterThanOrEqual(2);
    for (const e of table) {
      expect(e.port).toBe(1);
      expect(ctx.queryGid(1, e.index)).toEqual(e);
    }
    if (table.length > 1) expect(kernelErrno(() => ctx.queryGidTable(table.length - 1))).toBe('EINVAL');
    // no room at all: the library refuses before the kernel sees it, and the kernel agrees
    expect(() => ctx.queryGidTable(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const raw = ctx.dispatch.ioctlOnce(UVERBS_METHOD_QUERY_GID_TABLE, {
      entrySize: ib_uverbs_gid_entry.size,
      entries: 0,
      numEntries: true,
    });
    expect(raw.errno).toBe(EINVAL);
  });

  it('port 0 is refused before any syscall, a port past the last by the kernel (EINVAL)', () => {
    const trace: TraceEvent[] = [];
    using ctx = Context.open(name, { trace: (e) => trace.push(e) });
    const ports = ctx.queryDevice().physPortCnt;
    expect(ports).toBe(1);
    const before = trace.length;
    expect(() => ctx.queryPort(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => ctx.queryGid(0, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(trace.length).toBe(before);
    // what the kernel itself says to port 0 (rdma_is_port_valid), sent raw
    expect(ctx.dispatch.ioctlOnce(UVERBS_METHOD_QUERY_PORT, { portNum: 0 }).errno).toBe(EINVAL);
    expect(kernelErrno(() => ctx.queryPort(ports + 1))).toBe('EINVAL');
    expect(kernelErrno(() => ctx.queryGid(ports + 1, 0))).toBe('EINVAL');
  });
});

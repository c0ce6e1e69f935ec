/**
 * The object model on a real device (inside `uverbs vm`).
 */

import { describe, expect, it } from 'vitest';
import { rdma_driver_id } from '../../src/abi/constants.js';
import { Context } from '../../src/context.js';
import { findDevice, listDevices } from '../../src/device.js';
import { TEST_DEVICE, VM_KERNEL } from './support.js';

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

  it('queries the port and the device; what a kernel does not return is undefined', () => {
    using ctx = Context.open(name);
    const port = ctx.queryPort(1);
    expect(port.state).toBe(4);
    if (VM_KERNEL === '6.1') expect(port.activeSpeedEx).toBeUndefined();
    else expect(typeof port.activeSpeedEx).toBe('number');
    const dev = ctx.queryDevice();
    const base = dev.base as Record<string, unknown>;
    expect(base.maxQp as number).toBeGreaterThan(0);
    expect(typeof dev.responseLength).toBe('number');
    expect(ctx.lastPath).toBe('write-ex');
  });

  it('PD and MR over library memory; REG_MR takes the path the kernel offers; close order is safe', () => {
    const ctx = Context.open(name);
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(8192, { localWrite: true, remoteWrite: true, remoteRead: true });
    expect(mr.path).toBe(VM_KERNEL === '7' ? 'ioctl' : 'write');
    expect(mr.bytes.byteLength).toBe(8192);
    expect(mr.address % 4096n).toBe(0n);
    ctx.close();
    expect([pd.closed, mr.closed]).toEqual([true, true]);
    expect(() => mr.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
  });
});

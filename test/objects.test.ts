/**
 * The object model over the fake kernel: the driver id is asked of the
 * kernel, children close before parents, and use after close never reaches
 * the kernel.
 */

import { describe, expect, it } from 'vitest';
import { Context } from '../src/context.js';
import type { DeviceInfo } from '../src/device.js';
import type { TraceEvent } from '../src/dispatch.js';
import { accessBits } from '../src/memory-region.js';
import { FakeKernel } from './support/fake-kernel.js';

const DEVICE: DeviceInfo = {
  name: 'rxe0',
  node: 'uverbs0',
  path: '/dev/infiniband/uverbs0',
  driverAbiVersion: 2,
  nodeGuid: '5054:00ff:fe12:3456',
  nodeType: '1: CA',
};

function open(driverId = 14) {
  const kernel = new FakeKernel({ driverId });
  const trace: TraceEvent[] = [];
  const ctx = Context.open(DEVICE, { sys: kernel, trace: (e) => trace.push(e) });
  return { kernel, trace, ctx };
}

describe('Context', () => {
  it.each([
    [14, 'rxe'],
    [18, 'siw'],
    [17, undefined],
  ])('learns driver id %i from the kernel and picks its provider (%s)', (driverId, provider) => {
    const { ctx } = open(driverId);
    expect(ctx.driverId).toBe(driverId);
    expect(ctx.provider?.name).toBe(provider);
    expect(ctx.lastPath).toBe('ioctl');
  });

  it('closing the context destroys MR, then PD, then closes the fd; later use is a typed error with no syscall', () => {
    const { kernel, trace, ctx } = open();
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096, { localWrite: true });
    expect(mr.bytes.byteLength).toBe(4096);
    const before = trace.length;
    ctx.close();
    expect(trace.slice(before).map((t) => t.method)).toEqual(['UVERBS_METHOD_MR_DESTROY', 'UVERBS_METHOD_PD_DESTROY']);
    expect([ctx.closed, pd.closed, mr.closed]).toEqual([true, true, true]);
    const calls = kernel.calls.length;
    expect(() => pd.registerMemory(4096)).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect(() => mr.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect(() => ctx.queryPort(1)).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect(kernel.calls.length).toBe(calls);
  });

  it('`using` closes in reverse order of creation', () => {
    const { trace, ctx } = open();
    {
      using pd = ctx.allocPd();
      using a = pd.registerMemory(4096);
      using b = pd.registerMemory(8192);
      expect([a.handle, b.handle].every((h) => h > 0)).toBe(true);
    }
    expect(trace.filter((t) => t.method.endsWith('DESTROY')).map((t) => t.method)).toEqual([
      'UVERBS_METHOD_MR_DESTROY',
      'UVERBS_METHOD_MR_DESTROY',
      'UVERBS_METHOD_PD_DESTROY',
    ]);
    ctx.close();
  });

  it('bad arguments fail before any syscall', () => {
    const { kernel, ctx } = open();
    const pd = ctx.allocPd();
    const calls = kernel.calls.length;
    expect(() => pd.registerMemory(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => pd.registerMemory(4096, { remoteWrite: true })).toThrow(/must include localWrite/);
    expect(() => ctx.queryPort(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(kernel.calls.length).toBe(calls);
    ctx.close();
  });
});

describe('access flags', () => {
  it('map to IB_UVERBS_ACCESS_* bits', () => {
    expect(accessBits({ localWrite: true, remoteRead: true, remoteWrite: true })).toBe(1 | 4 | 2);
    expect(() => accessBits({ bogus: true } as never)).toThrow(/is not an access right/);
  });
});

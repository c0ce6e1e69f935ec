/**
 * The object model over the fake kernel: the driver id is asked of the
 * kernel, children close before parents, and use after close never reaches
 * the kernel.
 */

import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../src/transport/dispatch.js';
import { Context } from '../src/verbs/context.js';
import { accessBits } from '../src/verbs/memory-region.js';
import { FAKE_DEVICE as DEVICE, FakeKernel } from './support/fake-kernel.js';

function open(driverId = 14, ioctl = true) {
  const kernel = new FakeKernel({ driverId });
  const trace: TraceEvent[] = [];
  const ctx = Context.open(DEVICE, { sys: kernel, trace: (e) => trace.push(e), ioctl });
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

describe('close({ cascade: false })', () => {
  it('on a context: one close, the kernel takes every object down; host memory is released, channels stay', () => {
    const { kernel, trace, ctx } = open();
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096, { localWrite: true });
    const channel = ctx.createCompletionChannel();
    const cq = ctx.createCq({ cqe: 4, channel });
    const calls = kernel.calls.length;
    const before = trace.length;
    ctx.close({ cascade: false });
    expect(kernel.calls.length).toBe(calls);
    expect(trace.length).toBe(before);
    expect([ctx.closed, pd.closed, mr.closed, cq.closed]).toEqual([true, true, true, true]);
    expect(() => kernel.view(mr.address, 4096)).toThrow(/no mapping/);
    // a completion channel is a file of its own: it outlives the context's fd until closed
    expect(channel.closed).toBe(false);
    channel.close();
    expect(channel.closed).toBe(true);
  });

  it('on a PD the kernel accepts: its MR is left open (the kernel would have said EBUSY)', () => {
    const { ctx } = open();
    const pd = ctx.allocPd();
    const other = ctx.allocPd();
    const mr = pd.registerMemory(4096);
    mr.reregister({ pd: other });
    expect(mr.pd).toBe(other);
    pd.close({ cascade: false });
    expect(mr.closed).toBe(false);
    other.close();
    expect(mr.closed).toBe(true);
    ctx.close();
  });
});

describe('paths', () => {
  it('with ioctl off, a CQ takes legacy CREATE_CQ, and write-ex CREATE_CQ when it carries flags', () => {
    const { kernel, ctx } = open(14, false);
    const calls = kernel.calls.length;
    const plain = ctx.createCq({ cqe: 4 });
    const ex = ctx.createCq({ cqe: 4, ignoreOverrun: true });
    expect([plain.path, ex.path]).toEqual(['write', 'write-ex']);
    expect(kernel.calls.slice(calls).map((c) => c.syscall)).toEqual(['write', 'write']);
    expect(ex.handle).toBe(1); // base.cq_handle of the extended response (offset 0 + 1)
    ctx.close();
  });

  it('with ioctl on, CQ flags are the ioctl FLAGS attribute', () => {
    const { trace, ctx } = open();
    const cq = ctx.createCq({ cqe: 4, timestampCompletion: true });
    expect(cq.path).toBe('ioctl');
    expect(trace.at(-1)?.method).toBe('UVERBS_METHOD_CQ_CREATE');
    ctx.close();
  });

  it('resize and re-register take their legacy writes and update what they report', () => {
    const { trace, ctx } = open();
    const cq = ctx.createCq({ cqe: 4 });
    cq.resize(64);
    expect(trace.at(-1)?.method).toBe('IB_USER_VERBS_CMD_RESIZE_CQ');
    expect(cq.cqe).toBe(1); // the fake kernel's answer: offset 0 + 1
    expect(cq.driverData?.byteLength).toBe(16); // rxe_resize_cq_resp
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096);
    mr.reregister({ access: { localWrite: true, remoteRead: true } });
    expect(trace.at(-1)?.method).toBe('IB_USER_VERBS_CMD_REREG_MR');
    expect([mr.lkey, mr.rkey]).toEqual([1, 5]);
    expect(() => mr.reregister({})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => cq.resize(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    ctx.close();
  });
});

describe('access flags', () => {
  it('map to IB_UVERBS_ACCESS_* bits', () => {
    expect(accessBits({ localWrite: true, remoteRead: true, remoteWrite: true })).toBe(1 | 4 | 2);
    expect(() => accessBits({ bogus: true } as never)).toThrow(/is not an access right/);
  });
});

/**
 * Memory windows and access names, on the fake kernel (no RDMA here): a
 * bound window closes before its region (rxe refuses to deregister a region
 * a window is bound to), a batch binds a window at most once, a bind is
 * checked against the region's rights before the ring, and an access or
 * FLUSH name is an own key of its table (never one from Object.prototype).
 */

import { describe, expect, it } from 'vitest';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_MW_DESTROY } from '../src/abi/methods.js';
import { RxeDatapath } from '../src/providers/rxe-datapath.js';
import { Ring } from '../src/transport/ring.js';
import { Context } from '../src/verbs/context.js';
import { accessBits } from '../src/verbs/memory-region.js';
import { resolveSend, resolveSends, type SendWr } from '../src/verbs/work-request.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';
import { fakeQp, LIMITS } from './support/rxe-stand-ins.js';

function fixture() {
  const sys = new FakeKernel();
  const ctx = Context.open(FAKE_DEVICE, { sys });
  const pd = ctx.allocPd();
  const mw = pd.allocMw(2); // allocated before the region, as a program may
  const mr = pd.registerMemory(8192, { localWrite: true, remoteWrite: true, mwBind: true });
  return { sys, ctx, pd, mw, mr, limits: { ...LIMITS, pd } };
}

const key = (m: { object: number; id: number }) => `${m.object}/${m.id}`;

describe('a window a bind was posted for closes before the region', () => {
  it('mr.close() closes the window first; ctx.close() destroys the window before the region', () => {
    const { sys, ctx, mw, mr, limits } = fixture();
    const sq = Ring.synthetic('sq', 8, 9);
    new RxeDatapath().postSend(
      fakeQp(sq),
      resolveSends({ opcode: 'BIND_MW', bind: { mw, mr, length: 64, access: { remoteWrite: true } } }, limits),
    );
    const other = ctx.allocPd().registerMemory(4096, { mwBind: true });
    sys.calls.length = 0;
    ctx.close();
    const order = sys.calls.map((c) => c.what);
    const mwAt = order.indexOf(key(UVERBS_METHOD_MW_DESTROY));
    const mrAt = order.lastIndexOf(key(UVERBS_METHOD_MR_DESTROY)); // the bound region's (the other PD's closes first)
    expect(mwAt).toBeGreaterThanOrEqual(0);
    expect(mrAt).toBeGreaterThan(mwAt);
    expect([mw.closed, mr.closed, other.closed]).toEqual([true, true, true]);
    sq.unmap();
  });

  it('closing the region takes the bound window with it; an unbound window stays', () => {
    const { ctx, pd, mw, mr, limits } = fixture();
    const idle = pd.allocMw(2);
    const sq = Ring.synthetic('sq', 8, 9);
    new RxeDatapath().postSend(fakeQp(sq), resolveSends({ opcode: 'BIND_MW', bind: { mw, mr, length: 64 } }, limits));
    mr.close();
    expect(mw.closed).toBe(true);
    expect(idle.closed).toBe(false);
    sq.unmap();
    ctx.close();
  });
});

describe('BIND_MW is checked against the batch and the region before anything is written', () => {
  it('one window bound twice in one batch is ERR_INVALID_ARG_VALUE (the second would name it by a stale key)', () => {
    const { ctx, mw, mr, limits } = fixture();
    const bind = { opcode: 'BIND_MW', bind: { mw, mr, length: 64 } } as const;
    expect(() => resolveSends([bind, { opcode: 'SEND' }, bind], limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('wrs[2].bind.mw') }),
    );
    const rkey = mw.rkey;
    expect(resolveSends([bind], limits)).toHaveLength(1);
    expect(mw.rkey).toBe(rkey);
    ctx.close();
  });

  it('a region without mwBind, or remote write/atomic over a region without localWrite, is ERR_INVALID_ARG_VALUE', () => {
    const { ctx, pd, mw, limits } = fixture();
    const noBind = pd.registerMemory(4096, { localWrite: true, remoteRead: true });
    const readOnly = pd.registerMemory(4096, { remoteRead: true, mwBind: true });
    const wr = (mr: unknown, access: object): SendWr =>
      ({ opcode: 'BIND_MW', bind: { mw, mr, length: 64, access } }) as SendWr;
    const refused = (w: SendWr, what: RegExp) =>
      expect(() => resolveSend(w, 'wr', limits)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(what) }),
      );
    refused(wr(noBind, { remoteRead: true }), /mwBind/);
    refused(wr(readOnly, { remoteWrite: true }), /localWrite/);
    refused(wr(readOnly, { remoteAtomic: true }), /localWrite/);
    expect(resolveSend(wr(readOnly, { remoteRead: true }), 'wr', limits).bind?.access).toBeGreaterThan(0);
    expect(readOnly.access).toMatchObject({ remoteRead: true, mwBind: true, localWrite: false, remoteWrite: false });
    expect(noBind.access.mwBind).toBe(false);
    ctx.close();
  });

  it('mr.access follows a re-registration', () => {
    const { ctx, mr } = fixture();
    expect(mr.access).toMatchObject({ localWrite: true, remoteWrite: true, mwBind: true, remoteRead: false });
    mr.reregister({ access: { remoteRead: true } });
    expect(mr.access).toMatchObject({ localWrite: false, remoteWrite: false, mwBind: false, remoteRead: true });
    ctx.close();
  });
});

describe('names are own keys of their tables, never from the prototype chain', () => {
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('accessBits({ %s: true }) is refused', (n) => {
    const access = JSON.parse(`{"${n}": true}`);
    expect(() => accessBits(access)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => accessBits(access, 'qp')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('a window access right, a FLUSH type or level, an opcode named after a prototype key is refused', () => {
    const { ctx, mw, mr, limits } = fixture();
    const access = JSON.parse('{"constructor": true}');
    expect(() => resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 8, access } }, 'wr', limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    const remote = { addr: 0n, rkey: 1 };
    const flush = (type: string, level: string) =>
      resolveSend({ opcode: 'FLUSH', remote, flush: { type, level, length: 8 } as never }, 'wr', limits);
    expect(() => flush('constructor', 'range')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => flush('global', 'toString')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => resolveSend({ opcode: 'constructor' as never }, 'wr', limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('send opcode') }),
    );
    ctx.close();
  });
});

describe('mw.bind() arguments', () => {
  it('a binding that is not an object is ERR_INVALID_ARG_TYPE; a qp that is not an open QueuePair too', () => {
    const { ctx, mw, mr } = fixture();
    expect(() => mw.bind({} as never, 5 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => mw.bind({ postSend: 1 } as never, { mr, length: 8 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"qp"') }),
    );
    ctx.close();
  });
});

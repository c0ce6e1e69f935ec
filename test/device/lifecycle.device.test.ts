/**
 * AH, MW, SRQ and MR re-registration on a real device (new access rights
 * shown by a remote write the responder allows, then refuses); the kernel's
 * own refusals (EBUSY while in use, EINVAL for remote write without local
 * write, EOPNOTSUPP for UD on iWARP); use after close; and 200
 * create/destroy cycles of every object with the fd count and
 * `rdma res show` back at their baseline.
 */

import { describe, expect, it } from 'vitest';
import { ib_uverbs_access_flags as A } from '../../src/abi/constants.js';
import { decode } from '../../src/abi/layout.js';
import { UVERBS_METHOD_REG_MR } from '../../src/abi/methods.js';
import { rxe_create_ah_resp } from '../../src/abi/rxe.js';
import { everyObject } from '../../src/check/lifetime.js';
import { newPart } from '../../src/check/report.js';
import { uhwFor } from '../../src/providers/index.js';
import type { TraceEvent } from '../../src/transport/dispatch.js';
import { UserMemory } from '../../src/transport/memory.js';
import { Context, sysOf } from '../../src/verbs/context.js';
import { COMPLETION_SIZE, type Completion, decodeCompletions } from '../../src/verbs/work-request.js';
import { Calls, deviceKind, fdCount, kernelErrno, orSkip, resources, TEST_DEVICE, VM_KERNEL } from './support.js';

const CAP = { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 };

describe.runIf(TEST_DEVICE)(`AH, MW, SRQ and lifecycles on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const iwarp = name.startsWith('siw');
  // RoCE v2's IPv4-mapped GID is index 1 on rxe; an iWARP device has one GID, index 0
  const gidIndex = iwarp ? 0 : 1;

  it('an address handle to our own GID', (test) => {
    const calls = new Calls();
    using ctx = Context.open(name, { trace: calls.trace });
    const pd = ctx.allocPd();
    const { gid } = ctx.queryGid(1, gidIndex);
    const ah = orSkip(test, 'CREATE_AH', calls, () =>
      pd.createAh({ dgid: gid, sgidIndex: gidIndex, hopLimit: 64, port: 1 }),
    );
    // rxe numbers its AHs from 1 in the reply (rxe_create_ah_resp.ah_num)
    if (deviceKind() === 'rxe') expect(decode(rxe_create_ah_resp, ah.driverData).ah_num).toBeGreaterThan(0);
    ah.close();
    expect(ah.closed).toBe(true);
  });

  it.for([1, 2] as const)('a type %i memory window', (type, test) => {
    const calls = new Calls();
    using ctx = Context.open(name, { trace: calls.trace });
    const pd = ctx.allocPd();
    const mw = orSkip(test, `ALLOC_MW type ${type}`, calls, () => pd.allocMw(type));
    const second = pd.allocMw(type);
    expect(mw.rkey).toBeGreaterThan(0);
    expect(second.rkey).not.toBe(mw.rkey);
    mw.close();
    second.close();
  });

  it('an SRQ: create, set its limit, query, a QP that receives from it', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const srq = pd.createSrq({ maxWr: 16, maxSge: 1 });
    expect(srq.maxWr).toBeGreaterThanOrEqual(16);
    srq.modify({ limit: 4 });
    expect(srq.query().limit).toBe(4);
    const cq = ctx.createCq({ cqe: 16 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, srq, cap: CAP });
    expect(qp.qpNum).toBeGreaterThan(0);
    // closing the SRQ first takes the QP that uses it down with it
    srq.close();
    expect(qp.closed).toBe(true);
  });

  it('UD QPs: siw refuses them with the kernel’s EOPNOTSUPP (iWARP is RC only), rxe makes them', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 8 });
    const ud = () => pd.createQp({ type: 'UD', sendCq: cq, recvCq: cq, cap: CAP });
    if (deviceKind() === 'siw') {
      expect(ud).toThrow(
        expect.objectContaining({ code: 'EOPNOTSUPP', unsupported: true, syscall: 'ioctl', path: 'ioctl' }),
      );
    } else {
      expect(ud().qpNum).toBeGreaterThan(0);
    }
  });

  it('a PD with a live MR: the kernel refuses with EBUSY and the PD stays usable', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096, { localWrite: true });
    expect(kernelErrno(() => pd.close({ cascade: false }))).toBe('EBUSY');
    expect([pd.closed, mr.closed]).toEqual([false, false]);
    const second = pd.registerMemory(4096);
    expect(second.lkey).not.toBe(mr.lkey);
    mr.close();
    second.close();
    pd.close({ cascade: false });
    expect(pd.closed).toBe(true);
  });

  it('a CQ a QP completes into: the kernel refuses with EBUSY and the CQ stays usable', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 8 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
    expect(kernelErrno(() => cq.close({ cascade: false }))).toBe('EBUSY');
    expect(cq.closed).toBe(false);
    const another = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
    qp.close();
    another.close();
    cq.close({ cascade: false });
    expect(cq.closed).toBe(true);
  });

  it('remote write without local write: refused before any syscall, and the kernel agrees (EINVAL)', () => {
    const trace: TraceEvent[] = [];
    using ctx = Context.open(name, { trace: (e) => trace.push(e) });
    const pd = ctx.allocPd();
    const before = trace.length;
    expect(() => pd.registerMemory(4096, { remoteWrite: true })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(trace.length).toBe(before);
    // the same registration sent raw (ib_check_mr_access)
    using memory = UserMemory.allocate(sysOf(ctx), 4096);
    const raw = () =>
      ctx.dispatch.invoke(
        UVERBS_METHOD_REG_MR,
        {
          pdHandle: pd.handle,
          addr: memory.address,
          length: 4096,
          iova: memory.address,
          accessFlags: A.IB_UVERBS_ACCESS_REMOTE_WRITE,
        },
        uhwFor(ctx.provider, 'regMr'),
      );
    expect(kernelErrno(raw)).toBe('EINVAL');
  });

  it('re-registering an MR: new access rights take effect (a remote write allowed, then refused), then another PD', async (test) => {
    const calls = new Calls();
    using ctx = Context.open(name, { trace: calls.trace });
    const pd = ctx.allocPd();
    const other = ctx.allocPd();
    const mr = pd.registerMemory(8192, { localWrite: true });
    orSkip(test, 'REREG_MR', calls, () =>
      mr.reregister({ access: { localWrite: true, remoteRead: true, remoteWrite: true } }),
    );
    // the rights are the responder's to check: RDMA WRITEs to the MR's (re-read) rkey from a connected QP
    const cq = ctx.createCq({ cqe: 16, channel: ctx.createCompletionChannel() });
    const qpCap = { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 };
    const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: qpCap });
    const b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: qpCap });
    const { gid } = ctx.queryGid(1, gidIndex);
    a.connect({ qpNum: b.qpNum, psn: 0, gid }, { sgidIndex: gidIndex });
    b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: gidIndex });
    const source = pd.registerMemory(4096, { localWrite: true });
    const sent = Uint8Array.from({ length: 64 }, (_, i) => 0x40 + i);
    source.bytes.set(sent);
    const write = async (wrId: bigint): Promise<Completion | undefined> => {
      a.postSend({
        wrId,
        opcode: 'RDMA_WRITE',
        signaled: true,
        sg: [{ mr: source, length: 64 }],
        remote: { addr: mr.address, rkey: mr.rkey },
      });
      const out = new Uint8Array(COMPLETION_SIZE);
      return decodeCompletions(out, await cq.wait(out, 1))[0];
    };
    expect(await write(1n)).toMatchObject({ wrId: 1n, status: 'IB_WC_SUCCESS' });
    expect(mr.bytes.slice(0, 64)).toEqual(sent);
    // and taken away again: the same write is the responder's access error
    mr.reregister({ access: { localWrite: true } });
    expect(await write(2n)).toMatchObject({ wrId: 2n, status: 'IB_WC_REM_ACCESS_ERR' });
    for (const o of [a, b, source]) o.close();

    mr.reregister({ pd: other });
    expect(mr.pd).toBe(other);
    // the MR left: the first PD has no user now, the second one does
    pd.close({ cascade: false });
    expect(kernelErrno(() => other.close({ cascade: false }))).toBe('EBUSY');
    other.close();
    expect(mr.closed).toBe(true);
  });

  it('use after close is a typed error that never reaches the kernel', () => {
    const trace: TraceEvent[] = [];
    const ctx = Context.open(name, { trace: (e) => trace.push(e) });
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 8 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
    pd.close();
    expect(qp.closed).toBe(true);
    const before = trace.length;
    const closed = expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' });
    expect(() => pd.registerMemory(4096)).toThrow(closed);
    expect(() => qp.modify({ state: 'INIT' })).toThrow(closed);
    expect(() => qp.query()).toThrow(closed);
    ctx.close();
    expect(() => cq.resize(16)).toThrow(closed);
    expect(() => ctx.queryPort(1)).toThrow(closed);
    expect(() => ctx.allocPd()).toThrow(closed);
    expect(trace.length).toBe(before + 1); // the CQ's own destroy, by ctx.close()
  });

  it('200 cycles of every object leave fds and `rdma res show` as they were', { timeout: 600_000 }, () => {
    const fds = fdCount();
    const before = resources(name);
    // the baseline is not zero: the kernel's own MAD agent holds a PD, a CQ and QP1 on RoCE
    expect(before).toMatch(/ pd \d+ cq \d+ qp \d+ /);
    for (let i = 0; i < 200; i++) {
      using ctx = Context.open(name);
      // one of every object this device has (the check's own list: iWARP has no UD QPs, MWs or AHs)
      const part = newPart('lifetime');
      everyObject(part, ctx);
      if (!iwarp) expect(part.counts, 'RoCE has every object').toEqual({});
    }
    expect(fdCount()).toBe(fds);
    expect(resources(name)).toBe(before);
  });
});

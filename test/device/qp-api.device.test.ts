/**
 * The QP API a program needs, on rxe (the device whose datapath the
 * library has): a post the QP's state cannot take is refused before it
 * reaches the ring and never happens later; QP access rights without
 * localWrite; connect() parameters read back through query(); a connect
 * that fails names its step and leaves the QP in RESET (or, when its first
 * step is refused, where it was, with its receives); a UD QP walked to
 * RTS with a Q_Key; multicast attach and detach.
 */

import { describe, expect, it } from 'vitest';
import { UverbsError } from '../../src/errors.js';
import { Context } from '../../src/verbs/context.js';
import type { QueuePair } from '../../src/verbs/queue-pair.js';
import type { Completion } from '../../src/verbs/work-request.js';
import { Calls, orSkip, TEST_DEVICE, VM_KERNEL } from './support.js';

const name = TEST_DEVICE as string;
const SGID = 1; // RoCE v2, IPv4-mapped
const ALL = { localWrite: true, remoteWrite: true, remoteRead: true, remoteAtomic: true };
const CAP = { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 };
/** The rxe ring header's producer index, in 32-bit words (rxe_queue_buf: 128 bytes of padding first). */
const PRODUCER = 32;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `count` completions came or `ms` passed; then polls once more after a pause, for any late extra. */
async function drain(qp: QueuePair, cq: ReturnType<Context['createCq']>, count: number, ms = 5000) {
  const got: Completion[] = [];
  const deadline = Date.now() + ms;
  while (got.length < count && Date.now() < deadline) {
    got.push(...cq.pollCompletions(16));
    if (got.length < count) await sleep(5);
  }
  await sleep(300);
  got.push(...cq.pollCompletions(16));
  return got.filter((c) => c.qpNum === qp.qpNum);
}

function pair() {
  const ctx = Context.open(name);
  const pd = ctx.allocPd();
  const sendCq = ctx.createCq({ cqe: 64 });
  const recvCq = ctx.createCq({ cqe: 64 });
  const a = pd.createQp({ type: 'RC', sendCq, recvCq, cap: CAP });
  const b = pd.createQp({ type: 'RC', sendCq, recvCq, cap: CAP });
  const mr = pd.registerMemory(4096, ALL);
  const { gid } = ctx.queryGid(1, SGID);
  return { ctx, pd, sendCq, recvCq, a, b, mr, gid };
}

const producer = (qp: QueuePair, ring: 'sq' | 'rq') => qp.rings.find((r) => r.name === ring)?.words[PRODUCER];

describe.runIf(TEST_DEVICE?.startsWith('rxe'))(`the QP API on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it('a send posted in RESET, INIT or RTR and a receive posted in RESET are refused before the ring, and never happen later', async () => {
    const { ctx, sendCq, recvCq, a, b, mr, gid } = pair();
    const refused = (state: string) =>
      expect.objectContaining({ name: 'UverbsQpStateError', code: 'EINVAL', errno: 22, state, syscall: 'none' });
    const send = (wrId: bigint) => ({ wrId, opcode: 'SEND' as const, signaled: true, sg: [{ mr, length: 8 }] });

    // receive in RESET: refused, nothing in b's receive ring
    const rq = producer(b, 'rq');
    expect(() => b.postRecv({ wrId: 90n, sg: [{ mr, length: 64 }] })).toThrow(refused('RESET'));
    expect(() => b.prepareRecv({ wrId: 91n, sg: [{ mr, length: 64 }] }).post()).toThrow(refused('RESET'));
    expect(producer(b, 'rq')).toBe(rq);

    // send in RESET, INIT and RTR: refused (postSend and a prepared post), nothing in a's send ring
    const sq = producer(a, 'sq');
    const prepared = a.prepareSend(send(4n));
    expect(() => a.postSend(send(1n))).toThrow(refused('RESET'));
    expect(() => prepared.post()).toThrow(refused('RESET'));
    a.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: ALL });
    expect(() => a.postSend(send(2n))).toThrow(refused('INIT'));
    a.modify({
      state: 'RTR',
      pathMtu: 1024,
      destQpn: b.qpNum,
      rqPsn: 0,
      maxDestRdAtomic: 1,
      minRnrTimer: 12,
      av: { dgid: gid, sgidIndex: SGID, hopLimit: 64, port: 1 },
    });
    expect(() => a.postSend(send(3n))).toThrow(refused('RTR'));
    expect(() => prepared.post()).toThrow(refused('RTR'));
    expect(producer(a, 'sq')).toBe(sq);

    // connected: only what is posted now is sent and received
    a.modify({ state: 'RTS', sqPsn: 0, timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 });
    b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: SGID });
    b.postRecv([
      { wrId: 10n, sg: [{ mr, length: 64 }] },
      { wrId: 11n, sg: [{ mr, length: 64 }] },
    ]);
    prepared.post();
    a.postSend(send(5n));
    const sent = await drain(a, sendCq, 2);
    const received = await drain(b, recvCq, 2);
    expect(sent.map((c) => [c.wrId, c.status])).toEqual([
      [4n, 'IB_WC_SUCCESS'],
      [5n, 'IB_WC_SUCCESS'],
    ]);
    expect(received.map((c) => [c.wrId, c.status])).toEqual([
      [10n, 'IB_WC_SUCCESS'],
      [11n, 'IB_WC_SUCCESS'],
    ]);
    ctx.close();
  });

  it('QP access rights: remoteWrite and remoteRead without localWrite are a QP’s to grant (perftest does it)', () => {
    const { ctx, a } = pair();
    a.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: { remoteWrite: true, remoteRead: true } });
    expect(a.query().access).toMatchObject({
      localWrite: false,
      remoteWrite: true,
      remoteRead: true,
      remoteAtomic: false,
    });
    // a memory region keeps the IB rule: remote write needs local write (ib_check_mr_access)
    expect(() => a.pd.registerMemory(4096, { remoteWrite: true })).toThrow(/must include localWrite/);
    ctx.close();
  });

  it('connect() parameters read back through query(), exactly as the kernel answers', () => {
    const { ctx, a, b, gid } = pair();
    const base = ctx.queryDevice();
    const options = {
      sgidIndex: SGID,
      psn: 0x123,
      timeout: 18,
      retryCnt: 5,
      rnrRetry: 3,
      minRnrTimer: 20,
      maxRdAtomic: 3,
      maxDestRdAtomic: 8,
      pathMtu: 2048 as const,
      hopLimit: 17,
      trafficClass: 0x20,
      flowLabel: 0x12345,
      sl: 3,
      access: { remoteWrite: true, remoteRead: true },
    };
    a.connect({ qpNum: b.qpNum, psn: 0x456, gid }, options);
    b.connect({ qpNum: a.qpNum, psn: 0x123, gid }, { sgidIndex: SGID, psn: 0x456 });
    const q = a.query();
    const shown = JSON.stringify(q, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
    process.stderr.write(`rxe ${VM_KERNEL} query after connect: ${shown}\n`);
    expect(Object.keys(q)).not.toContain('qpState');
    expect(Object.keys(q)).not.toContain('reserved');
    expect(q).toMatchObject({
      state: 'RTS',
      destQpn: b.qpNum,
      sqPsn: 0x123,
      rqPsn: 0x456,
      timeout: 18,
      retryCnt: 5,
      rnrRetry: 3,
      minRnrTimer: 20,
      // rxe rounds both up to a power of two (rxe_qp_from_attr: roundup_pow_of_two)
      maxRdAtomic: 4,
      maxDestRdAtomic: 8,
      pathMtu: 2048,
      port: 1,
      pkeyIndex: 0,
      access: { localWrite: false, remoteWrite: true, remoteRead: true, remoteAtomic: false },
    });
    // RoCE: the kernel replaces the hop limit with its route's (ib_resolve_eth_dmac: the IP TTL, 64 here);
    // rxe reports SL 0 whatever was asked (RoCE carries no SL; its address vector keeps none)
    expect(q.av).toMatchObject({
      dgid: gid,
      sgidIndex: SGID,
      hopLimit: 64,
      trafficClass: 0x20,
      flowLabel: 0x12345,
      sl: 0,
      port: 1,
    });
    expect(q.av.dgid).toBeInstanceOf(Uint8Array);
    expect(q.cap).toMatchObject({ maxSendWr: expect.any(Number), maxRecvWr: expect.any(Number) });
    // the defaults, as documented: 14, 7, 7 (retry forever), 12, the device's read/atomic depths capped at 16, 1024
    const d = b.query();
    expect(d).toMatchObject({
      timeout: 14,
      retryCnt: 7,
      rnrRetry: 7,
      minRnrTimer: 12,
      maxRdAtomic: Math.min(base.maxQpInitRdAtom, 16),
      maxDestRdAtomic: Math.min(base.maxQpRdAtom, 16),
      pathMtu: 1024,
      access: ALL,
    });
    expect(d.av).toMatchObject({ hopLimit: 64, trafficClass: 0, sgidIndex: SGID });
    ctx.close();
  });

  it('a connect() the kernel refuses names the step and its errno, and leaves the QP in RESET, ready for another', () => {
    const { ctx, a, b, gid } = pair();
    const remote = { qpNum: b.qpNum, psn: 0, gid };
    // INIT: no port 2 on rxe
    expect(() => a.connect(remote, { sgidIndex: SGID, port: 2 })).toThrow(
      expect.objectContaining({ name: 'UverbsTransitionError', step: 'INIT', state: 'RESET', code: 'EINVAL' }),
    );
    // RTS: more outstanding reads than the device has (max_qp_rd_atom), after INIT and RTR were taken
    let error: unknown;
    try {
      a.connect(remote, { sgidIndex: SGID, maxRdAtomic: 255 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ name: 'UverbsTransitionError', step: 'RTS', state: 'RESET', code: 'EINVAL' });
    expect((error as Error).message).toMatch(/RTS.*RESET/);
    expect(a.query().state).toBe('RESET');
    a.connect(remote, { sgidIndex: SGID });
    expect(a.query().state).toBe('RTS');
    // connect() walks from RESET or INIT only: from RTS it is refused before any syscall
    expect(() => a.connect(remote, { sgidIndex: SGID })).toThrow(
      expect.objectContaining({ name: 'UverbsQpStateError', state: 'RTS', code: 'EINVAL' }),
    );
    expect(a.query().state).toBe('RTS');
    ctx.close();
  });

  it('a connect() whose first step (INIT) the kernel refuses changes nothing: a QP in INIT keeps its posted receive', async () => {
    const { ctx, sendCq, recvCq, a, b, mr, gid } = pair();
    // as pingpong: b to INIT, a receive posted there, then connect
    b.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: ALL });
    b.postRecv({ wrId: 7n, sg: [{ mr, offset: 2048, length: 64 }] });
    // INIT -> INIT on port 2: rxe has one port, the kernel refuses it
    expect(() => b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: SGID, port: 2 })).toThrow(
      expect.objectContaining({ name: 'UverbsTransitionError', step: 'INIT', state: 'INIT', code: 'EINVAL' }),
    );
    expect(b.query().state).toBe('INIT');
    b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: SGID });
    // rnrRetry 0: were the receive gone, the send would fail with IB_WC_RNR_RETRY_EXC_ERR, not wait forever
    a.connect({ qpNum: b.qpNum, psn: 0, gid }, { sgidIndex: SGID, rnrRetry: 0 });
    mr.bytes.set([1, 2, 3, 4, 5, 6, 7, 8]);
    a.postSend({ wrId: 8n, opcode: 'SEND', signaled: true, sg: [{ mr, length: 8 }] });
    const [sent] = await drain(a, sendCq, 1);
    const [received] = await drain(b, recvCq, 1);
    expect(sent).toMatchObject({ wrId: 8n, status: 'IB_WC_SUCCESS' });
    expect(received).toMatchObject({ wrId: 7n, status: 'IB_WC_SUCCESS', opcode: 'IB_WC_RECV', byteLen: 8 });
    expect([...mr.bytes.subarray(2048, 2056)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    ctx.close();
  });

  it('a UD QP: activate() walks it to RTS with a Q_Key; multicast attach and detach', (test) => {
    const calls = new Calls();
    using ctx = Context.open(name, { trace: calls.trace });
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 16 });
    const ud = pd.createQp({ type: 'UD', sendCq: cq, recvCq: cq, cap: CAP });
    ud.activate({ qkey: 0x11111111 });
    expect(ud.query()).toMatchObject({ state: 'RTS', qkey: 0x11111111, port: 1, pkeyIndex: 0, sqPsn: 0 });
    const group = new Uint8Array(16);
    group.set([0xff, 0x0e], 0);
    group.set([0x12, 0x34], 14);
    orSkip(test, 'ATTACH_MCAST', calls, () => ud.attachMulticast(group, 0));
    ud.detachMulticast(group, 0);
    // the kernel keeps the list: a group not attached is its EINVAL
    expect(() => ud.detachMulticast(group, 0)).toThrow(
      expect.objectContaining({ code: 'EINVAL', method: 'IB_USER_VERBS_CMD_DETACH_MCAST' }),
    );
    // attached when closed: close() detaches first (the kernel refuses to destroy a QP with groups: EBUSY)
    ud.attachMulticast(group, 0);
    ud.close();
    expect(ud.closed).toBe(true);
  });
});

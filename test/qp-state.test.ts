/**
 * The QP over the fake kernel: a post its state cannot take is refused
 * before the ring (and QUERY_QP asked where the device could have moved
 * it); QP access rights without localWrite; connect() and activate()
 * checked before any syscall, their MODIFY_QPs as documented, a refused
 * step sending the QP back to RESET; query() by name; multicast.
 */

import { describe, expect, it } from 'vitest';
import { ib_uverbs_write_cmds as W } from '../src/abi/constants.js';
import { ib_qp_state } from '../src/abi/kernel-internal.js';
import { decode } from '../src/abi/layout.js';
import { ib_uverbs_attach_mcast, ib_uverbs_modify_qp, ib_uverbs_query_qp_resp } from '../src/abi/structs.js';
import { EINVAL } from '../src/errno.js';
import { Context } from '../src/verbs/context.js';
import { accessBits } from '../src/verbs/memory-region.js';
import type { QpState, QpType } from '../src/verbs/queue-pair.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

const CAP = { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 };
const GID = new Uint8Array(16).fill(7);

/** The fake kernel, recording every write's command and request, refusing where told, and reporting a QP state. */
class Kernel extends FakeKernel {
  readonly writes: { command: number; request: Uint8Array }[] = [];
  refuse: ((command: number, request: Uint8Array) => number) | undefined;
  state: QpState = 'RESET';

  override write(fd: number, address: bigint, length: number): number {
    const bytes = (this.readUser(address, length) ?? new Uint8Array(0)).slice();
    const command = new DataView(bytes.buffer).getUint32(0, true);
    const request = bytes.subarray(8);
    this.writes.push({ command, request });
    const errno = this.refuse?.(command, request) ?? 0;
    if (errno) return -errno;
    const r = super.write(fd, address, length);
    if (command === W.IB_USER_VERBS_CMD_QUERY_QP && r > 0) {
      const response = new DataView(bytes.buffer).getBigUint64(8, true);
      const out = this.readUser(response, ib_uverbs_query_qp_resp.size) as Uint8Array;
      out[ib_uverbs_query_qp_resp.fields.qp_state.offset] = ib_qp_state[`IB_QPS_${this.state}`];
      out[ib_uverbs_query_qp_resp.fields.path_mtu.offset] = 4; // IB_MTU_2048
    }
    return r;
  }

  /** The MODIFY_QPs written, decoded. */
  modifies() {
    return this.writes
      .filter((w) => w.command === W.IB_USER_VERBS_CMD_MODIFY_QP)
      .map((w) => decode(ib_uverbs_modify_qp, w.request));
  }
}

function rig(type: QpType = 'RC') {
  const kernel = new Kernel();
  const ctx = Context.open(FAKE_DEVICE, { sys: kernel }); // rxe (driver id 14): the library has its datapath
  const pd = ctx.allocPd();
  const cq = ctx.createCq({ cqe: 4 });
  const qp = pd.createQp({ type, sendCq: cq, recvCq: cq, cap: CAP });
  const mr = pd.registerMemory(4096, { localWrite: true });
  return { kernel, ctx, pd, cq, qp, mr };
}

describe('posting against the QP state', () => {
  it('a send in RESET is refused with a typed EINVAL naming the state, before the ring and with no syscall', () => {
    const { kernel, qp, mr } = rig();
    const calls = kernel.calls.length;
    let error: unknown;
    try {
      qp.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      name: 'UverbsQpStateError',
      code: 'EINVAL',
      errno: EINVAL,
      syscall: 'none',
      state: 'RESET',
      object: qp.description,
      method: 'post send',
    });
    expect((error as Error).message).toMatch(/in RESET; a send needs RTS, SQD, SQE or ERR; nothing was posted/);
    const prepared = qp.prepareSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] });
    expect(() => prepared.post()).toThrow(expect.objectContaining({ name: 'UverbsQpStateError', state: 'RESET' }));
    expect(kernel.calls.length).toBe(calls);
  });

  it('from INIT or RTR the kernel is asked: a QP the device moved to ERR takes the post (flushed), one still in RTR does not', () => {
    const { kernel, qp, mr } = rig();
    qp.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: {} });
    qp.modify({ state: 'RTR' });
    kernel.state = 'RTR';
    expect(() => qp.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] })).toThrow(
      expect.objectContaining({ name: 'UverbsQpStateError', state: 'RTR' }),
    );
    expect(kernel.writes.at(-1)?.command).toBe(W.IB_USER_VERBS_CMD_QUERY_QP);
    kernel.state = 'ERR';
    // past the state check: the fake kernel gave the QP no rings, so the datapath has no send ring to write
    expect(() => qp.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }),
    );
  });

  it('in RTS the record is enough: no query', () => {
    const { kernel, qp, mr } = rig();
    qp.modify({ state: 'RTS' });
    const writes = kernel.writes.length;
    expect(() => qp.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }),
    );
    expect(kernel.writes.length).toBe(writes);
  });
});

describe('the state record and QUERY_QP', () => {
  it('a QUERY_QP that says RESET does not undo a state the record vouches for (siw on 6.1 says RESET to every query); query() still reports it', () => {
    const { kernel, qp, mr } = rig();
    qp.modify({ state: 'RTS' });
    kernel.state = 'RESET'; // what siw_query_qp on 6.1 answers: it sets no state
    expect(qp.query().state).toBe('RESET');
    expect(qp.recordedState).toBe('RTS');
    // the post goes on to the datapath (the fake kernel gave the QP no rings to write)
    expect(() => qp.postSend({ opcode: 'SEND', sg: [{ mr, length: 8 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }),
    );
    // any other state it reports is taken
    kernel.state = 'ERR';
    qp.query();
    expect(qp.recordedState).toBe('ERR');
  });
});

describe('access rights', () => {
  it('a QP may grant remote write and read without local write; memory may not', () => {
    const { kernel, pd, qp } = rig();
    qp.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: { remoteWrite: true, remoteRead: true } });
    expect(kernel.modifies().at(-1)?.qp_access_flags).toBe(2 | 4);
    expect(accessBits({ remoteWrite: true }, 'qp')).toBe(2);
    expect(() => accessBits({ remoteWrite: true })).toThrow(/must include localWrite/);
    expect(() => pd.registerMemory(4096, { remoteAtomic: true })).toThrow(/must include localWrite/);
  });
});

describe('connect()', () => {
  const remote = { qpNum: 0x12, psn: 0x34, gid: GID };

  it('takes every parameter to its MODIFY_QP, in three steps', () => {
    const { kernel, qp } = rig();
    qp.connect(remote, {
      sgidIndex: 3,
      port: 1,
      pkeyIndex: 2,
      psn: 0x56,
      pathMtu: 4096,
      hopLimit: 9,
      trafficClass: 0x40,
      flowLabel: 0xabcde,
      sl: 5,
      timeout: 20,
      retryCnt: 4,
      rnrRetry: 2,
      minRnrTimer: 30,
      maxRdAtomic: 8,
      maxDestRdAtomic: 2,
      access: { remoteWrite: true },
    });
    const [init, rtr, rts] = kernel.modifies();
    expect(init).toMatchObject({ qp_state: 1, pkey_index: 2, port_num: 1, qp_access_flags: 2 });
    expect(rtr).toMatchObject({
      qp_state: 2,
      path_mtu: 5,
      dest_qp_num: 0x12,
      rq_psn: 0x34,
      max_dest_rd_atomic: 2,
      min_rnr_timer: 30,
      dest: { sgid_index: 3, hop_limit: 9, traffic_class: 0x40, flow_label: 0xabcde, sl: 5, port_num: 1, is_global: 1 },
    });
    expect(rtr?.dest.dgid).toEqual(GID);
    expect(rts).toMatchObject({ qp_state: 3, sq_psn: 0x56, timeout: 20, retry_cnt: 4, rnr_retry: 2, max_rd_atomic: 8 });
  });

  it('defaults: 1024, hop limit 64, timeout 14, 7 retries, 7 RNR retries (forever), RNR timer 12, depths from the device capped at 16', () => {
    const { kernel, qp } = rig();
    qp.connect(remote, { sgidIndex: 1 });
    // the fake device reports recognisable numbers: its max_qp_rd_atom and max_qp_init_rd_atom are above 16
    expect(kernel.writes.some((w) => (w.command & 0xff) === W.IB_USER_VERBS_CMD_QUERY_DEVICE)).toBe(true);
    const [init, rtr, rts] = kernel.modifies();
    expect(init).toMatchObject({ pkey_index: 0, port_num: 1, qp_access_flags: 1 | 2 | 4 | 8 });
    expect(rtr).toMatchObject({ path_mtu: 3, max_dest_rd_atomic: 16, min_rnr_timer: 12 });
    expect(rtr?.dest).toMatchObject({ hop_limit: 64, traffic_class: 0, flow_label: 0, sl: 0 });
    expect(rts).toMatchObject({ sq_psn: 0, timeout: 14, retry_cnt: 7, rnr_retry: 7, max_rd_atomic: 16 });
  });

  it('out-of-range parameters are refused before any syscall; RC-only ones on a UC QP too', () => {
    const { kernel, qp } = rig();
    const uc = rig('UC');
    const calls = kernel.calls.length;
    const bad: [string, object][] = [
      ['timeout', { timeout: 32 }],
      ['retryCnt', { retryCnt: 8 }],
      ['rnrRetry', { rnrRetry: -1 }],
      ['minRnrTimer', { minRnrTimer: 1.5 }],
      ['maxRdAtomic', { maxRdAtomic: 256 }],
      ['maxDestRdAtomic', { maxDestRdAtomic: '4' }],
      ['sl', { sl: 16 }],
      ['trafficClass', { trafficClass: 256 }],
      ['flowLabel', { flowLabel: 0x100000 }],
      ['hopLimit', { hopLimit: 300 }],
      ['psn', { psn: 0x1000000 }],
      ['pkeyIndex', { pkeyIndex: 0x10000 }],
      ['sgidIndex', { sgidIndex: 256 }],
      ['port', { port: 0 }],
    ];
    for (const [key, option] of bad) {
      expect(() => qp.connect(remote, { sgidIndex: 1, ...option }), key).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining(key) }),
      );
    }
    expect(() => qp.connect(remote, { sgidIndex: 1, pathMtu: 1500 as never })).toThrow(/pathMtu/);
    // a name on the tables' prototype is no MTU, state or type (it reached the kernel as a bad field before)
    const rc = rig();
    for (const name of ['constructor', 'toString', '__proto__']) {
      expect(() => qp.connect(remote, { sgidIndex: 1, pathMtu: name as never }), name).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('pathMtu') }),
      );
      expect(() => rc.qp.modify({ state: name as never }), name).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('state') }),
      );
      expect(() => rc.pd.createQp({ type: name as never, sendCq: rc.cq, recvCq: rc.cq, cap: CAP })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('type') }),
      );
    }
    expect(() => qp.connect({ ...remote, qpNum: 1 << 24 }, { sgidIndex: 1 })).toThrow(/remote.qpNum/);
    expect(() => qp.connect({ ...remote, psn: undefined } as never, { sgidIndex: 1 })).toThrow(/remote.psn/);
    expect(() => qp.connect(remote, {} as never)).toThrow(/options.sgidIndex/);
    expect(() => qp.connect({ ...remote, gid: new Uint8Array(4) }, { sgidIndex: 1 })).toThrow(/remote.gid/);
    expect(kernel.calls.length).toBe(calls);
    const ucCalls = uc.kernel.calls.length;
    expect(() => uc.qp.connect(remote, { sgidIndex: 1, rnrRetry: 3 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('RC QPs only') }),
    );
    uc.qp.connect(remote, { sgidIndex: 1 });
    const [, rtr, rts] = uc.kernel.modifies();
    expect(rtr?.attr_mask).not.toBe(0);
    expect(rts).toMatchObject({ timeout: 0, retry_cnt: 0, rnr_retry: 0, max_rd_atomic: 0 });
    expect(uc.kernel.writes.some((w) => (w.command & 0xff) === W.IB_USER_VERBS_CMD_QUERY_DEVICE)).toBe(false);
    expect(uc.kernel.calls.length).toBeGreaterThan(ucCalls);
  });

  it('a step the kernel refuses is named, with its errno; the QP goes back to RESET and connects again', () => {
    const { kernel, qp } = rig();
    kernel.refuse = (command, request) =>
      command === W.IB_USER_VERBS_CMD_MODIFY_QP && decode(ib_uverbs_modify_qp, request).qp_state === 3 ? EINVAL : 0;
    let error: unknown;
    try {
      qp.connect(remote, { sgidIndex: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      name: 'UverbsTransitionError',
      step: 'RTS',
      state: 'RESET',
      code: 'EINVAL',
      syscall: 'write',
      method: 'IB_USER_VERBS_CMD_MODIFY_QP',
      cause: expect.objectContaining({ code: 'EINVAL' }),
    });
    expect((error as Error).message).toMatch(/refused RTS .*moved back to RESET/);
    expect(kernel.modifies().map((m) => m.qp_state)).toEqual([1, 2, 3, 0]);
    kernel.refuse = undefined;
    qp.connect(remote, { sgidIndex: 1 });
    qp.modify({ state: 'RTS' });
    // from RTS connect() is refused before any syscall, naming the state
    const writes = kernel.writes.length;
    expect(() => qp.connect(remote, { sgidIndex: 1 })).toThrow(
      expect.objectContaining({ name: 'UverbsQpStateError', state: 'RTS', method: 'connect' }),
    );
    expect(kernel.writes.length).toBe(writes);
  });

  it('a refused first step changes nothing: no rollback, the QP stays where it was (INIT keeps its receives)', () => {
    const refuseInit = (command: number, request: Uint8Array) =>
      command === W.IB_USER_VERBS_CMD_MODIFY_QP && decode(ib_uverbs_modify_qp, request).qp_state === 1 ? EINVAL : 0;
    // from INIT (as pingpong: receives posted in INIT, then connect)
    const { kernel, qp } = rig();
    qp.modify({ state: 'INIT', pkeyIndex: 0, port: 1, access: { localWrite: true } });
    kernel.state = 'INIT';
    kernel.refuse = refuseInit;
    const before = kernel.modifies().length;
    let error: unknown;
    try {
      qp.connect(remote, { sgidIndex: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: 'UverbsTransitionError', step: 'INIT', state: 'INIT', code: 'EINVAL' });
    expect((error as Error).message).toMatch(/refused INIT .*left in INIT/);
    // one MODIFY_QP (the refused INIT step), no RESET after it
    expect(
      kernel
        .modifies()
        .slice(before)
        .map((m) => m.qp_state),
    ).toEqual([1]);
    // from RESET: the same, the QP is still in RESET and nothing moved it
    const reset = rig();
    reset.kernel.refuse = refuseInit;
    expect(() => reset.qp.connect(remote, { sgidIndex: 1 })).toThrow(
      expect.objectContaining({ name: 'UverbsTransitionError', step: 'INIT', state: 'RESET' }),
    );
    expect(reset.kernel.modifies().map((m) => m.qp_state)).toEqual([1]);
  });
});

describe('activate() (UD)', () => {
  it('RESET -> INIT (P_Key index, port, Q_Key) -> RTR -> RTS (send PSN); refused on RC', () => {
    const { kernel, qp } = rig('UD');
    qp.activate({ qkey: 0x11111111, psn: 5 });
    const [init, rtr, rts] = kernel.modifies();
    expect(init).toMatchObject({ qp_state: 1, qkey: 0x11111111, pkey_index: 0, port_num: 1 });
    expect(rtr).toMatchObject({ qp_state: 2, attr_mask: 1 });
    expect(rts).toMatchObject({ qp_state: 3, sq_psn: 5 });
    expect(() => qp.connect({ qpNum: 1, psn: 0, gid: GID }, { sgidIndex: 1 })).toThrow(/activate\(\) it/);
    const rc = rig('RC');
    expect(() => rc.qp.activate({ qkey: 1 })).toThrow(/connect\(\) it/);
    expect(() => rig('UD').qp.activate({ qkey: 2 ** 32 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => rig('UD').qp.activate({} as never)).toThrow(/options.qkey/);
  });
});

describe('query()', () => {
  it('reports by name: the state, the MTU in bytes, access rights, the paths; one name per field', () => {
    const { kernel, qp } = rig();
    kernel.state = 'SQD';
    const q = qp.query();
    expect(q.state).toBe('SQD');
    expect(q.pathMtu).toBe(2048);
    expect(Object.keys(q).sort()).toEqual(
      [
        'access',
        'altAv',
        'altPkeyIndex',
        'altPort',
        'altTimeout',
        'av',
        'cap',
        'destQpn',
        'maxDestRdAtomic',
        'maxRdAtomic',
        'minRnrTimer',
        'pathMtu',
        'pkeyIndex',
        'port',
        'qkey',
        'retryCnt',
        'rnrRetry',
        'rqPsn',
        'sqDraining',
        'sqPsn',
        'sqSigAll',
        'state',
        'timeout',
      ].sort(),
    );
    expect(Object.keys(q.av).sort()).toEqual(
      [
        'dgid',
        'dlid',
        'flowLabel',
        'hopLimit',
        'isGlobal',
        'port',
        'sgidIndex',
        'sl',
        'srcPathBits',
        'staticRate',
        'trafficClass',
      ].sort(),
    );
    expect(q.av.dgid).toBeInstanceOf(Uint8Array);
    expect(Object.keys(q.access)).toContain('remoteAtomic');
    // the fake fills each field with its offset + 1: the names land on the kernel's fields
    const F = ib_uverbs_query_qp_resp.fields;
    expect([q.timeout, q.rnrRetry, q.port, q.destQpn & 0xff]).toEqual([
      F.timeout.offset + 1,
      F.rnr_retry.offset + 1,
      F.port_num.offset + 1,
      F.dest_qp_num.offset + 1,
    ]);
  });
});

describe('multicast', () => {
  const group = new Uint8Array(16);
  group[0] = 0xff;
  group[1] = 0x0e;
  group[15] = 1;

  it('attach and detach write their commands; close() detaches what is still attached, then destroys', () => {
    const { kernel, qp } = rig('UD');
    qp.attachMulticast(group, 0);
    qp.attachMulticast(group, 7);
    qp.detachMulticast(group, 0);
    const sent = kernel.writes.filter(
      (w) => w.command === W.IB_USER_VERBS_CMD_ATTACH_MCAST || w.command === W.IB_USER_VERBS_CMD_DETACH_MCAST,
    );
    expect(sent.map((w) => [w.command, decode(ib_uverbs_attach_mcast, w.request).mlid])).toEqual([
      [W.IB_USER_VERBS_CMD_ATTACH_MCAST, 0],
      [W.IB_USER_VERBS_CMD_ATTACH_MCAST, 7],
      [W.IB_USER_VERBS_CMD_DETACH_MCAST, 0],
    ]);
    expect(decode(ib_uverbs_attach_mcast, sent[0]?.request as Uint8Array)).toMatchObject({ qp_handle: qp.handle });
    qp.close();
    const last = kernel.writes.filter((w) => w.command === W.IB_USER_VERBS_CMD_DETACH_MCAST).at(-1);
    expect(decode(ib_uverbs_attach_mcast, last?.request as Uint8Array).mlid).toBe(7);
  });

  it('refused before any syscall: an RC QP, a GID that is not multicast, a LID out of range', () => {
    const { kernel, qp } = rig('UD');
    const rc = rig('RC');
    const calls = kernel.calls.length;
    const v4 = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 239, 1, 2, 3]);
    expect(() => rc.qp.attachMulticast(group)).toThrow(/only a UD QP/);
    expect(() => qp.attachMulticast(GID)).toThrow(/multicast GID/);
    expect(() => qp.attachMulticast(group.subarray(0, 8))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => qp.attachMulticast(group, 0x10000)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(kernel.calls.length).toBe(calls);
    qp.attachMulticast(v4); // IPv4-mapped 239.1.2.3
  });
});

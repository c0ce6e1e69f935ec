/**
 * siw's native datapath against rings in plain memory, with this test playing the driver: what the
 * addon writes is read back through the layouts the conformance test proves against the kernel's
 * rdma/siw-abi.h (siw_sqe, siw_rqe, siw_sge, siw_cqe, siw_cq_ctrl, and the siw enums), and what it
 * reads is written here as siw_qp.c writes it (siw_sqe_complete / siw_rqe_complete), so an encoder
 * or decoder that disagrees with the kernel's structs fails here, on a host with no RDMA.
 */

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ib_uverbs_write_cmds,
  siw_notify_flags as N,
  ib_uverbs_wr_opcode as O,
  siw_opcode as SO,
  siw_wc_status as SS,
  siw_wqe_flags as W,
} from '../src/abi/constants.js';
import { ib_send_flags as F } from '../src/abi/kernel-internal.js';
import { decode, encode } from '../src/abi/layout.js';
import {
  siw_cq_ctrl,
  siw_cqe,
  siw_rqe,
  siw_sge,
  siw_sqe,
  siw_uresp_create_cq,
  siw_uresp_create_qp,
} from '../src/abi/siw.js';
import { ib_uverbs_cmd_hdr, ib_uverbs_post_send, ib_uverbs_send_wr } from '../src/abi/structs.js';
import { UverbsError, UverbsUnsupportedError } from '../src/errors.js';
import { siwProvider } from '../src/providers/siw.js';
import { SIW_SEND_OPCODES, SIW_UNSUPPORTED, SiwDatapath } from '../src/providers/siw-datapath.js';
import { native } from '../src/transport/native.js';
import { Ring } from '../src/transport/ring.js';
import type { CompletionQueue } from '../src/verbs/completion-queue.js';
import type { QueuePair } from '../src/verbs/queue-pair.js';
import type { SharedReceiveQueue } from '../src/verbs/shared-receive-queue.js';
import {
  COMPLETION_SIZE,
  decodeCompletions,
  type ResolvedRecv,
  type ResolvedSend,
  SEND_OPCODES,
} from '../src/verbs/work-request.js';
import { NO_MR, SEND } from './support/rxe-stand-ins.js';

const SLOTS = 8;

function qpOf(sq: Ring, opts: { fd?: number; sqSigAll?: boolean; rq?: Ring } = {}): QueuePair {
  return {
    rings: opts.rq ? [sq, opts.rq] : [sq],
    handle: 7,
    description: 'QueuePair test',
    sqSigAll: opts.sqSigAll ?? false,
    pd: { context: { fd: opts.fd ?? -1 } },
  } as unknown as QueuePair;
}
function cqOf(ring: Ring): CompletionQueue {
  return { rings: [ring], description: 'CompletionQueue test' } as unknown as CompletionQueue;
}
function slot(ring: Ring, size: number, i: number): Uint8Array {
  return ring.bytes.subarray(i * size, (i + 1) * size);
}
const sqe = (ring: Ring, i: number) => decode(siw_sqe, slot(ring, siw_sqe.size, i));
const rqe = (ring: Ring, i: number) => decode(siw_rqe, slot(ring, siw_rqe.size, i));
const sqeSge = (ring: Ring, i: number, k: number) =>
  decode(siw_sge, slot(ring, siw_sqe.size, i), siw_sqe.fields.access.offset + k * siw_sge.size);
const rqeSge = (ring: Ring, i: number, k: number) =>
  decode(siw_sge, slot(ring, siw_rqe.size, i), 16 + k * siw_sge.size);
/** The driver takes a slot back, as siw does once it has copied the element (smp_store_mb(flags, 0)). */
function consume(ring: Ring, size: number, i: number): void {
  new DataView(ring.bytes.buffer, ring.bytes.byteOffset).setUint16(i * size + 8, 0, true);
}
const sge = (addr: bigint, length: number, lkey: number) => ({ addr, length, lkey, mr: NO_MR });
const recv = (wrId: bigint, n = 1): ResolvedRecv => ({
  wrId,
  sg: Array.from({ length: n }, (_, k) => sge(0x1000n * BigInt(k + 1), 64 + k, 0x40 + k)),
});

/** A FIFO opened both ways: what is written to it can be read back. */
function fifo(): number {
  const path = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
  execFileSync('mkfifo', [path]);
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

describe('siw send queue', () => {
  it('writes each opcode siw takes as the kernel reads siw_sqe, VALID set', () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    const dp = new SiwDatapath();
    const wrs: ResolvedSend[] = [
      { ...SEND, wrId: 1n, sg: [sge(0x1000n, 64, 0x11), sge(0x2000n, 32, 0x12)] },
      { ...SEND, wrId: 2n, opcode: O.IB_UVERBS_WR_SEND_WITH_INV, invalidateRkey: 0xabcd, flags: F.IB_SEND_SOLICITED },
      {
        ...SEND,
        wrId: 3n,
        opcode: O.IB_UVERBS_WR_RDMA_WRITE,
        remoteAddr: 0xdead_0000n,
        rkey: 0x77,
        flags: F.IB_SEND_SIGNALED | F.IB_SEND_FENCE,
        sg: [sge(0x3000n, 4096, 5)],
      },
      {
        ...SEND,
        wrId: 4n,
        opcode: O.IB_UVERBS_WR_RDMA_READ,
        remoteAddr: 0xbeefn,
        rkey: 0x78,
        sg: [sge(0x4000n, 8, 6)],
      },
      { ...SEND, wrId: 5n, flags: F.IB_SEND_SIGNALED | F.IB_SEND_INLINE, inline: new Uint8Array([1, 2, 3, 4, 5]) },
      {
        ...SEND,
        wrId: 6n,
        opcode: O.IB_UVERBS_WR_RDMA_WRITE,
        remoteAddr: 0x9000n,
        rkey: 0x79,
        flags: F.IB_SEND_INLINE,
        inline: new Uint8Array(80).fill(0xa5),
      },
    ];
    dp.postSend(qpOf(sq), wrs);
    expect(sqe(sq, 0)).toMatchObject({
      id: 1n,
      flags: W.SIW_WQE_VALID | W.SIW_WQE_SIGNALLED,
      num_sge: 2,
      opcode: SO.SIW_OP_SEND,
      rkey: 0,
      raddr: 0n,
    });
    expect([sqeSge(sq, 0, 0), sqeSge(sq, 0, 1)]).toEqual([
      { laddr: 0x1000n, length: 64, lkey: 0x11 },
      { laddr: 0x2000n, length: 32, lkey: 0x12 },
    ]);
    // SEND_WITH_INV: siw's SEND_REMOTE_INV, the STag to invalidate in rkey (siw_verbs.c)
    expect(sqe(sq, 1)).toMatchObject({
      id: 2n,
      flags: W.SIW_WQE_VALID | W.SIW_WQE_SOLICITED,
      num_sge: 0,
      opcode: SO.SIW_OP_SEND_REMOTE_INV,
      rkey: 0xabcd,
    });
    expect(sqe(sq, 2)).toMatchObject({
      flags: W.SIW_WQE_VALID | W.SIW_WQE_SIGNALLED | W.SIW_WQE_READ_FENCE,
      num_sge: 1,
      opcode: SO.SIW_OP_WRITE,
      rkey: 0x77,
      raddr: 0xdead_0000n,
    });
    expect(sqeSge(sq, 2, 0)).toEqual({ laddr: 0x3000n, length: 4096, lkey: 5 });
    expect(sqe(sq, 3)).toMatchObject({ opcode: SO.SIW_OP_READ, rkey: 0x78, raddr: 0xbeefn, num_sge: 1 });
    expect(sqeSge(sq, 3, 0)).toEqual({ laddr: 0x4000n, length: 8, lkey: 6 });
    // inline: the length in sge[0], the bytes from sge[1] on (siw_activate_tx_from_sq)
    expect(sqe(sq, 4)).toMatchObject({
      flags: W.SIW_WQE_VALID | W.SIW_WQE_SIGNALLED | W.SIW_WQE_INLINE,
      num_sge: 1,
      opcode: SO.SIW_OP_SEND,
    });
    expect(sqeSge(sq, 4, 0).length).toBe(5);
    const sge1 = siw_sqe.fields.access.offset + siw_sge.size;
    expect(slot(sq, siw_sqe.size, 4).subarray(sge1, sge1 + 6)).toEqual(new Uint8Array([1, 2, 3, 4, 5, 0]));
    expect(sqe(sq, 5)).toMatchObject({
      flags: W.SIW_WQE_VALID | W.SIW_WQE_INLINE,
      opcode: SO.SIW_OP_WRITE,
      raddr: 0x9000n,
    });
    expect(sqeSge(sq, 5, 0).length).toBe(80);
    expect(slot(sq, siw_sqe.size, 5).subarray(sge1, sge1 + 80)).toEqual(new Uint8Array(80).fill(0xa5));
    expect(sqe(sq, 6).flags).toBe(0); // nothing past the batch
    sq.unmap();
  });

  it('takes the slots back in order once the driver clears them, wrapping round the ring', () => {
    const sq = Ring.syntheticSiw('sq', 4);
    const dp = new SiwDatapath();
    for (let round = 0; round < 3; round++) {
      dp.postSend(
        qpOf(sq),
        [SEND, SEND, SEND].map((w, i) => ({ ...w, wrId: BigInt(round * 10 + i) })),
      );
      for (let i = 0; i < 3; i++) consume(sq, siw_sqe.size, (round * 3 + i) % 4);
    }
    // 9 posted: the last batch went to slots 2, 3, 0
    expect([sqe(sq, 2).id, sqe(sq, 3).id, sqe(sq, 0).id]).toEqual([20n, 21n, 22n]);
    sq.unmap();
  });

  it('is all or none: a batch with too few free slots is ENOMEM and writes nothing', () => {
    const sq = Ring.syntheticSiw('sq', 4);
    const dp = new SiwDatapath();
    dp.postSend(qpOf(sq), [SEND, SEND]); // slots 0, 1 busy (the driver has not taken them)
    const before = sq.bytes.slice();
    const error = (() => {
      try {
        dp.postSend(qpOf(sq), [SEND, SEND, SEND]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'ENOMEM', errno: 12 });
    expect(sq.bytes).toEqual(before);
    dp.postSend(qpOf(sq), [SEND, SEND]); // exactly the room there is
    expect([sqe(sq, 2).flags, sqe(sq, 3).flags]).toEqual([
      W.SIW_WQE_VALID | W.SIW_WQE_SIGNALLED,
      W.SIW_WQE_VALID | W.SIW_WQE_SIGNALLED,
    ]);
    sq.unmap();
  });

  it('refuses every opcode siw has no user SQE for, with the kernel reason, before writing anything', () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    const dp = new SiwDatapath();
    expect([...SIW_SEND_OPCODES, ...Object.keys(SIW_UNSUPPORTED)].sort()).toEqual(Object.keys(SEND_OPCODES).sort());
    for (const [name, reason] of Object.entries(SIW_UNSUPPORTED)) {
      const opcode = SEND_OPCODES[name as keyof typeof SEND_OPCODES];
      // a good SEND first: all or none means it is not written either
      const post = () => dp.postSend(qpOf(sq), [SEND, { ...SEND, opcode }]);
      expect(post).toThrow(UverbsUnsupportedError);
      expect(post).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP', method: `post send ${name} (${reason})` }));
    }
    // and the addon refuses them too, whatever JS let through (the fuzzer's view)
    const { send: S } = native().layout;
    const d = new BigUint64Array(S.words);
    d[S.opcode] = BigInt(O.IB_UVERBS_WR_ATOMIC_FETCH_AND_ADD);
    const r = native().siwPostSend(sq.handle, d, 1, null, -1, 0);
    expect(r & 0xffff).toBe(0);
    expect((r >>> 16) & 0xff).toBe(native().layout.statusUnsupported);
    expect(sq.bytes.every((b) => b === 0)).toBe(true);
    sq.unmap();
  });

  it('refuses a fenced READ, a READ into other than one SGE, and inline SEND_WITH_INV, writing nothing', () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    const dp = new SiwDatapath();
    const read: ResolvedSend = { ...SEND, opcode: O.IB_UVERBS_WR_RDMA_READ, sg: [sge(0x1000n, 8, 1)] };
    expect(() => dp.postSend(qpOf(sq), [{ ...read, flags: F.IB_SEND_FENCE }])).toThrow(UverbsUnsupportedError);
    expect(() => dp.postSend(qpOf(sq), [{ ...read, sg: [sge(0x1000n, 8, 1), sge(0x2000n, 8, 1)] }])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() =>
      dp.postSend(qpOf(sq), [
        { ...SEND, opcode: O.IB_UVERBS_WR_SEND_WITH_INV, flags: F.IB_SEND_INLINE, inline: new Uint8Array(4) },
      ]),
    ).toThrow(UverbsUnsupportedError);
    expect(sq.bytes.every((b) => b === 0)).toBe(true);
    sq.unmap();
  });

  it('marks every SQE signalled on a QP created with sqSigAll (siw does so only for kernel QPs)', () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    new SiwDatapath().postSend(qpOf(sq, { sqSigAll: true }), [{ ...SEND, flags: 0 }]);
    expect(sqe(sq, 0).flags).toBe(W.SIW_WQE_VALID | W.SIW_WQE_SIGNALLED);
    sq.unmap();
  });

  it('rings one doorbell per batch: IB_USER_VERBS_CMD_POST_SEND with no work requests', () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    const fd = fifo();
    try {
      const dp = new SiwDatapath();
      dp.postSend(qpOf(sq, { fd }), [SEND, SEND]);
      dp.postSend(qpOf(sq, { fd }), [SEND]);
      const size = ib_uverbs_cmd_hdr.size + ib_uverbs_post_send.size;
      const bytes = new Uint8Array(3 * size);
      expect(readSync(fd, bytes)).toBe(2 * size);
      for (const at of [0, size]) {
        expect(decode(ib_uverbs_cmd_hdr, bytes, at).command).toBe(ib_uverbs_write_cmds.IB_USER_VERBS_CMD_POST_SEND);
        expect(decode(ib_uverbs_post_send, bytes, at + ib_uverbs_cmd_hdr.size)).toMatchObject({
          qp_handle: 7,
          wr_count: 0,
          sge_count: 0,
          wqe_size: ib_uverbs_send_wr.size,
        });
      }
    } finally {
      closeSync(fd);
      sq.unmap();
    }
  });

  it('prepared work posts the same SQEs each time, with the wrIds given', () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    const dp = new SiwDatapath();
    const post = dp.prepareSend(qpOf(sq), [
      { ...SEND, wrId: 1n, sg: [sge(0x1000n, 8, 3)] },
      { ...SEND, wrId: 2n, opcode: O.IB_UVERBS_WR_RDMA_WRITE, rkey: 4, remoteAddr: 0x10n, sg: [sge(0x2000n, 8, 3)] },
    ]);
    post();
    post([7n, 8n]);
    post();
    expect([0, 1, 2, 3, 4, 5].map((i) => sqe(sq, i).id)).toEqual([1n, 2n, 7n, 8n, 1n, 2n]);
    expect(sqe(sq, 3)).toMatchObject({ opcode: SO.SIW_OP_WRITE, rkey: 4, raddr: 0x10n, num_sge: 1 });
    sq.unmap();
  });
});

describe('siw receive queues', () => {
  it("writes siw_rqe into the QP's RQ and into an SRQ, all or none", () => {
    const sq = Ring.syntheticSiw('sq', SLOTS);
    const rq = Ring.syntheticSiw('rq', 4);
    const dp = new SiwDatapath();
    dp.postRecv(qpOf(sq, { rq }), [recv(1n, 2), recv(2n, 6)]);
    expect(rqe(rq, 0)).toMatchObject({ id: 1n, flags: W.SIW_WQE_VALID, num_sge: 2, opcode: 0 });
    expect([rqeSge(rq, 0, 0), rqeSge(rq, 0, 1)]).toEqual([
      { laddr: 0x1000n, length: 64, lkey: 0x40 },
      { laddr: 0x2000n, length: 65, lkey: 0x41 },
    ]);
    expect(rqe(rq, 1)).toMatchObject({ id: 2n, num_sge: 6 });
    expect(rqeSge(rq, 1, 5)).toEqual({ laddr: 0x6000n, length: 69, lkey: 0x45 });
    const before = rq.bytes.slice();
    expect(() => dp.postRecv(qpOf(sq, { rq }), [recv(3n), recv(4n), recv(5n)])).toThrow(
      expect.objectContaining({ code: 'ENOMEM' }),
    );
    expect(rq.bytes).toEqual(before);
    const srq = Ring.syntheticSiw('srq', 2);
    const s = { rings: [srq], description: 'SharedReceiveQueue test' } as unknown as SharedReceiveQueue;
    const post = dp.prepareRecv(s, [recv(9n)]);
    post();
    consume(srq, siw_rqe.size, 0);
    post([10n]);
    post([11n]);
    expect([rqe(srq, 0).id, rqe(srq, 1).id]).toEqual([11n, 10n]);
    for (const r of [sq, rq, srq]) r.unmap();
  });

  it('refuses more SGEs than a siw_rqe holds in the addon (nothing written)', () => {
    const rq = Ring.syntheticSiw('rq', 4);
    const { recv: R, sgeWords } = native().layout;
    const d = new BigUint64Array(R.words + 7 * sgeWords);
    d[R.numSge] = 7n;
    const r = native().siwPostRecv(rq.handle, d, 1);
    expect(r & 0xffff).toBe(0);
    expect((r >>> 16) & 0xff).toBe(native().layout.statusBadWr);
    expect(rq.bytes.every((b) => b === 0)).toBe(true);
    rq.unmap();
  });
});

describe('siw completion queue', () => {
  /** What siw_sqe_complete / siw_rqe_complete write for a user CQ, VALID last. */
  function complete(
    cq: Ring,
    i: number,
    cqe: { id: bigint; opcode: number; status: number; bytes: number; qp: number },
  ) {
    const bytes = new Uint8Array(siw_cqe.size);
    encode(
      siw_cqe,
      {
        id: cqe.id,
        flags: 0,
        opcode: cqe.opcode,
        status: cqe.status,
        bytes: cqe.bytes,
        imm_data: 0n,
        inval_stag: 0,
        qp_id: BigInt(cqe.qp),
      },
      bytes,
    );
    cq.bytes.set(bytes, i * siw_cqe.size);
    cq.bytes[i * siw_cqe.size + siw_cqe.fields.flags.offset] = W.SIW_WQE_VALID;
  }

  it('turns siw_cqe into ib_uverbs_wc in caller memory and gives each slot back', () => {
    const cq = Ring.syntheticSiw('cq', 4);
    const dp = new SiwDatapath();
    const out = new Uint8Array(8 * COMPLETION_SIZE);
    expect(dp.pollCq(cqOf(cq), out, 8)).toBe(0);
    complete(cq, 0, { id: 1n, opcode: SO.SIW_OP_SEND, status: SS.SIW_WC_SUCCESS, bytes: 96, qp: 0x12 });
    complete(cq, 1, { id: 2n, opcode: SO.SIW_OP_RECEIVE, status: SS.SIW_WC_SUCCESS, bytes: 5, qp: 0x13 });
    complete(cq, 2, { id: 3n, opcode: SO.SIW_OP_WRITE, status: SS.SIW_WC_SUCCESS, bytes: 4096, qp: 0x12 });
    complete(cq, 3, { id: 4n, opcode: SO.SIW_OP_READ, status: SS.SIW_WC_REM_ACCESS_ERR, bytes: 0, qp: 0x12 });
    expect(dp.pollCq(cqOf(cq), out, 3)).toBe(3); // a batch, at most max
    expect(decodeCompletions(out, 3)).toEqual([
      expect.objectContaining({ wrId: 1n, status: 'IB_WC_SUCCESS', opcode: 'IB_WC_SEND', byteLen: 96, qpNum: 0x12 }),
      expect.objectContaining({ wrId: 2n, status: 'IB_WC_SUCCESS', opcode: 'IB_WC_RECV', byteLen: 5, qpNum: 0x13 }),
      expect.objectContaining({ wrId: 3n, opcode: 'IB_WC_RDMA_WRITE', byteLen: 4096, wcFlags: 0, vendorErr: 0 }),
    ]);
    expect([0, 1, 2, 3].map((i) => cq.bytes[i * siw_cqe.size + 8])).toEqual([0, 0, 0, W.SIW_WQE_VALID]);
    expect(dp.pollCq(cqOf(cq), out, 8)).toBe(1);
    expect(decodeCompletions(out, 1)[0]).toMatchObject({ wrId: 4n, status: 'IB_WC_REM_ACCESS_ERR', opcode: undefined });
    // wraps: the next CQE goes to slot 0 again
    complete(cq, 0, { id: 5n, opcode: SO.SIW_OP_SEND, status: SS.SIW_WC_WR_FLUSH_ERR, bytes: 0, qp: 1 });
    expect(dp.pollCq(cqOf(cq), out, 8)).toBe(1);
    expect(decodeCompletions(out, 1)[0]).toMatchObject({ wrId: 5n, status: 'IB_WC_WR_FLUSH_ERR' });
    cq.unmap();
  });

  it('maps every siw status and opcode as libsiw does; a status siw does not define is GENERAL_ERR with it in vendor_err', () => {
    const cq = Ring.syntheticSiw('cq', 16);
    const dp = new SiwDatapath();
    const out = new Uint8Array(16 * COMPLETION_SIZE);
    const statuses = [
      ['SIW_WC_SUCCESS', 'IB_WC_SUCCESS'],
      ['SIW_WC_LOC_LEN_ERR', 'IB_WC_LOC_LEN_ERR'],
      ['SIW_WC_LOC_PROT_ERR', 'IB_WC_LOC_PROT_ERR'],
      ['SIW_WC_LOC_QP_OP_ERR', 'IB_WC_LOC_QP_OP_ERR'],
      ['SIW_WC_WR_FLUSH_ERR', 'IB_WC_WR_FLUSH_ERR'],
      ['SIW_WC_BAD_RESP_ERR', 'IB_WC_BAD_RESP_ERR'],
      ['SIW_WC_LOC_ACCESS_ERR', 'IB_WC_LOC_ACCESS_ERR'],
      ['SIW_WC_REM_ACCESS_ERR', 'IB_WC_REM_ACCESS_ERR'],
      ['SIW_WC_REM_INV_REQ_ERR', 'IB_WC_REM_INV_REQ_ERR'],
      ['SIW_WC_GENERAL_ERR', 'IB_WC_GENERAL_ERR'],
    ] as const;
    statuses.forEach(([s], i) => {
      complete(cq, i, { id: BigInt(i), opcode: 0, status: SS[s], bytes: 0, qp: 0 });
    });
    complete(cq, 10, { id: 10n, opcode: 0, status: 77, bytes: 0, qp: 0 });
    const opcodes = [
      ['SIW_OP_READ_LOCAL_INV', 'IB_WC_RDMA_READ'],
      ['SIW_OP_FETCH_AND_ADD', 'IB_WC_FETCH_ADD'],
      ['SIW_OP_COMP_AND_SWAP', 'IB_WC_COMP_SWAP'],
      ['SIW_OP_INVAL_STAG', 'IB_WC_LOCAL_INV'],
      ['SIW_OP_REG_MR', 'IB_WC_REG_MR'],
    ] as const;
    opcodes.forEach(([o], k) => {
      complete(cq, 11 + k, { id: BigInt(11 + k), opcode: SO[o], status: SS.SIW_WC_SUCCESS, bytes: 0, qp: 0 });
    });
    expect(dp.pollCq(cqOf(cq), out, 16)).toBe(16);
    const wcs = decodeCompletions(out, 16);
    expect(wcs.slice(0, 10).map((w) => w.status)).toEqual(statuses.map(([, ib]) => ib));
    expect(wcs[10]).toMatchObject({ status: 'IB_WC_GENERAL_ERR', vendorErr: 77 });
    expect(wcs.slice(11).map((w) => w.opcode)).toEqual(opcodes.map(([, ib]) => ib));
    cq.unmap();
  });

  it('arms through the siw_cq_ctrl word after the CQEs, as libsiw does: no syscall', () => {
    const cq = Ring.syntheticSiw('cq', 4);
    const dp = new SiwDatapath();
    const ctrl = () => decode(siw_cq_ctrl, cq.bytes, 4 * siw_cqe.size).flags;
    expect(ctrl()).toBe(N.SIW_NOTIFY_NOT);
    dp.armCq(cqOf(cq), false);
    expect(ctrl()).toBe(N.SIW_NOTIFY_SOLICITED | N.SIW_NOTIFY_NEXT_COMPLETION);
    dp.armCq(cqOf(cq), true);
    expect(ctrl()).toBe(N.SIW_NOTIFY_SOLICITED);
    cq.unmap();
  });
});

describe('siw rings from the provider', () => {
  it('describe each ring with its slot count, a CQ with room for siw_cq_ctrl', () => {
    const cqResp = new Uint8Array(siw_uresp_create_cq.size);
    encode(siw_uresp_create_cq, { cq_id: 1, num_cqe: 8, cq_key: 0x1000n }, cqResp);
    const cq = siwProvider.rings?.createCq?.(cqResp);
    expect(cq).toEqual([{ name: 'cq', offset: 0x1000n, length: 8 * 32 + 8, format: 'siw', slots: 8 }]);
    const qpResp = new Uint8Array(siw_uresp_create_qp.size);
    encode(
      siw_uresp_create_qp,
      { qp_id: 1, num_sqe: 16, num_rqe: 4, pad: 0, sq_key: 0x2000n, rq_key: 0x3000n },
      qpResp,
    );
    const qp = siwProvider.rings?.createQp?.(qpResp);
    expect(qp).toEqual([
      { name: 'sq', offset: 0x2000n, length: 16 * 120, format: 'siw', slots: 16 },
      { name: 'rq', offset: 0x3000n, length: 4 * 112, format: 'siw', slots: 4 },
    ]);
    expect(siwProvider.datapath).toBeInstanceOf(SiwDatapath);
  });
});

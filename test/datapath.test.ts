/**
 * The native datapath against rings in plain memory, with this test playing
 * the driver: what the addon writes is read back through the layouts the
 * conformance test proves against the kernel headers (rxe_send_wqe,
 * rxe_recv_wqe, rxe_queue_buf, ib_uverbs_wc), so an encoder that disagrees
 * with the kernel's structs fails here, on a host with no RDMA.
 */

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ib_uverbs_access_flags as A,
  ib_uverbs_write_cmds,
  ib_selectivity_level as L,
  ib_uverbs_wr_opcode as O,
  ib_placement_type as P,
} from '../src/abi/constants.js';
import { ib_send_flags as F, ib_wc_flags, ib_wc_opcode, ib_wc_status } from '../src/abi/kernel-internal.js';
import { decode, encode } from '../src/abi/layout.js';
import { rxe_queue_buf, rxe_recv_wqe, rxe_send_wqe, rxe_sge } from '../src/abi/rxe.js';
import {
  ib_uverbs_cmd_hdr,
  ib_uverbs_post_send,
  ib_uverbs_post_send_resp,
  ib_uverbs_send_wr,
  ib_uverbs_wc,
} from '../src/abi/structs.js';
import { UverbsClosedError, UverbsDoorbellError, UverbsError } from '../src/errors.js';
import { RxeDatapath } from '../src/providers/rxe-datapath.js';
import { native } from '../src/transport/native.js';
import { Ring } from '../src/transport/ring.js';
import { Context } from '../src/verbs/context.js';
import { MemoryWindow } from '../src/verbs/memory-window.js';
import type { QueuePair } from '../src/verbs/queue-pair.js';
import {
  COMPLETION_SIZE,
  decodeCompletions,
  PreparedWork,
  type ResolvedSend,
  resolveSend,
  withWrIds,
} from '../src/verbs/work-request.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';
import { fakeQp, LIMITS, NO_MR, PD, SEND } from './support/rxe-stand-ins.js';

const SLOTS = 8;
const LOG2_ELEM = 9; // 512-byte slots: a 208-byte WQE and up to 19 SGEs

function indices(ring: Ring) {
  return decode(rxe_queue_buf, ring.bytes.subarray(0, rxe_queue_buf.size));
}
function setIndex(ring: Ring, which: 'producer_index' | 'consumer_index', value: number) {
  const at = which === 'producer_index' ? 128 : 256;
  new DataView(ring.bytes.buffer).setUint32(at, value, true);
}
function slot(ring: Ring, i: number): Uint8Array {
  const size = 1 << LOG2_ELEM;
  return ring.bytes.subarray(rxe_queue_buf.size + i * size, rxe_queue_buf.size + (i + 1) * size);
}

/** A FIFO opened both ways: what is written to it can be read back. */
function fifo(): number {
  const path = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
  execFileSync('mkfifo', [path]);
  return openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
}

const base = SEND;

describe('rxe send queue', () => {
  it('writes each opcode as the kernel reads rxe_send_wqe, then publishes the batch with one producer store', () => {
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const dp = new RxeDatapath();
    const sge = (addr: bigint, length: number, lkey: number) => ({ addr, length, lkey, mr: NO_MR });
    const wrs: ResolvedSend[] = [
      { ...base, wrId: 1n, sg: [sge(0x1000n, 64, 0x11), sge(0x2000n, 32, 0x12)] },
      { ...base, wrId: 2n, opcode: O.IB_UVERBS_WR_SEND_WITH_IMM, imm: 0x01020304 },
      {
        ...base,
        wrId: 3n,
        opcode: O.IB_UVERBS_WR_RDMA_WRITE,
        remoteAddr: 0xdead_0000n,
        rkey: 0x77,
        sg: [sge(0x3000n, 4096, 5)],
      },
      {
        ...base,
        wrId: 4n,
        opcode: O.IB_UVERBS_WR_RDMA_READ,
        remoteAddr: 0xbeef_0000n,
        rkey: 0x78,
        sg: [sge(0x4000n, 8, 6)],
      },
      {
        ...base,
        wrId: 5n,
        opcode: O.IB_UVERBS_WR_ATOMIC_CMP_AND_SWP,
        remoteAddr: 0x8000n,
        rkey: 9,
        compareAdd: 0x1111_2222_3333_4444n,
        swap: 0xffff_eeee_dddd_ccccn,
        sg: [sge(0x5000n, 8, 6)],
      },
      { ...base, wrId: 6n, flags: F.IB_SEND_INLINE, inline: new Uint8Array([1, 2, 3, 4, 5]) },
      { ...base, wrId: 7n, flags: F.IB_SEND_INLINE | F.IB_SEND_SOLICITED, inline: new Uint8Array([9, 8, 7]) },
    ];
    dp.postSend(fakeQp(sq), wrs);
    expect(indices(sq)).toMatchObject({ producer_index: 7, consumer_index: 0, index_mask: SLOTS - 1 });
    const w = (i: number) => decode(rxe_send_wqe, slot(sq, i));
    const sges = (i: number, n: number) =>
      Array.from({ length: n }, (_, k) => decode(rxe_sge, slot(sq, i), rxe_send_wqe.size + k * rxe_sge.size));

    expect(w(0).wr).toMatchObject({ wr_id: 1n, opcode: O.IB_UVERBS_WR_SEND, send_flags: F.IB_SEND_SIGNALED });
    expect(w(0).dma).toMatchObject({ length: 96, resid: 96, num_sge: 2, cur_sge: 0, sge_offset: 0 });
    expect(sges(0, 2)).toEqual([
      { addr: 0x1000n, length: 64, lkey: 0x11 },
      { addr: 0x2000n, length: 32, lkey: 0x12 },
    ]);
    expect(w(0).state).toBe(0); // wqe_state_posted
    expect(w(1).wr.imm_data).toBe(0x01020304); // be32 in the WQE, host order decoded
    expect(slot(sq, 1).subarray(20, 24)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(w(2).wr).toMatchObject({ rdma_remote_addr: 0xdead_0000n, rdma_rkey: 0x77 });
    expect(w(2).iova).toBe(0xdead_0000n);
    expect(w(2).dma).toMatchObject({ length: 4096, num_sge: 1 });
    expect(w(3)).toMatchObject({ iova: 0xbeef_0000n, wr: { opcode: O.IB_UVERBS_WR_RDMA_READ, rdma_rkey: 0x78 } });
    expect(w(4).wr).toMatchObject({
      atomic_remote_addr: 0x8000n,
      atomic_compare_add: 0x1111_2222_3333_4444n,
      atomic_swap: 0xffff_eeee_dddd_ccccn,
      atomic_rkey: 9,
    });
    expect(w(4).dma).toMatchObject({ length: 8, num_sge: 1 });
    // inline: the payload in place of the SGEs, num_sge 0, the two payloads gathered from one buffer
    expect(w(5).dma).toMatchObject({ length: 5, resid: 5, num_sge: 0 });
    expect(slot(sq, 5).subarray(rxe_send_wqe.size, rxe_send_wqe.size + 5)).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(w(6).wr.send_flags).toBe(F.IB_SEND_INLINE | F.IB_SEND_SOLICITED);
    expect(slot(sq, 6).subarray(rxe_send_wqe.size, rxe_send_wqe.size + 3)).toEqual(new Uint8Array([9, 8, 7]));
    sq.unmap();
  });

  it('ATOMIC_WRITE carries its 8 bytes in dma.atomic_wr; FLUSH its type, level and range in wr.flush (6.2+ layouts)', () => {
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 0xf8]);
    const atomicWrite = resolveSend(
      { wrId: 21n, opcode: 'ATOMIC_WRITE', signaled: true, remote: { addr: 0x7000n, rkey: 0x31 }, data },
      'wr',
      LIMITS,
    );
    const flush = resolveSend(
      {
        wrId: 22n,
        opcode: 'FLUSH',
        remote: { addr: 0x9000n, rkey: 0x32 },
        flush: { type: 'global', level: 'range', length: 4096 },
      },
      'wr',
      LIMITS,
    );
    new RxeDatapath().postSend(fakeQp(sq), [atomicWrite, flush]);
    const w0 = decode(rxe_send_wqe, slot(sq, 0));
    expect(w0.wr).toMatchObject({
      wr_id: 21n,
      opcode: O.IB_UVERBS_WR_ATOMIC_WRITE,
      rdma_remote_addr: 0x7000n,
      rdma_rkey: 0x31,
    });
    expect([w0.iova, w0.dma.length, w0.dma.resid, w0.dma.num_sge]).toEqual([0x7000n, 8, 8, 0]);
    expect(slot(sq, 0).subarray(rxe_send_wqe.size, rxe_send_wqe.size + 8)).toEqual(data); // verbatim
    const w1 = decode(rxe_send_wqe, slot(sq, 1));
    expect(w1.wr).toMatchObject({
      wr_id: 22n,
      opcode: O.IB_UVERBS_WR_FLUSH,
      flush_remote_addr: 0x9000n,
      flush_length: 4096,
      flush_rkey: 0x32,
      flush_type: P.IB_FLUSH_GLOBAL,
      flush_level: L.IB_FLUSH_RANGE,
    });
    expect([w1.iova, w1.dma.length, w1.dma.resid, w1.dma.num_sge]).toEqual([0x9000n, 4096, 4096, 0]);
    sq.unmap();
  });

  it.each([
    ['ATOMIC_WRITE without its 8 bytes', { opcode: 'ATOMIC_WRITE', remote: { addr: 8n, rkey: 1 } }, /data/],
    [
      'ATOMIC_WRITE of 4 bytes',
      { opcode: 'ATOMIC_WRITE', remote: { addr: 8n, rkey: 1 }, data: new Uint8Array(4) },
      /data/,
    ],
    [
      'ATOMIC_WRITE unaligned',
      { opcode: 'ATOMIC_WRITE', remote: { addr: 4n, rkey: 1 }, data: new Uint8Array(8) },
      /aligned/,
    ],
    ['FLUSH without a spec', { opcode: 'FLUSH', remote: { addr: 0n, rkey: 1 } }, /flush/],
    [
      'FLUSH of an unknown type',
      { opcode: 'FLUSH', remote: { addr: 0n, rkey: 1 }, flush: { type: 'soon', level: 'mr' } },
      /type/,
    ],
    [
      'FLUSH of a range without a length',
      { opcode: 'FLUSH', remote: { addr: 0n, rkey: 1 }, flush: { type: 'global', level: 'range' } },
      /length/,
    ],
    [
      'FLUSH on a UC QP',
      { opcode: 'FLUSH', remote: { addr: 0n, rkey: 1 }, flush: { type: 'global', level: 'mr' } },
      /UC/,
    ],
  ])('refuses %s before anything is written', (what, wr, message) => {
    const limits = what.endsWith('UC QP') ? { ...LIMITS, type: 'UC' as const } : LIMITS;
    expect(() => resolveSend(wr as never, 'wr', limits)).toThrow(message);
  });

  it('an opcode the device does not report is a typed "unsupported"; a name that is no opcode, a typed argument error', () => {
    const wr = { opcode: 'ATOMIC_WRITE', remote: { addr: 8n, rkey: 1 }, data: new Uint8Array(8) } as const;
    expect(() => resolveSend(wr, 'wr', { ...LIMITS, capabilities: () => 0n })).toThrow(
      expect.objectContaining({
        code: 'EOPNOTSUPP',
        unsupported: true,
        syscall: 'none',
        path: 'ring',
        object: 'QueuePair test',
      }),
    );
    expect(() => resolveSend({ opcode: '__proto__' } as never, 'wr', LIMITS)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });

  it('a WQE slot the driver had used is rewritten whole: no stale state or SGEs leak into the next post', () => {
    const sq = Ring.synthetic('sq', 2, LOG2_ELEM);
    slot(sq, 0).fill(0xab);
    new RxeDatapath().postSend(fakeQp(sq), [{ ...base, wrId: 9n }]);
    const w = decode(rxe_send_wqe, slot(sq, 0));
    expect([w.state, w.status, w.mask, w.dma.num_sge, w.dma.cur_sge, w.wr.wr_id]).toEqual([0, 0, 0, 0, 0, 9n]);
    sq.unmap();
  });

  it('a prepared batch writes what postSend writes, on every post, reading inline payloads as they are at the post', () => {
    const [plain, prepared] = [Ring.synthetic('sq', SLOTS, LOG2_ELEM), Ring.synthetic('sq', SLOTS, LOG2_ELEM)];
    const dp = new RxeDatapath();
    const first = new Uint8Array([1, 2, 3]);
    const second = new Uint8Array([4, 5, 6, 7, 8]);
    const wrs: ResolvedSend[] = [
      { ...base, wrId: 1n, flags: F.IB_SEND_INLINE, inline: first },
      { ...base, wrId: 2n, sg: [{ addr: 0x1000n, length: 64, lkey: 3, mr: NO_MR }] },
      { ...base, wrId: 3n, flags: F.IB_SEND_INLINE, inline: second },
    ];
    const post = dp.prepareSend(fakeQp(prepared), wrs);
    post();
    dp.postSend(fakeQp(plain), wrs);
    for (let i = 0; i < 3; i++) expect(slot(prepared, i)).toEqual(slot(plain, i));
    first.fill(9);
    post();
    expect(indices(prepared).producer_index).toBe(6);
    const payload = (i: number, n: number) => slot(prepared, i).subarray(rxe_send_wqe.size, rxe_send_wqe.size + n);
    expect(payload(3, 3)).toEqual(new Uint8Array([9, 9, 9]));
    expect(payload(5, 5)).toEqual(second);
    for (const i of [4, 5]) expect(slot(prepared, i)).toEqual(slot(plain, i - 3));
    plain.unmap();
    prepared.unmap();
  });

  it('posts all or none: a batch larger than the free slots is ENOMEM and leaves the producer where it was', () => {
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const dp = new RxeDatapath();
    const qp = fakeQp(sq);
    dp.postSend(
      qp,
      Array.from({ length: 5 }, (_, i) => ({ ...base, wrId: BigInt(i) })),
    );
    expect(() => dp.postSend(qp, [base, base, base])).toThrow(
      expect.objectContaining({ code: 'ENOMEM', path: 'ring', object: 'QueuePair test' }),
    );
    expect(indices(sq).producer_index).toBe(5);
    // one slot always stays empty: 2 more fit (7 of 8), the 8th does not
    dp.postSend(qp, [base, base]);
    expect(() => dp.postSend(qp, [base])).toThrow(expect.objectContaining({ code: 'ENOMEM' }));
    // the driver consumes three; the producer wraps around the mask
    setIndex(sq, 'consumer_index', 3);
    dp.postSend(qp, [base, base, base]);
    expect(indices(sq).producer_index).toBe(2);
    sq.unmap();
  });

  // DESIGN §Reliability 7: the doorbell never sends a wqe_size below the kernel's work-request struct
  it('rings one doorbell per batch: IB_USER_VERBS_CMD_POST_SEND, wr_count 0, wqe_size = sizeof(ib_uverbs_send_wr)', () => {
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const fd = fifo(); // the doorbell's write lands here instead of in a uverbs file
    try {
      const dp = new RxeDatapath();
      dp.postSend(fakeQp(sq, fd), [base, base, base]);
      dp.postSend(fakeQp(sq, fd), [base]);
      const size = ib_uverbs_cmd_hdr.size + ib_uverbs_post_send.size;
      const bytes = new Uint8Array(3 * size);
      expect(readSync(fd, bytes)).toBe(2 * size); // two batches, two doorbells, nothing else
      for (const at of [0, size]) {
        expect(decode(ib_uverbs_cmd_hdr, bytes, at)).toEqual({
          command: ib_uverbs_write_cmds.IB_USER_VERBS_CMD_POST_SEND,
          in_words: size / 4,
          out_words: ib_uverbs_post_send_resp.size / 4,
        });
        const cmd = decode(ib_uverbs_post_send, bytes, at + ib_uverbs_cmd_hdr.size);
        expect(cmd).toMatchObject({ qp_handle: 7, wr_count: 0, sge_count: 0, wqe_size: ib_uverbs_send_wr.size });
        expect(cmd.response).not.toBe(0n); // the kernel writes bad_wr there
        expect(cmd.wqe_size).toBeGreaterThanOrEqual(56);
      }
    } finally {
      closeSync(fd);
      sq.unmap();
    }
  });

  it('a doorbell that fails after the WQEs are published is UverbsDoorbellError { posted }: the window binds it carried have their keys', () => {
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(8192, { localWrite: true, mwBind: true });
    const mw = pd.allocMw(2);
    const bind = resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 64, key: 0x33 } }, 'wr', { ...LIMITS, pd });
    const fd = openSync('/dev/null', constants.O_RDONLY); // write(2) on it: EBADF, after the ring was written
    try {
      let error: unknown;
      try {
        new RxeDatapath().postSend(fakeQp(sq, fd), [base, bind]);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UverbsDoorbellError);
      expect(error).toBeInstanceOf(UverbsError);
      expect(error).toMatchObject({ code: 'EBADF', syscall: 'write', posted: 2, message: /posted/ });
      expect(indices(sq).producer_index).toBe(2); // in the ring: the next doorbell runs them
      expect(mw.rkey).toBe(bind.bind?.rkey); // the bind is posted: the window has its new key
    } finally {
      closeSync(fd);
      sq.unmap();
      ctx.close();
    }
  });

  it('a doorbell that stays EAGAIN is reported as posted (the WRs are in the ring), not as nothing done', () => {
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const fd = fifo();
    try {
      const fill = new Uint8Array(1 << 16);
      while (true) {
        try {
          writeSync(fd, fill);
        } catch {
          break; // EAGAIN: the pipe is full, every write from now on would block
        }
      }
      expect(() => new RxeDatapath().postSend(fakeQp(sq, fd), [base])).toThrow(
        expect.objectContaining({ name: 'UverbsDoorbellError', code: 'EAGAIN', posted: 1 }),
      );
      expect(indices(sq).producer_index).toBe(1);
    } finally {
      closeSync(fd);
      sq.unmap();
    }
  });

  it('a descriptor that cannot fit a slot is refused whole, before the producer moves', () => {
    const sq = Ring.synthetic('sq', SLOTS, 8); // 256-byte slots: 208 + 3 SGEs
    const sg = Array.from({ length: 4 }, () => ({ addr: 0n, length: 1, lkey: 1, mr: NO_MR }));
    expect(() => new RxeDatapath().postSend(fakeQp(sq), [base, { ...base, sg }])).toThrow(/does not fit/);
    expect(indices(sq).producer_index).toBe(0);
    sq.unmap();
  });
});

describe('memory-window work requests in the send queue (rdma_user_rxe.h wr.mw, ex.invalidate_rkey)', () => {
  function fixture() {
    const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(8192, { localWrite: true, mwBind: true });
    const mw = pd.allocMw(2);
    return { ctx, pd, mr, mw, limits: { ...LIMITS, pd } };
  }

  it('BIND_MW fills wr.mw (addr = the region’s iova + offset, the window’s current and new rkey), LOCAL_INV and SEND_WITH_INV ex.invalidate_rkey', () => {
    const { ctx, mr, mw, limits } = fixture();
    const sq = Ring.synthetic('sq', SLOTS, LOG2_ELEM);
    const before = mw.rkey;
    const wrs = [
      resolveSend(
        {
          wrId: 31n,
          opcode: 'BIND_MW',
          signaled: true,
          bind: { mw, mr, offset: 4096, length: 512, access: { remoteWrite: true, remoteRead: true }, key: 0x5a },
        },
        'wrs[0]',
        limits,
      ),
      resolveSend({ wrId: 32n, opcode: 'LOCAL_INV', invalidateRkey: 0x1234_5678 }, 'wrs[1]', limits),
      resolveSend(
        { wrId: 33n, opcode: 'SEND_WITH_INV', invalidateRkey: 0x8765_4321, sg: [{ mr, offset: 8, length: 16 }] },
        'wrs[2]',
        limits,
      ),
    ];
    expect(mw.rkey).toBe(before); // nothing posted yet: the window keeps its key
    new RxeDatapath().postSend(fakeQp(sq), wrs);
    const w = (i: number) => decode(rxe_send_wqe, slot(sq, i));
    expect(w(0).wr).toMatchObject({
      wr_id: 31n,
      opcode: O.IB_UVERBS_WR_BIND_MW,
      send_flags: F.IB_SEND_SIGNALED,
      mw_addr: mr.address + 4096n,
      mw_length: 512n,
      mw_mr_lkey: mr.lkey,
      mw_mw_rkey: before,
      mw_rkey: ((before & ~0xff) | 0x5a) >>> 0,
      mw_access: A.IB_UVERBS_ACCESS_REMOTE_WRITE | A.IB_UVERBS_ACCESS_REMOTE_READ,
    });
    expect([w(0).dma.length, w(0).dma.num_sge]).toEqual([0, 0]);
    // byte for byte where rdma_user_rxe.h puts them: wr.mw at 24 (addr u64, length u64, mr_lkey, mw_rkey, rkey, access)
    const bytes = new DataView(slot(sq, 0).buffer, slot(sq, 0).byteOffset);
    expect(bytes.getBigUint64(24, true)).toBe(mr.address + 4096n);
    expect(bytes.getBigUint64(32, true)).toBe(512n);
    expect([40, 44, 48, 52].map((at) => bytes.getUint32(at, true))).toEqual([
      mr.lkey,
      before,
      ((before & ~0xff) | 0x5a) >>> 0,
      6,
    ]);
    expect(mw.rkey).toBe(((before & ~0xff) | 0x5a) >>> 0); // posted: the window's key from now on
    expect(w(1).wr).toMatchObject({ wr_id: 32n, opcode: O.IB_UVERBS_WR_LOCAL_INV, invalidate_rkey: 0x1234_5678 });
    expect(new DataView(slot(sq, 1).buffer, slot(sq, 1).byteOffset).getUint32(20, true)).toBe(0x1234_5678); // host order
    expect(w(1).dma).toMatchObject({ length: 0, num_sge: 0 });
    expect(w(2).wr).toMatchObject({ wr_id: 33n, opcode: O.IB_UVERBS_WR_SEND_WITH_INV, invalidate_rkey: 0x8765_4321 });
    expect(w(2).dma).toMatchObject({ length: 16, num_sge: 1 });
    expect(decode(rxe_sge, slot(sq, 2), rxe_send_wqe.size)).toEqual({
      addr: mr.address + 8n,
      length: 16,
      lkey: mr.lkey,
    });
    sq.unmap();
    ctx.close();
  });

  it('the default key is the current one + 1 (ibv_inc_rkey), wrapping in the low 8 bits; mw.bind() posts the same bind', () => {
    const { ctx, mr, mw, limits } = fixture();
    const r = resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 1 } }, 'wr', limits);
    expect(r.bind?.rkey).toBe(((mw.rkey & ~0xff) | ((mw.rkey + 1) & 0xff)) >>> 0);
    const wrapped = resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 1, key: 0xff } }, 'wr', limits);
    MemoryWindow.bindPosted(mw, wrapped.bind?.rkey as number);
    expect(resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 1 } }, 'wr', limits).bind?.rkey).toBe(
      (mw.rkey & ~0xff) >>> 0,
    );
    ctx.close();
  });

  it.each([
    ['a closed window', 'closed-mw', UverbsClosedError],
    ['a closed region', 'closed-mr', UverbsClosedError],
    ['a window of another PD', 'other-pd', /protection domain/],
    ['a range past the region', 'past', /offset \+ length/],
    ['length 0 on a type 2 window', 'zero', /length/],
    ['a key over 255', 'key', /key/],
    ['an unknown access right', 'access', /access\.localWrite/],
    ['SGEs', 'sg', /sg/],
    ['no bind at all', 'none', /bind/],
  ])('BIND_MW with %s is refused before anything is written', (_, what, error) => {
    const { ctx, pd, mr, mw, limits } = fixture();
    const other = ctx.allocPd().allocMw(2);
    const closedMw = pd.allocMw(2);
    closedMw.close();
    const closedMr = pd.registerMemory(4096, { mwBind: true });
    closedMr.close();
    const binds: Record<string, unknown> = {
      'closed-mw': { bind: { mw: closedMw, mr, length: 8 } },
      'closed-mr': { bind: { mw, mr: closedMr, length: 8 } },
      'other-pd': { bind: { mw: other, mr, length: 8 } },
      past: { bind: { mw, mr, offset: 8192, length: 1 } },
      zero: { bind: { mw, mr, length: 0 } },
      key: { bind: { mw, mr, length: 8, key: 256 } },
      access: { bind: { mw, mr, length: 8, access: { localWrite: true } } },
      sg: { bind: { mw, mr, length: 8 }, sg: [{ mr, length: 8 }] },
      none: {},
    };
    expect(() => resolveSend({ opcode: 'BIND_MW', ...(binds[what] as object) } as never, 'wr', limits)).toThrow(
      error as never,
    );
    ctx.close();
  });

  it('LOCAL_INV and SEND_WITH_INV need an invalidateRkey; other opcodes refuse one; SEND_WITH_INV is RC only, BIND_MW not on UD', () => {
    const { ctx, limits } = fixture();
    expect(() => resolveSend({ opcode: 'LOCAL_INV' }, 'wr', limits)).toThrow(/invalidateRkey/);
    expect(() => resolveSend({ opcode: 'SEND_WITH_INV', invalidateRkey: -1 }, 'wr', limits)).toThrow(/invalidateRkey/);
    expect(() => resolveSend({ opcode: 'SEND', invalidateRkey: 1 }, 'wr', limits)).toThrow(/invalidateRkey/);
    expect(() => resolveSend({ opcode: 'SEND_WITH_INV', invalidateRkey: 1 }, 'wr', { ...limits, type: 'UC' })).toThrow(
      /UC/,
    );
    expect(() => resolveSend({ opcode: 'LOCAL_INV', invalidateRkey: 1 }, 'wr', { ...limits, type: 'UD' })).toThrow(
      /UD/,
    );
    ctx.close();
  });

  it('a BIND_MW cannot be prepared (each bind changes the key the next would name the window by)', () => {
    const { ctx, mr, mw, limits } = fixture();
    const wr = resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 8 } }, 'wr', limits);
    expect(
      () =>
        new PreparedWork(
          () => {},
          limits.pd,
          [wr],
          () => {},
        ),
    ).toThrow(/BIND_MW cannot be prepared/);
    ctx.close();
  });
});

describe('prepared work', () => {
  /** A stand-in region: what PreparedWork re-reads at each post. */
  const region = (lkey: number) => ({ closed: false, lkey, pd: PD, description: `MemoryRegion ${lkey}` });

  it('re-checks at each post only what can change after preparing, and posts nothing when it has', () => {
    let posts = 0;
    let open = true;
    const mr = region(5);
    const inline = new Uint8Array(16);
    // as resolveSend leaves them: the region checked, with the lkey it had
    const wrs = [
      { ...base, sg: [{ addr: 0n, length: 8, lkey: 5, mr }] },
      { ...base, inline },
    ] as unknown as ResolvedSend[];
    const work = new PreparedWork(
      () => {
        if (!open) throw new UverbsClosedError('QueuePair test');
      },
      PD,
      wrs,
      () => posts++,
    );
    work.post();
    work.post();
    expect([work.count, posts]).toEqual([2, 2]);
    const refused: [() => void, object][] = [
      [
        () => Object.assign(mr, { lkey: 6 }),
        { code: 'ERR_UVERBS_CLOSED', message: expect.stringMatching(/MemoryRegion 5 as prepared/) },
      ],
      // another PD, even one with the same handle number (another context's)
      [() => Object.assign(mr, { pd: { handle: 1 } }), { code: 'ERR_UVERBS_CLOSED' }],
      [() => Object.assign(mr, { closed: true }), { code: 'ERR_UVERBS_CLOSED' }],
      [() => structuredClone(inline.buffer, { transfer: [inline.buffer] }), { code: 'ERR_INVALID_ARG_VALUE' }],
      [() => (open = false), { code: 'ERR_UVERBS_CLOSED', message: 'QueuePair test is closed' }],
    ];
    for (const [change, error] of refused) {
      const saved = { ...mr };
      change();
      expect(() => work.post()).toThrow(expect.objectContaining(error));
      Object.assign(mr, saved);
    }
    expect(posts).toBe(2);
  });
});

describe('prepared work with a wrId per post', () => {
  const wrIdOf = (ring: Ring, i: number) => decode(rxe_send_wqe, slot(ring, i)).wr.wr_id;
  const recvWrIdOf = (ring: Ring, i: number) => decode(rxe_recv_wqe, slot(ring, i)).wr_id;

  it('a post with wrIds writes them in place of the prepared ones, for that post only; the rest of each WQE is unchanged', () => {
    const [plain, prepared] = [Ring.synthetic('sq', SLOTS, LOG2_ELEM), Ring.synthetic('sq', SLOTS, LOG2_ELEM)];
    const dp = new RxeDatapath();
    const wrs: ResolvedSend[] = [
      { ...base, wrId: 1n, sg: [{ addr: 0x1000n, length: 64, lkey: 3, mr: NO_MR }] },
      { ...base, wrId: 2n, flags: F.IB_SEND_INLINE, inline: new Uint8Array([1, 2, 3]) },
    ];
    const post = dp.prepareSend(fakeQp(prepared), wrs);
    post([0xffff_ffff_ffff_ffffn, 42n]);
    post();
    post([7n, 8n]);
    expect([0, 1, 2, 3, 4, 5].map((i) => wrIdOf(prepared, i))).toEqual([0xffff_ffff_ffff_ffffn, 42n, 1n, 2n, 7n, 8n]);
    dp.postSend(fakeQp(plain), wrs);
    const wrIdOffset = rxe_send_wqe.fields.wr.offset; // wr.wr_id: the WQE's first 8 bytes
    for (let i = 0; i < 6; i++) {
      expect(slot(prepared, i).subarray(wrIdOffset + 8)).toEqual(slot(plain, i % 2).subarray(wrIdOffset + 8));
    }
    plain.unmap();
    prepared.unmap();
  });

  it('receives too: prepared rxe_recv_wqe get the post’s wrIds, then the prepared ones again', () => {
    const rq = Ring.synthetic('rq', SLOTS, LOG2_ELEM);
    const dp = new RxeDatapath();
    const queue = { rings: [rq], description: 'QueuePair test' } as never;
    const post = dp.prepareRecv(queue, [
      { wrId: 5n, sg: [{ addr: 0x9000n, length: 100, lkey: 3, mr: NO_MR }] },
    ] as never);
    post([99n]);
    post();
    expect([recvWrIdOf(rq, 0), recvWrIdOf(rq, 1)]).toEqual([99n, 5n]);
    rq.unmap();
  });

  it('PreparedWork.post(wrIds) refuses a wrong count or a value that is no u64 before anything is checked or posted', () => {
    let checks = 0;
    const posted: (readonly bigint[] | undefined)[] = [];
    const wrs = [{ ...base }, { ...base }] as unknown as ResolvedSend[];
    const two = new PreparedWork(
      () => checks++,
      PD,
      wrs,
      (ids) => posted.push(ids && [...ids]),
    );
    const one = new PreparedWork(
      () => checks++,
      PD,
      [{ ...base }] as unknown as ResolvedSend[],
      (ids) => posted.push(ids && [...ids]),
    );
    const refused: [() => void, string][] = [
      [() => two.post(1n), 'ERR_INVALID_ARG_TYPE'], // one bigint, two work requests
      [() => two.post([1n]), 'ERR_OUT_OF_RANGE'],
      [() => two.post([1n, 2n, 3n]), 'ERR_OUT_OF_RANGE'],
      [() => two.post([1n, -1n]), 'ERR_OUT_OF_RANGE'],
      [() => two.post([1n, 2n ** 64n]), 'ERR_OUT_OF_RANGE'],
      [() => two.post([1n, 2 as never]), 'ERR_OUT_OF_RANGE'],
      [() => two.post('12' as never), 'ERR_INVALID_ARG_TYPE'],
      [() => one.post(-1n), 'ERR_OUT_OF_RANGE'],
    ];
    for (const [post, code] of refused) expect(post).toThrow(expect.objectContaining({ code }));
    expect([checks, posted]).toEqual([0, []]);
    one.post(9n);
    two.post([3n, 4n]);
    two.post();
    expect([checks, posted]).toEqual([3, [[9n], [3n, 4n], undefined]]);
  });

  it('a datapath without a prepared form posts copies of the work requests with the post’s wrIds', () => {
    const wrs = [
      { ...base, wrId: 1n },
      { ...base, wrId: 2n },
    ] as unknown as ResolvedSend[];
    expect(withWrIds(wrs)).toBe(wrs);
    const copied = withWrIds(wrs, [5n, 6n]);
    expect(copied.map((wr) => wr.wrId)).toEqual([5n, 6n]);
    expect(wrs.map((wr) => wr.wrId)).toEqual([1n, 2n]);
    expect({ ...copied[0], wrId: 1n }).toEqual(wrs[0]);
  });
});

describe('rxe receive queue', () => {
  it('writes rxe_recv_wqe with its SGEs and totals', () => {
    const rq = Ring.synthetic('rq', SLOTS, 7);
    const dp = new RxeDatapath();
    const queue = { rings: [rq], description: 'QueuePair test' } as unknown as QueuePair;
    dp.postRecv(queue, [
      { wrId: 41n, sg: [{ addr: 0x9000n, length: 100, lkey: 3, mr: NO_MR }] },
      { wrId: 42n, sg: [] },
    ]);
    expect(indices(rq).producer_index).toBe(2);
    const size = 1 << 7;
    const at = (i: number) => rxe_queue_buf.size + i * size;
    expect(decode(rxe_recv_wqe, rq.bytes, at(0))).toMatchObject({
      wr_id: 41n,
      dma: { length: 100, resid: 100, num_sge: 1 },
    });
    expect(decode(rxe_sge, rq.bytes, at(0) + rxe_recv_wqe.size)).toEqual({ addr: 0x9000n, length: 100, lkey: 3 });
    expect(decode(rxe_recv_wqe, rq.bytes, at(1))).toMatchObject({ wr_id: 42n, dma: { length: 0, num_sge: 0 } });
    rq.unmap();
  });
});

describe('rxe completion queue', () => {
  const SIZE = 64;
  function produce(cq: Ring, at: number, wc: Parameters<typeof encode<typeof ib_uverbs_wc>>[1]) {
    encode(ib_uverbs_wc, wc, cq.bytes, rxe_queue_buf.size + at * SIZE);
  }
  const wc = (wrId: bigint) => ({
    wr_id: wrId,
    status: ib_wc_status.IB_WC_SUCCESS,
    opcode: ib_wc_opcode.IB_WC_RECV,
    vendor_err: 0,
    byte_len: 4096,
    imm_data: 0xa0b0c0d0,
    qp_num: 17,
    src_qp: 18,
    wc_flags: ib_wc_flags.IB_WC_WITH_IMM,
    pkey_index: 0,
    slid: 0,
    sl: 0,
    dlid_path_bits: 0,
    port_num: 1,
    reserved: 0,
  });

  it('copies completions into caller memory, returns the consumer to the driver, wraps around the mask', () => {
    const cq = Ring.synthetic('cq', 4, 6);
    const dp = new RxeDatapath();
    const q = { rings: [cq], description: 'CompletionQueue test' } as never;
    const out = new Uint8Array(16 * COMPLETION_SIZE);
    expect(dp.pollCq(q, out, 16)).toBe(0); // empty
    for (let i = 0; i < 3; i++) produce(cq, i, wc(BigInt(100 + i)));
    setIndex(cq, 'producer_index', 3);
    expect(dp.pollCq(q, out, 2)).toBe(2); // no more than asked
    expect(indices(cq).consumer_index).toBe(2);
    const [a, b] = decodeCompletions(out, 2);
    expect(a).toEqual({
      wrId: 100n,
      status: 'IB_WC_SUCCESS',
      opcode: 'IB_WC_RECV',
      vendorErr: 0,
      byteLen: 4096,
      imm: 0xa0b0c0d0,
      qpNum: 17,
      srcQp: 18,
      wcFlags: ib_wc_flags.IB_WC_WITH_IMM,
    });
    expect(b?.wrId).toBe(101n);
    // the driver wraps: slots 3 and 0
    produce(cq, 3, wc(103n));
    produce(cq, 0, wc(104n));
    setIndex(cq, 'producer_index', 1);
    expect(dp.pollCq(q, out, 16)).toBe(3);
    expect(decodeCompletions(out, 3).map((c) => c.wrId)).toEqual([102n, 103n, 104n]);
    expect(indices(cq).consumer_index).toBe(1);
    cq.unmap();
  });

  it("copies into out's own bytes whatever out's own properties say (byteOffset, byteLength, buffer shadowed)", () => {
    const cq = Ring.synthetic('cq', 4, 6);
    const q = { rings: [cq], description: 'cq' } as never;
    produce(cq, 0, wc(7n));
    setIndex(cq, 'producer_index', 1);
    const memory = new ArrayBuffer(4 * COMPLETION_SIZE);
    const out = new Uint8Array(memory, 0, COMPLETION_SIZE);
    const elsewhere = new ArrayBuffer(4 * COMPLETION_SIZE);
    Object.defineProperty(out, 'byteOffset', { value: 2 * COMPLETION_SIZE });
    Object.defineProperty(out, 'byteLength', { value: 4 * COMPLETION_SIZE });
    Object.defineProperty(out, 'buffer', { value: elsewhere });
    expect(new RxeDatapath().pollCq(q, out, 1)).toBe(1);
    expect(decodeCompletions(new Uint8Array(memory, 0, COMPLETION_SIZE), 1)[0]?.wrId).toBe(7n);
    expect(new Uint8Array(memory, COMPLETION_SIZE).every((b) => b === 0)).toBe(true);
    expect(new Uint8Array(elsewhere).every((b) => b === 0)).toBe(true);
    cq.unmap();
  });

  it('masks a producer index the driver could never have written, so reads stay inside the ring', () => {
    const cq = Ring.synthetic('cq', 4, 6);
    setIndex(cq, 'producer_index', 0xffff_fff2); // & 3 = 2
    const out = new Uint8Array(8 * COMPLETION_SIZE);
    expect(new RxeDatapath().pollCq({ rings: [cq], description: 'cq' } as never, out, 8)).toBe(2);
    cq.unmap();
  });
});

describe('ring mappings', () => {
  it('unmapping detaches every view JS took, and the handle is refused afterwards', () => {
    const cq = Ring.synthetic('cq', 4, 6);
    const view = cq.bytes;
    expect(view.byteLength).toBe(rxe_queue_buf.size + 4 * 64);
    const handle = cq.handle;
    cq.unmap();
    expect(view.byteLength).toBe(0);
    expect(view.buffer.byteLength).toBe(0);
    expect(() => cq.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect(() => native().pollCq(handle, new Uint8Array(48), 1)).toThrow(
      expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }),
    );
    cq.unmap(); // idempotent
  });

  it('refuses anything but its own handle of the right kind: numbers are never pointers', () => {
    const n = native();
    const cq = Ring.synthetic('cq', 4, 6);
    const out = new Uint8Array(48);
    for (const bogus of [0, 0x7fff_0000, 2n ** 47n, {}, null, out])
      expect(() => n.pollCq(bogus as never, out, 1)).toThrow(TypeError);
    expect(() => n.postRecv(cq.handle, new BigUint64Array(4), 1)).toThrow(/another kind/);
    expect(() => n.pollCq(cq.handle, out, 2)).toThrow(TypeError); // 2 completions do not fit 48 bytes
    cq.unmap();
  });

  it('a header that does not describe its mapping is refused at map time (here: /dev/zero)', () => {
    const fd = openSync('/dev/zero', constants.O_RDWR);
    try {
      expect(() => native().mapRing(fd, 0n, 4096, native().layout.kinds.rxeCq)).toThrow(
        expect.objectContaining({ code: 'ERR_UVERBS_RING' }),
      );
      const [h, buffer] = native().mapRing(fd, 0n, 4096, native().layout.kinds.raw);
      expect(buffer.byteLength).toBe(4096);
      native().unmap(h);
    } finally {
      closeSync(fd);
    }
  });
});

describe('waiting on an fd from the event loop', () => {
  it('calls back once when the fd becomes readable, and not at all once cancelled', async () => {
    const fd = fifo();
    const n = native();
    let cancelledFired = false;
    const cancelled = n.waitReadable(fd, () => {
      cancelledFired = true;
    });
    n.cancelWait(cancelled);
    n.cancelWait(cancelled); // idempotent
    const status = new Promise<number>((resolve) => n.waitReadable(fd, resolve));
    setTimeout(() => writeSync(fd, 'x'), 20);
    expect(await status).toBe(0);
    expect(cancelledFired).toBe(false);
    closeSync(fd);
  });
});

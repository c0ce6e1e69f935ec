/**
 * Driver rings on a real device: the provider says where each queue's ring
 * is, the library maps it from the uverbs fd, keeps it while the object
 * lives and unmaps it after. rxe rings start with `rxe_queue_buf` (element
 * size, index mask, producer and consumer indices); siw rings are slot
 * arrays sized by the counts in its replies.
 */

import { describe, expect, it } from 'vitest';
import { decode } from '../../src/abi/layout.js';
import { rxe_queue_buf, rxe_recv_wqe, rxe_send_wqe, rxe_sge } from '../../src/abi/rxe.js';
import { siw_cq_ctrl, siw_cqe, siw_rqe, siw_sqe, siw_uresp_create_cq, siw_uresp_create_qp } from '../../src/abi/siw.js';
import { ib_uverbs_wc } from '../../src/abi/structs.js';
import type { Ring } from '../../src/transport/ring.js';
import { Context } from '../../src/verbs/context.js';
import { Calls, fdCount, orSkip, TEST_DEVICE, uverbsMappings, VM_KERNEL } from './support.js';

function header(ring: Ring) {
  const h = decode(rxe_queue_buf, ring.bytes.subarray(0, rxe_queue_buf.size));
  return { ...h, slots: h.index_mask + 1, elemSize: 2 ** h.log2_elem_size };
}

describe.runIf(TEST_DEVICE)(`rings on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const siw = name.startsWith('siw');
  const cap = { maxSendWr: 16, maxRecvWr: 32, maxSendSge: 2, maxRecvSge: 3 };

  it('CQ, QP and SRQ rings are mapped while the objects live and unmapped after', () => {
    const fds = fdCount();
    const maps = uverbsMappings();
    const ctx = Context.open(name);
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 20 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
    const srq = pd.createSrq({ maxWr: 8, maxSge: 2 });
    const onSrq = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, srq, cap });
    expect(cq.rings.map((r) => r.name)).toEqual(['cq']);
    expect(qp.rings.map((r) => r.name)).toEqual(['sq', 'rq']);
    expect(srq.rings.map((r) => r.name)).toEqual(['srq']);
    // a QP on an SRQ receives through the SRQ's ring
    expect(onSrq.rings.map((r) => r.name)).toEqual(['sq']);
    const all = [cq, qp, srq, onSrq].flatMap((o) => o.rings);
    expect(uverbsMappings()).toBe(maps + all.length);

    if (!siw) {
      const c = header(cq.rings[0] as Ring);
      expect(c.slots).toBeGreaterThan(cq.cqe);
      expect(c.elemSize).toBeGreaterThanOrEqual(ib_uverbs_wc.size);
      expect([c.producer_index, c.consumer_index]).toEqual([0, 0]);
      const [sq, rq] = (qp.rings as Ring[]).map(header) as [ReturnType<typeof header>, ReturnType<typeof header>];
      expect(sq.slots).toBeGreaterThanOrEqual(qp.cap.maxSendWr);
      expect(sq.elemSize).toBeGreaterThanOrEqual(rxe_send_wqe.size + qp.cap.maxSendSge * rxe_sge.size);
      expect(rq.slots).toBeGreaterThanOrEqual(qp.cap.maxRecvWr);
      expect(rq.elemSize).toBeGreaterThanOrEqual(rxe_recv_wqe.size + qp.cap.maxRecvSge * rxe_sge.size);
      const s = header(srq.rings[0] as Ring);
      expect(s.elemSize).toBeGreaterThanOrEqual(rxe_recv_wqe.size + srq.maxSge * rxe_sge.size);
      for (const r of all)
        expect(r.length).toBeGreaterThanOrEqual(rxe_queue_buf.size + header(r).slots * header(r).elemSize);
    } else {
      const c = decode(siw_uresp_create_cq, cq.driverData as Uint8Array);
      expect(c.num_cqe).toBeGreaterThanOrEqual(20);
      expect((cq.rings[0] as Ring).length).toBeGreaterThanOrEqual(c.num_cqe * siw_cqe.size + siw_cq_ctrl.size);
      const q = decode(siw_uresp_create_qp, qp.driverData as Uint8Array);
      expect((qp.rings[0] as Ring).length).toBeGreaterThanOrEqual(q.num_sqe * siw_sqe.size);
      expect((qp.rings[1] as Ring).length).toBeGreaterThanOrEqual(q.num_rqe * siw_rqe.size);
      // no slot is valid yet
      for (const r of all) expect(r.bytes.every((b) => b === 0)).toBe(true);
    }

    ctx.close();
    expect(all.every((r) => !r.mapped)).toBe(true);
    expect(() => (all[0] as Ring).bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect(uverbsMappings()).toBe(maps);
    expect(fdCount()).toBe(fds);
  });

  it('resizing a CQ moves its ring: the new one is mapped, the old one let go', (test) => {
    const calls = new Calls();
    using ctx = Context.open(name, { trace: calls.trace });
    const cq = ctx.createCq({ cqe: 8 });
    const old = cq.rings[0] as Ring;
    const maps = uverbsMappings();
    orSkip(test, 'RESIZE_CQ', calls, () => cq.resize(200));
    const now = cq.rings[0] as Ring;
    expect(now).not.toBe(old);
    expect(old.mapped).toBe(false);
    expect(uverbsMappings()).toBe(maps);
    expect(header(now).slots).toBeGreaterThan(200);
  });
});

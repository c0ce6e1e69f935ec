/**
 * Software iWARP (siw). GET_CONTEXT must carry room for `siw_uresp_alloc_ctx`
 * (siw refuses the call otherwise), and REG_MR sends `siw_ureq_reg_mr` and
 * gets `siw_uresp_reg_mr` back. Its CQ, QP and SRQ replies carry the mmap
 * keys and slot counts of the rings. Its datapath is in user space:
 * siw-datapath.ts over the native addon (native/siw_queue.h).
 */

import { rdma_driver_id, siw_abi_defines } from '../abi/constants.js';
import { decode } from '../abi/layout.js';
import {
  siw_cq_ctrl,
  siw_cqe,
  siw_rqe,
  siw_sqe,
  siw_ureq_reg_mr,
  siw_uresp_alloc_ctx,
  siw_uresp_create_cq,
  siw_uresp_create_qp,
  siw_uresp_create_srq,
  siw_uresp_reg_mr,
} from '../abi/siw.js';
import type { RingSpec } from '../transport/ring.js';
import type { Provider } from './provider.js';
import { SiwDatapath } from './siw-datapath.js';

/** A ring siw offered (its key is not SIW_INVAL_UOBJ_KEY), `count` slots of `size` bytes, plus `extra`. */
function ring(name: RingSpec['name'], key: bigint, count: number, size: number, extra = 0): RingSpec[] {
  if (key === BigInt(siw_abi_defines.SIW_INVAL_UOBJ_KEY) || count === 0) return [];
  return [{ name, offset: key, length: count * size + extra, format: 'siw', slots: count }];
}

export const siwProvider: Provider = {
  name: 'siw',
  driverId: rdma_driver_id.RDMA_DRIVER_SIW,
  uhw: {
    getContext: { outLength: siw_uresp_alloc_ctx.size },
    regMr: { in: () => new Uint8Array(siw_ureq_reg_mr.size), outLength: siw_uresp_reg_mr.size },
    createCq: { outLength: siw_uresp_create_cq.size },
    createQp: { outLength: siw_uresp_create_qp.size },
    createSrq: { outLength: siw_uresp_create_srq.size },
  },
  // siw_verbs.c: a CQ ring is num_cqe CQEs and the siw_cq_ctrl word; QP and SRQ rings are their WQE slots
  rings: {
    createCq: (d) => {
      const r = decode(siw_uresp_create_cq, d);
      return ring('cq', r.cq_key, r.num_cqe, siw_cqe.size, siw_cq_ctrl.size);
    },
    createQp: (d) => {
      const r = decode(siw_uresp_create_qp, d);
      return [...ring('sq', r.sq_key, r.num_sqe, siw_sqe.size), ...ring('rq', r.rq_key, r.num_rqe, siw_rqe.size)];
    },
    createSrq: (d) => {
      const r = decode(siw_uresp_create_srq, d);
      return ring('srq', r.srq_key, r.num_rqe, siw_rqe.size);
    },
  },
  datapath: new SiwDatapath(),
};

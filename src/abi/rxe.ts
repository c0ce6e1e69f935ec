/**
 * Soft-RoCE (rxe) driver ABI: the UHW responses that carry ring mappings,
 * and the fixed parts of the ring elements.
 *
 * Source: include/uapi/rdma/rdma_user_rxe.h. The send WQE (`rxe_send_wr`,
 * with its opcode union) arrives with the datapath, where it is used.
 */

import { layout, nested, u32, u64 } from './layout.js';

const RXE_H = 'rdma/rdma_user_rxe.h';

/** Where a queue lives in the uverbs fd's mmap space: a one-shot cookie. */
export const mminfo = layout('mminfo', RXE_H, 16, {
  offset: u64(0),
  size: u32(8),
  pad: u32(12),
});

export const rxe_create_ah_resp = layout('rxe_create_ah_resp', RXE_H, 8, {
  ah_num: u32(0),
  reserved: u32(4),
});

export const rxe_create_cq_resp = layout('rxe_create_cq_resp', RXE_H, 16, {
  mi: nested(0, mminfo),
});

export const rxe_resize_cq_resp = layout('rxe_resize_cq_resp', RXE_H, 16, {
  mi: nested(0, mminfo),
});

/** Receive queue first, then send queue. */
export const rxe_create_qp_resp = layout('rxe_create_qp_resp', RXE_H, 32, {
  rq_mi: nested(0, mminfo),
  sq_mi: nested(16, mminfo),
});

export const rxe_create_srq_resp = layout('rxe_create_srq_resp', RXE_H, 24, {
  mi: nested(0, mminfo),
  srq_num: u32(16),
  reserved: u32(20),
});

export const rxe_modify_srq_cmd = layout('rxe_modify_srq_cmd', RXE_H, 8, {
  mmap_info_addr: u64(0),
});

export const rxe_sge = layout('rxe_sge', RXE_H, 16, {
  addr: u64(0),
  length: u32(8),
  lkey: u32(12),
});

/** Fixed part; `sge[]` / `inline_data[]` / `atomic_wr[]` follow at offset 24. */
export const rxe_dma_info = layout('rxe_dma_info', RXE_H, 24, {
  length: u32(0),
  resid: u32(4),
  cur_sge: u32(8),
  num_sge: u32(12),
  sge_offset: u32(16),
  reserved: u32(20),
});

/** Fixed part of a receive WQE; its SGEs follow `dma`. */
export const rxe_recv_wqe = layout('rxe_recv_wqe', RXE_H, 40, {
  wr_id: u64(0),
  reserved: u32(8),
  padding: u32(12),
  dma: nested(16, rxe_dma_info),
});

/**
 * Soft-RoCE (rxe) driver ABI: the UHW responses that carry ring mappings,
 * the ring header every rxe queue starts with, and the ring elements
 * (send WQE with its per-opcode union, receive WQE, SGEs).
 *
 * Source: include/uapi/rdma/rdma_user_rxe.h. Union arms are overlapping
 * fields whose `c` names the C designator (`wr.rdma.remote_addr`), so the
 * conformance test proves each arm.
 */

import { be32, bytes, layout, nested, u8, u16, u32, u64 } from './layout.js';

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

export const rxe_global_route = layout('rxe_global_route', RXE_H, 24, {
  dgid: bytes(0, 16),
  flow_label: u32(16),
  sgid_index: u8(20),
  hop_limit: u8(21),
  traffic_class: u8(22),
});

/** The address vector a UD send carries inline; the socket addresses are `sockaddr_in` / `sockaddr_in6`. */
export const rxe_av = layout('rxe_av', RXE_H, 88, {
  port_num: u8(0),
  network_type: u8(1),
  dmac: bytes(2, 6),
  grh: nested(8, rxe_global_route),
  sgid_addr: bytes(32, 28),
  dgid_addr: bytes(60, 28),
});

/** The work request part of a send WQE; `wr.*` is a union by opcode. */
export const rxe_send_wr = layout('rxe_send_wr', RXE_H, 144, {
  wr_id: u64(0),
  reserved: u32(8),
  opcode: u32(12),
  send_flags: u32(16),
  imm_data: be32(20, { c: 'ex.imm_data' }),
  invalidate_rkey: u32(20, { c: 'ex.invalidate_rkey' }),
  rdma_remote_addr: u64(24, { c: 'wr.rdma.remote_addr' }),
  rdma_rkey: u32(32, { c: 'wr.rdma.rkey' }),
  flush_remote_addr: u64(24, { c: 'wr.flush.remote_addr', since: '6.12' }),
  flush_length: u32(32, { c: 'wr.flush.length', since: '6.12' }),
  flush_rkey: u32(36, { c: 'wr.flush.rkey', since: '6.12' }),
  flush_type: u8(40, { c: 'wr.flush.type', since: '6.12' }),
  flush_level: u8(41, { c: 'wr.flush.level', since: '6.12' }),
  atomic_remote_addr: u64(24, { c: 'wr.atomic.remote_addr' }),
  atomic_compare_add: u64(32, { c: 'wr.atomic.compare_add' }),
  atomic_swap: u64(40, { c: 'wr.atomic.swap' }),
  atomic_rkey: u32(48, { c: 'wr.atomic.rkey' }),
  ud_remote_qpn: u32(24, { c: 'wr.ud.remote_qpn' }),
  ud_remote_qkey: u32(28, { c: 'wr.ud.remote_qkey' }),
  ud_pkey_index: u16(32, { c: 'wr.ud.pkey_index' }),
  ud_ah_num: u32(36, { c: 'wr.ud.ah_num' }),
  ud_av: nested(56, rxe_av, { c: 'wr.ud.av' }),
  mw_addr: u64(24, { c: 'wr.mw.addr' }),
  mw_length: u64(32, { c: 'wr.mw.length' }),
  mw_mr_lkey: u32(40, { c: 'wr.mw.mr_lkey' }),
  mw_mw_rkey: u32(44, { c: 'wr.mw.mw_rkey' }),
  mw_rkey: u32(48, { c: 'wr.mw.rkey' }),
  mw_access: u32(52, { c: 'wr.mw.access' }),
});

/** Fixed part of a send WQE; SGEs or inline data follow `dma` (offset 208). */
export const rxe_send_wqe = layout('rxe_send_wqe', RXE_H, 208, {
  wr: nested(0, rxe_send_wr),
  status: u32(144),
  state: u32(148),
  iova: u64(152),
  mask: u32(160),
  first_psn: u32(164),
  last_psn: u32(168),
  ack_length: u32(172),
  ssn: u32(176),
  has_rd_atomic: u32(180),
  dma: nested(184, rxe_dma_info),
});

/**
 * The header of every rxe ring (CQ, SQ, RQ, SRQ) as mapped from the uverbs
 * fd: element size and index mask, then the producer and consumer indices,
 * each on its own 128-byte line; the elements start at `data` (384).
 */
export const rxe_queue_buf = layout('rxe_queue_buf', RXE_H, 384, {
  log2_elem_size: u32(0),
  index_mask: u32(4),
  producer_index: u32(128),
  consumer_index: u32(256),
});

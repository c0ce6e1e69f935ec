/**
 * Software iWARP (siw) driver ABI: UHW requests and responses, and the ring
 * elements (siw's rings have per-slot VALID flags, not indices).
 *
 * Source: include/uapi/rdma/siw-abi.h.
 */

import { bytes, layout, u8, u16, u32, u64 } from './layout.js';

const SIW_H = 'rdma/siw-abi.h';

/** GET_CONTEXT's UHW_OUT: siw requires at least these 8 bytes. */
export const siw_uresp_alloc_ctx = layout('siw_uresp_alloc_ctx', SIW_H, 8, {
  dev_id: u32(0),
  pad: u32(4),
});

export const siw_uresp_create_cq = layout('siw_uresp_create_cq', SIW_H, 16, {
  cq_id: u32(0),
  num_cqe: u32(4),
  cq_key: u64(8),
});

export const siw_uresp_create_qp = layout('siw_uresp_create_qp', SIW_H, 32, {
  qp_id: u32(0),
  num_sqe: u32(4),
  num_rqe: u32(8),
  pad: u32(12),
  sq_key: u64(16),
  rq_key: u64(24),
});

export const siw_ureq_reg_mr = layout('siw_ureq_reg_mr', SIW_H, 8, {
  stag_key: u8(0),
  reserved: bytes(1, 3),
  pad: u32(4),
});

export const siw_uresp_reg_mr = layout('siw_uresp_reg_mr', SIW_H, 8, {
  stag: u32(0),
  pad: u32(4),
});

export const siw_uresp_create_srq = layout('siw_uresp_create_srq', SIW_H, 16, {
  num_rqe: u32(0),
  pad: u32(4),
  srq_key: u64(8),
});

export const siw_sge = layout('siw_sge', SIW_H, 16, {
  laddr: u64(0),
  length: u32(8),
  lkey: u32(12),
});

/** The control word after a siw CQ's entries: arms notification without a syscall. */
export const siw_cq_ctrl = layout('siw_cq_ctrl', SIW_H, 8, {
  flags: u32(0),
  pad: u32(4),
});

/** A send queue element; `sge[SIW_MAX_SGE]` (or inline data) from offset 24. */
export const siw_sqe = layout('siw_sqe', SIW_H, 120, {
  id: u64(0),
  flags: u16(8),
  num_sge: u8(10),
  opcode: u8(11),
  rkey: u32(12),
  raddr: u64(16),
  base_mr: u64(16),
  access: u64(24),
});

/** A receive queue element; `sge[SIW_MAX_SGE]` from offset 16. */
export const siw_rqe = layout('siw_rqe', SIW_H, 112, {
  id: u64(0),
  flags: u16(8),
  num_sge: u8(10),
  opcode: u8(11),
  unused: u32(12),
});

export const siw_cqe = layout('siw_cqe', SIW_H, 32, {
  id: u64(0),
  flags: u8(8),
  opcode: u8(9),
  status: u16(10),
  bytes: u32(12),
  imm_data: u64(16),
  inval_stag: u32(16),
  qp_id: u64(24),
});

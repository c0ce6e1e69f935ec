/**
 * Core uverbs struct layouts, in the kernel's spelling.
 *
 * Sources: include/uapi/rdma/ib_user_verbs.h (write / write-ex commands),
 * ib_user_ioctl_verbs.h (ioctl payloads), rdma_user_ioctl_cmds.h (the ioctl
 * header and attribute TLV). Proven against each uapi release in
 * UAPI_RELEASES by test/layout-conformance.test.ts. Flexible array members
 * (`driver_data[]`, `send_wr[]`) are not fields: the encoders append them.
 */

import { array, be32, be64, bytes, inner, layout, nested, s32, u8, u16, u32, u64 } from './layout.js';

const VERBS_H = 'rdma/ib_user_verbs.h';
const IOCTL_VERBS_H = 'rdma/ib_user_ioctl_verbs.h';
const IOCTL_CMDS_H = 'rdma/rdma_user_ioctl_cmds.h';

export const ib_uverbs_cmd_hdr = layout('ib_uverbs_cmd_hdr', VERBS_H, 8, {
  command: u32(0),
  in_words: u16(4),
  out_words: u16(6),
});

export const ib_uverbs_ex_cmd_hdr = layout('ib_uverbs_ex_cmd_hdr', VERBS_H, 16, {
  response: u64(0),
  provider_in_words: u16(8),
  provider_out_words: u16(10),
  cmd_hdr_reserved: u32(12),
});

export const ib_uverbs_async_event_desc = layout('ib_uverbs_async_event_desc', VERBS_H, 16, {
  element: u64(0),
  event_type: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_comp_event_desc = layout('ib_uverbs_comp_event_desc', VERBS_H, 8, {
  cq_handle: u64(0),
});

export const ib_uverbs_get_context = layout('ib_uverbs_get_context', VERBS_H, 8, {
  response: u64(0),
});

export const ib_uverbs_get_context_resp = layout('ib_uverbs_get_context_resp', VERBS_H, 8, {
  async_fd: u32(0),
  num_comp_vectors: u32(4),
});

export const ib_uverbs_query_device = layout('ib_uverbs_query_device', VERBS_H, 8, {
  response: u64(0),
});

export const ib_uverbs_query_device_resp = layout('ib_uverbs_query_device_resp', VERBS_H, 176, {
  fw_ver: u64(0),
  node_guid: be64(8),
  sys_image_guid: be64(16),
  max_mr_size: u64(24),
  page_size_cap: u64(32),
  vendor_id: u32(40),
  vendor_part_id: u32(44),
  hw_ver: u32(48),
  max_qp: u32(52),
  max_qp_wr: u32(56),
  device_cap_flags: u32(60),
  max_sge: u32(64),
  max_sge_rd: u32(68),
  max_cq: u32(72),
  max_cqe: u32(76),
  max_mr: u32(80),
  max_pd: u32(84),
  max_qp_rd_atom: u32(88),
  max_ee_rd_atom: u32(92),
  max_res_rd_atom: u32(96),
  max_qp_init_rd_atom: u32(100),
  max_ee_init_rd_atom: u32(104),
  atomic_cap: u32(108),
  max_ee: u32(112),
  max_rdd: u32(116),
  max_mw: u32(120),
  max_raw_ipv6_qp: u32(124),
  max_raw_ethy_qp: u32(128),
  max_mcast_grp: u32(132),
  max_mcast_qp_attach: u32(136),
  max_total_mcast_qp_attach: u32(140),
  max_ah: u32(144),
  max_fmr: u32(148),
  max_map_per_fmr: u32(152),
  max_srq: u32(156),
  max_srq_wr: u32(160),
  max_srq_sge: u32(164),
  max_pkeys: u16(168),
  local_ca_ack_delay: u8(170),
  phys_port_cnt: u8(171),
  reserved: bytes(172, 4),
});

export const ib_uverbs_ex_query_device = layout('ib_uverbs_ex_query_device', VERBS_H, 8, {
  comp_mask: u32(0),
  reserved: u32(4),
});

export const ib_uverbs_odp_caps = layout('ib_uverbs_odp_caps', VERBS_H, 24, {
  general_caps: u64(0),
  per_transport_caps: nested(
    8,
    inner('ib_uverbs_odp_caps.per_transport_caps', VERBS_H, 12, {
      rc_odp_caps: u32(0),
      uc_odp_caps: u32(4),
      ud_odp_caps: u32(8),
    }),
  ),
  reserved: u32(20),
});

export const ib_uverbs_rss_caps = layout('ib_uverbs_rss_caps', VERBS_H, 16, {
  supported_qpts: u32(0),
  max_rwq_indirection_tables: u32(4),
  max_rwq_indirection_table_size: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_tm_caps = layout('ib_uverbs_tm_caps', VERBS_H, 24, {
  max_rndv_hdr_size: u32(0),
  max_num_tags: u32(4),
  flags: u32(8),
  max_ops: u32(12),
  max_sge: u32(16),
  reserved: u32(20),
});

export const ib_uverbs_cq_moderation_caps = layout('ib_uverbs_cq_moderation_caps', VERBS_H, 8, {
  max_cq_moderation_count: u16(0),
  max_cq_moderation_period: u16(2),
  reserved: u32(4),
});

export const ib_uverbs_ex_query_device_resp = layout('ib_uverbs_ex_query_device_resp', VERBS_H, 304, {
  base: nested(0, ib_uverbs_query_device_resp),
  comp_mask: u32(176),
  response_length: u32(180),
  odp_caps: nested(184, ib_uverbs_odp_caps),
  timestamp_mask: u64(208),
  hca_core_clock: u64(216),
  device_cap_flags_ex: u64(224),
  rss_caps: nested(232, ib_uverbs_rss_caps),
  max_wq_type_rq: u32(248),
  raw_packet_caps: u32(252),
  tm_caps: nested(256, ib_uverbs_tm_caps),
  cq_moderation_caps: nested(280, ib_uverbs_cq_moderation_caps),
  max_dm_size: u64(288),
  xrc_odp_caps: u32(296),
  reserved: u32(300),
});

export const ib_uverbs_query_port = layout('ib_uverbs_query_port', VERBS_H, 16, {
  response: u64(0),
  port_num: u8(8),
  reserved: bytes(9, 7),
});

export const ib_uverbs_query_port_resp = layout('ib_uverbs_query_port_resp', VERBS_H, 40, {
  port_cap_flags: u32(0),
  max_msg_sz: u32(4),
  bad_pkey_cntr: u32(8),
  qkey_viol_cntr: u32(12),
  gid_tbl_len: u32(16),
  pkey_tbl_len: u16(20),
  lid: u16(22),
  sm_lid: u16(24),
  state: u8(26),
  max_mtu: u8(27),
  active_mtu: u8(28),
  lmc: u8(29),
  max_vl_num: u8(30),
  sm_sl: u8(31),
  subnet_timeout: u8(32),
  init_type_reply: u8(33),
  active_width: u8(34),
  active_speed: u8(35),
  phys_state: u8(36),
  link_layer: u8(37),
  flags: u8(38),
  reserved: u8(39),
});

export const ib_uverbs_alloc_pd = layout('ib_uverbs_alloc_pd', VERBS_H, 8, {
  response: u64(0),
});

export const ib_uverbs_alloc_pd_resp = layout('ib_uverbs_alloc_pd_resp', VERBS_H, 4, {
  pd_handle: u32(0),
});

export const ib_uverbs_dealloc_pd = layout('ib_uverbs_dealloc_pd', VERBS_H, 4, {
  pd_handle: u32(0),
});

export const ib_uverbs_reg_mr = layout('ib_uverbs_reg_mr', VERBS_H, 40, {
  response: u64(0),
  start: u64(8),
  length: u64(16),
  hca_va: u64(24),
  pd_handle: u32(32),
  access_flags: u32(36),
});

export const ib_uverbs_reg_mr_resp = layout('ib_uverbs_reg_mr_resp', VERBS_H, 12, {
  mr_handle: u32(0),
  lkey: u32(4),
  rkey: u32(8),
});

export const ib_uverbs_rereg_mr = layout('ib_uverbs_rereg_mr', VERBS_H, 48, {
  response: u64(0),
  mr_handle: u32(8),
  flags: u32(12),
  start: u64(16),
  length: u64(24),
  hca_va: u64(32),
  pd_handle: u32(40),
  access_flags: u32(44),
});

export const ib_uverbs_rereg_mr_resp = layout('ib_uverbs_rereg_mr_resp', VERBS_H, 8, {
  lkey: u32(0),
  rkey: u32(4),
});

export const ib_uverbs_dereg_mr = layout('ib_uverbs_dereg_mr', VERBS_H, 4, {
  mr_handle: u32(0),
});

export const ib_uverbs_alloc_mw = layout('ib_uverbs_alloc_mw', VERBS_H, 16, {
  response: u64(0),
  pd_handle: u32(8),
  mw_type: u8(12),
  reserved: bytes(13, 3),
});

export const ib_uverbs_alloc_mw_resp = layout('ib_uverbs_alloc_mw_resp', VERBS_H, 8, {
  mw_handle: u32(0),
  rkey: u32(4),
});

export const ib_uverbs_dealloc_mw = layout('ib_uverbs_dealloc_mw', VERBS_H, 4, {
  mw_handle: u32(0),
});

export const ib_uverbs_create_comp_channel = layout('ib_uverbs_create_comp_channel', VERBS_H, 8, {
  response: u64(0),
});

export const ib_uverbs_create_comp_channel_resp = layout('ib_uverbs_create_comp_channel_resp', VERBS_H, 4, {
  fd: u32(0),
});

export const ib_uverbs_create_cq = layout('ib_uverbs_create_cq', VERBS_H, 32, {
  response: u64(0),
  user_handle: u64(8),
  cqe: u32(16),
  comp_vector: u32(20),
  comp_channel: s32(24),
  reserved: u32(28),
});

export const ib_uverbs_ex_create_cq = layout('ib_uverbs_ex_create_cq', VERBS_H, 32, {
  user_handle: u64(0),
  cqe: u32(8),
  comp_vector: u32(12),
  comp_channel: s32(16),
  comp_mask: u32(20),
  flags: u32(24),
  reserved: u32(28),
});

export const ib_uverbs_create_cq_resp = layout('ib_uverbs_create_cq_resp', VERBS_H, 8, {
  cq_handle: u32(0),
  cqe: u32(4),
});

export const ib_uverbs_ex_create_cq_resp = layout('ib_uverbs_ex_create_cq_resp', VERBS_H, 16, {
  base: nested(0, ib_uverbs_create_cq_resp),
  comp_mask: u32(8),
  response_length: u32(12),
});

export const ib_uverbs_resize_cq = layout('ib_uverbs_resize_cq', VERBS_H, 16, {
  response: u64(0),
  cq_handle: u32(8),
  cqe: u32(12),
});

export const ib_uverbs_resize_cq_resp = layout('ib_uverbs_resize_cq_resp', VERBS_H, 8, {
  cqe: u32(0),
  reserved: u32(4),
});

/** A work completion as the kernel and the rxe CQ ring carry it. */
export const ib_uverbs_wc = layout('ib_uverbs_wc', VERBS_H, 48, {
  wr_id: u64(0),
  status: u32(8),
  opcode: u32(12),
  vendor_err: u32(16),
  byte_len: u32(20),
  imm_data: be32(24, { c: 'ex.imm_data' }),
  invalidate_rkey: u32(24, { c: 'ex.invalidate_rkey' }),
  qp_num: u32(28),
  src_qp: u32(32),
  wc_flags: u32(36),
  pkey_index: u16(40),
  slid: u16(42),
  sl: u8(44),
  dlid_path_bits: u8(45),
  port_num: u8(46),
  reserved: u8(47),
});

export const ib_uverbs_req_notify_cq = layout('ib_uverbs_req_notify_cq', VERBS_H, 8, {
  cq_handle: u32(0),
  solicited_only: u32(4),
});

export const ib_uverbs_destroy_cq = layout('ib_uverbs_destroy_cq', VERBS_H, 16, {
  response: u64(0),
  cq_handle: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_destroy_cq_resp = layout('ib_uverbs_destroy_cq_resp', VERBS_H, 8, {
  comp_events_reported: u32(0),
  async_events_reported: u32(4),
});

export const ib_uverbs_global_route = layout('ib_uverbs_global_route', VERBS_H, 24, {
  dgid: bytes(0, 16),
  flow_label: u32(16),
  sgid_index: u8(20),
  hop_limit: u8(21),
  traffic_class: u8(22),
  reserved: u8(23),
});

export const ib_uverbs_ah_attr = layout('ib_uverbs_ah_attr', VERBS_H, 32, {
  grh: nested(0, ib_uverbs_global_route),
  dlid: u16(24),
  sl: u8(26),
  src_path_bits: u8(27),
  static_rate: u8(28),
  is_global: u8(29),
  port_num: u8(30),
  reserved: u8(31),
});

export const ib_uverbs_create_qp = layout('ib_uverbs_create_qp', VERBS_H, 56, {
  response: u64(0),
  user_handle: u64(8),
  pd_handle: u32(16),
  send_cq_handle: u32(20),
  recv_cq_handle: u32(24),
  srq_handle: u32(28),
  max_send_wr: u32(32),
  max_recv_wr: u32(36),
  max_send_sge: u32(40),
  max_recv_sge: u32(44),
  max_inline_data: u32(48),
  sq_sig_all: u8(52),
  qp_type: u8(53),
  is_srq: u8(54),
  reserved: u8(55),
});

export const ib_uverbs_ex_create_qp = layout('ib_uverbs_ex_create_qp', VERBS_H, 64, {
  user_handle: u64(0),
  pd_handle: u32(8),
  send_cq_handle: u32(12),
  recv_cq_handle: u32(16),
  srq_handle: u32(20),
  max_send_wr: u32(24),
  max_recv_wr: u32(28),
  max_send_sge: u32(32),
  max_recv_sge: u32(36),
  max_inline_data: u32(40),
  sq_sig_all: u8(44),
  qp_type: u8(45),
  is_srq: u8(46),
  reserved: u8(47),
  comp_mask: u32(48),
  create_flags: u32(52),
  rwq_ind_tbl_handle: u32(56),
  source_qpn: u32(60),
});

export const ib_uverbs_create_qp_resp = layout('ib_uverbs_create_qp_resp', VERBS_H, 32, {
  qp_handle: u32(0),
  qpn: u32(4),
  max_send_wr: u32(8),
  max_recv_wr: u32(12),
  max_send_sge: u32(16),
  max_recv_sge: u32(20),
  max_inline_data: u32(24),
  reserved: u32(28),
});

export const ib_uverbs_ex_create_qp_resp = layout('ib_uverbs_ex_create_qp_resp', VERBS_H, 40, {
  base: nested(0, ib_uverbs_create_qp_resp),
  comp_mask: u32(32),
  response_length: u32(36),
});

export const ib_uverbs_qp_dest = layout('ib_uverbs_qp_dest', VERBS_H, 32, {
  dgid: bytes(0, 16),
  flow_label: u32(16),
  dlid: u16(20),
  reserved: u16(22),
  sgid_index: u8(24),
  hop_limit: u8(25),
  traffic_class: u8(26),
  sl: u8(27),
  src_path_bits: u8(28),
  static_rate: u8(29),
  is_global: u8(30),
  port_num: u8(31),
});

export const ib_uverbs_query_qp = layout('ib_uverbs_query_qp', VERBS_H, 16, {
  response: u64(0),
  qp_handle: u32(8),
  attr_mask: u32(12),
});

export const ib_uverbs_query_qp_resp = layout('ib_uverbs_query_qp_resp', VERBS_H, 128, {
  dest: nested(0, ib_uverbs_qp_dest),
  alt_dest: nested(32, ib_uverbs_qp_dest),
  max_send_wr: u32(64),
  max_recv_wr: u32(68),
  max_send_sge: u32(72),
  max_recv_sge: u32(76),
  max_inline_data: u32(80),
  qkey: u32(84),
  rq_psn: u32(88),
  sq_psn: u32(92),
  dest_qp_num: u32(96),
  qp_access_flags: u32(100),
  pkey_index: u16(104),
  alt_pkey_index: u16(106),
  qp_state: u8(108),
  cur_qp_state: u8(109),
  path_mtu: u8(110),
  path_mig_state: u8(111),
  sq_draining: u8(112),
  max_rd_atomic: u8(113),
  max_dest_rd_atomic: u8(114),
  min_rnr_timer: u8(115),
  port_num: u8(116),
  timeout: u8(117),
  retry_cnt: u8(118),
  rnr_retry: u8(119),
  alt_port_num: u8(120),
  alt_timeout: u8(121),
  sq_sig_all: u8(122),
  reserved: bytes(123, 5),
});

export const ib_uverbs_modify_qp = layout('ib_uverbs_modify_qp', VERBS_H, 112, {
  dest: nested(0, ib_uverbs_qp_dest),
  alt_dest: nested(32, ib_uverbs_qp_dest),
  qp_handle: u32(64),
  attr_mask: u32(68),
  qkey: u32(72),
  rq_psn: u32(76),
  sq_psn: u32(80),
  dest_qp_num: u32(84),
  qp_access_flags: u32(88),
  pkey_index: u16(92),
  alt_pkey_index: u16(94),
  qp_state: u8(96),
  cur_qp_state: u8(97),
  path_mtu: u8(98),
  path_mig_state: u8(99),
  en_sqd_async_notify: u8(100),
  max_rd_atomic: u8(101),
  max_dest_rd_atomic: u8(102),
  min_rnr_timer: u8(103),
  port_num: u8(104),
  timeout: u8(105),
  retry_cnt: u8(106),
  rnr_retry: u8(107),
  alt_port_num: u8(108),
  alt_timeout: u8(109),
  reserved: bytes(110, 2),
});

export const ib_uverbs_ex_modify_qp = layout('ib_uverbs_ex_modify_qp', VERBS_H, 120, {
  base: nested(0, ib_uverbs_modify_qp),
  rate_limit: u32(112),
  reserved: u32(116),
});

export const ib_uverbs_ex_modify_qp_resp = layout('ib_uverbs_ex_modify_qp_resp', VERBS_H, 8, {
  comp_mask: u32(0),
  response_length: u32(4),
});

export const ib_uverbs_destroy_qp = layout('ib_uverbs_destroy_qp', VERBS_H, 16, {
  response: u64(0),
  qp_handle: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_destroy_qp_resp = layout('ib_uverbs_destroy_qp_resp', VERBS_H, 4, {
  events_reported: u32(0),
});

/** IB_USER_VERBS_CMD_ATTACH_MCAST (write only): a UD QP joins a multicast group; no response. */
export const ib_uverbs_attach_mcast = layout('ib_uverbs_attach_mcast', VERBS_H, 24, {
  gid: bytes(0, 16),
  qp_handle: u32(16),
  mlid: u16(20),
  reserved: u16(22),
});

/** IB_USER_VERBS_CMD_DETACH_MCAST (write only): the same fields, leaving the group. */
export const ib_uverbs_detach_mcast = layout('ib_uverbs_detach_mcast', VERBS_H, 24, {
  gid: bytes(0, 16),
  qp_handle: u32(16),
  mlid: u16(20),
  reserved: u16(22),
});

export const ib_uverbs_sge = layout('ib_uverbs_sge', VERBS_H, 16, {
  addr: u64(0),
  length: u32(8),
  lkey: u32(12),
});

export const ib_uverbs_send_wr = layout('ib_uverbs_send_wr', VERBS_H, 56, {
  wr_id: u64(0),
  num_sge: u32(8),
  opcode: u32(12),
  send_flags: u32(16),
  imm_data: be32(20, { c: 'ex.imm_data' }),
  invalidate_rkey: u32(20, { c: 'ex.invalidate_rkey' }),
  rdma: nested(
    24,
    inner('ib_uverbs_send_wr.wr.rdma', VERBS_H, 16, { remote_addr: u64(0), rkey: u32(8), reserved: u32(12) }),
    { c: 'wr.rdma' },
  ),
  atomic: nested(
    24,
    inner('ib_uverbs_send_wr.wr.atomic', VERBS_H, 32, {
      remote_addr: u64(0),
      compare_add: u64(8),
      swap: u64(16),
      rkey: u32(24),
      reserved: u32(28),
    }),
    { c: 'wr.atomic' },
  ),
  ud: nested(
    24,
    inner('ib_uverbs_send_wr.wr.ud', VERBS_H, 16, {
      ah: u32(0),
      remote_qpn: u32(4),
      remote_qkey: u32(8),
      reserved: u32(12),
    }),
    { c: 'wr.ud' },
  ),
});

export const ib_uverbs_post_send = layout('ib_uverbs_post_send', VERBS_H, 24, {
  response: u64(0),
  qp_handle: u32(8),
  wr_count: u32(12),
  sge_count: u32(16),
  wqe_size: u32(20),
});

export const ib_uverbs_post_send_resp = layout('ib_uverbs_post_send_resp', VERBS_H, 4, {
  bad_wr: u32(0),
});

export const ib_uverbs_recv_wr = layout('ib_uverbs_recv_wr', VERBS_H, 16, {
  wr_id: u64(0),
  num_sge: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_post_recv = layout('ib_uverbs_post_recv', VERBS_H, 24, {
  response: u64(0),
  qp_handle: u32(8),
  wr_count: u32(12),
  sge_count: u32(16),
  wqe_size: u32(20),
});

export const ib_uverbs_post_recv_resp = layout('ib_uverbs_post_recv_resp', VERBS_H, 4, {
  bad_wr: u32(0),
});

export const ib_uverbs_post_srq_recv = layout('ib_uverbs_post_srq_recv', VERBS_H, 24, {
  response: u64(0),
  srq_handle: u32(8),
  wr_count: u32(12),
  sge_count: u32(16),
  wqe_size: u32(20),
});

export const ib_uverbs_post_srq_recv_resp = layout('ib_uverbs_post_srq_recv_resp', VERBS_H, 4, {
  bad_wr: u32(0),
});

export const ib_uverbs_create_ah = layout('ib_uverbs_create_ah', VERBS_H, 56, {
  response: u64(0),
  user_handle: u64(8),
  pd_handle: u32(16),
  reserved: u32(20),
  attr: nested(24, ib_uverbs_ah_attr),
});

export const ib_uverbs_create_ah_resp = layout('ib_uverbs_create_ah_resp', VERBS_H, 4, {
  ah_handle: u32(0),
});

export const ib_uverbs_destroy_ah = layout('ib_uverbs_destroy_ah', VERBS_H, 4, {
  ah_handle: u32(0),
});

export const ib_uverbs_create_srq = layout('ib_uverbs_create_srq', VERBS_H, 32, {
  response: u64(0),
  user_handle: u64(8),
  pd_handle: u32(16),
  max_wr: u32(20),
  max_sge: u32(24),
  srq_limit: u32(28),
});

export const ib_uverbs_create_xsrq = layout('ib_uverbs_create_xsrq', VERBS_H, 48, {
  response: u64(0),
  user_handle: u64(8),
  srq_type: u32(16),
  pd_handle: u32(20),
  max_wr: u32(24),
  max_sge: u32(28),
  srq_limit: u32(32),
  max_num_tags: u32(36),
  xrcd_handle: u32(40),
  cq_handle: u32(44),
});

export const ib_uverbs_create_srq_resp = layout('ib_uverbs_create_srq_resp', VERBS_H, 16, {
  srq_handle: u32(0),
  max_wr: u32(4),
  max_sge: u32(8),
  srqn: u32(12),
});

export const ib_uverbs_modify_srq = layout('ib_uverbs_modify_srq', VERBS_H, 16, {
  srq_handle: u32(0),
  attr_mask: u32(4),
  max_wr: u32(8),
  srq_limit: u32(12),
});

export const ib_uverbs_query_srq = layout('ib_uverbs_query_srq', VERBS_H, 16, {
  response: u64(0),
  srq_handle: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_query_srq_resp = layout('ib_uverbs_query_srq_resp', VERBS_H, 16, {
  max_wr: u32(0),
  max_sge: u32(4),
  srq_limit: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_destroy_srq = layout('ib_uverbs_destroy_srq', VERBS_H, 16, {
  response: u64(0),
  srq_handle: u32(8),
  reserved: u32(12),
});

export const ib_uverbs_destroy_srq_resp = layout('ib_uverbs_destroy_srq_resp', VERBS_H, 4, {
  events_reported: u32(0),
});

export const ib_uverbs_query_port_resp_ex = layout('ib_uverbs_query_port_resp_ex', IOCTL_VERBS_H, 48, {
  legacy_resp: nested(0, ib_uverbs_query_port_resp),
  port_cap_flags2: u16(40),
  reserved: bytes(42, 2, { since: '6.12' }),
  active_speed_ex: u32(44, { since: '6.12' }),
});

export const ib_uverbs_qp_cap = layout('ib_uverbs_qp_cap', IOCTL_VERBS_H, 20, {
  max_send_wr: u32(0),
  max_recv_wr: u32(4),
  max_send_sge: u32(8),
  max_recv_sge: u32(12),
  max_inline_data: u32(16),
});

export const ib_uverbs_gid_entry = layout('ib_uverbs_gid_entry', IOCTL_VERBS_H, 32, {
  gid: array(0, 'u64', 2),
  gid_index: u32(16),
  port_num: u32(20),
  gid_type: u32(24),
  netdev_ifindex: u32(28),
});

/** One attribute TLV of RDMA_VERBS_IOCTL. */
export const ib_uverbs_attr = layout('ib_uverbs_attr', IOCTL_CMDS_H, 16, {
  attr_id: u16(0),
  len: u16(2),
  flags: u16(4),
  elem_id: u8(6, { c: 'attr_data.enum_data.elem_id' }),
  enum_reserved: u8(7, { c: 'attr_data.enum_data.reserved' }),
  reserved: u16(6, { c: 'attr_data.reserved' }),
  data: u64(8),
});

/** The header of RDMA_VERBS_IOCTL; `attrs[num_attrs]` follow it. */
export const ib_uverbs_ioctl_hdr = layout('ib_uverbs_ioctl_hdr', IOCTL_CMDS_H, 24, {
  length: u16(0),
  object_id: u16(2),
  method_id: u16(4),
  num_attrs: u16(6),
  reserved1: u64(8),
  driver_id: u32(16),
  reserved2: u32(20),
});

/** Describes one buffer (dma-buf or user VA) for the UVERBS_ATTR_UMEM attributes (7.x). */
export const ib_uverbs_buffer_desc = layout(
  'ib_uverbs_buffer_desc',
  IOCTL_VERBS_H,
  32,
  {
    type: u32(0),
    fd: s32(4),
    flags: u32(8),
    optional_flags: u32(12),
    addr: u64(16),
    length: u64(24),
  },
  { since: '7.2' },
);

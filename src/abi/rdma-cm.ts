/**
 * The rdma_cm (ucma) write ABI as data: `/dev/infiniband/rdma_cm`.
 *
 * Each command is one write(2) of `struct rdma_ucm_cmd_hdr {cmd, in, out}`
 * followed by the command struct (drivers/infiniband/core/ucma.c,
 * ucma_write): `in` is the command's size, `out` the size of the response
 * the kernel writes through the command's `response` pointer; the write
 * returns its whole length, an unknown command is ENOSYS, a short `out`
 * ENOSPC. No driver data, no extended header.
 *
 * Sources: include/uapi/rdma/rdma_user_cm.h (identical in 6.1 and 6.12;
 * 7.2 adds RESOLVE_IB_SERVICE, WRITE_CM_EVENT, the IB service query and an
 * `arg32` arm of the event union), linux/in.h, linux/in6.h, linux/socket.h;
 * `enum rdma_cm_event_type` is kernel-internal (include/rdma/rdma_cm.h).
 * Proven by test/layout-conformance.test.ts (uapi) and
 * test/cm-abi.test.ts (the event enum, against each kernel's rdma_cm.h).
 */

import { cEnum } from './c-enum.js';
import { type AnyLayout, array, be16, be32, be64, bytes, inner, layout, nested, u8, u16, u32, u64 } from './layout.js';
import { ib_uverbs_ah_attr } from './structs.js';

const CM_H = 'rdma/rdma_user_cm.h';
const VERBS_H = 'rdma/ib_user_verbs.h';

/** #defines of rdma_user_cm.h. */
export const rdma_user_cm_defines = cEnum('#define', CM_H, {
  RDMA_USER_CM_ABI_VERSION: 4,
  RDMA_MAX_PRIVATE_DATA: 256,
});

/** Anonymous enum: ucma command numbers (RDMA_USER_CM_CMD_*). */
export const rdma_user_cm_cmds = cEnum(
  'rdma_user_cm_cmds',
  CM_H,
  {
    RDMA_USER_CM_CMD_CREATE_ID: 0,
    RDMA_USER_CM_CMD_DESTROY_ID: 1,
    RDMA_USER_CM_CMD_BIND_IP: 2,
    RDMA_USER_CM_CMD_RESOLVE_IP: 3,
    RDMA_USER_CM_CMD_RESOLVE_ROUTE: 4,
    RDMA_USER_CM_CMD_QUERY_ROUTE: 5,
    RDMA_USER_CM_CMD_CONNECT: 6,
    RDMA_USER_CM_CMD_LISTEN: 7,
    RDMA_USER_CM_CMD_ACCEPT: 8,
    RDMA_USER_CM_CMD_REJECT: 9,
    RDMA_USER_CM_CMD_DISCONNECT: 10,
    RDMA_USER_CM_CMD_INIT_QP_ATTR: 11,
    RDMA_USER_CM_CMD_GET_EVENT: 12,
    RDMA_USER_CM_CMD_GET_OPTION: 13,
    RDMA_USER_CM_CMD_SET_OPTION: 14,
    RDMA_USER_CM_CMD_NOTIFY: 15,
    RDMA_USER_CM_CMD_JOIN_IP_MCAST: 16,
    RDMA_USER_CM_CMD_LEAVE_MCAST: 17,
    RDMA_USER_CM_CMD_MIGRATE_ID: 18,
    RDMA_USER_CM_CMD_QUERY: 19,
    RDMA_USER_CM_CMD_BIND: 20,
    RDMA_USER_CM_CMD_RESOLVE_ADDR: 21,
    RDMA_USER_CM_CMD_JOIN_MCAST: 22,
    RDMA_USER_CM_CMD_RESOLVE_IB_SERVICE: 23,
    RDMA_USER_CM_CMD_WRITE_CM_EVENT: 24,
  },
  { since: { RDMA_USER_CM_CMD_RESOLVE_IB_SERVICE: '7.2', RDMA_USER_CM_CMD_WRITE_CM_EVENT: '7.2' } },
);

/** `enum rdma_ucm_port_space` (IBTA Annex A11 service ID bytes 4 and 5). */
export const rdma_ucm_port_space = cEnum('rdma_ucm_port_space', CM_H, {
  RDMA_PS_IPOIB: 0x0002,
  RDMA_PS_IB: 0x013f,
  RDMA_PS_TCP: 0x0106,
  RDMA_PS_UDP: 0x0111,
});

/** Anonymous enum: what RDMA_USER_CM_CMD_QUERY asks for. */
export const rdma_user_cm_query = cEnum(
  'rdma_user_cm_query',
  CM_H,
  {
    RDMA_USER_CM_QUERY_ADDR: 0,
    RDMA_USER_CM_QUERY_PATH: 1,
    RDMA_USER_CM_QUERY_GID: 2,
    RDMA_USER_CM_QUERY_IB_SERVICE: 3,
  },
  { since: { RDMA_USER_CM_QUERY_IB_SERVICE: '7.2' } },
);

/** Anonymous enum: multicast join flags. */
export const rdma_mc_join_flags = cEnum('rdma_mc_join_flags', CM_H, {
  RDMA_MC_JOIN_FLAG_FULLMEMBER: 0,
  RDMA_MC_JOIN_FLAG_SENDONLY_FULLMEMBER: 1,
  RDMA_MC_JOIN_FLAG_RESERVED: 2,
});

/** Anonymous enums: SET_OPTION levels and option names. */
export const rdma_cm_options = cEnum('rdma_cm_options', CM_H, {
  RDMA_OPTION_ID: 0,
  RDMA_OPTION_IB: 1,
  RDMA_OPTION_ID_TOS: 0,
  RDMA_OPTION_ID_REUSEADDR: 1,
  RDMA_OPTION_ID_AFONLY: 2,
  RDMA_OPTION_ID_ACK_TIMEOUT: 3,
  RDMA_OPTION_IB_PATH: 1,
});

/** Anonymous enum and #define of the IB service resolution 7.2 added. */
export const rdma_user_cm_ib_service = cEnum(
  'rdma_user_cm_ib_service',
  CM_H,
  {
    RDMA_USER_CM_IB_SERVICE_FLAG_ID: 1 << 0,
    RDMA_USER_CM_IB_SERVICE_FLAG_NAME: 1 << 1,
    RDMA_USER_CM_IB_SERVICE_NAME_SIZE: 64,
  },
  {
    since: {
      RDMA_USER_CM_IB_SERVICE_FLAG_ID: '7.2',
      RDMA_USER_CM_IB_SERVICE_FLAG_NAME: '7.2',
      RDMA_USER_CM_IB_SERVICE_NAME_SIZE: '7.2',
    },
  },
);

/**
 * `enum rdma_cm_event_type`: what GET_EVENT reports. Kernel-internal
 * (include/rdma/rdma_cm.h, 7.2's table; 6.1 and 6.12 end at TIMEWAIT_EXIT);
 * proven against each kernel's header by test/cm-abi.test.ts, not by the
 * uapi conformance test.
 */
export const rdma_cm_event_type = cEnum('rdma_cm_event_type', 'rdma/rdma_cm.h (kernel-internal)', {
  RDMA_CM_EVENT_ADDR_RESOLVED: 0,
  RDMA_CM_EVENT_ADDR_ERROR: 1,
  RDMA_CM_EVENT_ROUTE_RESOLVED: 2,
  RDMA_CM_EVENT_ROUTE_ERROR: 3,
  RDMA_CM_EVENT_CONNECT_REQUEST: 4,
  RDMA_CM_EVENT_CONNECT_RESPONSE: 5,
  RDMA_CM_EVENT_CONNECT_ERROR: 6,
  RDMA_CM_EVENT_UNREACHABLE: 7,
  RDMA_CM_EVENT_REJECTED: 8,
  RDMA_CM_EVENT_ESTABLISHED: 9,
  RDMA_CM_EVENT_DISCONNECTED: 10,
  RDMA_CM_EVENT_DEVICE_REMOVAL: 11,
  RDMA_CM_EVENT_MULTICAST_JOIN: 12,
  RDMA_CM_EVENT_MULTICAST_ERROR: 13,
  RDMA_CM_EVENT_ADDR_CHANGE: 14,
  RDMA_CM_EVENT_TIMEWAIT_EXIT: 15,
  RDMA_CM_EVENT_ADDRINFO_RESOLVED: 16,
  RDMA_CM_EVENT_ADDRINFO_ERROR: 17,
  RDMA_CM_EVENT_USER: 18,
  RDMA_CM_EVENT_INTERNAL: 19,
});

/** Address families the sockaddrs carry (linux/socket.h). */
export const address_families = cEnum('address_families', 'linux/socket.h (kernel-internal)', {
  AF_INET: 2,
  AF_INET6: 10,
  AF_IB: 27,
});

// --- socket addresses --------------------------------------------------------

export const sockaddr_in = layout('sockaddr_in', 'linux/in.h', 16, {
  sin_family: u16(0),
  sin_port: be16(2),
  sin_addr: be32(4, { c: 'sin_addr.s_addr' }),
  __pad: bytes(8, 8),
});

export const sockaddr_in6 = layout('sockaddr_in6', 'linux/in6.h', 28, {
  sin6_family: u16(0),
  sin6_port: be16(2),
  sin6_flowinfo: be32(4),
  sin6_addr: bytes(8, 16),
  sin6_scope_id: u32(24),
});

/** `struct __kernel_sockaddr_storage`: any family, 128 bytes, 8-aligned. */
export const __kernel_sockaddr_storage = layout('__kernel_sockaddr_storage', 'linux/socket.h', 128, {
  ss_family: u16(0),
  __data: bytes(2, 126),
});

// --- commands and responses ----------------------------------------------------

export const rdma_ucm_cmd_hdr = layout('rdma_ucm_cmd_hdr', CM_H, 8, {
  cmd: u32(0),
  in: u16(4),
  out: u16(6),
});

export const rdma_ucm_create_id = layout('rdma_ucm_create_id', CM_H, 24, {
  uid: u64(0),
  response: u64(8),
  ps: u16(16),
  qp_type: u8(18),
  reserved: bytes(19, 5),
});

export const rdma_ucm_create_id_resp = layout('rdma_ucm_create_id_resp', CM_H, 4, {
  id: u32(0),
});

export const rdma_ucm_destroy_id = layout('rdma_ucm_destroy_id', CM_H, 16, {
  response: u64(0),
  id: u32(8),
  reserved: u32(12),
});

export const rdma_ucm_destroy_id_resp = layout('rdma_ucm_destroy_id_resp', CM_H, 4, {
  events_reported: u32(0),
});

export const rdma_ucm_bind_ip = layout('rdma_ucm_bind_ip', CM_H, 40, {
  response: u64(0),
  addr: nested(8, sockaddr_in6),
  id: u32(36),
});

export const rdma_ucm_bind = layout('rdma_ucm_bind', CM_H, 136, {
  id: u32(0),
  addr_size: u16(4),
  reserved: u16(6),
  addr: nested(8, __kernel_sockaddr_storage),
});

export const rdma_ucm_resolve_ip = layout('rdma_ucm_resolve_ip', CM_H, 64, {
  src_addr: nested(0, sockaddr_in6),
  dst_addr: nested(28, sockaddr_in6),
  id: u32(56),
  timeout_ms: u32(60),
});

export const rdma_ucm_resolve_addr = layout('rdma_ucm_resolve_addr', CM_H, 272, {
  id: u32(0),
  timeout_ms: u32(4),
  src_size: u16(8),
  dst_size: u16(10),
  reserved: u32(12),
  src_addr: nested(16, __kernel_sockaddr_storage),
  dst_addr: nested(144, __kernel_sockaddr_storage),
});

export const rdma_ucm_resolve_route = layout('rdma_ucm_resolve_route', CM_H, 8, {
  id: u32(0),
  timeout_ms: u32(4),
});

export const rdma_ucm_query = layout('rdma_ucm_query', CM_H, 16, {
  response: u64(0),
  id: u32(8),
  option: u32(12),
});

/** `struct ib_user_path_rec` (rdma/ib_user_sa.h), one path of QUERY_ROUTE. */
export const ib_user_path_rec = layout('ib_user_path_rec', 'rdma/ib_user_sa.h', 64, {
  dgid: bytes(0, 16),
  sgid: bytes(16, 16),
  dlid: be16(32),
  slid: be16(34),
  raw_traffic: u32(36),
  flow_label: be32(40),
  reversible: u32(44),
  mtu: u32(48),
  pkey: be16(52),
  hop_limit: u8(54),
  traffic_class: u8(55),
  numb_path: u8(56),
  sl: u8(57),
  mtu_selector: u8(58),
  rate_selector: u8(59),
  rate: u8(60),
  packet_life_time_selector: u8(61),
  packet_life_time: u8(62),
  preference: u8(63),
});

export const rdma_ucm_query_route_resp = layout('rdma_ucm_query_route_resp', CM_H, 208, {
  node_guid: u64(0),
  ib_route: nested(8, ib_user_path_rec, { c: 'ib_route[0]' }),
  ib_route_1: nested(72, ib_user_path_rec, { c: 'ib_route[1]' }),
  src_addr: nested(136, sockaddr_in6),
  dst_addr: nested(164, sockaddr_in6),
  num_paths: u32(192),
  port_num: u8(196),
  reserved: bytes(197, 3),
  ibdev_index: u32(200),
  reserved1: u32(204),
});

export const rdma_ucm_query_addr_resp = layout('rdma_ucm_query_addr_resp', CM_H, 280, {
  /** Declared `__aligned_u64`; ucma_query_addr copies the device's `__be64` node GUID into it unchanged. */
  node_guid: be64(0),
  port_num: u8(8),
  reserved: u8(9),
  pkey: u16(10),
  src_size: u16(12),
  dst_size: u16(14),
  src_addr: nested(16, __kernel_sockaddr_storage),
  dst_addr: nested(144, __kernel_sockaddr_storage),
  ibdev_index: u32(272),
  reserved1: u32(276),
});

/** The fixed head of `struct rdma_ucm_query_path_resp`; `path_data[]` (72 bytes each) follows. */
export const rdma_ucm_query_path_resp = layout('rdma_ucm_query_path_resp', CM_H, 8, {
  num_paths: u32(0),
  reserved: u32(4),
});

export const rdma_ucm_conn_param = layout('rdma_ucm_conn_param', CM_H, 272, {
  qp_num: u32(0),
  qkey: u32(4),
  private_data: bytes(8, 256),
  private_data_len: u8(264),
  srq: u8(265),
  responder_resources: u8(266),
  initiator_depth: u8(267),
  flow_control: u8(268),
  retry_count: u8(269),
  rnr_retry_count: u8(270),
  valid: u8(271),
});

export const rdma_ucm_ud_param = layout('rdma_ucm_ud_param', CM_H, 304, {
  qp_num: u32(0),
  qkey: u32(4),
  ah_attr: nested(8, ib_uverbs_ah_attr),
  private_data: bytes(40, 256),
  private_data_len: u8(296),
  reserved: bytes(297, 7),
});

export const rdma_ucm_ece = layout('rdma_ucm_ece', CM_H, 8, {
  vendor_id: u32(0),
  attr_mod: u32(4),
});

export const rdma_ucm_connect = layout('rdma_ucm_connect', CM_H, 288, {
  conn_param: nested(0, rdma_ucm_conn_param),
  id: u32(272),
  reserved: u32(276),
  ece: nested(280, rdma_ucm_ece),
});

export const rdma_ucm_listen = layout('rdma_ucm_listen', CM_H, 8, {
  id: u32(0),
  backlog: u32(4),
});

export const rdma_ucm_accept = layout('rdma_ucm_accept', CM_H, 296, {
  uid: u64(0),
  conn_param: nested(8, rdma_ucm_conn_param),
  id: u32(280),
  reserved: u32(284),
  ece: nested(288, rdma_ucm_ece),
});

export const rdma_ucm_reject = layout('rdma_ucm_reject', CM_H, 264, {
  id: u32(0),
  private_data_len: u8(4),
  reason: u8(5),
  reserved: bytes(6, 2),
  private_data: bytes(8, 256),
});

export const rdma_ucm_disconnect = layout('rdma_ucm_disconnect', CM_H, 4, {
  id: u32(0),
});

export const rdma_ucm_init_qp_attr = layout('rdma_ucm_init_qp_attr', CM_H, 16, {
  response: u64(0),
  id: u32(8),
  qp_state: u32(12),
});

export const rdma_ucm_notify = layout('rdma_ucm_notify', CM_H, 8, {
  id: u32(0),
  event: u32(4),
});

export const rdma_ucm_join_ip_mcast = layout('rdma_ucm_join_ip_mcast', CM_H, 48, {
  response: u64(0),
  uid: u64(8),
  addr: nested(16, sockaddr_in6),
  id: u32(44),
});

export const rdma_ucm_join_mcast = layout('rdma_ucm_join_mcast', CM_H, 152, {
  response: u64(0),
  uid: u64(8),
  id: u32(16),
  addr_size: u16(20),
  join_flags: u16(22),
  addr: nested(24, __kernel_sockaddr_storage),
});

export const rdma_ucm_get_event = layout('rdma_ucm_get_event', CM_H, 8, {
  response: u64(0),
});

/** `union param` of `rdma_ucm_event_resp` (4-aligned: it sits at offset 20). */
const event_param = inner('rdma_ucm_event_resp.param', CM_H, 304, {
  conn: nested(0, rdma_ucm_conn_param),
  ud: nested(0, rdma_ucm_ud_param),
  arg32: array(0, 'u32', 2, { since: '7.2' }),
});

export const rdma_ucm_event_resp = layout('rdma_ucm_event_resp', CM_H, 336, {
  uid: u64(0),
  id: u32(8),
  event: u32(12),
  status: u32(16),
  param: nested(20, event_param),
  reserved: u32(324),
  ece: nested(328, rdma_ucm_ece),
});

export const rdma_ucm_set_option = layout('rdma_ucm_set_option', CM_H, 24, {
  optval: u64(0),
  id: u32(8),
  level: u32(12),
  optname: u32(16),
  optlen: u32(20),
});

export const rdma_ucm_migrate_id = layout('rdma_ucm_migrate_id', CM_H, 16, {
  response: u64(0),
  id: u32(8),
  fd: u32(12),
});

export const rdma_ucm_migrate_resp = layout('rdma_ucm_migrate_resp', CM_H, 4, {
  events_reported: u32(0),
});

export const rdma_ucm_ib_service = layout(
  'rdma_ucm_ib_service',
  CM_H,
  80,
  {
    service_id: u64(0),
    service_name: bytes(8, 64),
    flags: u32(72),
    reserved: u32(76),
  },
  { since: '7.2' },
);

export const rdma_ucm_resolve_ib_service = layout(
  'rdma_ucm_resolve_ib_service',
  CM_H,
  88,
  {
    id: u32(0),
    reserved: u32(4),
    ibs: nested(8, rdma_ucm_ib_service),
  },
  { since: '7.2' },
);

/** `union param` of `rdma_ucm_write_cm_event` (8-aligned: it has a `__u64 arg`). */
const write_event_param = inner('rdma_ucm_write_cm_event.param', CM_H, 304, {
  conn: nested(0, rdma_ucm_conn_param),
  ud: nested(0, rdma_ucm_ud_param),
  arg: u64(0),
});

export const rdma_ucm_write_cm_event = layout(
  'rdma_ucm_write_cm_event',
  CM_H,
  320,
  {
    id: u32(0),
    reserved: u32(4),
    event: u32(8),
    status: u32(12),
    param: nested(16, write_event_param),
  },
  { since: '7.2' },
);

/** `struct ib_uverbs_qp_attr` (rdma/ib_user_verbs.h): what INIT_QP_ATTR answers, with its attribute mask. */
export const ib_uverbs_qp_attr = layout('ib_uverbs_qp_attr', VERBS_H, 144, {
  qp_attr_mask: u32(0),
  qp_state: u32(4),
  cur_qp_state: u32(8),
  path_mtu: u32(12),
  path_mig_state: u32(16),
  qkey: u32(20),
  rq_psn: u32(24),
  sq_psn: u32(28),
  dest_qp_num: u32(32),
  qp_access_flags: u32(36),
  ah_attr: nested(40, ib_uverbs_ah_attr),
  alt_ah_attr: nested(72, ib_uverbs_ah_attr),
  max_send_wr: u32(104),
  max_recv_wr: u32(108),
  max_send_sge: u32(112),
  max_recv_sge: u32(116),
  max_inline_data: u32(120),
  pkey_index: u16(124),
  alt_pkey_index: u16(126),
  en_sqd_async_notify: u8(128),
  sq_draining: u8(129),
  max_rd_atomic: u8(130),
  max_dest_rd_atomic: u8(131),
  min_rnr_timer: u8(132),
  port_num: u8(133),
  timeout: u8(134),
  retry_cnt: u8(135),
  rnr_retry: u8(136),
  alt_port_num: u8(137),
  alt_timeout: u8(138),
  reserved: bytes(139, 5),
});

// --- the command table ------------------------------------------------------------

/** One ucma command: its number, request struct and (through `response`) response struct. */
export interface CmCommand {
  /** The kernel's name, `RDMA_USER_CM_CMD_CREATE_ID`. */
  readonly name: keyof typeof rdma_user_cm_cmds;
  readonly cmd: number;
  readonly request: AnyLayout;
  /** Written by the kernel through the request's `response` pointer. */
  readonly response?: AnyLayout;
}

function command(name: keyof typeof rdma_user_cm_cmds, request: AnyLayout, response?: AnyLayout): CmCommand {
  if (response !== undefined && request.fields.response === undefined) {
    throw new Error(`${name}: a response needs a response pointer in ${request.name}`);
  }
  return Object.freeze({ name, cmd: rdma_user_cm_cmds[name], request, ...(response ? { response } : {}) });
}

/** Every ucma command, by the kernel's name (ucma.c, `ucma_cmd_table`). */
export const CM_COMMANDS = Object.freeze({
  RDMA_USER_CM_CMD_CREATE_ID: command('RDMA_USER_CM_CMD_CREATE_ID', rdma_ucm_create_id, rdma_ucm_create_id_resp),
  RDMA_USER_CM_CMD_DESTROY_ID: command('RDMA_USER_CM_CMD_DESTROY_ID', rdma_ucm_destroy_id, rdma_ucm_destroy_id_resp),
  RDMA_USER_CM_CMD_BIND_IP: command('RDMA_USER_CM_CMD_BIND_IP', rdma_ucm_bind_ip),
  RDMA_USER_CM_CMD_RESOLVE_IP: command('RDMA_USER_CM_CMD_RESOLVE_IP', rdma_ucm_resolve_ip),
  RDMA_USER_CM_CMD_RESOLVE_ROUTE: command('RDMA_USER_CM_CMD_RESOLVE_ROUTE', rdma_ucm_resolve_route),
  RDMA_USER_CM_CMD_QUERY_ROUTE: command('RDMA_USER_CM_CMD_QUERY_ROUTE', rdma_ucm_query, rdma_ucm_query_route_resp),
  RDMA_USER_CM_CMD_CONNECT: command('RDMA_USER_CM_CMD_CONNECT', rdma_ucm_connect),
  RDMA_USER_CM_CMD_LISTEN: command('RDMA_USER_CM_CMD_LISTEN', rdma_ucm_listen),
  RDMA_USER_CM_CMD_ACCEPT: command('RDMA_USER_CM_CMD_ACCEPT', rdma_ucm_accept),
  RDMA_USER_CM_CMD_REJECT: command('RDMA_USER_CM_CMD_REJECT', rdma_ucm_reject),
  RDMA_USER_CM_CMD_DISCONNECT: command('RDMA_USER_CM_CMD_DISCONNECT', rdma_ucm_disconnect),
  RDMA_USER_CM_CMD_INIT_QP_ATTR: command('RDMA_USER_CM_CMD_INIT_QP_ATTR', rdma_ucm_init_qp_attr, ib_uverbs_qp_attr),
  RDMA_USER_CM_CMD_GET_EVENT: command('RDMA_USER_CM_CMD_GET_EVENT', rdma_ucm_get_event, rdma_ucm_event_resp),
  RDMA_USER_CM_CMD_SET_OPTION: command('RDMA_USER_CM_CMD_SET_OPTION', rdma_ucm_set_option),
  RDMA_USER_CM_CMD_NOTIFY: command('RDMA_USER_CM_CMD_NOTIFY', rdma_ucm_notify),
  RDMA_USER_CM_CMD_JOIN_IP_MCAST: command(
    'RDMA_USER_CM_CMD_JOIN_IP_MCAST',
    rdma_ucm_join_ip_mcast,
    rdma_ucm_create_id_resp,
  ),
  RDMA_USER_CM_CMD_LEAVE_MCAST: command('RDMA_USER_CM_CMD_LEAVE_MCAST', rdma_ucm_destroy_id, rdma_ucm_destroy_id_resp),
  RDMA_USER_CM_CMD_MIGRATE_ID: command('RDMA_USER_CM_CMD_MIGRATE_ID', rdma_ucm_migrate_id, rdma_ucm_migrate_resp),
  RDMA_USER_CM_CMD_QUERY: command('RDMA_USER_CM_CMD_QUERY', rdma_ucm_query, rdma_ucm_query_addr_resp),
  RDMA_USER_CM_CMD_BIND: command('RDMA_USER_CM_CMD_BIND', rdma_ucm_bind),
  RDMA_USER_CM_CMD_RESOLVE_ADDR: command('RDMA_USER_CM_CMD_RESOLVE_ADDR', rdma_ucm_resolve_addr),
  RDMA_USER_CM_CMD_JOIN_MCAST: command('RDMA_USER_CM_CMD_JOIN_MCAST', rdma_ucm_join_mcast, rdma_ucm_create_id_resp),
  RDMA_USER_CM_CMD_RESOLVE_IB_SERVICE: command('RDMA_USER_CM_CMD_RESOLVE_IB_SERVICE', rdma_ucm_resolve_ib_service),
  RDMA_USER_CM_CMD_WRITE_CM_EVENT: command('RDMA_USER_CM_CMD_WRITE_CM_EVENT', rdma_ucm_write_cm_event),
});

/**
 * Values the uverbs ABI carries but that no uapi header declares: the QP
 * attribute mask and QP states of MODIFY_QP / QUERY_QP, MTU codes, the
 * event types an async event fd reports, and REREG_MR's flags.
 *
 * Source: include/rdma/ib_verbs.h (Linux 7.2), `enum ib_qp_attr_mask`,
 * `enum ib_qp_state`, `enum ib_mtu`, `enum ib_mw_type`,
 * `enum ib_srq_attr_mask`, `enum ib_event_type`, `enum ib_mr_rereg_flags`,
 * `enum ib_port_state`, `enum rdma_link_layer`, `enum ib_send_flags`,
 * `enum ib_wc_status`, `enum ib_wc_opcode`, `enum ib_wc_flags`,
 * `enum ib_atomic_cap`, `enum ib_port_phys_state`, `enum ib_port_width`,
 * `enum ib_port_speed`; the tables are 7.2's. Not in linux-libc-dev; test/kernel-internal-
 * conformance.test.ts proves every value against rdma-core's verbs.h (the
 * numbering userspace sees) and against each kernel's own ib_verbs.h from
 * Debian's linux-headers-*-common, where the older kernels' differences are
 * listed exactly: 6.1 lacks the FLUSH and ATOMIC_WRITE work-completion
 * opcodes and numbers its kernel-only REG_MR / MASKED_* opcodes 8/9/10
 * (never seen by userspace), 6.1 and 6.12 lack
 * IB_EVENT_DEVICE_SPEED_CHANGE, and 6.1 lacks IB_SPEED_XDR.
 */

import { cEnum } from './c-enum.js';

const IB_VERBS_H = 'rdma/ib_verbs.h (kernel-internal)';

export const ib_qp_attr_mask = cEnum('ib_qp_attr_mask', IB_VERBS_H, {
  IB_QP_STATE: 1 << 0,
  IB_QP_CUR_STATE: 1 << 1,
  IB_QP_EN_SQD_ASYNC_NOTIFY: 1 << 2,
  IB_QP_ACCESS_FLAGS: 1 << 3,
  IB_QP_PKEY_INDEX: 1 << 4,
  IB_QP_PORT: 1 << 5,
  IB_QP_QKEY: 1 << 6,
  IB_QP_AV: 1 << 7,
  IB_QP_PATH_MTU: 1 << 8,
  IB_QP_TIMEOUT: 1 << 9,
  IB_QP_RETRY_CNT: 1 << 10,
  IB_QP_RNR_RETRY: 1 << 11,
  IB_QP_RQ_PSN: 1 << 12,
  IB_QP_MAX_QP_RD_ATOMIC: 1 << 13,
  IB_QP_ALT_PATH: 1 << 14,
  IB_QP_MIN_RNR_TIMER: 1 << 15,
  IB_QP_SQ_PSN: 1 << 16,
  IB_QP_MAX_DEST_RD_ATOMIC: 1 << 17,
  IB_QP_PATH_MIG_STATE: 1 << 18,
  IB_QP_CAP: 1 << 19,
  IB_QP_DEST_QPN: 1 << 20,
  IB_QP_RATE_LIMIT: 1 << 25,
});

export const ib_qp_state = cEnum('ib_qp_state', IB_VERBS_H, {
  IB_QPS_RESET: 0,
  IB_QPS_INIT: 1,
  IB_QPS_RTR: 2,
  IB_QPS_RTS: 3,
  IB_QPS_SQD: 4,
  IB_QPS_SQE: 5,
  IB_QPS_ERR: 6,
});

export const ib_mtu = cEnum('ib_mtu', IB_VERBS_H, {
  IB_MTU_256: 1,
  IB_MTU_512: 2,
  IB_MTU_1024: 3,
  IB_MTU_2048: 4,
  IB_MTU_4096: 5,
});

export const ib_mw_type = cEnum('ib_mw_type', IB_VERBS_H, {
  IB_MW_TYPE_1: 1,
  IB_MW_TYPE_2: 2,
});

export const ib_srq_attr_mask = cEnum('ib_srq_attr_mask', IB_VERBS_H, {
  IB_SRQ_MAX_WR: 1 << 0,
  IB_SRQ_LIMIT: 1 << 1,
});

/** What an async event is about (`ib_uverbs_async_event_desc.event_type`). */
export const ib_event_type = cEnum('ib_event_type', IB_VERBS_H, {
  IB_EVENT_CQ_ERR: 0,
  IB_EVENT_QP_FATAL: 1,
  IB_EVENT_QP_REQ_ERR: 2,
  IB_EVENT_QP_ACCESS_ERR: 3,
  IB_EVENT_COMM_EST: 4,
  IB_EVENT_SQ_DRAINED: 5,
  IB_EVENT_PATH_MIG: 6,
  IB_EVENT_PATH_MIG_ERR: 7,
  IB_EVENT_DEVICE_FATAL: 8,
  IB_EVENT_PORT_ACTIVE: 9,
  IB_EVENT_PORT_ERR: 10,
  IB_EVENT_LID_CHANGE: 11,
  IB_EVENT_PKEY_CHANGE: 12,
  IB_EVENT_SM_CHANGE: 13,
  IB_EVENT_SRQ_ERR: 14,
  IB_EVENT_SRQ_LIMIT_REACHED: 15,
  IB_EVENT_QP_LAST_WQE_REACHED: 16,
  IB_EVENT_CLIENT_REREGISTER: 17,
  IB_EVENT_GID_CHANGE: 18,
  IB_EVENT_WQ_FATAL: 19,
  IB_EVENT_DEVICE_SPEED_CHANGE: 20,
});

/** Which parts of an MR a REREG_MR changes (`ib_uverbs_rereg_mr.flags`). */
export const ib_mr_rereg_flags = cEnum('ib_mr_rereg_flags', IB_VERBS_H, {
  IB_MR_REREG_TRANS: 1 << 0,
  IB_MR_REREG_PD: 1 << 1,
  IB_MR_REREG_ACCESS: 1 << 2,
});

/** `ib_uverbs_query_port_resp.state`. */
export const ib_port_state = cEnum('ib_port_state', IB_VERBS_H, {
  IB_PORT_NOP: 0,
  IB_PORT_DOWN: 1,
  IB_PORT_INIT: 2,
  IB_PORT_ARMED: 3,
  IB_PORT_ACTIVE: 4,
  IB_PORT_ACTIVE_DEFER: 5,
});

/** `ib_uverbs_query_port_resp.link_layer`. */
export const rdma_link_layer = cEnum('rdma_link_layer', IB_VERBS_H, {
  IB_LINK_LAYER_UNSPECIFIED: 0,
  IB_LINK_LAYER_INFINIBAND: 1,
  IB_LINK_LAYER_ETHERNET: 2,
});

/**
 * Send flags of a work request (`rxe_send_wr.send_flags`, `ib_uverbs_send_wr.send_flags`);
 * bits 26..31 are the drivers' own.
 */
export const ib_send_flags = cEnum('ib_send_flags', IB_VERBS_H, {
  IB_SEND_FENCE: 1 << 0,
  IB_SEND_SIGNALED: 1 << 1,
  IB_SEND_SOLICITED: 1 << 2,
  IB_SEND_INLINE: 1 << 3,
  IB_SEND_IP_CSUM: 1 << 4,
});

/** `ib_uverbs_wc.status`. */
export const ib_wc_status = cEnum('ib_wc_status', IB_VERBS_H, {
  IB_WC_SUCCESS: 0,
  IB_WC_LOC_LEN_ERR: 1,
  IB_WC_LOC_QP_OP_ERR: 2,
  IB_WC_LOC_EEC_OP_ERR: 3,
  IB_WC_LOC_PROT_ERR: 4,
  IB_WC_WR_FLUSH_ERR: 5,
  IB_WC_MW_BIND_ERR: 6,
  IB_WC_BAD_RESP_ERR: 7,
  IB_WC_LOC_ACCESS_ERR: 8,
  IB_WC_REM_INV_REQ_ERR: 9,
  IB_WC_REM_ACCESS_ERR: 10,
  IB_WC_REM_OP_ERR: 11,
  IB_WC_RETRY_EXC_ERR: 12,
  IB_WC_RNR_RETRY_EXC_ERR: 13,
  IB_WC_LOC_RDD_VIOL_ERR: 14,
  IB_WC_REM_INV_RD_REQ_ERR: 15,
  IB_WC_REM_ABORT_ERR: 16,
  IB_WC_INV_EECN_ERR: 17,
  IB_WC_INV_EEC_STATE_ERR: 18,
  IB_WC_FATAL_ERR: 19,
  IB_WC_RESP_TIMEOUT_ERR: 20,
  IB_WC_GENERAL_ERR: 21,
});

/**
 * `ib_uverbs_wc.opcode`: the send side repeats `enum ib_uverbs_wc_opcode`
 * (uapi); the receive side (bit 7) is only here.
 */
export const ib_wc_opcode = cEnum('ib_wc_opcode', IB_VERBS_H, {
  IB_WC_SEND: 0,
  IB_WC_RDMA_WRITE: 1,
  IB_WC_RDMA_READ: 2,
  IB_WC_COMP_SWAP: 3,
  IB_WC_FETCH_ADD: 4,
  IB_WC_BIND_MW: 5,
  IB_WC_LOCAL_INV: 6,
  IB_WC_LSO: 7,
  IB_WC_FLUSH: 8,
  IB_WC_ATOMIC_WRITE: 9,
  IB_WC_REG_MR: 10,
  IB_WC_MASKED_COMP_SWAP: 11,
  IB_WC_MASKED_FETCH_ADD: 12,
  IB_WC_RECV: 1 << 7,
  IB_WC_RECV_RDMA_WITH_IMM: (1 << 7) + 1,
});

/** `ib_uverbs_wc.wc_flags`. */
export const ib_wc_flags = cEnum('ib_wc_flags', IB_VERBS_H, {
  IB_WC_GRH: 1 << 0,
  IB_WC_WITH_IMM: 1 << 1,
  IB_WC_WITH_INVALIDATE: 1 << 2,
  IB_WC_IP_CSUM_OK: 1 << 3,
  IB_WC_WITH_SMAC: 1 << 4,
  IB_WC_WITH_VLAN: 1 << 5,
  IB_WC_WITH_NETWORK_HDR_TYPE: 1 << 6,
});

/** `ib_uverbs_query_device_resp.atomic_cap`. */
export const ib_atomic_cap = cEnum('ib_atomic_cap', IB_VERBS_H, {
  IB_ATOMIC_NONE: 0,
  IB_ATOMIC_HCA: 1,
  IB_ATOMIC_GLOB: 2,
});

/** `ib_uverbs_query_port_resp.phys_state`. */
export const ib_port_phys_state = cEnum('ib_port_phys_state', IB_VERBS_H, {
  IB_PORT_PHYS_STATE_SLEEP: 1,
  IB_PORT_PHYS_STATE_POLLING: 2,
  IB_PORT_PHYS_STATE_DISABLED: 3,
  IB_PORT_PHYS_STATE_PORT_CONFIGURATION_TRAINING: 4,
  IB_PORT_PHYS_STATE_LINK_UP: 5,
  IB_PORT_PHYS_STATE_LINK_ERROR_RECOVERY: 6,
  IB_PORT_PHYS_STATE_PHY_TEST: 7,
});

/** `ib_uverbs_query_port_resp.active_width`: a bit per width, not the lane count. */
export const ib_port_width = cEnum('ib_port_width', IB_VERBS_H, {
  IB_WIDTH_1X: 1,
  IB_WIDTH_2X: 16,
  IB_WIDTH_4X: 2,
  IB_WIDTH_8X: 4,
  IB_WIDTH_12X: 8,
});

/**
 * `ib_uverbs_query_port_resp.active_speed` (u8) and `active_speed_ex`
 * (u32, from 6.12); the per-lane signalling rate. XDR is newer than 6.1 and
 * only fits `active_speed_ex`.
 */
export const ib_port_speed = cEnum('ib_port_speed', IB_VERBS_H, {
  IB_SPEED_SDR: 1,
  IB_SPEED_DDR: 2,
  IB_SPEED_QDR: 4,
  IB_SPEED_FDR10: 8,
  IB_SPEED_FDR: 16,
  IB_SPEED_EDR: 32,
  IB_SPEED_HDR: 64,
  IB_SPEED_NDR: 128,
  IB_SPEED_XDR: 256,
});

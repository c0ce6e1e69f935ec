/**
 * uverbs constants: write commands, opcodes, flags, capability bits, driver ids.
 *
 * Sources: include/uapi/rdma/ib_user_verbs.h, ib_user_ioctl_verbs.h,
 * rdma_user_ioctl_cmds.h, ib_user_ioctl_cmds.h. Every value is explicit and
 * proven against each uapi release (test/layout-conformance.test.ts).
 * 64-bit flag sets are bigint.
 */

import { cEnum } from './c-enum.js';

/** #defines of rdma_user_ioctl_cmds.h. */
export const rdma_user_ioctl_defines = cEnum('#define', 'rdma/rdma_user_ioctl_cmds.h', {
  RDMA_IOCTL_MAGIC: 0x1b,
  /** _IOWR(RDMA_IOCTL_MAGIC, 1, struct ib_uverbs_ioctl_hdr) */
  RDMA_VERBS_IOCTL: 0xc0181b01,
});

/** #defines of ib_user_ioctl_cmds.h. */
export const ib_user_ioctl_defines = cEnum('#define', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ID_NS_MASK: 0xf000,
  UVERBS_ID_NS_SHIFT: 12,
});

/** #defines of ib_user_verbs.h. */
export const ib_user_verbs_defines = cEnum('#define', 'rdma/ib_user_verbs.h', {
  IB_USER_VERBS_ABI_VERSION: 6,
  IB_USER_VERBS_CMD_THRESHOLD: 50,
  IB_USER_VERBS_CMD_COMMAND_MASK: 0xff,
  IB_USER_VERBS_CMD_FLAG_EXTENDED: 0x80000000,
});

/** Anonymous enum: extended (write-ex) command numbers. */
export const ib_uverbs_ex_write_cmds = cEnum('ib_uverbs_ex_write_cmds', 'rdma/ib_user_verbs.h', {
  IB_USER_VERBS_EX_CMD_QUERY_DEVICE: 1,
  IB_USER_VERBS_EX_CMD_CREATE_CQ: 18,
  IB_USER_VERBS_EX_CMD_CREATE_QP: 24,
  IB_USER_VERBS_EX_CMD_MODIFY_QP: 26,
  IB_USER_VERBS_EX_CMD_CREATE_FLOW: 50,
  IB_USER_VERBS_EX_CMD_DESTROY_FLOW: 51,
  IB_USER_VERBS_EX_CMD_CREATE_WQ: 52,
  IB_USER_VERBS_EX_CMD_MODIFY_WQ: 53,
  IB_USER_VERBS_EX_CMD_DESTROY_WQ: 54,
  IB_USER_VERBS_EX_CMD_CREATE_RWQ_IND_TBL: 55,
  IB_USER_VERBS_EX_CMD_DESTROY_RWQ_IND_TBL: 56,
  IB_USER_VERBS_EX_CMD_MODIFY_CQ: 57,
});

export const ib_uverbs_write_cmds = cEnum('ib_uverbs_write_cmds', 'rdma/ib_user_verbs.h', {
  IB_USER_VERBS_CMD_GET_CONTEXT: 0,
  IB_USER_VERBS_CMD_QUERY_DEVICE: 1,
  IB_USER_VERBS_CMD_QUERY_PORT: 2,
  IB_USER_VERBS_CMD_ALLOC_PD: 3,
  IB_USER_VERBS_CMD_DEALLOC_PD: 4,
  IB_USER_VERBS_CMD_CREATE_AH: 5,
  IB_USER_VERBS_CMD_MODIFY_AH: 6,
  IB_USER_VERBS_CMD_QUERY_AH: 7,
  IB_USER_VERBS_CMD_DESTROY_AH: 8,
  IB_USER_VERBS_CMD_REG_MR: 9,
  IB_USER_VERBS_CMD_REG_SMR: 10,
  IB_USER_VERBS_CMD_REREG_MR: 11,
  IB_USER_VERBS_CMD_QUERY_MR: 12,
  IB_USER_VERBS_CMD_DEREG_MR: 13,
  IB_USER_VERBS_CMD_ALLOC_MW: 14,
  IB_USER_VERBS_CMD_BIND_MW: 15,
  IB_USER_VERBS_CMD_DEALLOC_MW: 16,
  IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL: 17,
  IB_USER_VERBS_CMD_CREATE_CQ: 18,
  IB_USER_VERBS_CMD_RESIZE_CQ: 19,
  IB_USER_VERBS_CMD_DESTROY_CQ: 20,
  IB_USER_VERBS_CMD_POLL_CQ: 21,
  IB_USER_VERBS_CMD_PEEK_CQ: 22,
  IB_USER_VERBS_CMD_REQ_NOTIFY_CQ: 23,
  IB_USER_VERBS_CMD_CREATE_QP: 24,
  IB_USER_VERBS_CMD_QUERY_QP: 25,
  IB_USER_VERBS_CMD_MODIFY_QP: 26,
  IB_USER_VERBS_CMD_DESTROY_QP: 27,
  IB_USER_VERBS_CMD_POST_SEND: 28,
  IB_USER_VERBS_CMD_POST_RECV: 29,
  IB_USER_VERBS_CMD_ATTACH_MCAST: 30,
  IB_USER_VERBS_CMD_DETACH_MCAST: 31,
  IB_USER_VERBS_CMD_CREATE_SRQ: 32,
  IB_USER_VERBS_CMD_MODIFY_SRQ: 33,
  IB_USER_VERBS_CMD_QUERY_SRQ: 34,
  IB_USER_VERBS_CMD_DESTROY_SRQ: 35,
  IB_USER_VERBS_CMD_POST_SRQ_RECV: 36,
  IB_USER_VERBS_CMD_OPEN_XRCD: 37,
  IB_USER_VERBS_CMD_CLOSE_XRCD: 38,
  IB_USER_VERBS_CMD_CREATE_XSRQ: 39,
  IB_USER_VERBS_CMD_OPEN_QP: 40,
});

export const ib_uverbs_wc_opcode = cEnum(
  'ib_uverbs_wc_opcode',
  'rdma/ib_user_verbs.h',
  {
    IB_UVERBS_WC_SEND: 0,
    IB_UVERBS_WC_RDMA_WRITE: 1,
    IB_UVERBS_WC_RDMA_READ: 2,
    IB_UVERBS_WC_COMP_SWAP: 3,
    IB_UVERBS_WC_FETCH_ADD: 4,
    IB_UVERBS_WC_BIND_MW: 5,
    IB_UVERBS_WC_LOCAL_INV: 6,
    IB_UVERBS_WC_TSO: 7,
    IB_UVERBS_WC_FLUSH: 8,
    IB_UVERBS_WC_ATOMIC_WRITE: 9,
  },
  { since: { IB_UVERBS_WC_FLUSH: '6.12', IB_UVERBS_WC_ATOMIC_WRITE: '6.12' } },
);

export const ib_uverbs_wr_opcode = cEnum(
  'ib_uverbs_wr_opcode',
  'rdma/ib_user_verbs.h',
  {
    IB_UVERBS_WR_RDMA_WRITE: 0,
    IB_UVERBS_WR_RDMA_WRITE_WITH_IMM: 1,
    IB_UVERBS_WR_SEND: 2,
    IB_UVERBS_WR_SEND_WITH_IMM: 3,
    IB_UVERBS_WR_RDMA_READ: 4,
    IB_UVERBS_WR_ATOMIC_CMP_AND_SWP: 5,
    IB_UVERBS_WR_ATOMIC_FETCH_AND_ADD: 6,
    IB_UVERBS_WR_LOCAL_INV: 7,
    IB_UVERBS_WR_BIND_MW: 8,
    IB_UVERBS_WR_SEND_WITH_INV: 9,
    IB_UVERBS_WR_TSO: 10,
    IB_UVERBS_WR_RDMA_READ_WITH_INV: 11,
    IB_UVERBS_WR_MASKED_ATOMIC_CMP_AND_SWP: 12,
    IB_UVERBS_WR_MASKED_ATOMIC_FETCH_AND_ADD: 13,
    IB_UVERBS_WR_FLUSH: 14,
    IB_UVERBS_WR_ATOMIC_WRITE: 15,
  },
  { since: { IB_UVERBS_WR_FLUSH: '6.12', IB_UVERBS_WR_ATOMIC_WRITE: '6.12' } },
);

export const ib_uverbs_device_cap_flags = cEnum(
  'ib_uverbs_device_cap_flags',
  'rdma/ib_user_verbs.h',
  {
    IB_UVERBS_DEVICE_RESIZE_MAX_WR: 0x1n,
    IB_UVERBS_DEVICE_BAD_PKEY_CNTR: 0x2n,
    IB_UVERBS_DEVICE_BAD_QKEY_CNTR: 0x4n,
    IB_UVERBS_DEVICE_RAW_MULTI: 0x8n,
    IB_UVERBS_DEVICE_AUTO_PATH_MIG: 0x10n,
    IB_UVERBS_DEVICE_CHANGE_PHY_PORT: 0x20n,
    IB_UVERBS_DEVICE_UD_AV_PORT_ENFORCE: 0x40n,
    IB_UVERBS_DEVICE_CURR_QP_STATE_MOD: 0x80n,
    IB_UVERBS_DEVICE_SHUTDOWN_PORT: 0x100n,
    IB_UVERBS_DEVICE_PORT_ACTIVE_EVENT: 0x400n,
    IB_UVERBS_DEVICE_SYS_IMAGE_GUID: 0x800n,
    IB_UVERBS_DEVICE_RC_RNR_NAK_GEN: 0x1000n,
    IB_UVERBS_DEVICE_SRQ_RESIZE: 0x2000n,
    IB_UVERBS_DEVICE_N_NOTIFY_CQ: 0x4000n,
    IB_UVERBS_DEVICE_MEM_WINDOW: 0x20000n,
    IB_UVERBS_DEVICE_UD_IP_CSUM: 0x40000n,
    IB_UVERBS_DEVICE_XRC: 0x100000n,
    IB_UVERBS_DEVICE_MEM_MGT_EXTENSIONS: 0x200000n,
    IB_UVERBS_DEVICE_MEM_WINDOW_TYPE_2A: 0x800000n,
    IB_UVERBS_DEVICE_MEM_WINDOW_TYPE_2B: 0x1000000n,
    IB_UVERBS_DEVICE_RC_IP_CSUM: 0x2000000n,
    IB_UVERBS_DEVICE_RAW_IP_CSUM: 0x4000000n,
    IB_UVERBS_DEVICE_MANAGED_FLOW_STEERING: 0x20000000n,
    IB_UVERBS_DEVICE_RAW_SCATTER_FCS: 0x400000000n,
    IB_UVERBS_DEVICE_PCI_WRITE_END_PADDING: 0x1000000000n,
    IB_UVERBS_DEVICE_FLUSH_GLOBAL: 0x4000000000n,
    IB_UVERBS_DEVICE_FLUSH_PERSISTENT: 0x8000000000n,
    IB_UVERBS_DEVICE_ATOMIC_WRITE: 0x10000000000n,
    IB_UVERBS_DEVICE_CC_DMA_BOUNCE: 0x20000000000n,
  },
  {
    since: {
      IB_UVERBS_DEVICE_FLUSH_GLOBAL: '6.12',
      IB_UVERBS_DEVICE_FLUSH_PERSISTENT: '6.12',
      IB_UVERBS_DEVICE_ATOMIC_WRITE: '6.12',
      IB_UVERBS_DEVICE_CC_DMA_BOUNCE: '7.2',
    },
  },
);

export const ib_uverbs_raw_packet_caps = cEnum('ib_uverbs_raw_packet_caps', 'rdma/ib_user_verbs.h', {
  IB_UVERBS_RAW_PACKET_CAP_CVLAN_STRIPPING: 1,
  IB_UVERBS_RAW_PACKET_CAP_SCATTER_FCS: 2,
  IB_UVERBS_RAW_PACKET_CAP_IP_CSUM: 4,
  IB_UVERBS_RAW_PACKET_CAP_DELAY_DROP: 8,
});

export const ib_uverbs_ex_create_cq_flags = cEnum('ib_uverbs_ex_create_cq_flags', 'rdma/ib_user_verbs.h', {
  IB_UVERBS_CQ_FLAGS_TIMESTAMP_COMPLETION: 1,
  IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN: 2,
});

export const ib_uverbs_create_qp_mask = cEnum('ib_uverbs_create_qp_mask', 'rdma/ib_user_verbs.h', {
  IB_UVERBS_CREATE_QP_MASK_IND_TABLE: 1,
});

export const ib_placement_type = cEnum(
  'ib_placement_type',
  'rdma/ib_user_verbs.h',
  {
    IB_FLUSH_GLOBAL: 1,
    IB_FLUSH_PERSISTENT: 2,
  },
  { since: { IB_FLUSH_GLOBAL: '6.12', IB_FLUSH_PERSISTENT: '6.12' } },
);

export const ib_selectivity_level = cEnum(
  'ib_selectivity_level',
  'rdma/ib_user_verbs.h',
  {
    IB_FLUSH_RANGE: 0,
    IB_FLUSH_MR: 1,
  },
  { since: { IB_FLUSH_RANGE: '6.12', IB_FLUSH_MR: '6.12' } },
);

export const ib_uverbs_odp_general_cap_bits = cEnum(
  'ib_uverbs_odp_general_cap_bits',
  'rdma/ib_user_verbs.h',
  {
    IB_UVERBS_ODP_SUPPORT: 1,
    IB_UVERBS_ODP_SUPPORT_IMPLICIT: 2,
  },
  { since: { IB_UVERBS_ODP_SUPPORT: '7.2', IB_UVERBS_ODP_SUPPORT_IMPLICIT: '7.2' } },
);

export const ib_uverbs_odp_transport_cap_bits = cEnum(
  'ib_uverbs_odp_transport_cap_bits',
  'rdma/ib_user_verbs.h',
  {
    IB_UVERBS_ODP_SUPPORT_SEND: 1,
    IB_UVERBS_ODP_SUPPORT_RECV: 2,
    IB_UVERBS_ODP_SUPPORT_WRITE: 4,
    IB_UVERBS_ODP_SUPPORT_READ: 8,
    IB_UVERBS_ODP_SUPPORT_ATOMIC: 16,
    IB_UVERBS_ODP_SUPPORT_SRQ_RECV: 32,
    IB_UVERBS_ODP_SUPPORT_FLUSH: 64,
    IB_UVERBS_ODP_SUPPORT_ATOMIC_WRITE: 128,
  },
  {
    since: {
      IB_UVERBS_ODP_SUPPORT_SEND: '7.2',
      IB_UVERBS_ODP_SUPPORT_RECV: '7.2',
      IB_UVERBS_ODP_SUPPORT_WRITE: '7.2',
      IB_UVERBS_ODP_SUPPORT_READ: '7.2',
      IB_UVERBS_ODP_SUPPORT_ATOMIC: '7.2',
      IB_UVERBS_ODP_SUPPORT_SRQ_RECV: '7.2',
      IB_UVERBS_ODP_SUPPORT_FLUSH: '7.2',
      IB_UVERBS_ODP_SUPPORT_ATOMIC_WRITE: '7.2',
    },
  },
);

export const ib_uverbs_core_support = cEnum(
  'ib_uverbs_core_support',
  'rdma/ib_user_ioctl_verbs.h',
  {
    IB_UVERBS_CORE_SUPPORT_OPTIONAL_MR_ACCESS: 1,
    IB_UVERBS_CORE_SUPPORT_ROBUST_UDATA: 2,
  },
  { since: { IB_UVERBS_CORE_SUPPORT_ROBUST_UDATA: '7.2' } },
);

export const ib_uverbs_access_flags = cEnum(
  'ib_uverbs_access_flags',
  'rdma/ib_user_ioctl_verbs.h',
  {
    IB_UVERBS_ACCESS_LOCAL_WRITE: 1,
    IB_UVERBS_ACCESS_REMOTE_WRITE: 2,
    IB_UVERBS_ACCESS_REMOTE_READ: 4,
    IB_UVERBS_ACCESS_REMOTE_ATOMIC: 8,
    IB_UVERBS_ACCESS_MW_BIND: 16,
    IB_UVERBS_ACCESS_ZERO_BASED: 32,
    IB_UVERBS_ACCESS_ON_DEMAND: 64,
    IB_UVERBS_ACCESS_HUGETLB: 128,
    IB_UVERBS_ACCESS_FLUSH_GLOBAL: 256,
    IB_UVERBS_ACCESS_FLUSH_PERSISTENT: 512,
    IB_UVERBS_ACCESS_RELAXED_ORDERING: 1048576,
    IB_UVERBS_ACCESS_OPTIONAL_RANGE: 1072693248,
  },
  { since: { IB_UVERBS_ACCESS_FLUSH_GLOBAL: '6.12', IB_UVERBS_ACCESS_FLUSH_PERSISTENT: '6.12' } },
);

export const ib_uverbs_srq_type = cEnum('ib_uverbs_srq_type', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_SRQT_BASIC: 0,
  IB_UVERBS_SRQT_XRC: 1,
  IB_UVERBS_SRQT_TM: 2,
});

export const ib_uverbs_qp_type = cEnum('ib_uverbs_qp_type', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_QPT_RC: 2,
  IB_UVERBS_QPT_UC: 3,
  IB_UVERBS_QPT_UD: 4,
  IB_UVERBS_QPT_RAW_PACKET: 8,
  IB_UVERBS_QPT_XRC_INI: 9,
  IB_UVERBS_QPT_XRC_TGT: 10,
  IB_UVERBS_QPT_DRIVER: 255,
});

export const ib_uverbs_qp_create_flags = cEnum('ib_uverbs_qp_create_flags', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_QP_CREATE_BLOCK_MULTICAST_LOOPBACK: 2,
  IB_UVERBS_QP_CREATE_SCATTER_FCS: 256,
  IB_UVERBS_QP_CREATE_CVLAN_STRIPPING: 512,
  IB_UVERBS_QP_CREATE_PCI_WRITE_END_PADDING: 2048,
  IB_UVERBS_QP_CREATE_SQ_SIG_ALL: 4096,
});

export const ib_uverbs_query_port_cap_flags = cEnum('ib_uverbs_query_port_cap_flags', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_PCF_SM: 2,
  IB_UVERBS_PCF_NOTICE_SUP: 4,
  IB_UVERBS_PCF_TRAP_SUP: 8,
  IB_UVERBS_PCF_OPT_IPD_SUP: 16,
  IB_UVERBS_PCF_AUTO_MIGR_SUP: 32,
  IB_UVERBS_PCF_SL_MAP_SUP: 64,
  IB_UVERBS_PCF_MKEY_NVRAM: 128,
  IB_UVERBS_PCF_PKEY_NVRAM: 256,
  IB_UVERBS_PCF_LED_INFO_SUP: 512,
  IB_UVERBS_PCF_SM_DISABLED: 1024,
  IB_UVERBS_PCF_SYS_IMAGE_GUID_SUP: 2048,
  IB_UVERBS_PCF_PKEY_SW_EXT_PORT_TRAP_SUP: 4096,
  IB_UVERBS_PCF_EXTENDED_SPEEDS_SUP: 16384,
  IB_UVERBS_PCF_CM_SUP: 65536,
  IB_UVERBS_PCF_SNMP_TUNNEL_SUP: 131072,
  IB_UVERBS_PCF_REINIT_SUP: 262144,
  IB_UVERBS_PCF_DEVICE_MGMT_SUP: 524288,
  IB_UVERBS_PCF_VENDOR_CLASS_SUP: 1048576,
  IB_UVERBS_PCF_DR_NOTICE_SUP: 2097152,
  IB_UVERBS_PCF_CAP_MASK_NOTICE_SUP: 4194304,
  IB_UVERBS_PCF_BOOT_MGMT_SUP: 8388608,
  IB_UVERBS_PCF_LINK_LATENCY_SUP: 16777216,
  IB_UVERBS_PCF_CLIENT_REG_SUP: 33554432,
  IB_UVERBS_PCF_LINK_SPEED_WIDTH_TABLE_SUP: 134217728,
  IB_UVERBS_PCF_VENDOR_SPECIFIC_MADS_TABLE_SUP: 268435456,
  IB_UVERBS_PCF_MCAST_PKEY_TRAP_SUPPRESSION_SUP: 536870912,
  IB_UVERBS_PCF_MCAST_FDB_TOP_SUP: 1073741824,
  IB_UVERBS_PCF_HIERARCHY_INFO_SUP: 0x80000000,
  IB_UVERBS_PCF_IP_BASED_GIDS: 67108864,
});

export const ib_uverbs_query_port_flags = cEnum('ib_uverbs_query_port_flags', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_QPF_GRH_REQUIRED: 1,
});

export const ib_uverbs_advise_mr_advice = cEnum('ib_uverbs_advise_mr_advice', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH: 0,
  IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH_WRITE: 1,
  IB_UVERBS_ADVISE_MR_ADVICE_PREFETCH_NO_FAULT: 2,
});

export const ib_uverbs_advise_mr_flag = cEnum('ib_uverbs_advise_mr_flag', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_ADVISE_MR_FLAG_FLUSH: 1,
});

export const rdma_driver_id = cEnum(
  'rdma_driver_id',
  'rdma/ib_user_ioctl_verbs.h',
  {
    RDMA_DRIVER_UNKNOWN: 0,
    RDMA_DRIVER_MLX5: 1,
    RDMA_DRIVER_MLX4: 2,
    RDMA_DRIVER_CXGB3: 3,
    RDMA_DRIVER_CXGB4: 4,
    RDMA_DRIVER_MTHCA: 5,
    RDMA_DRIVER_BNXT_RE: 6,
    RDMA_DRIVER_OCRDMA: 7,
    RDMA_DRIVER_NES: 8,
    RDMA_DRIVER_I40IW: 9,
    RDMA_DRIVER_IRDMA: 9,
    RDMA_DRIVER_VMW_PVRDMA: 10,
    RDMA_DRIVER_QEDR: 11,
    RDMA_DRIVER_HNS: 12,
    RDMA_DRIVER_USNIC: 13,
    RDMA_DRIVER_RXE: 14,
    RDMA_DRIVER_HFI1: 15,
    RDMA_DRIVER_QIB: 16,
    RDMA_DRIVER_EFA: 17,
    RDMA_DRIVER_SIW: 18,
    RDMA_DRIVER_ERDMA: 19,
    RDMA_DRIVER_MANA: 20,
    RDMA_DRIVER_IONIC: 21,
  },
  { since: { RDMA_DRIVER_MANA: '6.12', RDMA_DRIVER_IONIC: '7.2' } },
);

export const ib_uverbs_gid_type = cEnum('ib_uverbs_gid_type', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_GID_TYPE_IB: 0,
  IB_UVERBS_GID_TYPE_ROCE_V1: 1,
  IB_UVERBS_GID_TYPE_ROCE_V2: 2,
});

export const ib_uverbs_buffer_type = cEnum(
  'ib_uverbs_buffer_type',
  'rdma/ib_user_ioctl_verbs.h',
  {
    IB_UVERBS_BUFFER_TYPE_DMABUF: 0,
    IB_UVERBS_BUFFER_TYPE_VA: 1,
  },
  { since: { IB_UVERBS_BUFFER_TYPE_DMABUF: '7.2', IB_UVERBS_BUFFER_TYPE_VA: '7.2' } },
);

export const ib_uverbs_read_counters_flags = cEnum('ib_uverbs_read_counters_flags', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_READ_COUNTERS_PREFER_CACHED: 1,
});

export const ib_uverbs_wq_type = cEnum('ib_uverbs_wq_type', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_WQT_RQ: 0,
});

export const ib_uverbs_wq_flags = cEnum('ib_uverbs_wq_flags', 'rdma/ib_user_ioctl_verbs.h', {
  IB_UVERBS_WQ_FLAGS_CVLAN_STRIPPING: 1,
  IB_UVERBS_WQ_FLAGS_SCATTER_FCS: 2,
  IB_UVERBS_WQ_FLAGS_DELAY_DROP: 4,
  IB_UVERBS_WQ_FLAGS_PCI_WRITE_END_PADDING: 8,
});

/** Anonymous enum: ib_uverbs_attr.flags bits. */
export const uverbs_attr_flags = cEnum('uverbs_attr_flags', 'rdma/rdma_user_ioctl_cmds.h', {
  UVERBS_ATTR_F_MANDATORY: 1,
  UVERBS_ATTR_F_VALID_OUTPUT: 2,
});

/** siw's #defines: its ABI version, SGEs per WQE, and the mmap key that means "no ring". */
export const siw_abi_defines = cEnum('siw_abi_defines', 'rdma/siw-abi.h', {
  SIW_ABI_VERSION: 1,
  SIW_MAX_SGE: 6,
  SIW_UOBJ_MAX_KEY: 0x08ffff,
  SIW_INVAL_UOBJ_KEY: 0x090000,
});

/** `siw_sqe.opcode` / `siw_cqe.opcode` (siw's own opcodes; the library maps the uverbs ones onto them). */
export const siw_opcode = cEnum('siw_opcode', 'rdma/siw-abi.h', {
  SIW_OP_WRITE: 0,
  SIW_OP_READ: 1,
  SIW_OP_READ_LOCAL_INV: 2,
  SIW_OP_SEND: 3,
  SIW_OP_SEND_WITH_IMM: 4,
  SIW_OP_SEND_REMOTE_INV: 5,
  SIW_OP_FETCH_AND_ADD: 6,
  SIW_OP_COMP_AND_SWAP: 7,
  SIW_OP_RECEIVE: 8,
  SIW_OP_READ_RESPONSE: 9,
  SIW_OP_INVAL_STAG: 10,
  SIW_OP_REG_MR: 11,
  SIW_NUM_OPCODES: 12,
});

/** The flags of a siw SQE, RQE or CQE: VALID says who owns the slot. */
export const siw_wqe_flags = cEnum('siw_wqe_flags', 'rdma/siw-abi.h', {
  SIW_WQE_VALID: 1,
  SIW_WQE_INLINE: 1 << 1,
  SIW_WQE_SIGNALLED: 1 << 2,
  SIW_WQE_SOLICITED: 1 << 3,
  SIW_WQE_READ_FENCE: 1 << 4,
  SIW_WQE_REM_INVAL: 1 << 5,
  SIW_WQE_COMPLETED: 1 << 6,
});

/** `siw_cq_ctrl.flags`: how a CQ is armed. */
export const siw_notify_flags = cEnum('siw_notify_flags', 'rdma/siw-abi.h', {
  SIW_NOTIFY_NOT: 0,
  SIW_NOTIFY_SOLICITED: 1 << 0,
  SIW_NOTIFY_NEXT_COMPLETION: 1 << 1,
  SIW_NOTIFY_MISSED_EVENTS: 1 << 2,
  SIW_NOTIFY_ALL: 7,
});

/** `siw_cqe.status`. */
export const siw_wc_status = cEnum('siw_wc_status', 'rdma/siw-abi.h', {
  SIW_WC_SUCCESS: 0,
  SIW_WC_LOC_LEN_ERR: 1,
  SIW_WC_LOC_PROT_ERR: 2,
  SIW_WC_LOC_QP_OP_ERR: 3,
  SIW_WC_WR_FLUSH_ERR: 4,
  SIW_WC_BAD_RESP_ERR: 5,
  SIW_WC_LOC_ACCESS_ERR: 6,
  SIW_WC_REM_ACCESS_ERR: 7,
  SIW_WC_REM_INV_REQ_ERR: 8,
  SIW_WC_GENERAL_ERR: 9,
  SIW_NUM_WC_STATUS: 10,
});

/**
 * uverbs ioctl ids: objects, methods and attributes.
 *
 * Source: include/uapi/rdma/ib_user_ioctl_cmds.h. The kernel declares these
 * as implicit enum positions; here every value is written out and proven
 * against each uapi release (test/layout-conformance.test.ts).
 */

import { cEnum } from './c-enum.js';

export const uverbs_default_objects = cEnum(
  'uverbs_default_objects',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_OBJECT_DEVICE: 0,
    UVERBS_OBJECT_PD: 1,
    UVERBS_OBJECT_COMP_CHANNEL: 2,
    UVERBS_OBJECT_CQ: 3,
    UVERBS_OBJECT_QP: 4,
    UVERBS_OBJECT_SRQ: 5,
    UVERBS_OBJECT_AH: 6,
    UVERBS_OBJECT_MR: 7,
    UVERBS_OBJECT_MW: 8,
    UVERBS_OBJECT_FLOW: 9,
    UVERBS_OBJECT_XRCD: 10,
    UVERBS_OBJECT_RWQ_IND_TBL: 11,
    UVERBS_OBJECT_WQ: 12,
    UVERBS_OBJECT_FLOW_ACTION: 13,
    UVERBS_OBJECT_DM: 14,
    UVERBS_OBJECT_COUNTERS: 15,
    UVERBS_OBJECT_ASYNC_EVENT: 16,
    UVERBS_OBJECT_DMAH: 17,
    UVERBS_OBJECT_DMABUF: 18,
  },
  { since: { UVERBS_OBJECT_DMAH: '7.2', UVERBS_OBJECT_DMABUF: '7.2' } },
);

/** Anonymous enum: the driver namespace and the UHW attribute ids inside it. */
export const uverbs_driver_ns_ids = cEnum(
  'uverbs_driver_ns_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ID_DRIVER_NS: 4096,
    UVERBS_ATTR_UHW_IN: 4096,
    UVERBS_ATTR_UHW_OUT: 4097,
    UVERBS_ID_DRIVER_NS_WITH_UHW: 4098,
  },
  { since: { UVERBS_ID_DRIVER_NS: '6.12', UVERBS_ID_DRIVER_NS_WITH_UHW: '6.12' } },
);

export const uverbs_methods_device = cEnum(
  'uverbs_methods_device',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_METHOD_INVOKE_WRITE: 0,
    UVERBS_METHOD_INFO_HANDLES: 1,
    UVERBS_METHOD_QUERY_PORT: 2,
    UVERBS_METHOD_GET_CONTEXT: 3,
    UVERBS_METHOD_QUERY_CONTEXT: 4,
    UVERBS_METHOD_QUERY_GID_TABLE: 5,
    UVERBS_METHOD_QUERY_GID_ENTRY: 6,
    UVERBS_METHOD_QUERY_PORT_SPEED: 7,
  },
  { since: { UVERBS_METHOD_QUERY_PORT_SPEED: '7.2' } },
);

export const uverbs_attrs_invoke_write_cmd_attr_ids = cEnum(
  'uverbs_attrs_invoke_write_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_CORE_IN: 0,
    UVERBS_ATTR_CORE_OUT: 1,
    UVERBS_ATTR_WRITE_CMD: 2,
  },
);

export const uverbs_attrs_query_port_cmd_attr_ids = cEnum(
  'uverbs_attrs_query_port_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_QUERY_PORT_PORT_NUM: 0,
    UVERBS_ATTR_QUERY_PORT_RESP: 1,
  },
);

export const uverbs_attrs_query_port_speed_cmd_attr_ids = cEnum(
  'uverbs_attrs_query_port_speed_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_QUERY_PORT_SPEED_PORT_NUM: 0,
    UVERBS_ATTR_QUERY_PORT_SPEED_RESP: 1,
  },
  { since: { UVERBS_ATTR_QUERY_PORT_SPEED_PORT_NUM: '7.2', UVERBS_ATTR_QUERY_PORT_SPEED_RESP: '7.2' } },
);

export const uverbs_attrs_get_context_attr_ids = cEnum(
  'uverbs_attrs_get_context_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS: 0,
    UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT: 1,
    UVERBS_ATTR_GET_CONTEXT_FD_ARR: 2,
  },
  { since: { UVERBS_ATTR_GET_CONTEXT_FD_ARR: '7.2' } },
);

export const uverbs_attrs_query_context_attr_ids = cEnum(
  'uverbs_attrs_query_context_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_QUERY_CONTEXT_NUM_COMP_VECTORS: 0,
    UVERBS_ATTR_QUERY_CONTEXT_CORE_SUPPORT: 1,
  },
);

export const uverbs_attrs_create_cq_cmd_attr_ids = cEnum(
  'uverbs_attrs_create_cq_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_CREATE_CQ_HANDLE: 0,
    UVERBS_ATTR_CREATE_CQ_CQE: 1,
    UVERBS_ATTR_CREATE_CQ_USER_HANDLE: 2,
    UVERBS_ATTR_CREATE_CQ_COMP_CHANNEL: 3,
    UVERBS_ATTR_CREATE_CQ_COMP_VECTOR: 4,
    UVERBS_ATTR_CREATE_CQ_FLAGS: 5,
    UVERBS_ATTR_CREATE_CQ_RESP_CQE: 6,
    UVERBS_ATTR_CREATE_CQ_EVENT_FD: 7,
    UVERBS_ATTR_CREATE_CQ_BUFFER_VA: 8,
    UVERBS_ATTR_CREATE_CQ_BUFFER_LENGTH: 9,
    UVERBS_ATTR_CREATE_CQ_BUFFER_FD: 10,
    UVERBS_ATTR_CREATE_CQ_BUFFER_OFFSET: 11,
    UVERBS_ATTR_CREATE_CQ_BUF_UMEM: 12,
  },
  {
    since: {
      UVERBS_ATTR_CREATE_CQ_BUFFER_VA: '7.2',
      UVERBS_ATTR_CREATE_CQ_BUFFER_LENGTH: '7.2',
      UVERBS_ATTR_CREATE_CQ_BUFFER_FD: '7.2',
      UVERBS_ATTR_CREATE_CQ_BUFFER_OFFSET: '7.2',
      UVERBS_ATTR_CREATE_CQ_BUF_UMEM: '7.2',
    },
  },
);

export const uverbs_attrs_destroy_cq_cmd_attr_ids = cEnum(
  'uverbs_attrs_destroy_cq_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_DESTROY_CQ_HANDLE: 0,
    UVERBS_ATTR_DESTROY_CQ_RESP: 1,
  },
);

export const uverbs_methods_cq = cEnum('uverbs_methods_cq', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_CQ_CREATE: 0,
  UVERBS_METHOD_CQ_DESTROY: 1,
});

export const uverbs_attrs_create_qp_cmd_attr_ids = cEnum(
  'uverbs_attrs_create_qp_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_CREATE_QP_HANDLE: 0,
    UVERBS_ATTR_CREATE_QP_XRCD_HANDLE: 1,
    UVERBS_ATTR_CREATE_QP_PD_HANDLE: 2,
    UVERBS_ATTR_CREATE_QP_SRQ_HANDLE: 3,
    UVERBS_ATTR_CREATE_QP_SEND_CQ_HANDLE: 4,
    UVERBS_ATTR_CREATE_QP_RECV_CQ_HANDLE: 5,
    UVERBS_ATTR_CREATE_QP_IND_TABLE_HANDLE: 6,
    UVERBS_ATTR_CREATE_QP_USER_HANDLE: 7,
    UVERBS_ATTR_CREATE_QP_CAP: 8,
    UVERBS_ATTR_CREATE_QP_TYPE: 9,
    UVERBS_ATTR_CREATE_QP_FLAGS: 10,
    UVERBS_ATTR_CREATE_QP_SOURCE_QPN: 11,
    UVERBS_ATTR_CREATE_QP_EVENT_FD: 12,
    UVERBS_ATTR_CREATE_QP_RESP_CAP: 13,
    UVERBS_ATTR_CREATE_QP_RESP_QP_NUM: 14,
    UVERBS_ATTR_CREATE_QP_BUF_UMEM: 15,
    UVERBS_ATTR_CREATE_QP_RQ_BUF_UMEM: 16,
    UVERBS_ATTR_CREATE_QP_SQ_BUF_UMEM: 17,
  },
  {
    since: {
      UVERBS_ATTR_CREATE_QP_BUF_UMEM: '7.2',
      UVERBS_ATTR_CREATE_QP_RQ_BUF_UMEM: '7.2',
      UVERBS_ATTR_CREATE_QP_SQ_BUF_UMEM: '7.2',
    },
  },
);

export const uverbs_attrs_destroy_qp_cmd_attr_ids = cEnum(
  'uverbs_attrs_destroy_qp_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_DESTROY_QP_HANDLE: 0,
    UVERBS_ATTR_DESTROY_QP_RESP: 1,
  },
);

export const uverbs_methods_qp = cEnum('uverbs_methods_qp', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_QP_CREATE: 0,
  UVERBS_METHOD_QP_DESTROY: 1,
});

export const uverbs_attrs_create_srq_cmd_attr_ids = cEnum(
  'uverbs_attrs_create_srq_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_CREATE_SRQ_HANDLE: 0,
    UVERBS_ATTR_CREATE_SRQ_PD_HANDLE: 1,
    UVERBS_ATTR_CREATE_SRQ_XRCD_HANDLE: 2,
    UVERBS_ATTR_CREATE_SRQ_CQ_HANDLE: 3,
    UVERBS_ATTR_CREATE_SRQ_USER_HANDLE: 4,
    UVERBS_ATTR_CREATE_SRQ_MAX_WR: 5,
    UVERBS_ATTR_CREATE_SRQ_MAX_SGE: 6,
    UVERBS_ATTR_CREATE_SRQ_LIMIT: 7,
    UVERBS_ATTR_CREATE_SRQ_MAX_NUM_TAGS: 8,
    UVERBS_ATTR_CREATE_SRQ_TYPE: 9,
    UVERBS_ATTR_CREATE_SRQ_EVENT_FD: 10,
    UVERBS_ATTR_CREATE_SRQ_RESP_MAX_WR: 11,
    UVERBS_ATTR_CREATE_SRQ_RESP_MAX_SGE: 12,
    UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM: 13,
  },
);

export const uverbs_attrs_destroy_srq_cmd_attr_ids = cEnum(
  'uverbs_attrs_destroy_srq_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_DESTROY_SRQ_HANDLE: 0,
    UVERBS_ATTR_DESTROY_SRQ_RESP: 1,
  },
);

export const uverbs_methods_srq = cEnum('uverbs_methods_srq', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_SRQ_CREATE: 0,
  UVERBS_METHOD_SRQ_DESTROY: 1,
});

export const uverbs_methods_mr = cEnum(
  'uverbs_methods_mr',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_METHOD_DM_MR_REG: 0,
    UVERBS_METHOD_MR_DESTROY: 1,
    UVERBS_METHOD_ADVISE_MR: 2,
    UVERBS_METHOD_QUERY_MR: 3,
    UVERBS_METHOD_REG_DMABUF_MR: 4,
    UVERBS_METHOD_REG_MR: 5,
  },
  { since: { UVERBS_METHOD_REG_MR: '7.2' } },
);

export const uverbs_attrs_mr_destroy_ids = cEnum('uverbs_attrs_mr_destroy_ids', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_DESTROY_MR_HANDLE: 0,
});

export const uverbs_attrs_reg_dm_mr_cmd_attr_ids = cEnum(
  'uverbs_attrs_reg_dm_mr_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_REG_DM_MR_HANDLE: 0,
    UVERBS_ATTR_REG_DM_MR_OFFSET: 1,
    UVERBS_ATTR_REG_DM_MR_LENGTH: 2,
    UVERBS_ATTR_REG_DM_MR_PD_HANDLE: 3,
    UVERBS_ATTR_REG_DM_MR_ACCESS_FLAGS: 4,
    UVERBS_ATTR_REG_DM_MR_DM_HANDLE: 5,
    UVERBS_ATTR_REG_DM_MR_RESP_LKEY: 6,
    UVERBS_ATTR_REG_DM_MR_RESP_RKEY: 7,
  },
);

export const uverbs_attrs_advise_mr_cmd_attr_ids = cEnum(
  'uverbs_attrs_advise_mr_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_ADVISE_MR_PD_HANDLE: 0,
    UVERBS_ATTR_ADVISE_MR_ADVICE: 1,
    UVERBS_ATTR_ADVISE_MR_FLAGS: 2,
    UVERBS_ATTR_ADVISE_MR_SGE_LIST: 3,
  },
);

export const uverbs_attrs_query_mr_cmd_attr_ids = cEnum(
  'uverbs_attrs_query_mr_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_QUERY_MR_HANDLE: 0,
    UVERBS_ATTR_QUERY_MR_RESP_LKEY: 1,
    UVERBS_ATTR_QUERY_MR_RESP_RKEY: 2,
    UVERBS_ATTR_QUERY_MR_RESP_LENGTH: 3,
    UVERBS_ATTR_QUERY_MR_RESP_IOVA: 4,
  },
);

export const uverbs_attrs_reg_dmabuf_mr_cmd_attr_ids = cEnum(
  'uverbs_attrs_reg_dmabuf_mr_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_REG_DMABUF_MR_HANDLE: 0,
    UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE: 1,
    UVERBS_ATTR_REG_DMABUF_MR_OFFSET: 2,
    UVERBS_ATTR_REG_DMABUF_MR_LENGTH: 3,
    UVERBS_ATTR_REG_DMABUF_MR_IOVA: 4,
    UVERBS_ATTR_REG_DMABUF_MR_FD: 5,
    UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS: 6,
    UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY: 7,
    UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY: 8,
  },
);

export const uverbs_attrs_reg_mr_cmd_attr_ids = cEnum(
  'uverbs_attrs_reg_mr_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_REG_MR_HANDLE: 0,
    UVERBS_ATTR_REG_MR_PD_HANDLE: 1,
    UVERBS_ATTR_REG_MR_DMA_HANDLE: 2,
    UVERBS_ATTR_REG_MR_IOVA: 3,
    UVERBS_ATTR_REG_MR_ADDR: 4,
    UVERBS_ATTR_REG_MR_LENGTH: 5,
    UVERBS_ATTR_REG_MR_ACCESS_FLAGS: 6,
    UVERBS_ATTR_REG_MR_FD: 7,
    UVERBS_ATTR_REG_MR_FD_OFFSET: 8,
    UVERBS_ATTR_REG_MR_RESP_LKEY: 9,
    UVERBS_ATTR_REG_MR_RESP_RKEY: 10,
  },
  {
    since: {
      UVERBS_ATTR_REG_MR_HANDLE: '7.2',
      UVERBS_ATTR_REG_MR_PD_HANDLE: '7.2',
      UVERBS_ATTR_REG_MR_DMA_HANDLE: '7.2',
      UVERBS_ATTR_REG_MR_IOVA: '7.2',
      UVERBS_ATTR_REG_MR_ADDR: '7.2',
      UVERBS_ATTR_REG_MR_LENGTH: '7.2',
      UVERBS_ATTR_REG_MR_ACCESS_FLAGS: '7.2',
      UVERBS_ATTR_REG_MR_FD: '7.2',
      UVERBS_ATTR_REG_MR_FD_OFFSET: '7.2',
      UVERBS_ATTR_REG_MR_RESP_LKEY: '7.2',
      UVERBS_ATTR_REG_MR_RESP_RKEY: '7.2',
    },
  },
);

export const uverbs_attrs_info_handles_id = cEnum('uverbs_attrs_info_handles_id', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_INFO_OBJECT_ID: 0,
  UVERBS_ATTR_INFO_TOTAL_HANDLES: 1,
  UVERBS_ATTR_INFO_HANDLES_LIST: 2,
});

export const uverbs_methods_pd = cEnum('uverbs_methods_pd', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_PD_DESTROY: 0,
});

export const uverbs_attrs_pd_destroy_ids = cEnum('uverbs_attrs_pd_destroy_ids', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_DESTROY_PD_HANDLE: 0,
});

export const uverbs_methods_mw = cEnum('uverbs_methods_mw', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_MW_DESTROY: 0,
});

export const uverbs_attrs_mw_destroy_ids = cEnum('uverbs_attrs_mw_destroy_ids', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_DESTROY_MW_HANDLE: 0,
});

export const uverbs_methods_ah = cEnum('uverbs_methods_ah', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_AH_DESTROY: 0,
});

export const uverbs_attrs_ah_destroy_ids = cEnum('uverbs_attrs_ah_destroy_ids', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_DESTROY_AH_HANDLE: 0,
});

export const uverbs_methods_xrcd = cEnum('uverbs_methods_xrcd', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_XRCD_DESTROY: 0,
});

export const uverbs_attrs_xrcd_destroy_ids = cEnum('uverbs_attrs_xrcd_destroy_ids', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_DESTROY_XRCD_HANDLE: 0,
});

export const uverbs_method_async_event = cEnum('uverbs_method_async_event', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_ASYNC_EVENT_ALLOC: 0,
});

export const uverbs_attrs_async_event_create = cEnum('uverbs_attrs_async_event_create', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_ATTR_ASYNC_EVENT_ALLOC_FD_HANDLE: 0,
});

export const uverbs_attrs_query_gid_table_cmd_attr_ids = cEnum(
  'uverbs_attrs_query_gid_table_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_QUERY_GID_TABLE_ENTRY_SIZE: 0,
    UVERBS_ATTR_QUERY_GID_TABLE_FLAGS: 1,
    UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES: 2,
    UVERBS_ATTR_QUERY_GID_TABLE_RESP_NUM_ENTRIES: 3,
  },
);

export const uverbs_attrs_query_gid_entry_cmd_attr_ids = cEnum(
  'uverbs_attrs_query_gid_entry_cmd_attr_ids',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_ATTR_QUERY_GID_ENTRY_PORT: 0,
    UVERBS_ATTR_QUERY_GID_ENTRY_GID_INDEX: 1,
    UVERBS_ATTR_QUERY_GID_ENTRY_FLAGS: 2,
    UVERBS_ATTR_QUERY_GID_ENTRY_RESP_ENTRY: 3,
  },
);

export const uverbs_methods_wq = cEnum('uverbs_methods_wq', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_WQ_CREATE: 0,
  UVERBS_METHOD_WQ_DESTROY: 1,
});

export const uverbs_methods_dm = cEnum('uverbs_methods_dm', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_DM_ALLOC: 0,
  UVERBS_METHOD_DM_FREE: 1,
});

export const uverbs_methods_actions_counters_ops = cEnum(
  'uverbs_methods_actions_counters_ops',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_METHOD_COUNTERS_CREATE: 0,
    UVERBS_METHOD_COUNTERS_DESTROY: 1,
    UVERBS_METHOD_COUNTERS_READ: 2,
  },
);

export const uverbs_methods_flow = cEnum('uverbs_methods_flow', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_FLOW_DESTROY: 0,
});

export const uverbs_methods_rwq_ind_tbl = cEnum('uverbs_methods_rwq_ind_tbl', 'rdma/ib_user_ioctl_cmds.h', {
  UVERBS_METHOD_RWQ_IND_TBL_DESTROY: 0,
});

export const uverbs_methods_actions_flow_action_ops = cEnum(
  'uverbs_methods_actions_flow_action_ops',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_METHOD_FLOW_ACTION_ESP_CREATE: 0,
    UVERBS_METHOD_FLOW_ACTION_DESTROY: 1,
    UVERBS_METHOD_FLOW_ACTION_ESP_MODIFY: 2,
  },
);

export const uverbs_methods_dmah = cEnum(
  'uverbs_methods_dmah',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_METHOD_DMAH_ALLOC: 0,
    UVERBS_METHOD_DMAH_FREE: 1,
  },
  { since: { UVERBS_METHOD_DMAH_ALLOC: '7.2', UVERBS_METHOD_DMAH_FREE: '7.2' } },
);

export const uverbs_methods_dmabuf = cEnum(
  'uverbs_methods_dmabuf',
  'rdma/ib_user_ioctl_cmds.h',
  {
    UVERBS_METHOD_DMABUF_ALLOC: 0,
  },
  { since: { UVERBS_METHOD_DMABUF_ALLOC: '7.2' } },
);

// ---- Attribute ids of methods the library has no verbs for --------------------
// Only the object-handle attribute each method's declaration starts with (all
// UA_MANDATORY in the kernel's uverbs_std_types_*.c): the probe needs exactly
// that fact to know a zero-attribute command cannot reach the handler.

const CMDS_H = 'rdma/ib_user_ioctl_cmds.h';
export const uverbs_attrs_create_wq_cmd_attr_ids = cEnum('uverbs_attrs_create_wq_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_CREATE_WQ_HANDLE: 0,
});
export const uverbs_attrs_destroy_wq_cmd_attr_ids = cEnum('uverbs_attrs_destroy_wq_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_DESTROY_WQ_HANDLE: 0,
});
export const uverbs_attrs_alloc_dm_cmd_attr_ids = cEnum('uverbs_attrs_alloc_dm_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_ALLOC_DM_HANDLE: 0,
});
export const uverbs_attrs_free_dm_cmd_attr_ids = cEnum('uverbs_attrs_free_dm_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_FREE_DM_HANDLE: 0,
});
export const uverbs_attrs_create_counters_cmd_attr_ids = cEnum('uverbs_attrs_create_counters_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_CREATE_COUNTERS_HANDLE: 0,
});
export const uverbs_attrs_destroy_counters_cmd_attr_ids = cEnum('uverbs_attrs_destroy_counters_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_DESTROY_COUNTERS_HANDLE: 0,
});
export const uverbs_attrs_read_counters_cmd_attr_ids = cEnum('uverbs_attrs_read_counters_cmd_attr_ids', CMDS_H, {
  UVERBS_ATTR_READ_COUNTERS_HANDLE: 0,
});
export const uverbs_attrs_flow_destroy_ids = cEnum('uverbs_attrs_flow_destroy_ids', CMDS_H, {
  UVERBS_ATTR_DESTROY_FLOW_HANDLE: 0,
});
export const uverbs_attrs_rwq_ind_tbl_destroy_ids = cEnum('uverbs_attrs_rwq_ind_tbl_destroy_ids', CMDS_H, {
  UVERBS_ATTR_DESTROY_RWQ_IND_TBL_HANDLE: 0,
});
export const uverbs_attrs_create_flow_action_esp = cEnum('uverbs_attrs_create_flow_action_esp', CMDS_H, {
  UVERBS_ATTR_CREATE_FLOW_ACTION_ESP_HANDLE: 0,
});
export const uverbs_attrs_modify_flow_action_esp = cEnum('uverbs_attrs_modify_flow_action_esp', CMDS_H, {
  UVERBS_ATTR_MODIFY_FLOW_ACTION_ESP_HANDLE: 0,
});
export const uverbs_attrs_destroy_flow_action_esp = cEnum('uverbs_attrs_destroy_flow_action_esp', CMDS_H, {
  UVERBS_ATTR_DESTROY_FLOW_ACTION_HANDLE: 0,
});
export const uverbs_attrs_alloc_dmah_cmd_attr_ids = cEnum(
  'uverbs_attrs_alloc_dmah_cmd_attr_ids',
  CMDS_H,
  { UVERBS_ATTR_ALLOC_DMAH_HANDLE: 0 },
  { since: { UVERBS_ATTR_ALLOC_DMAH_HANDLE: '7.2' } },
);
export const uverbs_attrs_free_dmah_cmd_attr_ids = cEnum(
  'uverbs_attrs_free_dmah_cmd_attr_ids',
  CMDS_H,
  { UVERBS_ATTR_FREE_DMA_HANDLE: 0 },
  { since: { UVERBS_ATTR_FREE_DMA_HANDLE: '7.2' } },
);
export const uverbs_attrs_alloc_dmabuf_cmd_attr_ids = cEnum(
  'uverbs_attrs_alloc_dmabuf_cmd_attr_ids',
  CMDS_H,
  { UVERBS_ATTR_ALLOC_DMABUF_HANDLE: 0 },
  { since: { UVERBS_ATTR_ALLOC_DMABUF_HANDLE: '7.2' } },
);

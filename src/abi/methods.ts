/**
 * uverbs ioctl methods as data: one entry per `DECLARE_UVERBS_NAMED_METHOD`
 * of drivers/infiniband/core/uverbs_std_types_*.c (read from Linux 7.2),
 * attribute by attribute, with the same types, sizes and UA_MANDATORY.
 * Where a legacy write command can serve instead, `fallback` says how the
 * method's arguments map onto its request and response structs.
 */

import * as I from './ids.js';
import { uverbs_default_objects as O } from './ids.js';
import {
  constIn,
  EXACT,
  fd,
  flagsIn,
  idr,
  MANDATORY,
  MIN_SIZE,
  method,
  OPTIONAL,
  ptrIn,
  ptrOut,
  rawFd,
  STRUCT,
  TYPE,
  uhw,
} from './method-spec.js';
import * as s from './structs.js';
import { WRITE_COMMANDS as W } from './write-commands.js';

const UHW = uhw({ in: I.uverbs_driver_ns_ids.UVERBS_ATTR_UHW_IN, out: I.uverbs_driver_ns_ids.UVERBS_ATTR_UHW_OUT });

// ---- UVERBS_OBJECT_DEVICE (uverbs_std_types_device.c) ----------------------

const DEV = { objectName: 'UVERBS_OBJECT_DEVICE', object: O.UVERBS_OBJECT_DEVICE } as const;
const MD = I.uverbs_methods_device;

export const UVERBS_METHOD_INVOKE_WRITE = method({
  ...DEV,
  name: 'UVERBS_METHOD_INVOKE_WRITE',
  id: MD.UVERBS_METHOD_INVOKE_WRITE,
  attrs: {
    writeCmd: constIn(
      'UVERBS_ATTR_WRITE_CMD',
      I.uverbs_attrs_invoke_write_cmd_attr_ids.UVERBS_ATTR_WRITE_CMD,
      MANDATORY,
    ),
    coreIn: ptrIn(
      'UVERBS_ATTR_CORE_IN',
      I.uverbs_attrs_invoke_write_cmd_attr_ids.UVERBS_ATTR_CORE_IN,
      MIN_SIZE(4),
      OPTIONAL,
    ),
    coreOut: ptrOut(
      'UVERBS_ATTR_CORE_OUT',
      I.uverbs_attrs_invoke_write_cmd_attr_ids.UVERBS_ATTR_CORE_OUT,
      MIN_SIZE(0),
      OPTIONAL,
    ),
    ...UHW,
  },
});

const GC = I.uverbs_attrs_get_context_attr_ids;
export const UVERBS_METHOD_GET_CONTEXT = method({
  ...DEV,
  name: 'UVERBS_METHOD_GET_CONTEXT',
  id: MD.UVERBS_METHOD_GET_CONTEXT,
  attrs: {
    numCompVectors: ptrOut(
      'UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS',
      GC.UVERBS_ATTR_GET_CONTEXT_NUM_COMP_VECTORS,
      TYPE('u32'),
      OPTIONAL,
    ),
    coreSupport: ptrOut(
      'UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT',
      GC.UVERBS_ATTR_GET_CONTEXT_CORE_SUPPORT,
      TYPE('u64'),
      OPTIONAL,
    ),
    fdArr: ptrIn('UVERBS_ATTR_GET_CONTEXT_FD_ARR', GC.UVERBS_ATTR_GET_CONTEXT_FD_ARR, MIN_SIZE(4), OPTIONAL, {
      since: '7.2',
      allocAndCopy: true,
    }),
    ...UHW,
  },
  fallback: {
    command: W.IB_USER_VERBS_CMD_GET_CONTEXT,
    request: {},
    response: { numCompVectors: 'num_comp_vectors', asyncFd: 'async_fd' },
  },
});

const QC = I.uverbs_attrs_query_context_attr_ids;
export const UVERBS_METHOD_QUERY_CONTEXT = method({
  ...DEV,
  name: 'UVERBS_METHOD_QUERY_CONTEXT',
  id: MD.UVERBS_METHOD_QUERY_CONTEXT,
  attrs: {
    numCompVectors: ptrOut(
      'UVERBS_ATTR_QUERY_CONTEXT_NUM_COMP_VECTORS',
      QC.UVERBS_ATTR_QUERY_CONTEXT_NUM_COMP_VECTORS,
      TYPE('u32'),
      OPTIONAL,
    ),
    coreSupport: ptrOut(
      'UVERBS_ATTR_QUERY_CONTEXT_CORE_SUPPORT',
      QC.UVERBS_ATTR_QUERY_CONTEXT_CORE_SUPPORT,
      TYPE('u64'),
      OPTIONAL,
    ),
  },
});

const IH = I.uverbs_attrs_info_handles_id;
export const UVERBS_METHOD_INFO_HANDLES = method({
  ...DEV,
  name: 'UVERBS_METHOD_INFO_HANDLES',
  id: MD.UVERBS_METHOD_INFO_HANDLES,
  attrs: {
    objectId: constIn('UVERBS_ATTR_INFO_OBJECT_ID', IH.UVERBS_ATTR_INFO_OBJECT_ID, MANDATORY),
    totalHandles: ptrOut('UVERBS_ATTR_INFO_TOTAL_HANDLES', IH.UVERBS_ATTR_INFO_TOTAL_HANDLES, TYPE('u32'), OPTIONAL),
    handlesList: ptrOut('UVERBS_ATTR_INFO_HANDLES_LIST', IH.UVERBS_ATTR_INFO_HANDLES_LIST, MIN_SIZE(4), OPTIONAL),
  },
});

const QP_ = I.uverbs_attrs_query_port_cmd_attr_ids;
export const UVERBS_METHOD_QUERY_PORT = method({
  ...DEV,
  name: 'UVERBS_METHOD_QUERY_PORT',
  id: MD.UVERBS_METHOD_QUERY_PORT,
  attrs: {
    portNum: constIn('UVERBS_ATTR_QUERY_PORT_PORT_NUM', QP_.UVERBS_ATTR_QUERY_PORT_PORT_NUM, MANDATORY),
    // The kernel names active_speed_ex (6.12+; `reserved` before): both end at byte 48.
    resp: ptrOut(
      'UVERBS_ATTR_QUERY_PORT_RESP',
      QP_.UVERBS_ATTR_QUERY_PORT_RESP,
      STRUCT(s.ib_uverbs_query_port_resp_ex, 'active_speed_ex'),
      MANDATORY,
    ),
  },
  fallback: {
    command: W.IB_USER_VERBS_CMD_QUERY_PORT,
    request: { port_num: 'portNum' },
    response: { 'resp.legacy_resp': '*' },
  },
});

const QPS = I.uverbs_attrs_query_port_speed_cmd_attr_ids;
export const UVERBS_METHOD_QUERY_PORT_SPEED = method({
  ...DEV,
  name: 'UVERBS_METHOD_QUERY_PORT_SPEED',
  id: MD.UVERBS_METHOD_QUERY_PORT_SPEED,
  since: '7.2',
  attrs: {
    portNum: constIn('UVERBS_ATTR_QUERY_PORT_SPEED_PORT_NUM', QPS.UVERBS_ATTR_QUERY_PORT_SPEED_PORT_NUM, MANDATORY),
    resp: ptrOut('UVERBS_ATTR_QUERY_PORT_SPEED_RESP', QPS.UVERBS_ATTR_QUERY_PORT_SPEED_RESP, TYPE('u64'), MANDATORY),
  },
});

const GT = I.uverbs_attrs_query_gid_table_cmd_attr_ids;
export const UVERBS_METHOD_QUERY_GID_TABLE = method({
  ...DEV,
  name: 'UVERBS_METHOD_QUERY_GID_TABLE',
  id: MD.UVERBS_METHOD_QUERY_GID_TABLE,
  attrs: {
    entrySize: constIn('UVERBS_ATTR_QUERY_GID_TABLE_ENTRY_SIZE', GT.UVERBS_ATTR_QUERY_GID_TABLE_ENTRY_SIZE, MANDATORY),
    flags: flagsIn('UVERBS_ATTR_QUERY_GID_TABLE_FLAGS', GT.UVERBS_ATTR_QUERY_GID_TABLE_FLAGS, OPTIONAL),
    entries: ptrOut(
      'UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES',
      GT.UVERBS_ATTR_QUERY_GID_TABLE_RESP_ENTRIES,
      MIN_SIZE(0),
      MANDATORY,
    ),
    numEntries: ptrOut(
      'UVERBS_ATTR_QUERY_GID_TABLE_RESP_NUM_ENTRIES',
      GT.UVERBS_ATTR_QUERY_GID_TABLE_RESP_NUM_ENTRIES,
      TYPE('u64'),
      MANDATORY,
    ),
  },
});

const GE = I.uverbs_attrs_query_gid_entry_cmd_attr_ids;
export const UVERBS_METHOD_QUERY_GID_ENTRY = method({
  ...DEV,
  name: 'UVERBS_METHOD_QUERY_GID_ENTRY',
  id: MD.UVERBS_METHOD_QUERY_GID_ENTRY,
  attrs: {
    port: constIn('UVERBS_ATTR_QUERY_GID_ENTRY_PORT', GE.UVERBS_ATTR_QUERY_GID_ENTRY_PORT, MANDATORY),
    gidIndex: constIn('UVERBS_ATTR_QUERY_GID_ENTRY_GID_INDEX', GE.UVERBS_ATTR_QUERY_GID_ENTRY_GID_INDEX, MANDATORY),
    flags: flagsIn('UVERBS_ATTR_QUERY_GID_ENTRY_FLAGS', GE.UVERBS_ATTR_QUERY_GID_ENTRY_FLAGS, MANDATORY),
    entry: ptrOut(
      'UVERBS_ATTR_QUERY_GID_ENTRY_RESP_ENTRY',
      GE.UVERBS_ATTR_QUERY_GID_ENTRY_RESP_ENTRY,
      STRUCT(s.ib_uverbs_gid_entry, 'netdev_ifindex'),
      MANDATORY,
    ),
  },
});

// ---- UVERBS_OBJECT_PD, MW, AH (uverbs_std_types.c) --------------------------

export const UVERBS_METHOD_PD_DESTROY = method({
  objectName: 'UVERBS_OBJECT_PD',
  object: O.UVERBS_OBJECT_PD,
  name: 'UVERBS_METHOD_PD_DESTROY',
  id: I.uverbs_methods_pd.UVERBS_METHOD_PD_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_PD_HANDLE',
      I.uverbs_attrs_pd_destroy_ids.UVERBS_ATTR_DESTROY_PD_HANDLE,
      O.UVERBS_OBJECT_PD,
      'destroy',
      MANDATORY,
    ),
  },
  fallback: { command: W.IB_USER_VERBS_CMD_DEALLOC_PD, request: { pd_handle: 'handle' }, response: {} },
});

export const UVERBS_METHOD_MW_DESTROY = method({
  objectName: 'UVERBS_OBJECT_MW',
  object: O.UVERBS_OBJECT_MW,
  name: 'UVERBS_METHOD_MW_DESTROY',
  id: I.uverbs_methods_mw.UVERBS_METHOD_MW_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_MW_HANDLE',
      I.uverbs_attrs_mw_destroy_ids.UVERBS_ATTR_DESTROY_MW_HANDLE,
      O.UVERBS_OBJECT_MW,
      'destroy',
      MANDATORY,
    ),
  },
  fallback: { command: W.IB_USER_VERBS_CMD_DEALLOC_MW, request: { mw_handle: 'handle' }, response: {} },
});

export const UVERBS_METHOD_AH_DESTROY = method({
  objectName: 'UVERBS_OBJECT_AH',
  object: O.UVERBS_OBJECT_AH,
  name: 'UVERBS_METHOD_AH_DESTROY',
  id: I.uverbs_methods_ah.UVERBS_METHOD_AH_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_AH_HANDLE',
      I.uverbs_attrs_ah_destroy_ids.UVERBS_ATTR_DESTROY_AH_HANDLE,
      O.UVERBS_OBJECT_AH,
      'destroy',
      MANDATORY,
    ),
  },
  fallback: { command: W.IB_USER_VERBS_CMD_DESTROY_AH, request: { ah_handle: 'handle' }, response: {} },
});

// ---- UVERBS_OBJECT_MR (uverbs_std_types_mr.c) -------------------------------

const MR = { objectName: 'UVERBS_OBJECT_MR', object: O.UVERBS_OBJECT_MR } as const;
const MM = I.uverbs_methods_mr;

const RM = I.uverbs_attrs_reg_mr_cmd_attr_ids;
export const UVERBS_METHOD_REG_MR = method({
  ...MR,
  name: 'UVERBS_METHOD_REG_MR',
  id: MM.UVERBS_METHOD_REG_MR,
  since: '7.2',
  attrs: {
    handle: idr('UVERBS_ATTR_REG_MR_HANDLE', RM.UVERBS_ATTR_REG_MR_HANDLE, O.UVERBS_OBJECT_MR, 'new', MANDATORY),
    pdHandle: idr(
      'UVERBS_ATTR_REG_MR_PD_HANDLE',
      RM.UVERBS_ATTR_REG_MR_PD_HANDLE,
      O.UVERBS_OBJECT_PD,
      'read',
      MANDATORY,
    ),
    dmaHandle: idr(
      'UVERBS_ATTR_REG_MR_DMA_HANDLE',
      RM.UVERBS_ATTR_REG_MR_DMA_HANDLE,
      O.UVERBS_OBJECT_DMAH,
      'read',
      OPTIONAL,
    ),
    iova: ptrIn('UVERBS_ATTR_REG_MR_IOVA', RM.UVERBS_ATTR_REG_MR_IOVA, TYPE('u64'), MANDATORY),
    length: ptrIn('UVERBS_ATTR_REG_MR_LENGTH', RM.UVERBS_ATTR_REG_MR_LENGTH, TYPE('u64'), MANDATORY),
    accessFlags: flagsIn('UVERBS_ATTR_REG_MR_ACCESS_FLAGS', RM.UVERBS_ATTR_REG_MR_ACCESS_FLAGS, MANDATORY),
    addr: ptrIn('UVERBS_ATTR_REG_MR_ADDR', RM.UVERBS_ATTR_REG_MR_ADDR, TYPE('u64'), OPTIONAL),
    fdOffset: ptrIn('UVERBS_ATTR_REG_MR_FD_OFFSET', RM.UVERBS_ATTR_REG_MR_FD_OFFSET, TYPE('u64'), OPTIONAL),
    fd: rawFd('UVERBS_ATTR_REG_MR_FD', RM.UVERBS_ATTR_REG_MR_FD, OPTIONAL),
    lkey: ptrOut('UVERBS_ATTR_REG_MR_RESP_LKEY', RM.UVERBS_ATTR_REG_MR_RESP_LKEY, TYPE('u32'), MANDATORY),
    rkey: ptrOut('UVERBS_ATTR_REG_MR_RESP_RKEY', RM.UVERBS_ATTR_REG_MR_RESP_RKEY, TYPE('u32'), MANDATORY),
    ...UHW,
  },
  fallback: {
    command: W.IB_USER_VERBS_CMD_REG_MR,
    request: { start: 'addr', length: 'length', hca_va: 'iova', pd_handle: 'pdHandle', access_flags: 'accessFlags' },
    response: { handle: 'mr_handle', lkey: 'lkey', rkey: 'rkey' },
  },
});

export const UVERBS_METHOD_MR_DESTROY = method({
  ...MR,
  name: 'UVERBS_METHOD_MR_DESTROY',
  id: MM.UVERBS_METHOD_MR_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_MR_HANDLE',
      I.uverbs_attrs_mr_destroy_ids.UVERBS_ATTR_DESTROY_MR_HANDLE,
      O.UVERBS_OBJECT_MR,
      'destroy',
      MANDATORY,
    ),
  },
  fallback: { command: W.IB_USER_VERBS_CMD_DEREG_MR, request: { mr_handle: 'handle' }, response: {} },
});

const QM = I.uverbs_attrs_query_mr_cmd_attr_ids;
export const UVERBS_METHOD_QUERY_MR = method({
  ...MR,
  name: 'UVERBS_METHOD_QUERY_MR',
  id: MM.UVERBS_METHOD_QUERY_MR,
  attrs: {
    handle: idr('UVERBS_ATTR_QUERY_MR_HANDLE', QM.UVERBS_ATTR_QUERY_MR_HANDLE, O.UVERBS_OBJECT_MR, 'read', MANDATORY),
    rkey: ptrOut('UVERBS_ATTR_QUERY_MR_RESP_RKEY', QM.UVERBS_ATTR_QUERY_MR_RESP_RKEY, TYPE('u32'), MANDATORY),
    lkey: ptrOut('UVERBS_ATTR_QUERY_MR_RESP_LKEY', QM.UVERBS_ATTR_QUERY_MR_RESP_LKEY, TYPE('u32'), MANDATORY),
    length: ptrOut('UVERBS_ATTR_QUERY_MR_RESP_LENGTH', QM.UVERBS_ATTR_QUERY_MR_RESP_LENGTH, TYPE('u64'), MANDATORY),
    iova: ptrOut('UVERBS_ATTR_QUERY_MR_RESP_IOVA', QM.UVERBS_ATTR_QUERY_MR_RESP_IOVA, TYPE('u64'), OPTIONAL),
  },
});

const DMR = I.uverbs_attrs_reg_dm_mr_cmd_attr_ids;
export const UVERBS_METHOD_DM_MR_REG = method({
  ...MR,
  name: 'UVERBS_METHOD_DM_MR_REG',
  id: MM.UVERBS_METHOD_DM_MR_REG,
  attrs: {
    handle: idr('UVERBS_ATTR_REG_DM_MR_HANDLE', DMR.UVERBS_ATTR_REG_DM_MR_HANDLE, O.UVERBS_OBJECT_MR, 'new', MANDATORY),
    offset: ptrIn('UVERBS_ATTR_REG_DM_MR_OFFSET', DMR.UVERBS_ATTR_REG_DM_MR_OFFSET, TYPE('u64'), MANDATORY),
    length: ptrIn('UVERBS_ATTR_REG_DM_MR_LENGTH', DMR.UVERBS_ATTR_REG_DM_MR_LENGTH, TYPE('u64'), MANDATORY),
    pdHandle: idr(
      'UVERBS_ATTR_REG_DM_MR_PD_HANDLE',
      DMR.UVERBS_ATTR_REG_DM_MR_PD_HANDLE,
      O.UVERBS_OBJECT_PD,
      'read',
      MANDATORY,
    ),
    accessFlags: flagsIn('UVERBS_ATTR_REG_DM_MR_ACCESS_FLAGS', DMR.UVERBS_ATTR_REG_DM_MR_ACCESS_FLAGS, OPTIONAL),
    dmHandle: idr(
      'UVERBS_ATTR_REG_DM_MR_DM_HANDLE',
      DMR.UVERBS_ATTR_REG_DM_MR_DM_HANDLE,
      O.UVERBS_OBJECT_DM,
      'read',
      MANDATORY,
    ),
    lkey: ptrOut('UVERBS_ATTR_REG_DM_MR_RESP_LKEY', DMR.UVERBS_ATTR_REG_DM_MR_RESP_LKEY, TYPE('u32'), MANDATORY),
    rkey: ptrOut('UVERBS_ATTR_REG_DM_MR_RESP_RKEY', DMR.UVERBS_ATTR_REG_DM_MR_RESP_RKEY, TYPE('u32'), MANDATORY),
  },
});

// ---- UVERBS_OBJECT_CQ (uverbs_std_types_cq.c) -------------------------------

const CQ = { objectName: 'UVERBS_OBJECT_CQ', object: O.UVERBS_OBJECT_CQ } as const;
const CC = I.uverbs_attrs_create_cq_cmd_attr_ids;
export const UVERBS_METHOD_CQ_CREATE = method({
  ...CQ,
  name: 'UVERBS_METHOD_CQ_CREATE',
  id: I.uverbs_methods_cq.UVERBS_METHOD_CQ_CREATE,
  attrs: {
    handle: idr('UVERBS_ATTR_CREATE_CQ_HANDLE', CC.UVERBS_ATTR_CREATE_CQ_HANDLE, O.UVERBS_OBJECT_CQ, 'new', MANDATORY),
    cqe: ptrIn('UVERBS_ATTR_CREATE_CQ_CQE', CC.UVERBS_ATTR_CREATE_CQ_CQE, TYPE('u32'), MANDATORY),
    userHandle: ptrIn(
      'UVERBS_ATTR_CREATE_CQ_USER_HANDLE',
      CC.UVERBS_ATTR_CREATE_CQ_USER_HANDLE,
      TYPE('u64'),
      MANDATORY,
    ),
    compChannel: fd(
      'UVERBS_ATTR_CREATE_CQ_COMP_CHANNEL',
      CC.UVERBS_ATTR_CREATE_CQ_COMP_CHANNEL,
      O.UVERBS_OBJECT_COMP_CHANNEL,
      'read',
      OPTIONAL,
    ),
    compVector: ptrIn(
      'UVERBS_ATTR_CREATE_CQ_COMP_VECTOR',
      CC.UVERBS_ATTR_CREATE_CQ_COMP_VECTOR,
      TYPE('u32'),
      MANDATORY,
    ),
    flags: flagsIn('UVERBS_ATTR_CREATE_CQ_FLAGS', CC.UVERBS_ATTR_CREATE_CQ_FLAGS, OPTIONAL),
    respCqe: ptrOut('UVERBS_ATTR_CREATE_CQ_RESP_CQE', CC.UVERBS_ATTR_CREATE_CQ_RESP_CQE, TYPE('u32'), MANDATORY),
    eventFd: fd(
      'UVERBS_ATTR_CREATE_CQ_EVENT_FD',
      CC.UVERBS_ATTR_CREATE_CQ_EVENT_FD,
      O.UVERBS_OBJECT_ASYNC_EVENT,
      'read',
      OPTIONAL,
    ),
    bufferVa: ptrIn('UVERBS_ATTR_CREATE_CQ_BUFFER_VA', CC.UVERBS_ATTR_CREATE_CQ_BUFFER_VA, TYPE('u64'), OPTIONAL, {
      since: '7.2',
    }),
    bufferLength: ptrIn(
      'UVERBS_ATTR_CREATE_CQ_BUFFER_LENGTH',
      CC.UVERBS_ATTR_CREATE_CQ_BUFFER_LENGTH,
      TYPE('u64'),
      OPTIONAL,
      { since: '7.2' },
    ),
    bufferFd: rawFd('UVERBS_ATTR_CREATE_CQ_BUFFER_FD', CC.UVERBS_ATTR_CREATE_CQ_BUFFER_FD, OPTIONAL, { since: '7.2' }),
    bufferOffset: ptrIn(
      'UVERBS_ATTR_CREATE_CQ_BUFFER_OFFSET',
      CC.UVERBS_ATTR_CREATE_CQ_BUFFER_OFFSET,
      TYPE('u64'),
      OPTIONAL,
      { since: '7.2' },
    ),
    bufUmem: ptrIn(
      'UVERBS_ATTR_CREATE_CQ_BUF_UMEM',
      CC.UVERBS_ATTR_CREATE_CQ_BUF_UMEM,
      EXACT(s.ib_uverbs_buffer_desc),
      OPTIONAL,
      { since: '7.2' },
    ),
    ...UHW,
  },
  fallback: [
    {
      command: W.IB_USER_VERBS_CMD_CREATE_CQ,
      request: {
        user_handle: 'userHandle',
        cqe: 'cqe',
        comp_vector: 'compVector',
        comp_channel: { arg: 'compChannel', absent: -1 },
      },
      response: { handle: 'cq_handle', respCqe: 'cqe' },
    },
    {
      // the flags (IB_UVERBS_CQ_FLAGS_*) only the extended command carries
      command: W.IB_USER_VERBS_EX_CMD_CREATE_CQ,
      request: {
        user_handle: 'userHandle',
        cqe: 'cqe',
        comp_vector: 'compVector',
        comp_channel: { arg: 'compChannel', absent: -1 },
        flags: { arg: 'flags', absent: 0 },
      },
      response: { handle: 'base.cq_handle', respCqe: 'base.cqe' },
    },
  ],
});

export const UVERBS_METHOD_CQ_DESTROY = method({
  ...CQ,
  name: 'UVERBS_METHOD_CQ_DESTROY',
  id: I.uverbs_methods_cq.UVERBS_METHOD_CQ_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_CQ_HANDLE',
      I.uverbs_attrs_destroy_cq_cmd_attr_ids.UVERBS_ATTR_DESTROY_CQ_HANDLE,
      O.UVERBS_OBJECT_CQ,
      'destroy',
      MANDATORY,
    ),
    resp: ptrOut(
      'UVERBS_ATTR_DESTROY_CQ_RESP',
      I.uverbs_attrs_destroy_cq_cmd_attr_ids.UVERBS_ATTR_DESTROY_CQ_RESP,
      EXACT(s.ib_uverbs_destroy_cq_resp),
      MANDATORY,
    ),
  },
  fallback: {
    command: W.IB_USER_VERBS_CMD_DESTROY_CQ,
    request: { cq_handle: 'handle' },
    response: { resp: '*' },
  },
});

// ---- UVERBS_OBJECT_QP (uverbs_std_types_qp.c) -------------------------------

const QP = { objectName: 'UVERBS_OBJECT_QP', object: O.UVERBS_OBJECT_QP } as const;
const CQP = I.uverbs_attrs_create_qp_cmd_attr_ids;
export const UVERBS_METHOD_QP_CREATE = method({
  ...QP,
  name: 'UVERBS_METHOD_QP_CREATE',
  id: I.uverbs_methods_qp.UVERBS_METHOD_QP_CREATE,
  attrs: {
    handle: idr('UVERBS_ATTR_CREATE_QP_HANDLE', CQP.UVERBS_ATTR_CREATE_QP_HANDLE, O.UVERBS_OBJECT_QP, 'new', MANDATORY),
    xrcdHandle: idr(
      'UVERBS_ATTR_CREATE_QP_XRCD_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_XRCD_HANDLE,
      O.UVERBS_OBJECT_XRCD,
      'read',
      OPTIONAL,
    ),
    pdHandle: idr(
      'UVERBS_ATTR_CREATE_QP_PD_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_PD_HANDLE,
      O.UVERBS_OBJECT_PD,
      'read',
      OPTIONAL,
    ),
    srqHandle: idr(
      'UVERBS_ATTR_CREATE_QP_SRQ_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_SRQ_HANDLE,
      O.UVERBS_OBJECT_SRQ,
      'read',
      OPTIONAL,
    ),
    sendCqHandle: idr(
      'UVERBS_ATTR_CREATE_QP_SEND_CQ_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_SEND_CQ_HANDLE,
      O.UVERBS_OBJECT_CQ,
      'read',
      OPTIONAL,
    ),
    recvCqHandle: idr(
      'UVERBS_ATTR_CREATE_QP_RECV_CQ_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_RECV_CQ_HANDLE,
      O.UVERBS_OBJECT_CQ,
      'read',
      OPTIONAL,
    ),
    indTableHandle: idr(
      'UVERBS_ATTR_CREATE_QP_IND_TABLE_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_IND_TABLE_HANDLE,
      O.UVERBS_OBJECT_RWQ_IND_TBL,
      'read',
      OPTIONAL,
    ),
    userHandle: ptrIn(
      'UVERBS_ATTR_CREATE_QP_USER_HANDLE',
      CQP.UVERBS_ATTR_CREATE_QP_USER_HANDLE,
      TYPE('u64'),
      MANDATORY,
    ),
    cap: ptrIn(
      'UVERBS_ATTR_CREATE_QP_CAP',
      CQP.UVERBS_ATTR_CREATE_QP_CAP,
      STRUCT(s.ib_uverbs_qp_cap, 'max_inline_data'),
      MANDATORY,
    ),
    type: constIn('UVERBS_ATTR_CREATE_QP_TYPE', CQP.UVERBS_ATTR_CREATE_QP_TYPE, MANDATORY),
    flags: flagsIn('UVERBS_ATTR_CREATE_QP_FLAGS', CQP.UVERBS_ATTR_CREATE_QP_FLAGS, OPTIONAL),
    sourceQpn: ptrIn('UVERBS_ATTR_CREATE_QP_SOURCE_QPN', CQP.UVERBS_ATTR_CREATE_QP_SOURCE_QPN, TYPE('u32'), OPTIONAL),
    eventFd: fd(
      'UVERBS_ATTR_CREATE_QP_EVENT_FD',
      CQP.UVERBS_ATTR_CREATE_QP_EVENT_FD,
      O.UVERBS_OBJECT_ASYNC_EVENT,
      'read',
      OPTIONAL,
    ),
    respCap: ptrOut(
      'UVERBS_ATTR_CREATE_QP_RESP_CAP',
      CQP.UVERBS_ATTR_CREATE_QP_RESP_CAP,
      STRUCT(s.ib_uverbs_qp_cap, 'max_inline_data'),
      MANDATORY,
    ),
    respQpNum: ptrOut(
      'UVERBS_ATTR_CREATE_QP_RESP_QP_NUM',
      CQP.UVERBS_ATTR_CREATE_QP_RESP_QP_NUM,
      TYPE('u32'),
      MANDATORY,
    ),
    bufUmem: ptrIn(
      'UVERBS_ATTR_CREATE_QP_BUF_UMEM',
      CQP.UVERBS_ATTR_CREATE_QP_BUF_UMEM,
      EXACT(s.ib_uverbs_buffer_desc),
      OPTIONAL,
      { since: '7.2' },
    ),
    rqBufUmem: ptrIn(
      'UVERBS_ATTR_CREATE_QP_RQ_BUF_UMEM',
      CQP.UVERBS_ATTR_CREATE_QP_RQ_BUF_UMEM,
      EXACT(s.ib_uverbs_buffer_desc),
      OPTIONAL,
      { since: '7.2' },
    ),
    sqBufUmem: ptrIn(
      'UVERBS_ATTR_CREATE_QP_SQ_BUF_UMEM',
      CQP.UVERBS_ATTR_CREATE_QP_SQ_BUF_UMEM,
      EXACT(s.ib_uverbs_buffer_desc),
      OPTIONAL,
      { since: '7.2' },
    ),
    ...UHW,
  },
});

export const UVERBS_METHOD_QP_DESTROY = method({
  ...QP,
  name: 'UVERBS_METHOD_QP_DESTROY',
  id: I.uverbs_methods_qp.UVERBS_METHOD_QP_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_QP_HANDLE',
      I.uverbs_attrs_destroy_qp_cmd_attr_ids.UVERBS_ATTR_DESTROY_QP_HANDLE,
      O.UVERBS_OBJECT_QP,
      'destroy',
      MANDATORY,
    ),
    resp: ptrOut(
      'UVERBS_ATTR_DESTROY_QP_RESP',
      I.uverbs_attrs_destroy_qp_cmd_attr_ids.UVERBS_ATTR_DESTROY_QP_RESP,
      EXACT(s.ib_uverbs_destroy_qp_resp),
      MANDATORY,
    ),
  },
  fallback: { command: W.IB_USER_VERBS_CMD_DESTROY_QP, request: { qp_handle: 'handle' }, response: { resp: '*' } },
});

// ---- UVERBS_OBJECT_SRQ (uverbs_std_types_srq.c) -----------------------------

const SRQ = { objectName: 'UVERBS_OBJECT_SRQ', object: O.UVERBS_OBJECT_SRQ } as const;
const CS = I.uverbs_attrs_create_srq_cmd_attr_ids;
export const UVERBS_METHOD_SRQ_CREATE = method({
  ...SRQ,
  name: 'UVERBS_METHOD_SRQ_CREATE',
  id: I.uverbs_methods_srq.UVERBS_METHOD_SRQ_CREATE,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_CREATE_SRQ_HANDLE',
      CS.UVERBS_ATTR_CREATE_SRQ_HANDLE,
      O.UVERBS_OBJECT_SRQ,
      'new',
      MANDATORY,
    ),
    pdHandle: idr(
      'UVERBS_ATTR_CREATE_SRQ_PD_HANDLE',
      CS.UVERBS_ATTR_CREATE_SRQ_PD_HANDLE,
      O.UVERBS_OBJECT_PD,
      'read',
      MANDATORY,
    ),
    type: constIn('UVERBS_ATTR_CREATE_SRQ_TYPE', CS.UVERBS_ATTR_CREATE_SRQ_TYPE, MANDATORY),
    userHandle: ptrIn(
      'UVERBS_ATTR_CREATE_SRQ_USER_HANDLE',
      CS.UVERBS_ATTR_CREATE_SRQ_USER_HANDLE,
      TYPE('u64'),
      MANDATORY,
    ),
    maxWr: ptrIn('UVERBS_ATTR_CREATE_SRQ_MAX_WR', CS.UVERBS_ATTR_CREATE_SRQ_MAX_WR, TYPE('u32'), MANDATORY),
    maxSge: ptrIn('UVERBS_ATTR_CREATE_SRQ_MAX_SGE', CS.UVERBS_ATTR_CREATE_SRQ_MAX_SGE, TYPE('u32'), MANDATORY),
    limit: ptrIn('UVERBS_ATTR_CREATE_SRQ_LIMIT', CS.UVERBS_ATTR_CREATE_SRQ_LIMIT, TYPE('u32'), MANDATORY),
    xrcdHandle: idr(
      'UVERBS_ATTR_CREATE_SRQ_XRCD_HANDLE',
      CS.UVERBS_ATTR_CREATE_SRQ_XRCD_HANDLE,
      O.UVERBS_OBJECT_XRCD,
      'read',
      OPTIONAL,
    ),
    cqHandle: idr(
      'UVERBS_ATTR_CREATE_SRQ_CQ_HANDLE',
      CS.UVERBS_ATTR_CREATE_SRQ_CQ_HANDLE,
      O.UVERBS_OBJECT_CQ,
      'read',
      OPTIONAL,
    ),
    maxNumTags: ptrIn(
      'UVERBS_ATTR_CREATE_SRQ_MAX_NUM_TAGS',
      CS.UVERBS_ATTR_CREATE_SRQ_MAX_NUM_TAGS,
      TYPE('u32'),
      OPTIONAL,
    ),
    eventFd: fd(
      'UVERBS_ATTR_CREATE_SRQ_EVENT_FD',
      CS.UVERBS_ATTR_CREATE_SRQ_EVENT_FD,
      O.UVERBS_OBJECT_ASYNC_EVENT,
      'read',
      OPTIONAL,
    ),
    respMaxWr: ptrOut(
      'UVERBS_ATTR_CREATE_SRQ_RESP_MAX_WR',
      CS.UVERBS_ATTR_CREATE_SRQ_RESP_MAX_WR,
      TYPE('u32'),
      MANDATORY,
    ),
    respMaxSge: ptrOut(
      'UVERBS_ATTR_CREATE_SRQ_RESP_MAX_SGE',
      CS.UVERBS_ATTR_CREATE_SRQ_RESP_MAX_SGE,
      TYPE('u32'),
      MANDATORY,
    ),
    respSrqNum: ptrOut(
      'UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM',
      CS.UVERBS_ATTR_CREATE_SRQ_RESP_SRQ_NUM,
      TYPE('u32'),
      OPTIONAL,
    ),
    ...UHW,
  },
});

export const UVERBS_METHOD_SRQ_DESTROY = method({
  ...SRQ,
  name: 'UVERBS_METHOD_SRQ_DESTROY',
  id: I.uverbs_methods_srq.UVERBS_METHOD_SRQ_DESTROY,
  attrs: {
    handle: idr(
      'UVERBS_ATTR_DESTROY_SRQ_HANDLE',
      I.uverbs_attrs_destroy_srq_cmd_attr_ids.UVERBS_ATTR_DESTROY_SRQ_HANDLE,
      O.UVERBS_OBJECT_SRQ,
      'destroy',
      MANDATORY,
    ),
    resp: ptrOut(
      'UVERBS_ATTR_DESTROY_SRQ_RESP',
      I.uverbs_attrs_destroy_srq_cmd_attr_ids.UVERBS_ATTR_DESTROY_SRQ_RESP,
      EXACT(s.ib_uverbs_destroy_srq_resp),
      MANDATORY,
    ),
  },
  fallback: { command: W.IB_USER_VERBS_CMD_DESTROY_SRQ, request: { srq_handle: 'handle' }, response: { resp: '*' } },
});

// ---- UVERBS_OBJECT_ASYNC_EVENT (uverbs_std_types_async_fd.c) ----------------

export const UVERBS_METHOD_ASYNC_EVENT_ALLOC = method({
  objectName: 'UVERBS_OBJECT_ASYNC_EVENT',
  object: O.UVERBS_OBJECT_ASYNC_EVENT,
  name: 'UVERBS_METHOD_ASYNC_EVENT_ALLOC',
  id: I.uverbs_method_async_event.UVERBS_METHOD_ASYNC_EVENT_ALLOC,
  attrs: {
    fdHandle: fd(
      'UVERBS_ATTR_ASYNC_EVENT_ALLOC_FD_HANDLE',
      I.uverbs_attrs_async_event_create.UVERBS_ATTR_ASYNC_EVENT_ALLOC_FD_HANDLE,
      O.UVERBS_OBJECT_ASYNC_EVENT,
      'new',
      MANDATORY,
    ),
  },
});

/** Every method this library declares, for the probe and the kernel model. */
export const METHODS = [
  UVERBS_METHOD_INVOKE_WRITE,
  UVERBS_METHOD_GET_CONTEXT,
  UVERBS_METHOD_QUERY_CONTEXT,
  UVERBS_METHOD_INFO_HANDLES,
  UVERBS_METHOD_QUERY_PORT,
  UVERBS_METHOD_QUERY_PORT_SPEED,
  UVERBS_METHOD_QUERY_GID_TABLE,
  UVERBS_METHOD_QUERY_GID_ENTRY,
  UVERBS_METHOD_PD_DESTROY,
  UVERBS_METHOD_MW_DESTROY,
  UVERBS_METHOD_AH_DESTROY,
  UVERBS_METHOD_REG_MR,
  UVERBS_METHOD_MR_DESTROY,
  UVERBS_METHOD_QUERY_MR,
  UVERBS_METHOD_DM_MR_REG,
  UVERBS_METHOD_CQ_CREATE,
  UVERBS_METHOD_CQ_DESTROY,
  UVERBS_METHOD_QP_CREATE,
  UVERBS_METHOD_QP_DESTROY,
  UVERBS_METHOD_SRQ_CREATE,
  UVERBS_METHOD_SRQ_DESTROY,
  UVERBS_METHOD_ASYNC_EVENT_ALLOC,
] as const;

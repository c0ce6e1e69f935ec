/**
 * Legacy write() and extended write-ex commands, mirroring the kernel's
 * `uverbs_def_write_intf` (drivers/infiniband/core/uverbs_cmd.c):
 * command number, request/response structs, and the sizes the kernel
 * enforces (`UAPI_DEF_WRITE_IO` uses sizeof; the `_EX` forms use
 * offsetofend of a named last member), plus whether driver data (UHW)
 * follows the structs.
 */

import { ib_uverbs_ex_write_cmds, ib_uverbs_write_cmds } from './constants.js';
import { type AnyLayout, offsetOfEnd } from './layout.js';
import * as s from './structs.js';

export interface WriteCommand {
  /** The kernel's command name, e.g. `IB_USER_VERBS_CMD_REG_MR`. */
  readonly name: string;
  /** The uverbs object it belongs to, for errors (`UVERBS_OBJECT_MR`). */
  readonly objectName: string;
  readonly command: number;
  /** Sent with IB_USER_VERBS_CMD_FLAG_EXTENDED and `ib_uverbs_ex_cmd_hdr`. */
  readonly extended: boolean;
  readonly request: AnyLayout;
  /** `method_elm->req_size`: the least the kernel accepts. */
  readonly requestSize: number;
  readonly response?: AnyLayout;
  /** `method_elm->resp_size`. */
  readonly responseSize: number;
  /** UHW follows the request and the response (`UAPI_DEF_WRITE_UDATA_*`). */
  readonly udata: boolean;
  /**
   * Request fields the handler refuses below a floor, by name: the posting
   * commands' `wqe_size` must cover the kernel's own work-request struct
   * (uverbs_cmd.c, ib_uverbs_post_send and ib_uverbs_unmarshall_recv: EINVAL).
   */
  readonly least?: Readonly<Record<string, number>>;
}

type Legacy = { udata?: boolean; response?: AnyLayout; least?: Record<string, number> };

function legacy(
  objectName: string,
  name: keyof typeof ib_uverbs_write_cmds,
  request: AnyLayout,
  o: Legacy = {},
): WriteCommand {
  return Object.freeze({
    name,
    objectName,
    command: ib_uverbs_write_cmds[name],
    extended: false,
    request,
    requestSize: request.size,
    response: o.response,
    responseSize: o.response?.size ?? 0,
    udata: o.udata ?? false,
    ...(o.least ? { least: Object.freeze(o.least) } : {}),
  });
}

function extended(
  objectName: string,
  name: keyof typeof ib_uverbs_ex_write_cmds,
  request: AnyLayout,
  requestLast: string,
  response?: { layout: AnyLayout; last: string },
): WriteCommand {
  return Object.freeze({
    name,
    objectName,
    command: ib_uverbs_ex_write_cmds[name],
    extended: true,
    request,
    requestSize: offsetOfEnd(request, requestLast),
    response: response?.layout,
    responseSize: response ? offsetOfEnd(response.layout, response.last) : 0,
    udata: true,
  });
}

const DEVICE = 'UVERBS_OBJECT_DEVICE';
const PD = 'UVERBS_OBJECT_PD';
const MR = 'UVERBS_OBJECT_MR';
const MW = 'UVERBS_OBJECT_MW';
const AH = 'UVERBS_OBJECT_AH';
const CQ = 'UVERBS_OBJECT_CQ';
const QP = 'UVERBS_OBJECT_QP';
const SRQ = 'UVERBS_OBJECT_SRQ';
const COMP_CHANNEL = 'UVERBS_OBJECT_COMP_CHANNEL';

export const WRITE_COMMANDS = {
  IB_USER_VERBS_CMD_GET_CONTEXT: legacy(DEVICE, 'IB_USER_VERBS_CMD_GET_CONTEXT', s.ib_uverbs_get_context, {
    response: s.ib_uverbs_get_context_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_QUERY_DEVICE: legacy(DEVICE, 'IB_USER_VERBS_CMD_QUERY_DEVICE', s.ib_uverbs_query_device, {
    response: s.ib_uverbs_query_device_resp,
  }),
  IB_USER_VERBS_CMD_QUERY_PORT: legacy(DEVICE, 'IB_USER_VERBS_CMD_QUERY_PORT', s.ib_uverbs_query_port, {
    response: s.ib_uverbs_query_port_resp,
  }),
  IB_USER_VERBS_CMD_ALLOC_PD: legacy(PD, 'IB_USER_VERBS_CMD_ALLOC_PD', s.ib_uverbs_alloc_pd, {
    response: s.ib_uverbs_alloc_pd_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_DEALLOC_PD: legacy(PD, 'IB_USER_VERBS_CMD_DEALLOC_PD', s.ib_uverbs_dealloc_pd),
  IB_USER_VERBS_CMD_CREATE_AH: legacy(AH, 'IB_USER_VERBS_CMD_CREATE_AH', s.ib_uverbs_create_ah, {
    response: s.ib_uverbs_create_ah_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_DESTROY_AH: legacy(AH, 'IB_USER_VERBS_CMD_DESTROY_AH', s.ib_uverbs_destroy_ah),
  IB_USER_VERBS_CMD_REG_MR: legacy(MR, 'IB_USER_VERBS_CMD_REG_MR', s.ib_uverbs_reg_mr, {
    response: s.ib_uverbs_reg_mr_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_REREG_MR: legacy(MR, 'IB_USER_VERBS_CMD_REREG_MR', s.ib_uverbs_rereg_mr, {
    response: s.ib_uverbs_rereg_mr_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_DEREG_MR: legacy(MR, 'IB_USER_VERBS_CMD_DEREG_MR', s.ib_uverbs_dereg_mr),
  IB_USER_VERBS_CMD_ALLOC_MW: legacy(MW, 'IB_USER_VERBS_CMD_ALLOC_MW', s.ib_uverbs_alloc_mw, {
    response: s.ib_uverbs_alloc_mw_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_DEALLOC_MW: legacy(MW, 'IB_USER_VERBS_CMD_DEALLOC_MW', s.ib_uverbs_dealloc_mw),
  IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL: legacy(
    COMP_CHANNEL,
    'IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL',
    s.ib_uverbs_create_comp_channel,
    { response: s.ib_uverbs_create_comp_channel_resp },
  ),
  IB_USER_VERBS_CMD_CREATE_CQ: legacy(CQ, 'IB_USER_VERBS_CMD_CREATE_CQ', s.ib_uverbs_create_cq, {
    response: s.ib_uverbs_create_cq_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_RESIZE_CQ: legacy(CQ, 'IB_USER_VERBS_CMD_RESIZE_CQ', s.ib_uverbs_resize_cq, {
    response: s.ib_uverbs_resize_cq_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_DESTROY_CQ: legacy(CQ, 'IB_USER_VERBS_CMD_DESTROY_CQ', s.ib_uverbs_destroy_cq, {
    response: s.ib_uverbs_destroy_cq_resp,
  }),
  IB_USER_VERBS_CMD_REQ_NOTIFY_CQ: legacy(CQ, 'IB_USER_VERBS_CMD_REQ_NOTIFY_CQ', s.ib_uverbs_req_notify_cq),
  IB_USER_VERBS_CMD_CREATE_QP: legacy(QP, 'IB_USER_VERBS_CMD_CREATE_QP', s.ib_uverbs_create_qp, {
    response: s.ib_uverbs_create_qp_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_QUERY_QP: legacy(QP, 'IB_USER_VERBS_CMD_QUERY_QP', s.ib_uverbs_query_qp, {
    response: s.ib_uverbs_query_qp_resp,
  }),
  IB_USER_VERBS_CMD_MODIFY_QP: legacy(QP, 'IB_USER_VERBS_CMD_MODIFY_QP', s.ib_uverbs_modify_qp),
  IB_USER_VERBS_CMD_DESTROY_QP: legacy(QP, 'IB_USER_VERBS_CMD_DESTROY_QP', s.ib_uverbs_destroy_qp, {
    response: s.ib_uverbs_destroy_qp_resp,
  }),
  IB_USER_VERBS_CMD_POST_SEND: legacy(QP, 'IB_USER_VERBS_CMD_POST_SEND', s.ib_uverbs_post_send, {
    response: s.ib_uverbs_post_send_resp,
    least: { wqe_size: s.ib_uverbs_send_wr.size },
  }),
  IB_USER_VERBS_CMD_POST_RECV: legacy(QP, 'IB_USER_VERBS_CMD_POST_RECV', s.ib_uverbs_post_recv, {
    response: s.ib_uverbs_post_recv_resp,
    least: { wqe_size: s.ib_uverbs_recv_wr.size },
  }),
  // UAPI_DEF_WRITE_I: a request of exactly its struct, no response, no driver data (uverbs_cmd.c)
  IB_USER_VERBS_CMD_ATTACH_MCAST: legacy(QP, 'IB_USER_VERBS_CMD_ATTACH_MCAST', s.ib_uverbs_attach_mcast),
  IB_USER_VERBS_CMD_DETACH_MCAST: legacy(QP, 'IB_USER_VERBS_CMD_DETACH_MCAST', s.ib_uverbs_detach_mcast),
  IB_USER_VERBS_CMD_CREATE_SRQ: legacy(SRQ, 'IB_USER_VERBS_CMD_CREATE_SRQ', s.ib_uverbs_create_srq, {
    response: s.ib_uverbs_create_srq_resp,
    udata: true,
  }),
  IB_USER_VERBS_CMD_MODIFY_SRQ: legacy(SRQ, 'IB_USER_VERBS_CMD_MODIFY_SRQ', s.ib_uverbs_modify_srq, { udata: true }),
  IB_USER_VERBS_CMD_QUERY_SRQ: legacy(SRQ, 'IB_USER_VERBS_CMD_QUERY_SRQ', s.ib_uverbs_query_srq, {
    response: s.ib_uverbs_query_srq_resp,
  }),
  IB_USER_VERBS_CMD_DESTROY_SRQ: legacy(SRQ, 'IB_USER_VERBS_CMD_DESTROY_SRQ', s.ib_uverbs_destroy_srq, {
    response: s.ib_uverbs_destroy_srq_resp,
  }),
  IB_USER_VERBS_CMD_POST_SRQ_RECV: legacy(SRQ, 'IB_USER_VERBS_CMD_POST_SRQ_RECV', s.ib_uverbs_post_srq_recv, {
    response: s.ib_uverbs_post_srq_recv_resp,
    least: { wqe_size: s.ib_uverbs_recv_wr.size },
  }),
  IB_USER_VERBS_EX_CMD_QUERY_DEVICE: extended(
    DEVICE,
    'IB_USER_VERBS_EX_CMD_QUERY_DEVICE',
    s.ib_uverbs_ex_query_device,
    'reserved',
    { layout: s.ib_uverbs_ex_query_device_resp, last: 'response_length' },
  ),
  IB_USER_VERBS_EX_CMD_CREATE_CQ: extended(CQ, 'IB_USER_VERBS_EX_CMD_CREATE_CQ', s.ib_uverbs_ex_create_cq, 'reserved', {
    layout: s.ib_uverbs_ex_create_cq_resp,
    last: 'response_length',
  }),
  IB_USER_VERBS_EX_CMD_CREATE_QP: extended(
    QP,
    'IB_USER_VERBS_EX_CMD_CREATE_QP',
    s.ib_uverbs_ex_create_qp,
    'comp_mask',
    { layout: s.ib_uverbs_ex_create_qp_resp, last: 'response_length' },
  ),
  IB_USER_VERBS_EX_CMD_MODIFY_QP: extended(QP, 'IB_USER_VERBS_EX_CMD_MODIFY_QP', s.ib_uverbs_ex_modify_qp, 'base', {
    layout: s.ib_uverbs_ex_modify_qp_resp,
    last: 'response_length',
  }),
} as const satisfies Record<string, WriteCommand>;

export type WriteCommandName = keyof typeof WRITE_COMMANDS;

/**
 * Every ioctl method the library knows by name: the 22 it speaks (full
 * attribute tables, src/abi/methods.ts) and the ones it has no verbs for
 * (WQ, DM, counters, flow, flow actions, RWQ indirection tables, XRCD,
 * DMAH, DMABUF, advise and dma-buf MRs). For the latter the table holds
 * only the identity and the object handle each kernel declaration starts
 * with, UA_MANDATORY in every one of them (uverbs_std_types*.c, Linux 7.2):
 * that is the fact the probe needs to know a command without attributes is
 * refused (EINVAL) before the handler.
 */

import * as I from '../abi/ids.js';
import { fd, idr, MANDATORY, type MethodSpec, method } from '../abi/method-spec.js';
import { METHODS } from '../abi/methods.js';

const O = I.uverbs_default_objects;

/** A method the library has no verbs for, by its mandatory object handle (attribute id 0). */
function identity(
  objectName: keyof typeof O,
  name: string,
  id: number,
  handle: { name: string; id: number; object: number; access: 'new' | 'read' | 'destroy'; fd?: true },
): MethodSpec {
  const attr = handle.fd
    ? fd(handle.name, handle.id, handle.object, handle.access === 'new' ? 'new' : 'read', MANDATORY)
    : idr(handle.name, handle.id, handle.object, handle.access, MANDATORY);
  return method({ objectName, object: O[objectName], name, id, attrs: { handle: attr } });
}

const M = {
  mr: I.uverbs_methods_mr,
  wq: I.uverbs_methods_wq,
  dm: I.uverbs_methods_dm,
  counters: I.uverbs_methods_actions_counters_ops,
  flow: I.uverbs_methods_flow,
  rwq: I.uverbs_methods_rwq_ind_tbl,
  flowAction: I.uverbs_methods_actions_flow_action_ops,
  xrcd: I.uverbs_methods_xrcd,
  dmah: I.uverbs_methods_dmah,
  dmabuf: I.uverbs_methods_dmabuf,
};

export const IDENTITY_ONLY: readonly MethodSpec[] = [
  identity('UVERBS_OBJECT_MR', 'UVERBS_METHOD_ADVISE_MR', M.mr.UVERBS_METHOD_ADVISE_MR, {
    name: 'UVERBS_ATTR_ADVISE_MR_PD_HANDLE',
    id: I.uverbs_attrs_advise_mr_cmd_attr_ids.UVERBS_ATTR_ADVISE_MR_PD_HANDLE,
    object: O.UVERBS_OBJECT_PD,
    access: 'read',
  }),
  identity('UVERBS_OBJECT_MR', 'UVERBS_METHOD_REG_DMABUF_MR', M.mr.UVERBS_METHOD_REG_DMABUF_MR, {
    name: 'UVERBS_ATTR_REG_DMABUF_MR_HANDLE',
    id: I.uverbs_attrs_reg_dmabuf_mr_cmd_attr_ids.UVERBS_ATTR_REG_DMABUF_MR_HANDLE,
    object: O.UVERBS_OBJECT_MR,
    access: 'new',
  }),
  identity('UVERBS_OBJECT_XRCD', 'UVERBS_METHOD_XRCD_DESTROY', M.xrcd.UVERBS_METHOD_XRCD_DESTROY, {
    name: 'UVERBS_ATTR_DESTROY_XRCD_HANDLE',
    id: I.uverbs_attrs_xrcd_destroy_ids.UVERBS_ATTR_DESTROY_XRCD_HANDLE,
    object: O.UVERBS_OBJECT_XRCD,
    access: 'destroy',
  }),
  identity('UVERBS_OBJECT_WQ', 'UVERBS_METHOD_WQ_CREATE', M.wq.UVERBS_METHOD_WQ_CREATE, {
    name: 'UVERBS_ATTR_CREATE_WQ_HANDLE',
    id: I.uverbs_attrs_create_wq_cmd_attr_ids.UVERBS_ATTR_CREATE_WQ_HANDLE,
    object: O.UVERBS_OBJECT_WQ,
    access: 'new',
  }),
  identity('UVERBS_OBJECT_WQ', 'UVERBS_METHOD_WQ_DESTROY', M.wq.UVERBS_METHOD_WQ_DESTROY, {
    name: 'UVERBS_ATTR_DESTROY_WQ_HANDLE',
    id: I.uverbs_attrs_destroy_wq_cmd_attr_ids.UVERBS_ATTR_DESTROY_WQ_HANDLE,
    object: O.UVERBS_OBJECT_WQ,
    access: 'destroy',
  }),
  identity('UVERBS_OBJECT_RWQ_IND_TBL', 'UVERBS_METHOD_RWQ_IND_TBL_DESTROY', M.rwq.UVERBS_METHOD_RWQ_IND_TBL_DESTROY, {
    name: 'UVERBS_ATTR_DESTROY_RWQ_IND_TBL_HANDLE',
    id: I.uverbs_attrs_rwq_ind_tbl_destroy_ids.UVERBS_ATTR_DESTROY_RWQ_IND_TBL_HANDLE,
    object: O.UVERBS_OBJECT_RWQ_IND_TBL,
    access: 'destroy',
  }),
  identity('UVERBS_OBJECT_FLOW', 'UVERBS_METHOD_FLOW_DESTROY', M.flow.UVERBS_METHOD_FLOW_DESTROY, {
    name: 'UVERBS_ATTR_DESTROY_FLOW_HANDLE',
    id: I.uverbs_attrs_flow_destroy_ids.UVERBS_ATTR_DESTROY_FLOW_HANDLE,
    object: O.UVERBS_OBJECT_FLOW,
    access: 'destroy',
  }),
  identity(
    'UVERBS_OBJECT_FLOW_ACTION',
    'UVERBS_METHOD_FLOW_ACTION_ESP_CREATE',
    M.flowAction.UVERBS_METHOD_FLOW_ACTION_ESP_CREATE,
    {
      name: 'UVERBS_ATTR_CREATE_FLOW_ACTION_ESP_HANDLE',
      id: I.uverbs_attrs_create_flow_action_esp.UVERBS_ATTR_CREATE_FLOW_ACTION_ESP_HANDLE,
      object: O.UVERBS_OBJECT_FLOW_ACTION,
      access: 'new',
    },
  ),
  identity(
    'UVERBS_OBJECT_FLOW_ACTION',
    'UVERBS_METHOD_FLOW_ACTION_DESTROY',
    M.flowAction.UVERBS_METHOD_FLOW_ACTION_DESTROY,
    {
      name: 'UVERBS_ATTR_DESTROY_FLOW_ACTION_HANDLE',
      id: I.uverbs_attrs_destroy_flow_action_esp.UVERBS_ATTR_DESTROY_FLOW_ACTION_HANDLE,
      object: O.UVERBS_OBJECT_FLOW_ACTION,
      access: 'destroy',
    },
  ),
  identity(
    'UVERBS_OBJECT_FLOW_ACTION',
    'UVERBS_METHOD_FLOW_ACTION_ESP_MODIFY',
    M.flowAction.UVERBS_METHOD_FLOW_ACTION_ESP_MODIFY,
    {
      name: 'UVERBS_ATTR_MODIFY_FLOW_ACTION_ESP_HANDLE',
      id: I.uverbs_attrs_modify_flow_action_esp.UVERBS_ATTR_MODIFY_FLOW_ACTION_ESP_HANDLE,
      object: O.UVERBS_OBJECT_FLOW_ACTION,
      access: 'read',
    },
  ),
  identity('UVERBS_OBJECT_DM', 'UVERBS_METHOD_DM_ALLOC', M.dm.UVERBS_METHOD_DM_ALLOC, {
    name: 'UVERBS_ATTR_ALLOC_DM_HANDLE',
    id: I.uverbs_attrs_alloc_dm_cmd_attr_ids.UVERBS_ATTR_ALLOC_DM_HANDLE,
    object: O.UVERBS_OBJECT_DM,
    access: 'new',
  }),
  identity('UVERBS_OBJECT_DM', 'UVERBS_METHOD_DM_FREE', M.dm.UVERBS_METHOD_DM_FREE, {
    name: 'UVERBS_ATTR_FREE_DM_HANDLE',
    id: I.uverbs_attrs_free_dm_cmd_attr_ids.UVERBS_ATTR_FREE_DM_HANDLE,
    object: O.UVERBS_OBJECT_DM,
    access: 'destroy',
  }),
  identity('UVERBS_OBJECT_COUNTERS', 'UVERBS_METHOD_COUNTERS_CREATE', M.counters.UVERBS_METHOD_COUNTERS_CREATE, {
    name: 'UVERBS_ATTR_CREATE_COUNTERS_HANDLE',
    id: I.uverbs_attrs_create_counters_cmd_attr_ids.UVERBS_ATTR_CREATE_COUNTERS_HANDLE,
    object: O.UVERBS_OBJECT_COUNTERS,
    access: 'new',
  }),
  identity('UVERBS_OBJECT_COUNTERS', 'UVERBS_METHOD_COUNTERS_DESTROY', M.counters.UVERBS_METHOD_COUNTERS_DESTROY, {
    name: 'UVERBS_ATTR_DESTROY_COUNTERS_HANDLE',
    id: I.uverbs_attrs_destroy_counters_cmd_attr_ids.UVERBS_ATTR_DESTROY_COUNTERS_HANDLE,
    object: O.UVERBS_OBJECT_COUNTERS,
    access: 'destroy',
  }),
  identity('UVERBS_OBJECT_COUNTERS', 'UVERBS_METHOD_COUNTERS_READ', M.counters.UVERBS_METHOD_COUNTERS_READ, {
    name: 'UVERBS_ATTR_READ_COUNTERS_HANDLE',
    id: I.uverbs_attrs_read_counters_cmd_attr_ids.UVERBS_ATTR_READ_COUNTERS_HANDLE,
    object: O.UVERBS_OBJECT_COUNTERS,
    access: 'read',
  }),
  identity('UVERBS_OBJECT_DMAH', 'UVERBS_METHOD_DMAH_ALLOC', M.dmah.UVERBS_METHOD_DMAH_ALLOC, {
    name: 'UVERBS_ATTR_ALLOC_DMAH_HANDLE',
    id: I.uverbs_attrs_alloc_dmah_cmd_attr_ids.UVERBS_ATTR_ALLOC_DMAH_HANDLE,
    object: O.UVERBS_OBJECT_DMAH,
    access: 'new',
  }),
  identity('UVERBS_OBJECT_DMAH', 'UVERBS_METHOD_DMAH_FREE', M.dmah.UVERBS_METHOD_DMAH_FREE, {
    name: 'UVERBS_ATTR_FREE_DMA_HANDLE',
    id: I.uverbs_attrs_free_dmah_cmd_attr_ids.UVERBS_ATTR_FREE_DMA_HANDLE,
    object: O.UVERBS_OBJECT_DMAH,
    access: 'destroy',
  }),
  identity('UVERBS_OBJECT_DMABUF', 'UVERBS_METHOD_DMABUF_ALLOC', M.dmabuf.UVERBS_METHOD_DMABUF_ALLOC, {
    name: 'UVERBS_ATTR_ALLOC_DMABUF_HANDLE',
    id: I.uverbs_attrs_alloc_dmabuf_cmd_attr_ids.UVERBS_ATTR_ALLOC_DMABUF_HANDLE,
    object: O.UVERBS_OBJECT_DMABUF,
    access: 'new',
    fd: true,
  }),
];

/** Every method the probe asks about: full tables first, then identities. */
export const KNOWN_METHODS: readonly MethodSpec[] = [...METHODS, ...IDENTITY_ONLY];

/** Whether the library has the method's whole attribute table (and so probes its optional attributes). */
export function hasAttributeTable(spec: MethodSpec): boolean {
  return !IDENTITY_ONLY.includes(spec);
}

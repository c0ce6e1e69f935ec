/**
 * An in-process model of how the kernel validates a uverbs command before
 * any handler runs, replaying drivers/infiniband/core/uverbs_ioctl.c
 * (ib_uverbs_ioctl, ib_uverbs_cmd_verbs, uverbs_set_attr,
 * uverbs_process_attr, ib_uverbs_run_method), uverbs_main.c (ib_uverbs_write,
 * verify_hdr) and rdma_core.h (uapi_get_method), in the kernel's order.
 *
 * It answers the errno the framework would return (0: the handler would
 * run). It models structure, not objects: handle lookups are delegated to
 * an optional `lookup`. It is a pure function of the bytes and never throws.
 */

import { EFAULT, EINVAL, ENOSPC, ENOTTY, EOPNOTSUPP, EPROTONOSUPPORT } from '../errno.js';
import {
  ib_user_verbs_defines,
  ib_uverbs_ex_write_cmds,
  ib_uverbs_write_cmds,
  rdma_user_ioctl_defines,
  uverbs_attr_flags,
} from './constants.js';
import type { AttrSpec, MethodSpec } from './method-spec.js';
import { methodKey } from './method-spec.js';
import type { WriteCommand } from './write-commands.js';

const PAGE_SIZE = 4096;
const { UVERBS_ATTR_F_MANDATORY } = uverbs_attr_flags;
const { IB_USER_VERBS_CMD_FLAG_EXTENDED, IB_USER_VERBS_CMD_COMMAND_MASK } = ib_user_verbs_defines;

/** What the model knows about one device: its driver id and the methods and commands it offers. */
export interface ModelDevice {
  readonly driverId: number;
  /** Methods by `methodKey(object, method)`. */
  readonly methods: ReadonlyMap<number, MethodSpec>;
  /** Legacy commands by number; `null` is a slot the kernel knows but this driver lacks. */
  readonly writes: ReadonlyMap<number, WriteCommand | null>;
  readonly writesEx: ReadonlyMap<number, WriteCommand | null>;
  /** Reads user memory for pointer attributes; undefined means unreadable (EFAULT). */
  readonly readUser?: (address: bigint, length: number) => Uint8Array | undefined;
  /** Resolves an object handle or fd; returns an errno (0 when found). Default: every handle exists. */
  readonly lookup?: (attr: AttrSpec, value: bigint) => number;
  /**
   * How many command slots the device's uapi has (uverbs_uapi.c: the
   * highest command the device has, plus one; past that, EOPNOTSUPP before
   * any size check). Default: every command the uapi headers declare, as
   * for a device with all of them. A device without the last ones (rxe has
   * no write-ex command above EX_MODIFY_QP) has fewer.
   */
  readonly writeSlots?: { readonly legacy: number; readonly ex: number };
}

export function modelDevice(
  driverId: number,
  methods: readonly MethodSpec[],
  writes: readonly WriteCommand[],
  options: Pick<ModelDevice, 'readUser' | 'lookup' | 'writeSlots'> = {},
): ModelDevice {
  const legacy = new Map<number, WriteCommand | null>();
  const ex = new Map<number, WriteCommand | null>();
  for (const w of writes) (w.extended ? ex : legacy).set(w.command, w);
  return {
    driverId,
    methods: new Map(methods.map((m) => [methodKey(m.object, m.id), m])),
    writes: legacy,
    writesEx: ex,
    ...options,
  };
}

function isCleared(bytes: Uint8Array | undefined): boolean | undefined {
  return bytes === undefined ? undefined : bytes.every((b) => b === 0);
}

/**
 * The errno RDMA_VERBS_IOCTL would return for `command` (header followed by
 * its attributes, as bytes) before the method's handler runs.
 */
export function validateIoctl(device: ModelDevice, request: number, command: Uint8Array): number {
  if (request !== rdma_user_ioctl_defines.RDMA_VERBS_IOCTL) return ENOTTY;
  if (command.byteLength < 24) return EFAULT;
  const view = new DataView(command.buffer, command.byteOffset, command.byteLength);
  const length = view.getUint16(0, true);
  const objectId = view.getUint16(2, true);
  const methodId = view.getUint16(4, true);
  const numAttrs = view.getUint16(6, true);
  if (length > PAGE_SIZE || length !== 24 + 16 * numAttrs) return EINVAL;
  if (view.getBigUint64(8, true) !== 0n || view.getUint32(20, true) !== 0) return EPROTONOSUPPORT;
  if (view.getUint32(16, true) !== device.driverId) return EINVAL;
  const method = device.methods.get(methodKey(objectId, methodId));
  if (!method) return EPROTONOSUPPORT;
  if (command.byteLength < length) return EFAULT;

  const byId = new Map<number, AttrSpec>(Object.values(method.attrs).map((a) => [a.id, a]));
  const present = new Set<number>();
  for (let i = 0; i < numAttrs; i++) {
    const at = 24 + 16 * i;
    const id = view.getUint16(at, true);
    const spec = byId.get(id);
    if (!spec) {
      if (view.getUint16(at + 4, true) & UVERBS_ATTR_F_MANDATORY) return EPROTONOSUPPORT;
      continue;
    }
    if (present.has(id)) return EINVAL;
    const err = processAttr(device, spec, view, at);
    if (err) return err;
    present.add(id);
  }
  for (const spec of byId.values()) if (spec.mandatory && !present.has(spec.id)) return EINVAL;
  return 0;
}

function processAttr(device: ModelDevice, spec: AttrSpec, view: DataView, at: number): number {
  const len = view.getUint16(at + 2, true);
  const elemId = view.getUint8(at + 6);
  const enumReserved = view.getUint8(at + 7);
  const reserved = view.getUint16(at + 6, true);
  const data = view.getBigUint64(at + 8, true);
  switch (spec.kind) {
    case 'enumIn':
    case 'ptrIn':
    case 'ptrOut': {
      let val: { minLen: number; len: number; zeroTrailing: boolean } = spec as never;
      if (spec.kind === 'enumIn') {
        const elem = spec.elems[elemId];
        if (!elem) return EOPNOTSUPP;
        if (enumReserved) return EINVAL;
        val = elem;
      }
      if (spec.kind !== 'ptrOut' && len > val.len && val.zeroTrailing) {
        const tail =
          len > 8
            ? device.readUser?.(data + BigInt(val.len), len - val.len)
            : new Uint8Array(new BigUint64Array([data]).buffer).subarray(val.len, len);
        const cleared = isCleared(tail);
        if (cleared === undefined) return EFAULT;
        if (!cleared) return EOPNOTSUPP;
      }
      if (len < val.minLen || (!val.zeroTrailing && len > val.len)) return EINVAL;
      if (spec.kind !== 'enumIn' && reserved) return EINVAL;
      // UA_ALLOC_AND_COPY: a value that is not inline is copied in right here
      if (spec.kind === 'ptrIn' && spec.allocAndCopy && len > 8 && device.readUser?.(data, len) === undefined) {
        return EFAULT;
      }
      return 0;
    }
    case 'idr':
    case 'fd':
      if (reserved) return EINVAL;
      if (len !== 0) return EINVAL;
      return device.lookup?.(spec, data) ?? 0;
    case 'rawFd': {
      const fd = BigInt.asIntN(64, data);
      if (reserved || len !== 0 || fd < -0x8000_0000n || fd > 0x7fff_ffffn) return EINVAL;
      return 0;
    }
    case 'idrsArray': {
      if (reserved) return EINVAL;
      if (len % 4) return EINVAL;
      const count = len / 4;
      if (count < spec.minCount || count > spec.maxCount) return EINVAL;
      return 0;
    }
  }
}

/** Command slots of a device with every command (rdma_core.h: `cmd_idx >= num_write` is EOPNOTSUPP). */
const NUM_WRITE = ib_uverbs_write_cmds.IB_USER_VERBS_CMD_OPEN_QP + 1;
const NUM_WRITE_EX = ib_uverbs_ex_write_cmds.IB_USER_VERBS_EX_CMD_MODIFY_CQ + 1;

/**
 * The errno write(2) would return for `buffer` before the command's handler
 * runs, plus the handler's own first check (`uverbs_request`): request
 * bytes past the struct it knows must be zero, or EOPNOTSUPP. The posting
 * commands (those with a `least`) parse their work requests themselves: 0.
 */
export function validateWrite(device: ModelDevice, buffer: Uint8Array): number {
  const count = buffer.byteLength;
  if (count < 8) return EINVAL;
  const view = new DataView(buffer.buffer, buffer.byteOffset, count);
  const command = view.getUint32(0, true);
  const inWords = view.getUint16(4, true);
  const outWords = view.getUint16(6, true);
  if ((command & ~(IB_USER_VERBS_CMD_FLAG_EXTENDED | IB_USER_VERBS_CMD_COMMAND_MASK)) >>> 0) return EINVAL;
  const index = command & IB_USER_VERBS_CMD_COMMAND_MASK;
  const extended = (command & IB_USER_VERBS_CMD_FLAG_EXTENDED) !== 0;
  const slots = extended ? (device.writeSlots?.ex ?? NUM_WRITE_EX) : (device.writeSlots?.legacy ?? NUM_WRITE);
  if (index >= slots) return EOPNOTSUPP;
  const method = (extended ? device.writesEx : device.writes).get(index);
  if (!method) {
    // the kernel's notsupp method: a non-extended, zero-size slot
    if (inWords * 4 !== count) return EINVAL;
    return EOPNOTSUPP;
  }
  if (method.extended) {
    if (count < 24) return EINVAL;
    const response = view.getBigUint64(8, true);
    const providerIn = view.getUint16(16, true);
    const providerOut = view.getUint16(18, true);
    const reserved = view.getUint32(20, true);
    if ((inWords + providerIn) * 8 !== count - 24) return EINVAL;
    // verify_hdr's size checks compare against the method's req_size and
    // resp_size, which uverbs_uapi.c (uapi_create_write) fills only for
    // legacy commands: for write-ex they are 0, and a short request reaches
    // the handler, zero-filled by copy_struct_from_user.
    if (reserved) return EINVAL;
    if (response) {
      if (!outWords && !providerOut) return EINVAL;
    } else if (outWords || providerOut) {
      return EINVAL;
    }
    const inLen = inWords * 8;
    if (inLen > method.request.size && !buffer.subarray(24 + method.request.size, 24 + inLen).every((b) => b === 0)) {
      return EOPNOTSUPP;
    }
    return 0;
  }
  if (inWords * 4 !== count) return EINVAL;
  if (count < method.requestSize + 8) {
    // verify_hdr's workaround for rdma-core v18/v19, which sent DESTROY_CQ as a 16-byte write: the
    // kernel takes it as 24 bytes and runs the handler (found by the real-kernel fuzz: ENOENT, not ENOSPC)
    if (index === ib_uverbs_write_cmds.IB_USER_VERBS_CMD_DESTROY_CQ && count === 16) return 0;
    return ENOSPC;
  }
  if (outWords * 4 < method.responseSize) return ENOSPC;
  // the posting commands read their tail (the work requests) with uverbs_request_start/next, not
  // uverbs_request: no zero check up front; the handler decides (found by the real-kernel fuzz: ENOSPC)
  if (method.least !== undefined) return 0;
  if (
    !method.udata &&
    count - 8 > method.request.size &&
    !buffer.subarray(8 + method.request.size).every((b) => b === 0)
  ) {
    return EOPNOTSUPP;
  }
  return 0;
}

/**
 * RDMA_VERBS_IOCTL encoding: the header, the attribute TLVs, and reading
 * back what the kernel wrote.
 *
 * All encoding rules live here (cf. rdma-core's cmd_ioctl.h):
 * - an input of at most 8 bytes travels inline in `data`; longer ones are
 *   copied into the scratch arena and `data` points at them;
 * - `len` never exceeds 0xFFFF, the whole command never exceeds a page;
 * - reserved fields are zero; `driver_id` is the device's;
 * - an attribute the method declares mandatory carries
 *   UVERBS_ATTR_F_MANDATORY, so an older kernel refuses it
 *   (EPROTONOSUPPORT) rather than silently ignoring it;
 * - after the call, new object handles are read back from `data`, and an
 *   output is trusted only where UVERBS_ATTR_F_VALID_OUTPUT is set (or the
 *   attribute is mandatory, which the kernel treats as always written).
 *
 * Errors are sticky: the first bad attribute is remembered and thrown by
 * `finish()`, before any syscall.
 */

import { invalidArgType, outOfRange } from '../errors.js';
import type { Region, Scratch } from '../transport/memory.js';
import { uverbs_attr_flags } from './constants.js';
import { bytesLength, bytesView, checkScalar, decodeVouched, encode, type Input } from './layout.js';
import type { AttrSpec, MethodSpec, Payload } from './method-spec.js';
import { ib_uverbs_attr, ib_uverbs_ioctl_hdr } from './structs.js';

const { UVERBS_ATTR_F_MANDATORY, UVERBS_ATTR_F_VALID_OUTPUT } = uverbs_attr_flags;
const HDR = ib_uverbs_ioctl_hdr.size;
const ATTR = ib_uverbs_attr.size;
/** The kernel rejects a header whose length exceeds PAGE_SIZE (EINVAL). */
export const MAX_IOCTL_BYTES = 4096;
export const MAX_ATTRS = Math.floor((MAX_IOCTL_BYTES - HDR) / ATTR);

interface PendingAttr {
  id: number;
  len: number;
  flags: number;
  elemId: number;
  data: bigint;
  /** Output buffer, for ptrOut attributes. */
  out?: Region;
}

/** Where an attribute landed in the command, to read its result after the call. */
export interface AttrSlot {
  readonly index: number;
}

/** Builds one RDMA_VERBS_IOCTL command in a scratch arena. */
export class IoctlCommand {
  readonly objectId: number;
  readonly methodId: number;
  readonly driverId: number;
  readonly #scratch: Scratch;
  readonly #attrs: PendingAttr[] = [];
  #error: Error | undefined;
  #header: Region | undefined;

  constructor(objectId: number, methodId: number, driverId: number, scratch: Scratch) {
    this.objectId = objectId;
    this.methodId = methodId;
    this.driverId = driverId;
    this.#scratch = scratch;
  }

  #fail(error: Error): AttrSlot {
    this.#error ??= error;
    return { index: -1 };
  }

  #push(attr: PendingAttr): AttrSlot {
    if (this.#attrs.some((a) => a.id === attr.id)) {
      return this.#fail(outOfRange(`attribute ${attr.id}`, 'present at most once (the kernel answers EINVAL)', 2));
    }
    if (this.#attrs.length >= MAX_ATTRS)
      return this.#fail(outOfRange('attribute count', `<= ${MAX_ATTRS}`, this.#attrs.length + 1));
    this.#attrs.push(attr);
    return { index: this.#attrs.length - 1 };
  }

  /** An input of `bytes`: inline when it fits in 8 bytes, else a pointer. */
  ptrIn(id: number, bytes: Uint8Array, mandatory: boolean, elemId = 0): AttrSlot {
    if (bytes.byteLength > 0xffff)
      return this.#fail(outOfRange(`attribute ${id} length`, '<= 65535', bytes.byteLength));
    const flags = mandatory ? UVERBS_ATTR_F_MANDATORY : 0;
    if (bytes.byteLength <= 8) {
      const inline = new Uint8Array(8);
      inline.set(bytes);
      const data = new DataView(inline.buffer).getBigUint64(0, true);
      return this.#push({ id, len: bytes.byteLength, flags, elemId, data });
    }
    const copy = this.#scratch.take(bytes.byteLength);
    copy.bytes.set(bytes);
    return this.#push({ id, len: bytes.byteLength, flags, elemId, data: copy.address });
  }

  /** A scalar input of `width` bytes, inline. */
  inline(id: number, value: bigint, width: 1 | 2 | 4 | 8, mandatory: boolean): AttrSlot {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    return this.ptrIn(id, bytes.subarray(0, width), mandatory);
  }

  /** An output buffer of `length` bytes the kernel may fill. */
  ptrOut(id: number, length: number, mandatory: boolean): AttrSlot {
    if (length > 0xffff) return this.#fail(outOfRange(`attribute ${id} length`, '<= 65535', length));
    const out = this.#scratch.take(Math.max(length, 1));
    return this.#push({
      id,
      len: length,
      flags: mandatory ? UVERBS_ATTR_F_MANDATORY : 0,
      elemId: 0,
      data: out.address,
      out,
    });
  }

  /** An existing object handle (UVERBS_ACCESS_READ/WRITE/DESTROY). */
  idr(id: number, handle: number, mandatory: boolean): AttrSlot {
    try {
      checkScalar(`attribute ${id} handle`, 'u32', handle);
    } catch (error) {
      return this.#fail(error as Error);
    }
    return this.#push({ id, len: 0, flags: mandatory ? UVERBS_ATTR_F_MANDATORY : 0, elemId: 0, data: BigInt(handle) });
  }

  /** A new object: the kernel writes its handle (or fd) back into `data`. */
  newObject(id: number, mandatory: boolean): AttrSlot {
    return this.#push({ id, len: 0, flags: mandatory ? UVERBS_ATTR_F_MANDATORY : 0, elemId: 0, data: 0n });
  }

  /** An fd-backed object (UVERBS_ATTR_FD) or a raw fd (UVERBS_ATTR_RAW_FD). */
  fd(id: number, fd: number, mandatory: boolean): AttrSlot {
    try {
      checkScalar(`attribute ${id} fd`, 's32', fd);
    } catch (error) {
      return this.#fail(error as Error);
    }
    return this.#push({
      id,
      len: 0,
      flags: mandatory ? UVERBS_ATTR_F_MANDATORY : 0,
      elemId: 0,
      data: BigInt.asUintN(64, BigInt(fd)),
    });
  }

  /** An array of object handles (UVERBS_ATTR_IDRS_ARR). */
  idrs(id: number, handles: readonly number[], mandatory: boolean): AttrSlot {
    const bytes = new Uint8Array(handles.length * 4);
    const view = new DataView(bytes.buffer);
    try {
      for (const [i, h] of handles.entries()) {
        view.setUint32(i * 4, Number(checkScalar(`attribute ${id}[${i}]`, 'u32', h)), true);
      }
    } catch (error) {
      return this.#fail(error as Error);
    }
    return this.ptrIn(id, bytes, mandatory);
  }

  /** Lays out header and TLVs; throws the first recorded argument error. */
  finish(): Region {
    if (this.#error) throw this.#error;
    const length = HDR + ATTR * this.#attrs.length;
    const header = this.#scratch.take(length);
    encode(
      ib_uverbs_ioctl_hdr,
      {
        length,
        object_id: this.objectId,
        method_id: this.methodId,
        num_attrs: this.#attrs.length,
        driver_id: this.driverId,
      },
      header.bytes,
    );
    this.#attrs.forEach((a, i) => {
      encode(ib_uverbs_attr, { attr_id: a.id, len: a.len, flags: a.flags, data: a.data }, header.bytes, HDR + ATTR * i);
      header.bytes[HDR + ATTR * i + 6] = a.elemId;
    });
    this.#header = header;
    return header;
  }

  #attrAt(slot: AttrSlot): { flags: number; data: bigint } {
    if (!this.#header || slot.index < 0) throw new Error('command not sent');
    const view = new DataView(this.#header.bytes.buffer, this.#header.bytes.byteOffset);
    const at = HDR + ATTR * slot.index;
    return { flags: view.getUint16(at + 4, true), data: view.getBigUint64(at + 8, true) };
  }

  /** The handle or fd the kernel wrote back for a new object. */
  newHandle(slot: AttrSlot): number {
    return Number(BigInt.asIntN(64, this.#attrAt(slot).data));
  }

  /** An output's bytes, or undefined if the kernel did not vouch for it. */
  output(slot: AttrSlot): Uint8Array | undefined {
    const attr = this.#attrs[slot.index];
    if (!attr?.out) throw new Error('not an output attribute');
    const { flags } = this.#attrAt(slot);
    const valid = (flags & UVERBS_ATTR_F_VALID_OUTPUT) !== 0 || (attr.flags & UVERBS_ATTR_F_MANDATORY) !== 0;
    return valid ? attr.out.bytes.subarray(0, attr.len) : undefined;
  }
}

/** What a caller passes for each attribute kind. */
export type ArgValue = number | bigint | Uint8Array | Input<never> | readonly number[] | Record<string, unknown>;

function payloadBytes(name: string, payload: Payload, value: unknown, len: number): Uint8Array {
  switch (payload.type) {
    case 'scalar': {
      const v = checkScalar(name, payload.scalar, value);
      const out = new Uint8Array(len);
      const view = new DataView(out.buffer);
      if (len === 8) view.setBigUint64(0, BigInt.asUintN(64, v), true);
      else if (len === 4) view.setUint32(0, Number(BigInt.asUintN(32, v)), true);
      else if (len === 2) view.setUint16(0, Number(v), true);
      else view.setUint8(0, Number(v));
      return out;
    }
    case 'struct': {
      if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'object', value);
      const out = new Uint8Array(payload.layout.size);
      encode(payload.layout, value as never, out);
      return out;
    }
    case 'bytes': {
      // a copy of a genuine Uint8Array's own bytes: its length is what the attribute says
      const length = bytesLength(value);
      if (length < 0) throw invalidArgType(name, 'Uint8Array', value);
      const copy = new Uint8Array(length);
      copy.set(bytesView(value as Uint8Array, length));
      return copy;
    }
  }
}

/** Output lengths the library asks for: the declared size, or what the caller says for open-ended ones. */
function outLength(spec: Extract<AttrSpec, { kind: 'ptrOut' }>, requested: unknown): number {
  if (spec.len !== 0xffff) return spec.len;
  if (typeof requested === 'number') return requested;
  return spec.minLen;
}

export interface EncodedMethod {
  readonly command: IoctlCommand;
  readonly slots: ReadonlyMap<string, AttrSlot>;
}

/**
 * The one generic encoder: walks a method spec and the caller's arguments
 * (keyed as in the spec) and builds the command. Mandatory attributes must
 * be given (new objects and outputs are added by the encoder); unknown keys
 * are refused. Output attributes take an optional length in `args` for
 * open-ended ones (UVERBS_ATTR_MIN_SIZE).
 */
export function encodeMethod(
  spec: MethodSpec,
  args: Readonly<Record<string, unknown>>,
  driverId: number,
  scratch: Scratch,
): EncodedMethod {
  const cmd = new IoctlCommand(spec.object, spec.id, driverId, scratch);
  const slots = new Map<string, AttrSlot>();
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(spec.attrs, key))
      throw invalidArgType(`${spec.name}.${key}`, `one of ${Object.keys(spec.attrs).join(', ')}`, args[key]);
  }
  for (const [key, attr] of Object.entries(spec.attrs)) {
    const value = args[key];
    const name = `${spec.name}.${key}`;
    const isNew = (attr.kind === 'idr' || attr.kind === 'fd') && attr.access === 'new';
    if (attr.kind === 'ptrOut') {
      if (attr.mandatory || value !== undefined)
        slots.set(key, cmd.ptrOut(attr.id, outLength(attr, value), attr.mandatory));
      continue;
    }
    if (isNew) {
      slots.set(key, cmd.newObject(attr.id, attr.mandatory));
      continue;
    }
    if (value === undefined) {
      if (attr.mandatory) throw invalidArgType(name, `given (${attr.name} is mandatory)`, value);
      continue;
    }
    switch (attr.kind) {
      case 'idr':
        slots.set(key, cmd.idr(attr.id, value as number, attr.mandatory));
        break;
      case 'fd':
      case 'rawFd':
        slots.set(key, cmd.fd(attr.id, value as number, attr.mandatory));
        break;
      case 'idrsArray':
        if (!Array.isArray(value)) throw invalidArgType(name, 'an array of handles', value);
        slots.set(key, cmd.idrs(attr.id, value, attr.mandatory));
        break;
      case 'enumIn': {
        const { elem, payload } = value as { elem: number; payload: unknown };
        const e = attr.elems[elem];
        if (!e) throw outOfRange(`${name}.elem`, `< ${attr.elems.length}`, elem);
        slots.set(key, cmd.ptrIn(attr.id, payloadBytes(name, e.payload, payload, e.len), attr.mandatory, elem));
        break;
      }
      case 'ptrIn': {
        const len = attr.payload.type === 'bytes' ? bytesLength(value) : attr.len;
        const bytes = payloadBytes(name, attr.payload, value, len);
        if (bytes.byteLength < attr.minLen)
          throw outOfRange(`${name}.byteLength`, `>= ${attr.minLen}`, bytes.byteLength);
        slots.set(key, cmd.ptrIn(attr.id, bytes, attr.mandatory));
        break;
      }
    }
  }
  return { command: cmd, slots };
}

/**
 * Reads a sent method's results: new handles as numbers, outputs decoded
 * per their payload (struct fields the kernel release does not declare are
 * `undefined`), outputs the kernel did not vouch for as `undefined`.
 */
export function decodeMethod(spec: MethodSpec, encoded: EncodedMethod, release?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, slot] of encoded.slots) {
    const attr = spec.attrs[key] as AttrSpec;
    if ((attr.kind === 'idr' || attr.kind === 'fd') && attr.access === 'new') {
      out[key] = encoded.command.newHandle(slot);
    } else if (attr.kind === 'ptrOut') {
      const bytes = encoded.command.output(slot);
      if (bytes === undefined) {
        out[key] = undefined;
      } else if (attr.payload.type === 'scalar') {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        out[key] = attr.len === 8 ? view.getBigUint64(0, true) : view.getUint32(0, true);
      } else if (attr.payload.type === 'struct') {
        const full = new Uint8Array(attr.payload.layout.size);
        full.set(bytes.subarray(0, full.byteLength));
        out[key] = decodeVouched(attr.payload.layout, full, { length: bytes.byteLength, release });
      } else {
        out[key] = bytes.slice();
      }
    }
  }
  return out;
}

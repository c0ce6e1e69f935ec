/**
 * Compiled encoders and decoders: each ioctl method spec and each write
 * command is turned, at first use, into closures specialised for it, so a
 * call does no per-call table walking (`Object.entries`), no BigInt churn
 * and no allocation beyond its results.
 *
 * The tables (methods.ts, write-commands.ts, structs.ts) stay the one
 * source of truth, and the generic `encodeMethod`/`decodeMethod`
 * (ioctl-command.ts) and `encodeWrite`/`decodeWrite` (write-command.ts)
 * stay the reference: a compiled encoder takes only the plain case (every
 * value of the type and range its field declares, no key it does not know)
 * and hands anything else, unchanged, to the reference, which then encodes
 * it or refuses it with its own error. So the compiled path refuses exactly
 * what the reference refuses, with the same error, before any syscall, and
 * writes the same bytes at the same scratch addresses
 * (test/compiled.test.ts proves both for arbitrary arguments).
 *
 * A compiled method keeps the slots of its last encoding until decoded:
 * encode, the system call and decode run with no caller code in between
 * (the dispatcher's trace hook runs after the decode).
 */

import type { Region, Scratch } from '../transport/memory.js';
import { ib_user_verbs_defines, uverbs_attr_flags } from './constants.js';
import { decodeMethod, type EncodedMethod, encodeMethod, MAX_ATTRS } from './ioctl-command.js';
import {
  type AnyLayout,
  bytesLength,
  bytesView,
  type Decoded,
  decode,
  type Field,
  releaseHas,
  type ScalarKind,
} from './layout.js';
import type { AttrSpec, MethodSpec, Payload } from './method-spec.js';
import { ib_uverbs_attr, ib_uverbs_cmd_hdr, ib_uverbs_ex_cmd_hdr, ib_uverbs_ioctl_hdr } from './structs.js';
import { decodeWrite, type EncodedWrite, encodeWrite, type WriteOptions } from './write-command.js';
import type { WriteCommand } from './write-commands.js';

const { UVERBS_ATTR_F_MANDATORY, UVERBS_ATTR_F_VALID_OUTPUT } = uverbs_attr_flags;
const { IB_USER_VERBS_CMD_FLAG_EXTENDED } = ib_user_verbs_defines;
const HDR = ib_uverbs_ioctl_hdr.size;
const ATTR = ib_uverbs_attr.size;
const H = ib_uverbs_ioctl_hdr.fields;
const A = ib_uverbs_attr.fields;
const CMD = ib_uverbs_cmd_hdr.fields;
const EX = ib_uverbs_ex_cmd_hdr.fields;
const TWO32 = 0x1_0000_0000;
/** Thrown nowhere: what a compiled encoder returns when the reference must take the call. */
const BAIL = -1;

/** Eight bytes to turn a bigint into two u32 halves without allocating. */
const tmp = new DataView(new ArrayBuffer(8));

const LIMITS: Record<ScalarKind, readonly [bigint, bigint]> = {
  u8: [0n, 0xffn],
  u16: [0n, 0xffffn],
  u32: [0n, 0xffff_ffffn],
  u64: [0n, 0xffff_ffff_ffff_ffffn],
  s16: [-0x8000n, 0x7fffn],
  s32: [-0x8000_0000n, 0x7fff_ffffn],
  s64: [-0x8000_0000_0000_0000n, 0x7fff_ffff_ffff_ffffn],
  be16: [0n, 0xffffn],
  be32: [0n, 0xffff_ffffn],
  be64: [0n, 0xffff_ffff_ffff_ffffn],
};

/** Whether a number is a value of `kind` (what checkScalar accepts), without BigInt. */
function numberFits(kind: ScalarKind, v: number): boolean {
  switch (kind) {
    case 'u8':
      return (v & 0xff) === v;
    case 'u16':
    case 'be16':
      return (v & 0xffff) === v;
    case 's16':
      return (v << 16) >> 16 === v;
    case 'u32':
    case 'be32':
      return v >>> 0 === v;
    case 's32':
      return (v | 0) === v;
    case 'u64':
    case 'be64':
      return Number.isSafeInteger(v) && v >= 0;
    case 's64':
      return Number.isSafeInteger(v);
  }
}

/** `value` as a checked scalar of `kind`, its low and high 32 bits (two's complement) in `into`; false: not plain. */
function scalarHalves(kind: ScalarKind, value: unknown, into: Uint32Array): boolean {
  if (typeof value === 'number') {
    if (!numberFits(kind, value)) return false;
    const hi = Math.floor(value / TWO32);
    into[0] = value - hi * TWO32;
    into[1] = hi;
    return true;
  }
  if (typeof value === 'bigint') {
    const [min, max] = LIMITS[kind];
    if (value < min || value > max) return false;
    if (value < 0n) tmp.setBigInt64(0, value, true);
    else tmp.setBigUint64(0, value, true);
    into[0] = tmp.getUint32(0, true);
    into[1] = tmp.getUint32(4, true);
    return true;
  }
  return false;
}

const halves = new Uint32Array(2);
/**
 * True while a compiled encoder lays a call out. Its slots, and the scratch words here, are shared
 * by every context; a getter or Proxy trap of the caller's can call the library again in the middle
 * of it, and such a nested call takes the reference path, whose state is its own.
 */
let laying = false;
/** A struct payload of at most 8 bytes is laid out here, then sent inline (`tmp` stays the scalars'). */
const inlineView = new DataView(new ArrayBuffer(8));
const inlineBytes = new Uint8Array(inlineView.buffer);

/** Stores a checked scalar as `encode()` does (layout.ts writeScalar): false when not plain. */
function writeScalarFast(view: DataView, at: number, kind: ScalarKind, value: unknown): boolean {
  if (!scalarHalves(kind, value, halves)) return false;
  const lo = halves[0] as number;
  const hi = halves[1] as number;
  switch (kind) {
    case 'u8':
      view.setUint8(at, lo);
      break;
    case 'u16':
    case 's16':
      view.setUint16(at, lo, true);
      break;
    case 'u32':
    case 's32':
      view.setUint32(at, lo, true);
      break;
    case 'u64':
    case 's64':
      view.setUint32(at, lo, true);
      view.setUint32(at + 4, hi, true);
      break;
    case 'be16':
      view.setUint16(at, lo, false);
      break;
    case 'be32':
      view.setUint32(at, lo, false);
      break;
    case 'be64':
      view.setUint32(at, hi, false);
      view.setUint32(at + 4, lo, false);
      break;
  }
  return true;
}

/** Writes a struct's given fields into zeroed bytes at `base`; false when the reference must take it. */
export type StructEncoder = (values: unknown, view: DataView, bytes: Uint8Array, base: number) => boolean;

type FieldEncoder = (value: unknown, view: DataView, bytes: Uint8Array, at: number) => boolean;

function fieldEncoder(field: Field): FieldEncoder {
  switch (field.kind) {
    case 'scalar': {
      const kind = field.type;
      return (value, view, _bytes, at) => writeScalarFast(view, at, kind, value);
    }
    case 'bytes': {
      const size = field.size;
      return (value, _view, bytes, at) => {
        const length = bytesLength(value); // -1: not a genuine Uint8Array (a Proxy, a look-alike)
        if (length < 0 || length > size) return false;
        bytes.set(bytesView(value as Uint8Array, length), at);
        return true;
      };
    }
    case 'array': {
      const { type, count } = field;
      const width = field.size / count;
      return (value, view, _bytes, at) => {
        if (!Array.isArray(value) || value.length > count) return false;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !writeScalarFast(view, at + i * width, type, value[i])) return false;
        }
        return true;
      };
    }
    case 'nested': {
      const inner = structEncoder(field.layout);
      return (value, view, bytes, at) => typeof value === 'object' && value !== null && inner(value, view, bytes, at);
    }
  }
}

const structEncoders = new WeakMap<AnyLayout, StructEncoder>();

/**
 * The compiled form of `encode(layout, values, bytes, base)` into bytes
 * already zeroed: fields in the caller's key order, as the reference
 * writes them (a later union arm overwrites an earlier one).
 */
export function structEncoder(layout: AnyLayout): StructEncoder {
  let compiled = structEncoders.get(layout);
  if (compiled !== undefined) return compiled;
  const byKey = new Map<string, { offset: number; write: FieldEncoder }>();
  for (const [key, field] of Object.entries(layout.fields) as [string, Field][]) {
    byKey.set(key, { offset: field.offset, write: fieldEncoder(field) });
  }
  compiled = (values, view, bytes, base) => {
    const record = values as Record<string, unknown>;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) return false;
      const value = record[key];
      if (value === undefined) continue;
      const f = byKey.get(key);
      if (f === undefined || !f.write(value, view, bytes, base + f.offset)) return false;
    }
    return true;
  };
  structEncoders.set(layout, compiled);
  return compiled;
}

/** Reads a struct into a new object, as decodeVouched() does: `vouched` bytes from `base`. */
export type StructDecoder = (
  view: DataView,
  bytes: Uint8Array,
  base: number,
  vouched: number,
) => Record<string, unknown>;

function readScalarFast(view: DataView, at: number, kind: ScalarKind): number | bigint {
  switch (kind) {
    case 'u8':
      return view.getUint8(at);
    case 'u16':
      return view.getUint16(at, true);
    case 'u32':
      return view.getUint32(at, true);
    case 'u64':
      return view.getBigUint64(at, true);
    case 's16':
      return view.getInt16(at, true);
    case 's32':
      return view.getInt32(at, true);
    case 's64':
      return view.getBigInt64(at, true);
    case 'be16':
      return view.getUint16(at, false);
    case 'be32':
      return view.getUint32(at, false);
    case 'be64':
      return view.getBigUint64(at, false);
  }
}

const structDecoders = new WeakMap<AnyLayout, Map<string | undefined, StructDecoder>>();

/**
 * The compiled form of `decodeVouched(layout, source, { length, release })`
 * over a view and its bytes: every field, in layout order, `undefined`
 * where the kernel did not vouch for it or `release` does not declare it.
 */
export function structDecoder(layout: AnyLayout, release: string | undefined): StructDecoder {
  let byRelease = structDecoders.get(layout);
  if (byRelease === undefined) {
    byRelease = new Map();
    structDecoders.set(layout, byRelease);
  }
  let compiled = byRelease.get(release);
  if (compiled !== undefined) return compiled;
  const fields = (Object.entries(layout.fields) as [string, Field][]).map(([key, field]) => ({
    key,
    field,
    end: field.offset + field.size,
    known: release === undefined || releaseHas(release, field.since),
    inner: field.kind === 'nested' ? structDecoder(field.layout, release) : undefined,
  }));
  compiled = (view, bytes, base, vouched) => {
    const out: Record<string, unknown> = {};
    for (const { key, field, end, known, inner } of fields) {
      if (!known || end > vouched) {
        out[key] =
          inner !== undefined && known && field.offset < vouched
            ? inner(view, bytes, base + field.offset, vouched - field.offset)
            : undefined;
        continue;
      }
      const at = base + field.offset;
      switch (field.kind) {
        case 'scalar':
          out[key] = readScalarFast(view, at, field.type);
          break;
        case 'bytes':
          out[key] = bytes.slice(at, at + field.size);
          break;
        case 'array': {
          const width = field.size / field.count;
          const values: (number | bigint)[] = [];
          for (let i = 0; i < field.count; i++) values.push(readScalarFast(view, at + i * width, field.type));
          out[key] = values;
          break;
        }
        case 'nested':
          out[key] = (inner as StructDecoder)(view, bytes, at, field.size);
          break;
      }
    }
    return out;
  };
  byRelease.set(release, compiled);
  return compiled;
}

/** `decode(layout, source)` (layout.ts), compiled: the whole struct from the start of `source`. */
export function decodeStruct<L extends AnyLayout>(layout: L, source: Uint8Array): Decoded<L> {
  if (layout.size > source.byteLength) return decode(layout, source); // the reference's refusal
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  return structDecoder(layout, undefined)(view, source, 0, layout.size) as Decoded<L>;
}

// ---------------------------------------------------------------------------------------------
// ioctl methods

const NEW = 0;
const OUT = 1;
const IDR = 2;
const FD = 3;
const IDRS = 4;
const ENUM = 5;
const IN = 6;

interface PayloadPlan {
  readonly type: Payload['type'];
  readonly scalar: ScalarKind;
  /** Bytes the payload takes (scalar: the attribute's len; struct: the layout's size). */
  readonly len: number;
  readonly encode: StructEncoder | undefined;
}

interface AttrPlan {
  readonly key: string;
  readonly id: number;
  readonly code: number;
  readonly mandatory: boolean;
  readonly flags: number;
  /** UHW: 1 takes InvokeOptions.udataIn, 2 udataOutLength. */
  readonly uhw: 0 | 1 | 2;
  readonly spec: AttrSpec;
  readonly minLen: number;
  /** ptrOut: the declared len (0xffff: open-ended). */
  readonly len: number;
  readonly payload: PayloadPlan | undefined;
  readonly elems: readonly PayloadPlan[];
}

function payloadPlan(payload: Payload, len: number): PayloadPlan {
  return {
    type: payload.type,
    scalar: payload.type === 'scalar' ? payload.scalar : 'u8',
    len: payload.type === 'struct' ? payload.layout.size : len,
    encode: payload.type === 'struct' ? structEncoder(payload.layout) : undefined,
  };
}

function attrPlan(key: string, attr: AttrSpec): AttrPlan {
  const isNew = (attr.kind === 'idr' || attr.kind === 'fd') && attr.access === 'new';
  const code = isNew
    ? NEW
    : attr.kind === 'ptrOut'
      ? OUT
      : attr.kind === 'idr'
        ? IDR
        : attr.kind === 'fd' || attr.kind === 'rawFd'
          ? FD
          : attr.kind === 'idrsArray'
            ? IDRS
            : attr.kind === 'enumIn'
              ? ENUM
              : IN;
  const ptr = attr.kind === 'ptrIn' || attr.kind === 'ptrOut' ? attr : undefined;
  return {
    key,
    id: attr.id,
    code,
    mandatory: attr.mandatory,
    flags: attr.mandatory ? UVERBS_ATTR_F_MANDATORY : 0,
    uhw: key === 'uhwIn' ? 1 : key === 'uhwOut' ? 2 : 0,
    spec: attr,
    minLen: ptr?.minLen ?? 0,
    len: ptr?.len ?? 0,
    payload: ptr ? payloadPlan(ptr.payload, ptr.len) : undefined,
    elems: attr.kind === 'enumIn' ? attr.elems.map((e) => payloadPlan(e.payload, e.len)) : [],
  };
}

/**
 * One ioctl method, compiled: `encode()` lays the command out in the
 * scratch arena (the same takes, in the same order, as the reference) and
 * returns its address; after the system call, `decode()` reads the results
 * as `decodeMethod()` would.
 */
export class CompiledMethod {
  readonly spec: MethodSpec;
  readonly #plans: AttrPlan[];
  readonly #byKey: Map<string, number>;
  /** The caller's own values, by plan index (what the reference's `{ ...args }` copies). */
  readonly #values: unknown[];
  // the last encoding's attributes, in command order
  #count = 0;
  readonly #plan: (AttrPlan | undefined)[];
  readonly #len: Uint32Array;
  readonly #elem: Uint8Array;
  readonly #lo: Uint32Array;
  readonly #hi: Uint32Array;
  readonly #outAt: Int32Array;
  readonly #outView: (DataView | undefined)[];
  readonly #outBytes: (Uint8Array | undefined)[];
  /** After `decode(release, true)`: the driver's (UHW) output, if asked for and vouched for. */
  udataOut: Uint8Array | undefined;
  #header = 0;
  #headerView: DataView | undefined;
  /** Set when the reference took the call. */
  #reference: EncodedMethod | undefined;

  constructor(spec: MethodSpec) {
    this.spec = spec;
    this.#plans = Object.entries(spec.attrs).map(([key, attr]) => attrPlan(key, attr));
    this.#byKey = new Map(this.#plans.map((p, i) => [p.key, i]));
    const n = this.#plans.length;
    this.#values = new Array(n).fill(undefined);
    this.#plan = new Array(n).fill(undefined);
    this.#len = new Uint32Array(n);
    this.#elem = new Uint8Array(n);
    this.#lo = new Uint32Array(n);
    this.#hi = new Uint32Array(n);
    this.#outAt = new Int32Array(n);
    this.#outView = new Array(n).fill(undefined);
    this.#outBytes = new Array(n).fill(undefined);
  }

  /**
   * Encodes a call as `encodeMethod(spec, full, driverId, scratch)` with
   * `full` = `args` plus `uhwIn: udataIn` (when truthy) and `uhwOut:
   * udataOutLength` (when defined), as the dispatcher always built it;
   * returns the command's address. Throws what the reference throws.
   */
  encode(
    args: Readonly<Record<string, unknown>>,
    udataIn: Uint8Array | undefined,
    udataOutLength: number | undefined,
    driverId: number,
    scratch: Scratch,
  ): bigint {
    // a call made from the caller's getters while another is being laid out goes to the reference (`laying`)
    if (!laying) {
      laying = true;
      let header: number;
      try {
        header = this.#fast(args, udataIn, udataOutLength, driverId, scratch);
      } finally {
        laying = false;
      }
      if (header !== BAIL) {
        this.#reference = undefined; // (a nested call may have set it)
        return BigInt(scratch.base + header);
      }
    }
    // not the plain case (or a nested call): the reference encodes it, or throws its own error, from a fresh arena
    scratch.reset();
    const full: Record<string, unknown> = { ...args };
    if (udataIn) full.uhwIn = udataIn;
    if (udataOutLength !== undefined) full.uhwOut = udataOutLength;
    const encoded = encodeMethod(this.spec, full, driverId, scratch);
    const address = encoded.command.finish().address;
    this.#reference = encoded;
    return address;
  }

  /** The command's offset in the scratch's current region, or BAIL. */
  #fast(
    args: Readonly<Record<string, unknown>>,
    udataIn: Uint8Array | undefined,
    udataOutLength: number | undefined,
    driverId: number,
    scratch: Scratch,
  ): number {
    if (driverId >>> 0 !== driverId) return BAIL;
    const byKey = this.#byKey;
    const values = this.#values;
    values.fill(undefined);
    for (const key in args) {
      const index = byKey.get(key);
      if (index === undefined || !Object.hasOwn(args, key)) return BAIL;
      values[index] = args[key];
    }
    if (udataIn && !byKey.has('uhwIn')) return BAIL;
    if (udataOutLength !== undefined && !byKey.has('uhwOut')) return BAIL;
    const plans = this.#plans;
    let n = 0;
    for (let p = 0; p < plans.length; p++) {
      const plan = plans[p] as AttrPlan;
      const value =
        plan.uhw === 1 && udataIn
          ? udataIn
          : plan.uhw === 2 && udataOutLength !== undefined
            ? udataOutLength
            : values[p];
      let len = 0;
      let elem = 0;
      let lo = 0;
      let hi = 0;
      switch (plan.code) {
        case NEW:
          break;
        case OUT: {
          if (!plan.mandatory && value === undefined) continue;
          if (plan.len !== 0xffff) len = plan.len;
          else if (typeof value === 'number') {
            if ((value & 0xffff) !== value) return BAIL;
            len = value;
          } else len = plan.minLen;
          const at = scratch.takeAt(Math.max(len, 1));
          const address = scratch.base + at;
          hi = Math.floor(address / TWO32);
          lo = address - hi * TWO32;
          this.#outAt[n] = at;
          this.#outView[n] = scratch.view;
          this.#outBytes[n] = scratch.bytes;
          break;
        }
        default: {
          if (value === undefined) {
            if (plan.mandatory) return BAIL;
            continue;
          }
          switch (plan.code) {
            case IDR:
              if (typeof value !== 'number' || value >>> 0 !== value) return BAIL;
              lo = value;
              break;
            case FD:
              if (typeof value !== 'number' || (value | 0) !== value) return BAIL;
              lo = value >>> 0;
              hi = value < 0 ? 0xffff_ffff : 0;
              break;
            case IDRS: {
              if (!Array.isArray(value) || value.length * 4 > 0xffff) return BAIL;
              for (let i = 0; i < value.length; i++) {
                const h = value[i];
                if (!(i in value) || typeof h !== 'number' || h >>> 0 !== h) return BAIL;
              }
              len = value.length * 4;
              if (len <= 8) {
                lo = value.length > 0 ? value[0] : 0;
                hi = value.length > 1 ? value[1] : 0;
              } else {
                const at = scratch.takeAt(len);
                const view = scratch.view;
                for (let i = 0; i < value.length; i++) view.setUint32(at + i * 4, value[i], true);
                const address = scratch.base + at;
                hi = Math.floor(address / TWO32);
                lo = address - hi * TWO32;
              }
              break;
            }
            case ENUM: {
              if (typeof value !== 'object' || value === null) return BAIL;
              const { elem: e, payload } = value as { elem: unknown; payload: unknown };
              if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e >= plan.elems.length) return BAIL;
              const ep = plan.elems[e] as PayloadPlan;
              len = this.#payload(ep, payload, scratch, halves);
              if (len < 0) return BAIL;
              elem = e;
              lo = halves[0] as number;
              hi = halves[1] as number;
              break;
            }
            default: {
              const pp = plan.payload as PayloadPlan;
              len = this.#payload(pp, value, scratch, halves);
              if (len < 0 || len < plan.minLen) return BAIL;
              lo = halves[0] as number;
              hi = halves[1] as number;
            }
          }
        }
      }
      this.#plan[n] = plan;
      this.#len[n] = len;
      this.#elem[n] = elem;
      this.#lo[n] = lo;
      this.#hi[n] = hi;
      n++;
    }
    if (n > MAX_ATTRS) return BAIL;
    this.#count = n;
    const length = HDR + ATTR * n;
    const at = scratch.takeAt(length);
    const view = scratch.view;
    this.#header = at;
    this.#headerView = view;
    view.setUint16(at + H.length.offset, length, true);
    view.setUint16(at + H.object_id.offset, this.spec.object, true);
    view.setUint16(at + H.method_id.offset, this.spec.id, true);
    view.setUint16(at + H.num_attrs.offset, n, true);
    view.setUint32(at + H.driver_id.offset, driverId, true);
    for (let i = 0, a = at + HDR; i < n; i++, a += ATTR) {
      const plan = this.#plan[i] as AttrPlan;
      view.setUint16(a + A.attr_id.offset, plan.id, true);
      view.setUint16(a + A.len.offset, this.#len[i] as number, true);
      view.setUint16(a + A.flags.offset, plan.flags, true);
      view.setUint8(a + A.elem_id.offset, this.#elem[i] as number);
      view.setUint32(a + A.data.offset, this.#lo[i] as number, true);
      view.setUint32(a + A.data.offset + 4, this.#hi[i] as number, true);
    }
    return at;
  }

  /**
   * A pointer attribute's payload: inline (its bytes as two u32 halves in
   * `into`) when at most 8 bytes, else copied into the scratch (its
   * address in `into`). Returns its length, or BAIL.
   */
  #payload(plan: PayloadPlan, value: unknown, scratch: Scratch, into: Uint32Array): number {
    switch (plan.type) {
      case 'scalar': {
        if (!scalarHalves(plan.scalar, value, into)) return BAIL;
        // as payloadBytes(): the value's low `len` bytes, little-endian
        if (plan.len < 8) into[1] = 0;
        if (plan.len === 2) into[0] = (into[0] as number) & 0xffff;
        else if (plan.len === 1) into[0] = (into[0] as number) & 0xff;
        return plan.len;
      }
      case 'struct': {
        if (typeof value !== 'object' || value === null) return BAIL;
        const len = plan.len;
        if (len > 0xffff) return BAIL;
        if (len <= 8) {
          inlineBytes.fill(0);
          if (!(plan.encode as StructEncoder)(value, inlineView, inlineBytes, 0)) return BAIL;
          into[0] = inlineView.getUint32(0, true);
          into[1] = inlineView.getUint32(4, true);
          return len;
        }
        const at = scratch.takeAt(len);
        if (!(plan.encode as StructEncoder)(value, scratch.view, scratch.bytes, at)) return BAIL;
        const address = scratch.base + at;
        into[1] = Math.floor(address / TWO32);
        into[0] = address - (into[1] as number) * TWO32;
        return len;
      }
      case 'bytes': {
        const len = bytesLength(value);
        if (len < 0 || len > 0xffff) return BAIL;
        const bytes = value as Uint8Array;
        if (len <= 8) {
          tmp.setUint32(0, 0, true);
          tmp.setUint32(4, 0, true);
          for (let i = 0; i < len; i++) tmp.setUint8(i, bytes[i] as number);
          into[0] = tmp.getUint32(0, true);
          into[1] = tmp.getUint32(4, true);
          return len;
        }
        const at = scratch.takeAt(len);
        scratch.bytes.set(bytesView(bytes, len), at);
        const address = scratch.base + at;
        into[1] = Math.floor(address / TWO32);
        into[0] = address - (into[1] as number) * TWO32;
        return len;
      }
    }
  }

  /**
   * The results of the call just made, as `decodeMethod(spec, encoded, release)` gives them;
   * with `splitUhw`, without the `uhwOut` key, whose value {@link udataOut} then holds.
   */
  decode(release: string | undefined, splitUhw = false): Record<string, unknown> {
    this.udataOut = undefined;
    if (this.#reference !== undefined) {
      const out = decodeMethod(this.spec, this.#reference, release);
      if (splitUhw) {
        this.udataOut = out.uhwOut as Uint8Array | undefined;
        delete out.uhwOut;
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    const view = this.#headerView as DataView;
    for (let i = 0, a = this.#header + HDR; i < this.#count; i++, a += ATTR) {
      const plan = this.#plan[i] as AttrPlan;
      if (plan.code === NEW) {
        out[plan.key] = view.getInt32(a + A.data.offset + 4, true) * TWO32 + view.getUint32(a + A.data.offset, true);
      } else if (plan.code === OUT) {
        const valid = (view.getUint16(a + A.flags.offset, true) & UVERBS_ATTR_F_VALID_OUTPUT) !== 0 || plan.mandatory;
        if (!valid) {
          if (!(splitUhw && plan.uhw === 2)) out[plan.key] = undefined;
          continue;
        }
        const at = this.#outAt[i] as number;
        const outView = this.#outView[i] as DataView;
        const pp = plan.payload as PayloadPlan;
        if (pp.type === 'scalar') {
          out[plan.key] = plan.len === 8 ? outView.getBigUint64(at, true) : outView.getUint32(at, true);
        } else if (pp.type === 'struct') {
          // structDecoder keeps one decoder per layout and release: made once, looked up here
          const layout = (plan.spec as { payload: { layout: AnyLayout } }).payload.layout;
          const decoder = structDecoder(layout, release);
          out[plan.key] = decoder(outView, this.#outBytes[i] as Uint8Array, at, this.#len[i] as number);
        } else {
          const bytes = (this.#outBytes[i] as Uint8Array).slice(at, at + (this.#len[i] as number));
          if (splitUhw && plan.uhw === 2) this.udataOut = bytes;
          else out[plan.key] = bytes;
        }
      }
    }
    return out;
  }
}

const compiledMethods = new WeakMap<MethodSpec, CompiledMethod>();

/** The method's compiled encoder and decoder, made at first use. */
export function compiledMethod(spec: MethodSpec): CompiledMethod {
  let compiled = compiledMethods.get(spec);
  if (compiled === undefined) {
    compiled = new CompiledMethod(spec);
    compiledMethods.set(spec, compiled);
  }
  return compiled;
}

// ---------------------------------------------------------------------------------------------
// write / write-ex commands

/**
 * One write command, compiled: `encode()` frames it in the scratch arena
 * as `encodeWrite()` does (same takes, same bytes) and returns the buffer;
 * `decode()` reads the answer as `decodeWrite()` would.
 */
export class CompiledWrite {
  readonly command: WriteCommand;
  readonly #encode: StructEncoder;
  readonly #decode: StructDecoder | undefined;
  readonly #least: readonly (readonly [string, number])[];
  readonly #hdrs: number;
  readonly #responseField: number;
  readonly #lengthField: number;
  // the last encoding: where its response is (responseLength 0: none)
  #responseAt = 0;
  #responseLength = 0;
  #responseView: DataView | undefined;
  #responseBytes: Uint8Array | undefined;
  #reference: EncodedWrite | undefined;

  constructor(command: WriteCommand) {
    this.command = command;
    this.#encode = structEncoder(command.request);
    this.#decode = command.response ? structDecoder(command.response, undefined) : undefined;
    this.#least = Object.entries(command.least ?? {});
    this.#hdrs = ib_uverbs_cmd_hdr.size + (command.extended ? ib_uverbs_ex_cmd_hdr.size : 0);
    this.#responseField = command.request.fields.response?.offset ?? -1;
    this.#lengthField = command.response?.fields.response_length?.offset ?? -1;
  }

  /** Frames a call as `encodeWrite(command, request, scratch, options)`: the whole buffer to write(2). */
  encode(request: Readonly<Record<string, unknown>>, scratch: Scratch, options: WriteOptions): Region {
    // a call made from the caller's getters while another is being laid out goes to the reference (`laying`)
    if (!laying) {
      laying = true;
      let buffer: Region | undefined;
      try {
        buffer = this.#fast(request, scratch, options);
      } finally {
        laying = false;
      }
      if (buffer !== undefined) {
        this.#reference = undefined; // (a nested call may have set it)
        return buffer;
      }
    }
    scratch.reset();
    const encoded = encodeWrite(this.command, request as never, scratch, options);
    this.#reference = encoded;
    return encoded.buffer;
  }

  #fast(request: Readonly<Record<string, unknown>>, scratch: Scratch, options: WriteOptions): Region | undefined {
    const command = this.command;
    const udataIn = options.udataIn;
    const udataOut = options.udataOutLength ?? 0;
    if (udataIn !== undefined && !(udataIn instanceof Uint8Array)) return undefined;
    const inLength = udataIn === undefined ? 0 : udataIn.byteLength;
    if ((inLength > 0 || udataOut > 0) && !command.udata) return undefined;
    for (const [field, least] of this.#least) {
      const value = request[field];
      if (typeof value !== 'number' || value < least) return undefined;
    }
    const unit = command.extended ? 8 : 4;
    if (typeof udataOut !== 'number' || udataOut < 0 || udataOut % unit !== 0 || inLength % unit !== 0)
      return undefined;
    const responseLength = (command.response?.size ?? 0) + udataOut;
    const total = this.#hdrs + command.request.size + inLength;
    const words = command.extended ? command.request.size / 8 : total / 4;
    const outWords = command.extended ? (command.response?.size ?? 0) / 8 : responseLength / 4;
    if (!(words <= 0xffff && outWords <= 0xffff && inLength / 8 <= 0xffff && udataOut / 8 <= 0xffff)) return undefined;
    if (!Number.isInteger(words) || !Number.isInteger(outWords)) return undefined;
    if (!command.extended && command.response && this.#responseField < 0) return undefined;
    let responseAddress = 0;
    if (responseLength > 0) {
      const at = scratch.takeAt(responseLength);
      responseAddress = scratch.base + at;
      this.#responseAt = at;
      this.#responseView = scratch.view;
      this.#responseBytes = scratch.bytes;
    }
    const at = scratch.takeAt(total);
    const view = scratch.view;
    const bytes = scratch.bytes;
    const hdrs = at + this.#hdrs;
    if (!this.#encode(request, view, bytes, hdrs)) return undefined;
    const hi = Math.floor(responseAddress / TWO32);
    const lo = responseAddress - hi * TWO32;
    if (!command.extended && command.response) {
      view.setUint32(hdrs + this.#responseField, lo, true);
      view.setUint32(hdrs + this.#responseField + 4, hi, true);
    }
    if (udataIn !== undefined) bytes.set(udataIn, hdrs + command.request.size);
    view.setUint32(
      at + CMD.command.offset,
      command.extended ? (command.command | IB_USER_VERBS_CMD_FLAG_EXTENDED) >>> 0 : command.command,
      true,
    );
    view.setUint16(at + CMD.in_words.offset, words, true);
    view.setUint16(at + CMD.out_words.offset, outWords, true);
    if (command.extended) {
      const ex = at + ib_uverbs_cmd_hdr.size;
      view.setUint32(ex + EX.response.offset, lo, true);
      view.setUint32(ex + EX.response.offset + 4, hi, true);
      view.setUint16(ex + EX.provider_in_words.offset, inLength / 8, true);
      view.setUint16(ex + EX.provider_out_words.offset, udataOut / 8, true);
    }
    this.#responseLength = responseLength;
    return { address: BigInt(scratch.base + at), bytes: bytes.subarray(at, at + total) };
  }

  /** The answer to the call just made, as `decodeWrite()` reads it. */
  decode(): { response: Record<string, unknown> | undefined; udataOut: Uint8Array } {
    if (this.#reference !== undefined) return decodeWrite(this.#reference);
    const layout = this.command.response;
    if (layout === undefined || this.#responseLength === 0) return { response: undefined, udataOut: new Uint8Array(0) };
    const view = this.#responseView as DataView;
    const bytes = this.#responseBytes as Uint8Array;
    const at = this.#responseAt;
    const size = layout.size;
    const udataOut = bytes.slice(at + size, at + this.#responseLength);
    const vouched = !this.command.extended
      ? size
      : this.#lengthField >= 0
        ? view.getUint32(at + this.#lengthField, true)
        : size;
    return { response: (this.#decode as StructDecoder)(view, bytes, at, vouched), udataOut };
  }
}

const compiledWrites = new WeakMap<WriteCommand, CompiledWrite>();

/** The write command's compiled framing and decoder, made at first use. */
export function compiledWrite(command: WriteCommand): CompiledWrite {
  let compiled = compiledWrites.get(command);
  if (compiled === undefined) {
    compiled = new CompiledWrite(command);
    compiledWrites.set(command, compiled);
  }
  return compiled;
}

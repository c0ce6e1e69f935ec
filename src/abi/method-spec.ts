/**
 * The vocabulary of uverbs ioctl method specs, mirroring the kernel's
 * `DECLARE_UVERBS_NAMED_METHOD` / `UVERBS_ATTR_*` macros
 * (include/rdma/uverbs_ioctl.h, include/rdma/uverbs_named_ioctl.h).
 *
 * Each constructor fixes exactly what the kernel macro fixes: the attribute
 * type, the accepted length range (`min_len`/`len`), `zero_trailing`, and
 * `UA_MANDATORY`. The kernel validates against the same numbers
 * (uverbs_ioctl.c, uverbs_process_attr), which is what src/abi/kernel-model.ts
 * replays.
 */

import { type AnyLayout, offsetOfEnd, SCALAR_SIZE, type ScalarKind, type UapiRelease } from './layout.js';
import type { WriteCommand } from './write-commands.js';

/** UVERBS_ACCESS_*: how a method uses an object handle. */
export type Access = 'new' | 'read' | 'write' | 'destroy';

/** What a pointer attribute carries, for encoding and decoding values. */
export type Payload =
  | { readonly type: 'scalar'; readonly scalar: ScalarKind }
  | { readonly type: 'struct'; readonly layout: AnyLayout }
  | { readonly type: 'bytes' };

interface AttrBase {
  /** The kernel's attribute enum member, e.g. `UVERBS_ATTR_REG_MR_PD_HANDLE`. */
  readonly name: string;
  readonly id: number;
  /** UA_MANDATORY: the kernel refuses the call (EINVAL) without it. */
  readonly mandatory: boolean;
  /** First uapi release whose kernel declares the attribute. */
  readonly since?: UapiRelease;
}
export interface IdrAttr extends AttrBase {
  readonly kind: 'idr';
  readonly object: number;
  readonly access: Access;
}
export interface FdAttr extends AttrBase {
  readonly kind: 'fd';
  readonly object: number;
  readonly access: 'new' | 'read';
}
/** UVERBS_ATTR_RAW_FD: an fd number inline, not a uobject (7.x). */
export interface RawFdAttr extends AttrBase {
  readonly kind: 'rawFd';
}
export interface PtrInAttr extends AttrBase {
  readonly kind: 'ptrIn';
  readonly minLen: number;
  readonly len: number;
  readonly zeroTrailing: boolean;
  readonly payload: Payload;
  readonly uhw?: true;
  /** UA_ALLOC_AND_COPY: the kernel copies a non-inline value while it checks the attribute (EFAULT there). */
  readonly allocAndCopy?: true;
}
export interface PtrOutAttr extends AttrBase {
  readonly kind: 'ptrOut';
  readonly minLen: number;
  readonly len: number;
  readonly zeroTrailing: boolean;
  readonly payload: Payload;
  readonly uhw?: true;
}
export interface EnumInAttr extends AttrBase {
  readonly kind: 'enumIn';
  readonly elems: readonly Omit<PtrInAttr, 'name' | 'id' | 'mandatory'>[];
}
export interface IdrsArrayAttr extends AttrBase {
  readonly kind: 'idrsArray';
  readonly object: number;
  readonly access: 'read' | 'write';
  readonly minCount: number;
  readonly maxCount: number;
}
export type AttrSpec = IdrAttr | FdAttr | RawFdAttr | PtrInAttr | PtrOutAttr | EnumInAttr | IdrsArrayAttr;
export type AttrSpecs = Readonly<Record<string, AttrSpec>>;

/** UINT16 maximum: what UVERBS_ATTR_MIN_SIZE allows as `len`. */
export const USHRT_MAX = 0xffff;

type Opt = { since?: UapiRelease; allocAndCopy?: true };
const MANDATORY = true;
const OPTIONAL = false;

export { MANDATORY, OPTIONAL };

/** The length rule and payload of a pointer attribute: the kernel's UVERBS_ATTR_TYPE / STRUCT / SIZE macros. */
export interface PtrSize {
  readonly minLen: number;
  readonly len: number;
  readonly zeroTrailing: boolean;
  readonly payload: Payload;
}

/** UVERBS_ATTR_TYPE(scalar): exactly that many bytes. */
export function TYPE(scalar: ScalarKind): PtrSize {
  const n = SCALAR_SIZE[scalar];
  return { minLen: n, len: n, zeroTrailing: false, payload: { type: 'scalar', scalar } };
}
/** UVERBS_ATTR_TYPE(struct): exactly the struct, no more, no less. */
export function EXACT(layout: AnyLayout): PtrSize {
  return { minLen: layout.size, len: layout.size, zeroTrailing: false, payload: { type: 'struct', layout } };
}
/** UVERBS_ATTR_STRUCT(struct, last): at least up to `last`; bytes past the struct must be zero. */
export function STRUCT(layout: AnyLayout, last: string): PtrSize {
  return {
    minLen: offsetOfEnd(layout, last),
    len: layout.size,
    zeroTrailing: true,
    payload: { type: 'struct', layout },
  };
}
/** UVERBS_ATTR_MIN_SIZE(min): at least `min` bytes, up to the protocol maximum. */
export function MIN_SIZE(minLen: number): PtrSize {
  return { minLen, len: USHRT_MAX, zeroTrailing: false, payload: { type: 'bytes' } };
}

/** UVERBS_ATTR_IDR(id, obj, access, mandatory) */
export function idr(
  name: string,
  id: number,
  object: number,
  access: Access,
  mandatory: boolean,
  o: Opt = {},
): IdrAttr {
  return { kind: 'idr', name, id, object, access, mandatory, ...o };
}
/** UVERBS_ATTR_FD(id, obj, access, mandatory) */
export function fd(
  name: string,
  id: number,
  object: number,
  access: 'new' | 'read',
  mandatory: boolean,
  o: Opt = {},
): FdAttr {
  return { kind: 'fd', name, id, object, access, mandatory, ...o };
}
/** UVERBS_ATTR_RAW_FD(id, mandatory) */
export function rawFd(name: string, id: number, mandatory: boolean, o: Opt = {}): RawFdAttr {
  return { kind: 'rawFd', name, id, mandatory, ...o };
}
/** UVERBS_ATTR_PTR_IN(id, size, mandatory) */
export function ptrIn(name: string, id: number, size: PtrSize, mandatory: boolean, o: Opt = {}): PtrInAttr {
  return { kind: 'ptrIn', name, id, mandatory, ...size, ...o };
}
/** UVERBS_ATTR_PTR_OUT(id, size, mandatory) */
export function ptrOut(name: string, id: number, size: PtrSize, mandatory: boolean, o: Opt = {}): PtrOutAttr {
  return { kind: 'ptrOut', name, id, mandatory, ...size, ...o };
}
/** UVERBS_ATTR_CONST_IN(id, enum): always a u64. */
export function constIn(name: string, id: number, mandatory: boolean, o: Opt = {}): PtrInAttr {
  return ptrIn(name, id, TYPE('u64'), mandatory, o);
}
/** UVERBS_ATTR_FLAGS_IN(id, enum): a u32 or a u64; the library always sends a u64. */
export function flagsIn(name: string, id: number, mandatory: boolean, o: Opt = {}): PtrInAttr {
  return ptrIn(name, id, { ...TYPE('u64'), minLen: 4 }, mandatory, o);
}
/** UVERBS_ATTR_IDRS_ARR(id, obj, access, min, max) */
export function idrsArray(
  name: string,
  id: number,
  object: number,
  access: 'read' | 'write',
  minCount: number,
  maxCount: number,
  mandatory: boolean,
): IdrsArrayAttr {
  return { kind: 'idrsArray', name, id, object, access, minCount, maxCount, mandatory };
}
/** UVERBS_ATTR_UHW(): driver data in and out, both optional, any size. */
export function uhw(ids: { in: number; out: number }): { uhwIn: PtrInAttr; uhwOut: PtrOutAttr } {
  return {
    uhwIn: { ...ptrIn('UVERBS_ATTR_UHW_IN', ids.in, MIN_SIZE(0), OPTIONAL), uhw: true },
    uhwOut: { ...ptrOut('UVERBS_ATTR_UHW_OUT', ids.out, MIN_SIZE(0), OPTIONAL), uhw: true },
  };
}

/** A method that can also be served by a legacy write / write-ex command. */
export interface WriteFallback {
  readonly command: WriteCommand;
  /**
   * request struct field ← method argument key (a string), a constant, or
   * an argument with the value the legacy struct uses when it is absent
   * (`comp_channel: { arg: 'compChannel', absent: -1 }`).
   */
  readonly request: Readonly<
    Record<
      string,
      string | { readonly value: number | bigint } | { readonly arg: string; readonly absent: number | bigint }
    >
  >;
  /**
   * method result key ← response struct field; `'*'` is the whole response
   * struct, and a dotted key (`resp.legacy_resp`) places it inside the
   * result the ioctl path would give, leaving the rest `undefined`.
   */
  readonly response: Readonly<Record<string, string>>;
}

export interface MethodSpec<A extends AttrSpecs = AttrSpecs> {
  readonly objectName: string;
  readonly object: number;
  /** The kernel's method enum member, e.g. `UVERBS_METHOD_REG_MR`. */
  readonly name: string;
  readonly id: number;
  readonly since?: UapiRelease;
  readonly attrs: A;
  /** The legacy command that can serve instead, where one exists. */
  /**
   * The legacy write / write-ex command(s) serving this method on a kernel
   * without it; with several, the first that can carry every argument given
   * (CQ_CREATE: legacy CREATE_CQ, or write-ex CREATE_CQ when flags are set).
   */
  readonly fallback?: WriteFallback | readonly WriteFallback[];
}

export function method<const A extends AttrSpecs>(spec: MethodSpec<A>): MethodSpec<A> {
  const seen = new Set<number>();
  for (const a of Object.values(spec.attrs)) {
    if (seen.has(a.id)) throw new Error(`${spec.name}: attribute id ${a.id} declared twice`);
    seen.add(a.id);
  }
  return Object.freeze(spec);
}

/** The key the kernel's radix tree uses for a method: object and method id. */
export function methodKey(object: number, methodId: number): number {
  return object * 0x10000 + methodId;
}

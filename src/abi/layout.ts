/**
 * Kernel struct layouts as data.
 *
 * Every uapi struct the library touches is declared once with an explicit
 * `{offset, size}` per field and its total size, in the kernel's spelling.
 * Nothing here computes an offset: the numbers are written down, and
 * `test/layout-conformance.test.ts` compiles a C program generated from these
 * tables against real kernel headers to prove every one of them.
 *
 * Values are read and written through `DataView` in host (little-endian)
 * order, except the `be*` kinds which the kernel declares `__be16/32/64`.
 */

import { types } from 'node:util';
import { invalidArgType, outOfRange } from '../errors.js';

/**
 * The uapi header sets a declaration is proven against, oldest first.
 * `since` on a field or constant names the first of these that declares it.
 */
export const UAPI_RELEASES = ['6.1', '6.12', '7.2'] as const;
export type UapiRelease = (typeof UAPI_RELEASES)[number];

/** True when `release` (a kernel release such as `6.12.117`) has what `since` introduced. */
export function releaseHas(release: string, since: UapiRelease | undefined): boolean {
  if (since === undefined) return true;
  return compareRelease(release, since) >= 0;
}

/** Compares dotted kernel releases numerically (`6.12` > `6.1`); extra suffixes are ignored. */
export function compareRelease(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((s) => Number.parseInt(s, 10));
  const pb = b.split(/[.-]/).map((s) => Number.parseInt(s, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number.isNaN(pa[i] ?? 0) ? 0 : (pa[i] ?? 0);
    const y = Number.isNaN(pb[i] ?? 0) ? 0 : (pb[i] ?? 0);
    if (x !== y) return x - y;
  }
  return 0;
}

export type ScalarKind = 'u8' | 'u16' | 'u32' | 'u64' | 's16' | 's32' | 's64' | 'be16' | 'be32' | 'be64';

/** Bytes per scalar kind. */
export const SCALAR_SIZE: Readonly<Record<ScalarKind, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  s16: 2,
  s32: 4,
  s64: 8,
  be16: 2,
  be32: 4,
  be64: 8,
};

/** 64-bit kinds are `bigint` in JS; everything narrower is `number`. */
export type ScalarValue<K extends ScalarKind> = K extends 'u64' | 's64' | 'be64' ? bigint : number;
/** What a caller may pass for a scalar: 64-bit fields also take a non-negative safe integer. */
export type ScalarInput<K extends ScalarKind> = K extends 'u64' | 's64' | 'be64' ? bigint | number : number;

interface FieldBase {
  readonly offset: number;
  readonly size: number;
  /** First uapi release declaring this field; absent means every release we prove. */
  readonly since?: UapiRelease;
  /** C member designator when it differs from the key (union arms: `wr.rdma`). */
  readonly c?: string;
}
export interface ScalarField<K extends ScalarKind = ScalarKind> extends FieldBase {
  readonly kind: 'scalar';
  readonly type: K;
}
export interface BytesField extends FieldBase {
  readonly kind: 'bytes';
}
export interface ArrayField<K extends ScalarKind = ScalarKind> extends FieldBase {
  readonly kind: 'array';
  readonly type: K;
  readonly count: number;
}
export interface NestedField<L extends AnyLayout = AnyLayout> extends FieldBase {
  readonly kind: 'nested';
  readonly layout: L;
}
export type Field = ScalarField | BytesField | ArrayField | NestedField;
export type Fields = Readonly<Record<string, Field>>;

export interface Layout<F extends Fields = Fields> {
  /** The kernel's struct tag, or a descriptive name for an anonymous union arm. */
  readonly name: string;
  /** uapi header declaring it, relative to the include root (`rdma/ib_user_verbs.h`). */
  readonly header: string;
  readonly size: number;
  readonly fields: F;
  /** Anonymous inner struct: proven only through its parent's designators. */
  readonly anonymous: boolean;
  readonly since?: UapiRelease;
}
// biome-ignore lint/suspicious/noExplicitAny: the widest layout type, used for registries
export type AnyLayout = Layout<any>;

type FieldOptions = { since?: UapiRelease; c?: string };

function scalar<K extends ScalarKind>(type: K) {
  return (offset: number, options: FieldOptions = {}): ScalarField<K> =>
    Object.freeze({ kind: 'scalar', type, offset, size: SCALAR_SIZE[type], ...options });
}
export const u8 = scalar('u8');
export const u16 = scalar('u16');
export const u32 = scalar('u32');
export const u64 = scalar('u64');
export const s16 = scalar('s16');
export const s32 = scalar('s32');
export const s64 = scalar('s64');
export const be16 = scalar('be16');
export const be32 = scalar('be32');
export const be64 = scalar('be64');

/** A `__u8 name[size]` member (GIDs, reserved bytes). */
export function bytes(offset: number, size: number, options: FieldOptions = {}): BytesField {
  return Object.freeze({ kind: 'bytes', offset, size, ...options });
}

/** A fixed array of scalars wider than a byte (`__aligned_u64 gid[2]`). */
export function array<K extends ScalarKind>(
  offset: number,
  type: K,
  count: number,
  options: FieldOptions = {},
): ArrayField<K> {
  return Object.freeze({ kind: 'array', type, count, offset, size: SCALAR_SIZE[type] * count, ...options });
}

/** An embedded struct (or one arm of a union, with `c` naming the designator). */
export function nested<L extends AnyLayout>(offset: number, layout: L, options: FieldOptions = {}): NestedField<L> {
  return Object.freeze({ kind: 'nested', layout, offset, size: layout.size, ...options });
}

export function layout<F extends Fields>(
  name: string,
  header: string,
  size: number,
  fields: F,
  options: { since?: UapiRelease; anonymous?: boolean } = {},
): Layout<F> {
  for (const [key, field] of Object.entries(fields)) {
    if (field.offset < 0 || field.offset + field.size > size) {
      throw new Error(`layout ${name}.${key}: [${field.offset}, +${field.size}) lies outside ${size} bytes`);
    }
  }
  return Object.freeze({
    name,
    header,
    size,
    fields: Object.freeze(fields),
    anonymous: options.anonymous ?? false,
    since: options.since,
  });
}

/** An anonymous inner struct or union arm (no C tag of its own). */
export function inner<F extends Fields>(name: string, header: string, size: number, fields: F): Layout<F> {
  return layout(name, header, size, fields, { anonymous: true });
}

type ValueOf<F> =
  F extends ScalarField<infer K>
    ? ScalarValue<K>
    : F extends BytesField
      ? Uint8Array
      : F extends ArrayField<infer K>
        ? ScalarValue<K>[]
        : F extends NestedField<infer L>
          ? Decoded<L>
          : never;

type InputOf<F> =
  F extends ScalarField<infer K>
    ? ScalarInput<K>
    : F extends BytesField
      ? Uint8Array
      : F extends ArrayField<infer K>
        ? readonly ScalarInput<K>[]
        : F extends NestedField<infer L>
          ? Input<L>
          : never;

/** A struct read back in full: every field present. */
export type Decoded<L extends AnyLayout> = { -readonly [K in keyof L['fields']]: ValueOf<L['fields'][K]> };
/** A struct read back from the kernel: fields it did not vouch for are `undefined`, never 0. */
export type Vouched<L extends AnyLayout> = { -readonly [K in keyof L['fields']]: ValueOf<L['fields'][K]> | undefined };
/** What a caller passes to encode: any subset; absent fields are written as zero. */
export type Input<L extends AnyLayout> = { [K in keyof L['fields']]?: InputOf<L['fields'][K]> };

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
const typedGetter = (name: string) =>
  Object.getOwnPropertyDescriptor(typedArrayPrototype, name)?.get as (this: unknown) => unknown;

/**
 * The intrinsic `buffer`, `byteOffset` and `byteLength` getters of every TypedArray, taken before
 * any caller code runs: a view's own properties shadowing them are never read.
 */
export const TYPED_ARRAY = {
  buffer: typedGetter('buffer') as (this: unknown) => ArrayBufferLike,
  offset: typedGetter('byteOffset') as (this: unknown) => number,
  length: typedGetter('byteLength') as (this: unknown) => number,
};

/**
 * A Uint8Array's memory as its intrinsic getters give it, or undefined for
 * anything else (a Proxy, a look-alike): own properties shadowing `buffer`,
 * `byteOffset` or `byteLength` are never read.
 */
export function uint8Range(
  value: unknown,
): { readonly buffer: ArrayBufferLike; readonly byteOffset: number; readonly byteLength: number } | undefined {
  if (!types.isUint8Array(value)) return undefined;
  return {
    buffer: TYPED_ARRAY.buffer.call(value),
    byteOffset: TYPED_ARRAY.offset.call(value),
    byteLength: TYPED_ARRAY.length.call(value),
  };
}

/**
 * The byte length of `value` when it is a genuine Uint8Array (a Buffer included), read through the
 * intrinsic getter; -1 for anything else. A Proxy is not one, and an own `byteLength` property is
 * never read: the length checked is the length `set()` copies, and no caller code runs while a
 * command is laid out (a Proxy's traps could call the library again in the middle of it).
 */
export function bytesLength(value: unknown): number {
  return types.isUint8Array(value) ? TYPED_ARRAY.length.call(value) : -1;
}

/**
 * A fixed-length view of `length` bytes over a genuine Uint8Array's memory, made from its
 * intrinsic getters: what `set()` copies, whatever happens to `value` after its length was
 * checked (a length-tracking view over a growable SharedArrayBuffer that another thread grows
 * still yields `length` bytes, never more).
 */
export function bytesView(value: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(TYPED_ARRAY.buffer.call(value), TYPED_ARRAY.offset.call(value), length);
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readScalar(view: DataView, offset: number, type: ScalarKind): number | bigint {
  switch (type) {
    case 'u8':
      return view.getUint8(offset);
    case 'u16':
      return view.getUint16(offset, true);
    case 'u32':
      return view.getUint32(offset, true);
    case 'u64':
      return view.getBigUint64(offset, true);
    case 's16':
      return view.getInt16(offset, true);
    case 's32':
      return view.getInt32(offset, true);
    case 's64':
      return view.getBigInt64(offset, true);
    case 'be16':
      return view.getUint16(offset, false);
    case 'be32':
      return view.getUint32(offset, false);
    case 'be64':
      return view.getBigUint64(offset, false);
  }
}

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

/** Validates a scalar input against its C type; throws TypeError/RangeError naming the field. */
export function checkScalar(name: string, type: ScalarKind, value: unknown): bigint {
  let v: bigint;
  if (typeof value === 'bigint') {
    v = value;
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    v = BigInt(value);
  } else if (typeof value === 'number') {
    throw outOfRange(name, 'an integer', value);
  } else {
    throw invalidArgType(name, SCALAR_SIZE[type] === 8 ? 'bigint or integer' : 'integer', value);
  }
  const [min, max] = LIMITS[type];
  if (v < min || v > max) throw outOfRange(name, `>= ${min} and <= ${max} (${type})`, value);
  return v;
}

function writeScalar(view: DataView, offset: number, type: ScalarKind, v: bigint): void {
  switch (type) {
    case 'u8':
      view.setUint8(offset, Number(v));
      break;
    case 'u16':
      view.setUint16(offset, Number(v), true);
      break;
    case 'u32':
      view.setUint32(offset, Number(v), true);
      break;
    case 'u64':
      view.setBigUint64(offset, v, true);
      break;
    case 's16':
      view.setInt16(offset, Number(v), true);
      break;
    case 's32':
      view.setInt32(offset, Number(v), true);
      break;
    case 's64':
      view.setBigInt64(offset, v, true);
      break;
    case 'be16':
      view.setUint16(offset, Number(v), false);
      break;
    case 'be32':
      view.setUint32(offset, Number(v), false);
      break;
    case 'be64':
      view.setBigUint64(offset, v, false);
      break;
  }
}

/**
 * Writes `values` into `target` at `base`: the struct's bytes are zeroed
 * first, then every given field is range-checked and stored. Unknown keys
 * are refused, so a typo never silently becomes a zero.
 */
export function encode<L extends AnyLayout>(layout: L, values: Input<L>, target: Uint8Array, base = 0): void {
  if (base < 0 || base + layout.size > target.byteLength) {
    throw outOfRange('target', `at least ${base + layout.size} bytes`, target.byteLength);
  }
  target.fill(0, base, base + layout.size);
  encodeInto(layout, values as Record<string, unknown>, dataView(target), target, base, layout.name);
}

function encodeInto(
  layout: AnyLayout,
  values: Record<string, unknown>,
  view: DataView,
  target: Uint8Array,
  base: number,
  path: string,
): void {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const field: Field | undefined = layout.fields[key];
    const name = `${path}.${key}`;
    if (field === undefined) throw invalidArgType(name, `a field of struct ${layout.name}`, value);
    const at = base + field.offset;
    switch (field.kind) {
      case 'scalar':
        writeScalar(view, at, field.type, checkScalar(name, field.type, value));
        break;
      case 'bytes': {
        const length = bytesLength(value);
        if (length < 0) throw invalidArgType(name, 'Uint8Array', value);
        if (length > field.size) throw outOfRange(`${name}.byteLength`, `<= ${field.size}`, length);
        target.set(bytesView(value as Uint8Array, length), at);
        break;
      }
      case 'array': {
        if (!Array.isArray(value)) throw invalidArgType(name, 'Array', value);
        if (value.length > field.count) throw outOfRange(`${name}.length`, `<= ${field.count}`, value.length);
        const width = field.size / field.count;
        value.forEach((element: unknown, i: number) => {
          writeScalar(view, at + i * width, field.type, checkScalar(`${name}[${i}]`, field.type, element));
        });
        break;
      }
      case 'nested':
        if (typeof value !== 'object' || value === null) throw invalidArgType(name, 'object', value);
        encodeInto(field.layout, value as Record<string, unknown>, view, target, at, name);
        break;
    }
  }
}

/** Reads a whole struct; the source must hold all of it. */
export function decode<L extends AnyLayout>(layout: L, source: Uint8Array, base = 0): Decoded<L> {
  if (base < 0 || base + layout.size > source.byteLength) {
    throw outOfRange('source', `at least ${base + layout.size} bytes`, source.byteLength);
  }
  return decodeFrom(layout, dataView(source), source, base, layout.size, undefined) as Decoded<L>;
}

/**
 * Reads a struct the kernel filled: a field is `undefined` unless it lies
 * wholly inside the `length` bytes the kernel vouched for (its
 * `response_length`, or what VALID_OUTPUT covers) and, when `release` is
 * given, that kernel's headers declare it.
 */
export function decodeVouched<L extends AnyLayout>(
  layout: L,
  source: Uint8Array,
  options: { length: number; release?: string },
  base = 0,
): Vouched<L> {
  if (base < 0 || base + layout.size > source.byteLength) {
    throw outOfRange('source', `at least ${base + layout.size} bytes`, source.byteLength);
  }
  return decodeFrom(layout, dataView(source), source, base, options.length, options.release) as Vouched<L>;
}

function decodeFrom(
  layout: AnyLayout,
  view: DataView,
  source: Uint8Array,
  base: number,
  vouched: number,
  release: string | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(layout.fields) as [string, Field][]) {
    const known = release === undefined || releaseHas(release, field.since);
    if (!known || field.offset + field.size > vouched) {
      if (field.kind === 'nested' && known && field.offset < vouched) {
        out[key] = decodeFrom(field.layout, view, source, base + field.offset, vouched - field.offset, release);
      } else {
        out[key] = undefined;
      }
      continue;
    }
    const at = base + field.offset;
    switch (field.kind) {
      case 'scalar':
        out[key] = readScalar(view, at, field.type);
        break;
      case 'bytes':
        out[key] = source.slice(at, at + field.size);
        break;
      case 'array': {
        const width = field.size / field.count;
        out[key] = Array.from({ length: field.count }, (_, i) => readScalar(view, at + i * width, field.type));
        break;
      }
      case 'nested':
        out[key] = decodeFrom(field.layout, view, source, at, field.size, release);
        break;
    }
  }
  return out;
}

/** Byte offset just past `field` (the kernel's `offsetofend`). */
export function offsetOfEnd(layout: AnyLayout, field: string): number {
  const f = layout.fields[field];
  if (f === undefined) throw new Error(`struct ${layout.name} has no field ${field}`);
  return f.offset + f.size;
}

/** Walks every leaf field with its C designator and absolute offset (for the conformance generator). */
export function* leafFields(
  layout: AnyLayout,
  prefix = '',
  base = 0,
): Generator<{ designator: string; offset: number; size: number; since?: UapiRelease; field: Field }> {
  for (const [key, field] of Object.entries(layout.fields) as [string, Field][]) {
    const designator = prefix + (field.c ?? key);
    yield { designator, offset: base + field.offset, size: field.size, since: field.since, field };
    if (field.kind === 'nested' && field.layout.anonymous) {
      for (const leaf of leafFields(field.layout, `${designator}.`, base + field.offset)) {
        yield { ...leaf, since: leaf.since ?? field.since };
      }
    }
  }
}

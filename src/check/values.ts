/**
 * Random values shaped by the ABI tables (every scalar kind, every layout,
 * every method's arguments), from a seeded {@link Rng}: what the check's
 * fuzz encodes. Integers lean to their edges (0, 1, the extremes) a third
 * of the time, where validation bugs live.
 */

import type { AnyLayout, Field, ScalarKind } from '../abi/layout.js';
import type { AttrSpec, MethodSpec, Payload } from '../abi/method-spec.js';
import type { Rng } from './rng.js';

const RANGES: Record<ScalarKind, [bigint, bigint]> = {
  u8: [0n, 0xffn],
  u16: [0n, 0xffffn],
  be16: [0n, 0xffffn],
  s16: [-0x8000n, 0x7fffn],
  u32: [0n, 0xffff_ffffn],
  be32: [0n, 0xffff_ffffn],
  s32: [-0x8000_0000n, 0x7fff_ffffn],
  u64: [0n, 0xffff_ffff_ffff_ffffn],
  be64: [0n, 0xffff_ffff_ffff_ffffn],
  s64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function integer(rng: Rng, min: bigint, max: bigint): bigint {
  if (rng.chance(1 / 3)) return rng.pick([min, max, 0n >= min ? 0n : min, 1n <= max ? 1n : max]);
  const span = max - min + 1n;
  return min + (rng.u64() % span);
}

export function scalarValue(rng: Rng, kind: ScalarKind): number | bigint {
  const [min, max] = RANGES[kind];
  const v = integer(rng, min, max);
  return kind === 'u64' || kind === 's64' || kind === 'be64' ? v : Number(v);
}

function bytes(rng: Rng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => rng.int(0, 255));
}

/** Fields that do not overlap (one arm of each union), in declaration order. */
export function disjointFields(layout: AnyLayout): [string, Field][] {
  const taken: [number, number][] = [];
  const out: [string, Field][] = [];
  for (const [key, field] of Object.entries(layout.fields) as [string, Field][]) {
    const end = field.offset + field.size;
    if (taken.some(([a, b]) => field.offset < b && a < end)) continue;
    taken.push([field.offset, end]);
    out.push([key, field]);
  }
  return out;
}

function fieldValue(rng: Rng, field: Field): unknown {
  switch (field.kind) {
    case 'scalar':
      return scalarValue(rng, field.type);
    case 'bytes':
      return bytes(rng, field.size);
    case 'array':
      return Array.from({ length: field.count }, () => scalarValue(rng, field.type));
    case 'nested':
      return layoutValue(rng, field.layout);
  }
}

/** A full value for a layout: every disjoint field set. */
export function layoutValue(rng: Rng, layout: AnyLayout): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of disjointFields(layout)) out[key] = fieldValue(rng, field);
  return out;
}

function payloadValue(rng: Rng, payload: Payload, minLen: number): unknown {
  switch (payload.type) {
    case 'scalar':
      return scalarValue(rng, payload.scalar);
    case 'struct':
      return layoutValue(rng, payload.layout);
    case 'bytes':
      return bytes(rng, rng.int(minLen, minLen + 40));
  }
}

/** A value for one attribute, or undefined for those the caller never passes (new handles, outputs of fixed size). */
function attrValue(rng: Rng, attr: AttrSpec): unknown {
  switch (attr.kind) {
    case 'idr':
      return attr.access === 'new' ? undefined : rng.u32();
    case 'fd':
      return attr.access === 'new' ? undefined : rng.int(0, 0x7fff_ffff);
    case 'rawFd':
      return rng.int(-1, 0x7fff_ffff);
    case 'idrsArray':
      return Array.from({ length: rng.int(attr.minCount, Math.min(attr.maxCount, attr.minCount + 8)) }, () =>
        rng.u32(),
      );
    case 'enumIn': {
      const elem = rng.int(0, attr.elems.length - 1);
      return { elem, payload: payloadValue(rng, (attr.elems[elem] as { payload: Payload }).payload, 0) };
    }
    case 'ptrIn':
      return payloadValue(rng, attr.payload, attr.minLen);
    case 'ptrOut':
      return attr.len === 0xffff ? rng.int(attr.minLen, attr.minLen + 256) : undefined;
  }
}

/** Arguments for a method: every mandatory input, each optional one half the time. */
export function methodArgs(rng: Rng, method: MethodSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, attr] of Object.entries(method.attrs)) {
    const value = attrValue(rng, attr);
    if (value === undefined) continue;
    if (!attr.mandatory && rng.chance(0.5)) continue;
    out[key] = value;
  }
  return out;
}

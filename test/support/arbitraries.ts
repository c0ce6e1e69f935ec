/**
 * fast-check arbitraries derived from the ABI tables themselves: values for
 * every scalar kind, inputs for every layout, arguments for every method.
 */

import fc from 'fast-check';
import type { AnyLayout, Field, ScalarKind } from '../../src/abi/layout.js';
import type { AttrSpec, MethodSpec, Payload } from '../../src/abi/method-spec.js';
import { disjointFields } from '../../src/check/values.js';

export function scalar(kind: ScalarKind): fc.Arbitrary<number | bigint> {
  switch (kind) {
    case 'u8':
      return fc.integer({ min: 0, max: 0xff });
    case 'u16':
    case 'be16':
      return fc.integer({ min: 0, max: 0xffff });
    case 's16':
      return fc.integer({ min: -0x8000, max: 0x7fff });
    case 'u32':
    case 'be32':
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case 's32':
      return fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
    case 'u64':
    case 'be64':
      return fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
    case 's64':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  }
}

function fieldValue(field: Field): fc.Arbitrary<unknown> {
  switch (field.kind) {
    case 'scalar':
      return scalar(field.type);
    case 'bytes':
      return fc.uint8Array({ minLength: field.size, maxLength: field.size });
    case 'array':
      return fc.array(scalar(field.type), { minLength: field.count, maxLength: field.count });
    case 'nested':
      return layoutValue(field.layout);
  }
}

/** A full value for a layout: every disjoint field set. */
export function layoutValue(layout: AnyLayout): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [key, field] of disjointFields(layout)) record[key] = fieldValue(field);
  return fc.record(record);
}

function payloadValue(payload: Payload, minLen: number): fc.Arbitrary<unknown> {
  switch (payload.type) {
    case 'scalar':
      return scalar(payload.scalar);
    case 'struct':
      return layoutValue(payload.layout);
    case 'bytes':
      return fc.uint8Array({ minLength: minLen, maxLength: minLen + 40 });
  }
}

function attrValue(attr: AttrSpec): fc.Arbitrary<unknown> | undefined {
  switch (attr.kind) {
    case 'idr':
      return attr.access === 'new' ? undefined : fc.integer({ min: 0, max: 0xffff_ffff });
    case 'fd':
      return attr.access === 'new' ? undefined : fc.integer({ min: 0, max: 0x7fff_ffff });
    case 'rawFd':
      return fc.integer({ min: -1, max: 0x7fff_ffff });
    case 'idrsArray':
      return fc.array(fc.integer({ min: 0, max: 0xffff_ffff }), { minLength: attr.minCount, maxLength: attr.maxCount });
    case 'enumIn':
      return fc
        .integer({ min: 0, max: attr.elems.length - 1 })
        .chain((elem) =>
          payloadValue((attr.elems[elem] as { payload: Payload }).payload, 0).map((payload) => ({ elem, payload })),
        );
    case 'ptrIn':
      return payloadValue(attr.payload, attr.minLen);
    case 'ptrOut':
      return attr.len === 0xffff ? fc.integer({ min: attr.minLen, max: attr.minLen + 256 }) : undefined;
  }
}

/** Arguments for a method: every mandatory input, each optional one sometimes. */
export function methodArgs(method: MethodSpec): fc.Arbitrary<Record<string, unknown>> {
  const required: Record<string, fc.Arbitrary<unknown>> = {};
  const optional: string[] = [];
  for (const [key, attr] of Object.entries(method.attrs)) {
    const value = attrValue(attr);
    if (!value) continue;
    required[key] = value;
    if (!attr.mandatory) optional.push(key);
  }
  return fc.record(required, { requiredKeys: Object.keys(required).filter((k) => !optional.includes(k)) });
}

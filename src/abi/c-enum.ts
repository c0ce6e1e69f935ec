/**
 * Kernel enums and #defines as data.
 *
 * `cEnum()` returns a frozen object of the members with their explicit
 * values (never enum positions) and remembers where they come from, so the
 * conformance test can compile every value against every uapi release.
 */

import type { UapiRelease } from './layout.js';

export interface CEnumInfo {
  /** The C enum tag, or a descriptive name for an anonymous enum / a group of #defines. */
  readonly name: string;
  /** uapi header declaring it, relative to the include root. */
  readonly header: string;
  /** Members that first appear in a later uapi release. */
  readonly since: Readonly<Record<string, UapiRelease>>;
}

const registry = new WeakMap<object, CEnumInfo>();

export function cEnum<const M extends Record<string, number | bigint>>(
  name: string,
  header: string,
  members: M,
  options: { since?: { [K in keyof M]?: UapiRelease } } = {},
): Readonly<M> {
  const frozen = Object.freeze({ ...members });
  registry.set(
    frozen,
    Object.freeze({ name, header, since: Object.freeze({ ...(options.since ?? {}) }) as Record<string, UapiRelease> }),
  );
  return frozen;
}

/** Where a `cEnum()` table comes from; undefined for any other object. */
export function cEnumInfo(value: unknown): CEnumInfo | undefined {
  return typeof value === 'object' && value !== null ? registry.get(value) : undefined;
}

/** Reverse lookup for diagnostics: the member name for a value, or the number itself. */
export function memberName(table: Readonly<Record<string, number | bigint>>, value: number | bigint): string {
  for (const [k, v] of Object.entries(table)) if (v === value) return k;
  return String(value);
}

/**
 * What one probe has that another lacks: methods, attributes, write
 * commands, objects and capability bits, each keyed by the kernel's name.
 */

import type { ProbeResult } from './probe.js';

export const DIFF_SCHEMA = 1;

export type FeatureKind = 'object' | 'method' | 'attribute' | 'write' | 'capability';

export interface Feature {
  kind: FeatureKind;
  /** `UVERBS_METHOD_REG_MR`, or `UVERBS_METHOD_CQ_CREATE.UVERBS_ATTR_CREATE_CQ_BUFFER_VA` for an attribute. */
  name: string;
}

export interface ProbeDiff {
  schema: typeof DIFF_SCHEMA;
  a: { kernel: string; device: string };
  b: { kernel: string; device: string };
  /** Supported by B only. */
  onlyB: Feature[];
  /** Supported by A only. */
  onlyA: Feature[];
}

/** Every supported feature of a probe, as `kind name` keys. */
export function features(p: ProbeResult): Map<string, Feature> {
  const out = new Map<string, Feature>();
  const add = (kind: FeatureKind, name: string) => out.set(`${kind} ${name}`, { kind, name });
  for (const o of p.objects) if (o.supported) add('object', o.object);
  for (const m of p.methods) {
    if (!m.supported) continue;
    add('method', m.method);
    for (const a of m.attributes ?? []) if (a.supported) add('attribute', `${m.method}.${a.name}`);
  }
  for (const w of p.writeCommands) if (w.supported) add('write', w.command);
  for (const c of p.capabilities.deviceCapFlags) add('capability', c);
  return out;
}

export function diffProbes(a: ProbeResult, b: ProbeResult): ProbeDiff {
  for (const p of [a, b]) {
    if (p?.schema !== 1) throw new TypeError(`not a uverbs probe (schema 1): ${JSON.stringify(p?.schema)}`);
  }
  const fa = features(a);
  const fb = features(b);
  return {
    schema: DIFF_SCHEMA,
    a: { kernel: a.kernel, device: a.device.name },
    b: { kernel: b.kernel, device: b.device.name },
    onlyB: [...fb].filter(([k]) => !fa.has(k)).map(([, f]) => f),
    onlyA: [...fa].filter(([k]) => !fb.has(k)).map(([, f]) => f),
  };
}

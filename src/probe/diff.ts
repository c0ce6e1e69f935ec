/**
 * What one probe has that another lacks: methods, attributes, write
 * commands, objects and capability bits, each keyed by the kernel's name;
 * and, where both probes were deep, the features one has and the other
 * does not (supported `true` in one, anything else in the other).
 *
 * Probes of schema 1 (before features) are read too: their objects are
 * judged as schema 2 judges them (any supported ioctl method or write
 * command), so a diff across the two schemas shows the kernels'
 * differences, not the schemas'.
 */

import { PROBE_SCHEMA, type ProbedObject, type ProbeResult, type ProbeResultV1, writeObject } from './probe.js';

/** 2: the `feature` kind (a deep probe's features) is new. */
export const DIFF_SCHEMA = 2;

export type FeatureKind = 'object' | 'method' | 'attribute' | 'write' | 'capability' | 'feature';

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

/**
 * A parsed `uverbs probe --json` of schema 1 or 2, as schema 2; anything
 * else is a TypeError saying what it is not.
 */
export function readProbe(value: unknown): ProbeResult {
  const p = value as Partial<ProbeResult | ProbeResultV1> | null;
  const schema = typeof p === 'object' && p !== null ? p.schema : undefined;
  if (schema !== 1 && schema !== PROBE_SCHEMA) {
    throw new TypeError(`not a uverbs probe (schema 1 or ${PROBE_SCHEMA}): schema ${JSON.stringify(schema)}`);
  }
  const q = p as ProbeResult | ProbeResultV1;
  if (
    typeof q.kernel !== 'string' ||
    typeof q.device?.name !== 'string' ||
    typeof q.device?.driver !== 'string' ||
    !Array.isArray(q.methods) ||
    !Array.isArray(q.writeCommands) ||
    !Array.isArray(q.objects) ||
    !Array.isArray(q.capabilities?.deviceCapFlags) ||
    (q.schema === PROBE_SCHEMA && q.features !== undefined && !Array.isArray(q.features))
  ) {
    throw new TypeError(
      `not a uverbs probe: schema ${schema} without its kernel, device (name, driver), methods, objects or capabilities`,
    );
  }
  if (q.schema === PROBE_SCHEMA) q.features?.forEach(checkFeatureEntry);
  if (q.schema === PROBE_SCHEMA) return q;
  const objects = q.objects.map(({ object }): ProbedObject => {
    const via: ProbedObject['via'] = [];
    if (q.methods.some((m) => m.object === object && m.supported)) via.push('ioctl');
    if (q.writeCommands.some((w) => w.supported && writeObject(w.command) === object)) via.push('write');
    return { object, supported: via.length > 0, via };
  });
  return { ...q, schema: PROBE_SCHEMA, objects };
}

const SUPPORTED = [true, false, 'unknown'];
const isString = (v: unknown) => typeof v === 'string';

/** A TypeError unless `f` is a feature answer: `{ name, supported, how }` and strings (and `detail` strings) where given. */
function checkFeatureEntry(f: unknown, i: number): void {
  const e = f as Record<string, unknown> | null;
  const ok =
    typeof e === 'object' &&
    e !== null &&
    isString(e.name) &&
    SUPPORTED.includes(e.supported as never) &&
    isString(e.how) &&
    ['errno', 'object', 'completion'].every((k) => e[k] === undefined || isString(e[k])) &&
    (e.detail === undefined || (Array.isArray(e.detail) && e.detail.every(isString)));
  if (!ok) {
    throw new TypeError(
      `not a uverbs probe: feature ${i + 1} is not { name, supported: true | false | 'unknown', how } (with string errno, object, completion, detail): ${JSON.stringify(f)?.slice(0, 120)}`,
    );
  }
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
  for (const f of p.features ?? []) if (f.supported === true) add('feature', f.name);
  return out;
}

export function diffProbes(a: unknown, b: unknown): ProbeDiff {
  const pa = readProbe(a);
  const pb = readProbe(b);
  const fa = features(pa);
  const fb = features(pb);
  // features only where both were deep: a plain probe has not asked
  const deep = pa.features !== undefined && pb.features !== undefined;
  const keep = ([, f]: [string, Feature]) => deep || f.kind !== 'feature';
  return {
    schema: DIFF_SCHEMA,
    a: { kernel: pa.kernel, device: pa.device.name },
    b: { kernel: pb.kernel, device: pb.device.name },
    onlyB: [...fb]
      .filter(([k]) => !fa.has(k))
      .filter(keep)
      .map(([, f]) => f),
    onlyA: [...fa]
      .filter(([k]) => !fb.has(k))
      .filter(keep)
      .map(([, f]) => f),
  };
}

/**
 * `uverbs check` as a library call: what the test suite knows about the
 * kernel's uverbs, run against any device. {@link runCheck} runs the parts
 * (ABI validation matrix, model-guided fuzz, object lifetime, exhaustion at
 * the device's limits, and with `faultInjection` the fail-nth and
 * probability sweeps), watches the kernel log for warnings during the run,
 * and compares the device's `rdma res` counts at the end with those at the
 * start. {@link checkFailed} says whether the run found anything.
 */

import { invalidArgValue, UverbsError } from '../errors.js';
import { probe } from '../probe/probe.js';
import { Context } from '../verbs/context.js';
import { listDevices, resolveDevice } from '../verbs/device.js';
import { abiCheck, type Predict } from './abi-matrix.js';
import { DmesgWatch } from './dmesg.js';
import { exhaustionCheck } from './exhaustion.js';
import { faultCheck, requireFaultInjection } from './fault-injection.js';
import { fuzzCheck } from './fuzz.js';
import { lifetimeCheck } from './lifetime.js';
import {
  CHECK_SCHEMA,
  type CheckPartName,
  type CheckReport,
  type DmesgResult,
  type FaultRow,
  newPart,
  type PartResult,
} from './report.js';
import { rdmaResReader, sameCounts } from './resources.js';

export { MATRIX_CASES, type Predict } from './abi-matrix.js';
export { DmesgWatch, KERNEL_WARNING, kernelWarnings, parseKmsgRecord } from './dmesg.js';
export { FaultInjectionUnavailableError, requireFaultInjection } from './fault-injection.js';
export * from './report.js';
export { parseRdmaRes } from './resources.js';

/** The default fuzz seed: a fixed one, so two runs send the same commands. */
export const DEFAULT_SEED = 20261124;

export interface CheckOptions {
  /** ib name or uverbs node; default: the first device. */
  readonly device?: string;
  /** Fuzz seed (default {@link DEFAULT_SEED}). */
  readonly seed?: number;
  /** Fuzz commands generated (default 2000); lifetime cycles are a tenth of it (at least 1). */
  readonly iterations?: number;
  /** Wall-clock budget of the fuzz and of the lifetime cycles, each, in ms (default 20000). */
  readonly budgetMs?: number;
  /** The parts to run (default: all but fault-injection, which `faultInjection` adds). */
  readonly parts?: readonly CheckPartName[];
  /** Run the fault-injection sweeps (needs the debug kernel's failslab and fail-nth). */
  readonly faultInjection?: boolean;
  /** fail-nth values tried per verb at most (default 64). */
  readonly maxNth?: number;
  /** Replaces the model's prediction for a raw command (a test of the check itself plants a disagreement with it). */
  readonly predict?: Predict;
  /**
   * Watch the kernel log (default true). When false the report says it was
   * not asked for, and not watching it does not make the run INCOMPLETE.
   */
  readonly dmesg?: boolean;
  /** Progress lines (one per part). */
  readonly progress?: (line: string) => void;
}

const ALL: readonly CheckPartName[] = ['abi', 'fuzz', 'lifetime', 'exhaustion'];

/**
 * Runs one part: an exception out of it (a library or scenario bug, a
 * refusal the part did not expect) is the part's disagreement, carrying the
 * error, and the run goes on with the next part.
 */
export function runPart(name: CheckPartName, fn: () => PartResult): PartResult {
  try {
    return fn();
  } catch (error) {
    const part = newPart(name);
    const e = error as { name?: string; code?: string; stack?: string; message?: string };
    part.disagreements.push({
      case: `${name}: the part threw`,
      kind: 'verb',
      predicted: 0,
      actual: error instanceof UverbsError ? error.errno : -1,
      note: `${e?.stack ?? `${e?.name}: ${e?.message ?? String(error)}`}`.split('\n').slice(0, 8).join('\n'),
    });
    return part;
  }
}

/**
 * Runs the check. Throws a typed error before touching the device for bad
 * options (an unknown device: `UverbsError` ENODEV, as `resolveDevice`),
 * and {@link FaultInjectionUnavailableError} when fault injection is asked
 * for on a kernel without it. A part that throws is reported as that part's
 * disagreement (see `runPart`) and the other parts still run.
 */
export function runCheck(options: CheckOptions = {}): CheckReport {
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff)
    throw invalidArgValue('seed', 'must be an integer from 0 to 2^32 - 1', seed);
  const iterations = options.iterations ?? 2000;
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw invalidArgValue('iterations', 'must be a whole number of at least 1', iterations);
  const budgetMs = options.budgetMs ?? 20_000;
  if (typeof budgetMs !== 'number' || !(budgetMs > 0))
    throw invalidArgValue('budgetMs', 'must be a positive number', budgetMs);
  // no name: the first device; none at all is the same ENODEV as an unknown name, listing none
  const info = options.device === undefined ? (listDevices()[0] ?? resolveDevice('')) : resolveDevice(options.device);
  const parts = new Set<CheckPartName>(options.parts ?? ALL);
  if (options.faultInjection) {
    parts.add('fault-injection');
    requireFaultInjection();
  }
  const started = Date.now();
  const progress = options.progress ?? (() => {});
  const reader = rdmaResReader(info.name);
  const resources = typeof reader === 'function' ? reader : undefined;
  const before = resources?.();
  const watch = options.dmesg === false ? undefined : new DmesgWatch();
  const results: PartResult[] = [];
  const faults: FaultRow[] = [];
  const warnings = [];
  let found: ReturnType<typeof probe> | undefined;
  let dmesg: DmesgResult;
  try {
    found = probe(info);
    for (const name of ['abi', 'fuzz', 'lifetime', 'exhaustion', 'fault-injection'] as const) {
      if (!parts.has(name)) continue;
      progress(`check ${info.name}: ${name}`);
      const probed = found;
      results.push(
        runPart(name, () => {
          switch (name) {
            case 'abi': {
              using ctx = Context.open(info);
              return abiCheck(ctx, options.predict);
            }
            case 'fuzz': {
              using ctx = Context.open(info);
              return fuzzCheck(ctx, probed, { seed, iterations, budgetMs, predict: options.predict });
            }
            case 'lifetime':
              return lifetimeCheck(info.name, { cycles: Math.max(1, Math.floor(iterations / 10)), budgetMs });
            case 'exhaustion':
              return exhaustionCheck(info.name, resources);
            case 'fault-injection':
              return faultCheck(
                info,
                resources,
                { maxNth: options.maxNth ?? 64, probabilities: [1, 5, 10, 25, 50], rounds: 4, progress },
                faults,
              );
          }
        }),
      );
      // a warning is attributed to the part during which it was logged
      for (const w of watch?.check() ?? []) {
        warnings.push(w);
        (results[results.length - 1] as PartResult).notes.push(`kernel warning during this part: ${w.message}`);
      }
    }
    dmesg = watch
      ? watch.finish(warnings)
      : { watched: false, optedOut: true, reason: 'not watched (--no-dmesg)', warnings: [] };
  } finally {
    watch?.close();
  }
  const after = resources?.();
  return {
    schema: CHECK_SCHEMA,
    device: info.name,
    kernel: found.kernel,
    seed,
    parts: results,
    dmesg,
    resources:
      typeof reader === 'function'
        ? { checked: true, before, after, atBaseline: sameCounts(before ?? {}, after ?? {}) }
        : { checked: false, reason: reader.reason },
    ...(options.faultInjection ? { faults } : {}),
    seconds: (Date.now() - started) / 1000,
  };
}

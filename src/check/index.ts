/**
 * `uverbs check` as a library call: what the test suite knows about the
 * kernel's uverbs, run against any device. {@link runCheck} runs the parts
 * (ABI validation matrix, model-guided fuzz, object lifetime, exhaustion at
 * the device's limits, and with `faultInjection` the fail-nth and
 * probability sweeps), watches the kernel log for warnings during the run,
 * and compares the device's `rdma res` counts at the end with those at the
 * start. {@link checkFailed} says whether the run found anything.
 */

import { invalidArgType, invalidArgValue } from '../errors.js';
import { probe } from '../probe/probe.js';
import { Context } from '../verbs/context.js';
import { findDevice, listDevices } from '../verbs/device.js';
import { abiCheck, type Predict } from './abi-matrix.js';
import { DmesgWatch } from './dmesg.js';
import { exhaustionCheck } from './exhaustion.js';
import { faultCheck, requireFaultInjection } from './fault-injection.js';
import { fuzzCheck } from './fuzz.js';
import { lifetimeCheck } from './lifetime.js';
import { CHECK_SCHEMA, type CheckPartName, type CheckReport, type FaultRow, type PartResult } from './report.js';
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
  /** Progress lines (one per part). */
  readonly progress?: (line: string) => void;
}

const ALL: readonly CheckPartName[] = ['abi', 'fuzz', 'lifetime', 'exhaustion'];

/**
 * Runs the check. Throws a typed error before touching the device for bad
 * options, and {@link FaultInjectionUnavailableError} when fault injection
 * is asked for on a kernel without it.
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
  const info = options.device === undefined ? listDevices()[0] : findDevice(options.device);
  if (info === undefined) throw invalidArgType('device', 'the name of a uverbs device', options.device);
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
  const watch = new DmesgWatch();
  const found = probe(info);
  const results: PartResult[] = [];
  const faults: FaultRow[] = [];
  const warnings = [];
  for (const name of ['abi', 'fuzz', 'lifetime', 'exhaustion', 'fault-injection'] as const) {
    if (!parts.has(name)) continue;
    progress(`check ${info.name}: ${name}`);
    switch (name) {
      case 'abi': {
        using ctx = Context.open(info);
        results.push(abiCheck(ctx, options.predict));
        break;
      }
      case 'fuzz': {
        using ctx = Context.open(info);
        results.push(fuzzCheck(ctx, found, { seed, iterations, budgetMs, predict: options.predict }));
        break;
      }
      case 'lifetime':
        results.push(lifetimeCheck(info.name, { cycles: Math.max(1, Math.floor(iterations / 10)), budgetMs }));
        break;
      case 'exhaustion':
        results.push(exhaustionCheck(info.name, resources));
        break;
      case 'fault-injection':
        results.push(
          faultCheck(
            info,
            resources,
            { maxNth: options.maxNth ?? 64, probabilities: [1, 5, 10, 25, 50], rounds: 4, progress },
            faults,
          ),
        );
        break;
    }
    // a warning is attributed to the part during which it was logged
    for (const w of watch.check()) {
      warnings.push(w);
      (results[results.length - 1] as PartResult).notes.push(`kernel warning during this part: ${w.message}`);
    }
  }
  const dmesg = watch.finish(warnings);
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

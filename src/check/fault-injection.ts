/**
 * Fault injection (needs a kernel with CONFIG_FAULT_INJECTION,
 * CONFIG_FAILSLAB and debugfs: `uverbs vm --kernel debug`).
 *
 * The fail-nth sweep: for each verb (context open of the device node sysfs
 * named; alloc/dealloc of PD, MW;
 * reg/dereg of MR; create/destroy of comp channel, CQ, SRQ, QP, AH), with
 * n = 1, 2, ...: N is written to /proc/thread-self/fail-nth on the thread
 * that makes the call (koffi's calls run on the main thread) immediately
 * before the verb, so the n-th fault site the kernel consults on that
 * thread fails; read back after it, 0 means the fault was injected. The
 * sweep of a verb stops when the verb completes without reaching its n-th
 * site. Each injected failure must surface as a UverbsError (its class,
 * code and errno are counted), or the verb must have succeeded anyway (the
 * kernel tolerated the failure: counted as `success`); an object whose
 * create threw was not created (`rdma res` counts unchanged), one whose
 * destroy threw is still open and closes afterwards, every object made
 * before the verb is still open, and closing everything works.
 *
 * The probability sweep: failslab's own filter restricted to this thread
 * (task-filter, /proc/self/make-it-fail set only around each verb call),
 * interval 1, times -1, at probabilities 1% to 50%, over a lifecycle
 * scenario; the same assertions.
 *
 * failslab's settings are saved before and restored after; its
 * ignore-gfp-wait is turned off (sleeping allocations, which is what
 * uverbs makes, are otherwise never failed) and verbose set to 0.
 */

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { UverbsError } from '../errors.js';
import { packageRoot } from '../transport/native.js';
import type { Sys } from '../transport/sys.js';
import type { CompletionChannel } from '../verbs/completion-channel.js';
import type { CompletionQueue } from '../verbs/completion-queue.js';
import { Context } from '../verbs/context.js';
import { type DeviceInfo, resolveDevice } from '../verbs/device.js';
import type { KernelObject } from '../verbs/kernel-object.js';
import type { ProtectionDomain } from '../verbs/protection-domain.js';
import { compare, count, type FaultRow, newPart, type PartResult } from './report.js';
import { fdCount, type ResourceReader, rdmaResReader, sameCounts, showCounts } from './resources.js';
import { expectThat } from './scenario.js';

export const FAILSLAB = '/sys/kernel/debug/failslab';
export const FAIL_NTH = '/proc/thread-self/fail-nth';
const MAKE_IT_FAIL = '/proc/self/make-it-fail';

/** Fault injection was asked for on a kernel without it. */
export class FaultInjectionUnavailableError extends Error {
  readonly code = 'ERR_UVERBS_FAULT_INJECTION_UNAVAILABLE';
  /** The files that are not there. */
  readonly missing: string[];
  constructor(missing: string[], hint: string) {
    super(
      `fault injection needs ${missing.join(' and ')}, which this kernel does not have${hint}; ` +
        "boot a kernel built with CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS: 'uverbs vm --kernel debug'",
    );
    this.missing = missing;
  }
  override get name(): string {
    return 'FaultInjectionUnavailableError';
  }
}

/** Throws {@link FaultInjectionUnavailableError} unless failslab's debugfs files and fail-nth exist. */
export function requireFaultInjection(root = { failslab: FAILSLAB, failNth: FAIL_NTH }): void {
  const missing = [root.failslab, root.failNth].filter((p) => !existsSync(p));
  if (missing.length === 0) return;
  // the kernel has fault injection (fail-nth) but failslab is not to be seen: debugfs may not be mounted
  const debugfs =
    missing.length === 1 &&
    missing[0] === root.failslab &&
    !existsSync('/sys/kernel/debug/block') &&
    !existsSync('/sys/kernel/debug/tracing');
  throw new FaultInjectionUnavailableError(
    missing,
    debugfs ? ' (is debugfs mounted? mount -t debugfs none /sys/kernel/debug)' : '',
  );
}

const SETTINGS = [
  'probability',
  'interval',
  'times',
  'space',
  'verbose',
  'task-filter',
  'ignore-gfp-wait',
  'cache-filter',
];

/** failslab's settings, to put back. */
function saveFailslab(): Map<string, string> {
  const saved = new Map<string, string>();
  for (const s of SETTINGS) {
    const path = `${FAILSLAB}/${s}`;
    if (existsSync(path)) saved.set(s, readFileSync(path, 'utf8').trim());
  }
  return saved;
}

function setFailslab(values: Record<string, string | number>): void {
  for (const [k, v] of Object.entries(values)) {
    const path = `${FAILSLAB}/${k}`;
    if (existsSync(path)) writeFileSync(path, String(v));
  }
}

/** The thread's fail-nth file, kept open (opening it allocates: not between arming and the verb). */
class FailNth {
  readonly #fd = openSync(FAIL_NTH, 'r+');
  readonly #buffer = Buffer.alloc(32);
  arm(n: number): void {
    writeSync(this.#fd, String(n));
  }
  /**
   * 0: the armed fault was injected; N > 0: N more sites would have been
   * needed. -1: the read itself failed, which happens when its own
   * copy_to_user was the armed site (fail_usercopy counts too): the verb
   * did not reach it.
   */
  read(): number {
    try {
      const got = readSync(this.#fd, this.#buffer, 0, this.#buffer.byteLength, 0);
      return Number(this.#buffer.toString('utf8', 0, got).trim());
    } catch {
      return -1;
    }
  }
  disarm(): void {
    try {
      writeSync(this.#fd, '0');
    } catch {
      // kernels that refuse 0: the count was read back positive, and runs out harmlessly in our own syscalls
    }
  }
  close(): void {
    closeSync(this.#fd);
  }
}

/**
 * The probability sweep's switch: /proc/self/make-it-fail (the main
 * thread's task) set around each verb call. make-it-fail lives in the task
 * and is copied to every task cloned from it (dup_task_struct resets only
 * fail-nth), so a thread Node or V8 starts while the main thread is armed
 * (a platform worker, libuv's pool) stays armed after the main thread is
 * disarmed, and so does any process spawned while armed. `disarm()` clears
 * the main thread, then every thread of this process that appeared since
 * the last look (their /proc/self/task/TID/make-it-fail), counting them.
 */
class MakeItFail {
  readonly #fd = openSync(MAKE_IT_FAIL, 'r+');
  readonly #known = new Set(readdirSync('/proc/self/task'));
  /** Threads that appeared while armed and were disarmed here. */
  inherited = 0;
  arm(): void {
    writeSync(this.#fd, '1');
  }
  disarm(): void {
    writeSync(this.#fd, '0');
    const tasks = readdirSync('/proc/self/task');
    if (tasks.length === this.#known.size && tasks.every((t) => this.#known.has(t))) return;
    for (const tid of tasks) {
      if (this.#known.has(tid)) continue;
      this.#known.add(tid);
      try {
        if (readFileSync(`/proc/self/task/${tid}/make-it-fail`, 'utf8').trim() !== '0') {
          writeFileSync(`/proc/self/task/${tid}/make-it-fail`, '0');
          this.inherited++;
        }
      } catch {
        // the thread is gone
      }
    }
  }
  /** Threads of this process still armed (none may be when anything is spawned). */
  armedThreads(): string[] {
    return readdirSync('/proc/self/task').filter((tid) => {
      try {
        return readFileSync(`/proc/self/task/${tid}/make-it-fail`, 'utf8').trim() !== '0';
      } catch {
        return false;
      }
    });
  }
  close(): void {
    try {
      this.disarm();
    } finally {
      closeSync(this.#fd);
    }
  }
}

/** What a failure surfaced as: `UverbsError ENOMEM`, `UverbsUnsupportedError EOPNOTSUPP`, or an untyped error's name. */
export function surfacedAs(error: unknown): string {
  if (error instanceof UverbsError) return `${error.name} ${error.code} (${error.syscall} ${error.method})`;
  const e = error as { name?: string; code?: string };
  return `UNTYPED ${e?.name ?? typeof error}${e?.code ? ` ${e.code}` : ''}`;
}

/** One verb of the sweep: `setup` makes what it needs (unfaulted), `act` is the verb (faulted). */
export interface Verb {
  readonly name: string;
  /** Objects made first; `act` gets them. Returns undefined when this device has no such object. */
  setup(ctx: Context): KernelObject[];
  /** The verb; for a create, returns what it made. */
  act(deps: KernelObject[], ctx: Context, open: () => Context): KernelObject | undefined;
  /** A destroy verb: `act` closes the last of `deps`. */
  readonly destroys?: true;
}

const CAP = { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 };
const pdOf = (ctx: Context) => ctx.allocPd();
const cqOf = (ctx: Context) => ctx.createCq({ cqe: 8 });
const ah = (pd: ProtectionDomain) => {
  const { gid, index } = pd.context.findGid({ type: 'RoCEv2', family: 'ipv4' });
  return pd.createAh({ dgid: gid, sgidIndex: index, port: 1 });
};
const qpSetup = (ctx: Context) => [pdOf(ctx), cqOf(ctx)];
const qp = (pd: ProtectionDomain, cq: CompletionQueue) => pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
const last = <T>(deps: KernelObject[]) => deps[deps.length - 1] as T;

export const VERBS: readonly Verb[] = [
  { name: 'context open', setup: () => [], act: (_d, _c, open) => open() },
  { name: 'PD alloc', setup: () => [], act: (_d, ctx) => ctx.allocPd() },
  {
    name: 'PD dealloc',
    setup: (ctx) => [pdOf(ctx)],
    act: (d) => void last<ProtectionDomain>(d).close(),
    destroys: true,
  },
  {
    name: 'MR reg',
    setup: (ctx) => [pdOf(ctx)],
    act: (d) => (d[0] as ProtectionDomain).registerMemory(4096, { localWrite: true }),
  },
  {
    name: 'MR dereg',
    setup: (ctx) => {
      const pd = pdOf(ctx);
      return [pd, pd.registerMemory(4096, { localWrite: true })];
    },
    act: (d) => void last<KernelObject>(d).close(),
    destroys: true,
  },
  { name: 'comp channel create', setup: () => [], act: (_d, ctx) => ctx.createCompletionChannel() },
  {
    name: 'comp channel destroy',
    setup: (ctx) => [ctx.createCompletionChannel()],
    act: (d) => void last<CompletionChannel>(d).close(),
    destroys: true,
  },
  { name: 'CQ create', setup: () => [], act: (_d, ctx) => cqOf(ctx) },
  { name: 'CQ destroy', setup: (ctx) => [cqOf(ctx)], act: (d) => void last<KernelObject>(d).close(), destroys: true },
  { name: 'QP create (RC)', setup: qpSetup, act: (d) => qp(d[0] as ProtectionDomain, d[1] as CompletionQueue) },
  {
    name: 'QP destroy',
    setup: (ctx) => {
      const [pd, cq] = qpSetup(ctx) as [ProtectionDomain, CompletionQueue];
      return [pd, cq, qp(pd, cq)];
    },
    act: (d) => void last<KernelObject>(d).close(),
    destroys: true,
  },
  {
    name: 'SRQ create',
    setup: (ctx) => [pdOf(ctx)],
    act: (d) => (d[0] as ProtectionDomain).createSrq({ maxWr: 8, maxSge: 1 }),
  },
  {
    name: 'SRQ destroy',
    setup: (ctx) => {
      const pd = pdOf(ctx);
      return [pd, pd.createSrq({ maxWr: 8, maxSge: 1 })];
    },
    act: (d) => void last<KernelObject>(d).close(),
    destroys: true,
  },
  { name: 'MW alloc', setup: (ctx) => [pdOf(ctx)], act: (d) => (d[0] as ProtectionDomain).allocMw(1) },
  {
    name: 'MW dealloc',
    setup: (ctx) => {
      const pd = pdOf(ctx);
      return [pd, pd.allocMw(1)];
    },
    act: (d) => void last<KernelObject>(d).close(),
    destroys: true,
  },
  { name: 'AH create', setup: (ctx) => [pdOf(ctx)], act: (d) => ah(d[0] as ProtectionDomain) },
  {
    name: 'AH destroy',
    setup: (ctx) => {
      const pd = pdOf(ctx);
      return [pd, ah(pd)];
    },
    act: (d) => void last<KernelObject>(d).close(),
    destroys: true,
  },
];

export interface FaultOptions {
  /** fail-nth values tried per verb at most. */
  readonly maxNth: number;
  /** Probabilities (percent) of the probability sweep, and rounds of the scenario at each. */
  readonly probabilities: readonly number[];
  readonly rounds: number;
  /** Called with a progress line. */
  readonly progress?: (line: string) => void;
}

/** The fail-nth and probability sweeps; the table of injected failures goes to `rows`. */
export function faultCheck(
  device: DeviceInfo,
  resources: ResourceReader | undefined,
  options: FaultOptions,
  rows: FaultRow[],
): PartResult {
  requireFaultInjection();
  const part = newPart('fault-injection');
  const saved = saveFailslab();
  const baseline = resources?.();
  try {
    setFailslab({
      probability: 0,
      'ignore-gfp-wait': 'N',
      'cache-filter': 'N',
      verbose: 0,
      'task-filter': 'N',
      times: -1,
      interval: 1,
      space: 0,
    });
    for (const verb of VERBS) {
      options.progress?.(`fault injection: ${verb.name}`);
      rows.push(inChildren(part, ['verb', device.name, verb.name, String(options.maxNth)], `fail-nth`));
    }
    for (const p of options.probabilities) {
      options.progress?.(`fault injection: probability ${p}%`);
      rows.push(inChildren(part, ['probability', device.name, String(p), String(options.rounds)], `round`));
    }
    if (baseline && resources) {
      const after = resources();
      expectThat(
        part,
        'fault injection: rdma res back at baseline',
        sameCounts(baseline, after),
        `before ${showCounts(baseline)}, after ${showCounts(after)}`,
      );
    }
  } finally {
    setFailslab(Object.fromEntries(saved));
  }
  return part;
}

/** What a child sweep hands back on stdout. */
interface ChildResult {
  readonly row: FaultRow;
  readonly part: PartResult;
}

/** How long one child may run before it is killed as hung (ms). */
const CHILD_TIMEOUT_MS = 600_000;

/** V8's own fatal-error report on stderr: `# Fatal error in ...` (a CHECK), `# Fatal process out of memory`, `FATAL ERROR: ...` (OOM). */
const V8_FATAL = /^# Fatal error in |^# Fatal process out of memory|^FATAL ERROR: /m;

/**
 * Whether a child's death is V8's (a fault that fell in Node's runtime):
 * V8 dies by SIGTRAP or SIGILL (its CHECK failures trap) or SIGABRT (its
 * out-of-memory), having written its fatal-error report to stderr. Anything
 * else (an exit status from an uncaught exception: a library bug; SIGSEGV;
 * SIGKILL, e.g. from a kernel oops or the OOM killer) is not.
 */
export function runtimeDeath(run: {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | string | null;
  readonly stderr: string;
}): boolean {
  return (
    run.status === null &&
    (run.signal === 'SIGTRAP' || run.signal === 'SIGILL' || run.signal === 'SIGABRT') &&
    V8_FATAL.test(run.stderr)
  );
}

/**
 * Runs a sweep in child processes (fault-child.ts): an armed fault can
 * fall in Node's own runtime (V8 maps memory for its heap and code between
 * arming and the verb's syscall) and kill the process; such a death (see
 * {@link runtimeDeath}) is counted in the row, with the step it happened at
 * (the child's last `at N` on stderr), and a new child goes on from the
 * next step. Any other death is a disagreement carrying the child's stderr
 * (and the sweep goes on from the next step too); a child that runs past
 * `timeoutMs` is killed and is a disagreement, ending the sweep.
 */
export function inChildren(
  part: PartResult,
  args: string[],
  step: string,
  script = join(packageRoot(), 'dist', 'src', 'check', 'fault-child.js'),
  timeoutMs = CHILD_TIMEOUT_MS,
): FaultRow {
  let merged: FaultRow | undefined;
  let from = 1;
  const name = (args[0] === 'verb' ? args[2] : `lifecycle at ${args[2]}%`) as string;
  for (let deaths = 0; ; ) {
    const run = spawnSync(process.execPath, [script, ...args, String(from)], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    // a child that died or was killed armed left failslab as it had set it: probability to 0 first, then the filter off
    if (run.status !== 0) setFailslab({ probability: 0, 'task-filter': 'N' });
    // a child that could not even be started (spawnSync's own failure: no stdout, no stderr) is a death too
    const stderr = run.stderr ?? (run.error ? `Error: ${run.error.message}` : '');
    const tail = stderr.slice(-2000);
    const at = [...stderr.matchAll(/^at (\d+)$/gm)].at(-1)?.[1];
    if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
      compare(part, {
        case: `${name}: the child hung at ${step} ${at ?? '?'}`,
        kind: 'verb',
        predicted: 0,
        actual: 0,
        note: `did not finish in ${timeoutMs / 1000} s and was killed; its stderr: ${tail}`,
      });
      return mergeRow(merged, { verb: name, tried: Number(at ?? from), injected: 0, surfaced: {} });
    }
    if (run.status === 0) {
      let child: ChildResult;
      try {
        child = JSON.parse(run.stdout) as ChildResult;
      } catch (error) {
        compare(part, {
          case: `${name}: the child's result`,
          kind: 'verb',
          predicted: 0,
          actual: 0,
          note: `not JSON (${(error as Error).message}); its stderr: ${tail}`,
        });
        return merged ?? { verb: name, tried: 0, injected: 0, surfaced: {} };
      }
      merged = mergeRow(merged, child.row);
      part.agreements += child.part.agreements;
      part.disagreements.push(...child.part.disagreements);
      for (const [k, v] of Object.entries(child.part.counts)) count(part, k, v);
      return merged;
    }
    const how = run.signal ?? `exit ${run.status}`;
    const runtime = runtimeDeath({ status: run.status, signal: run.signal, stderr });
    const fatal =
      stderr
        .split('\n')
        .find((l) => /Fatal|FATAL|Error|error/.test(l))
        ?.trim() ?? how;
    merged = mergeRow(merged, {
      verb: name,
      tried: Number(at ?? from),
      injected: 0,
      surfaced: {
        [`the process died (${how}: ${fatal}) at ${step} ${at ?? '?'}${runtime ? ' (in Node’s runtime)' : ''}`]: 1,
      },
    });
    if (runtime) count(part, 'child deaths (fault in the runtime)');
    else
      compare(part, {
        case: `${name}: the child died at ${step} ${at ?? '?'} (${how})`,
        kind: 'verb',
        predicted: 0,
        actual: 0,
        note: `not a fault in Node's runtime (no V8 fatal error); its stderr: ${tail}`,
      });
    deaths++;
    if (at === undefined || deaths >= 20) {
      compare(part, {
        case: `${name}: the sweep could not go on`,
        kind: 'verb',
        predicted: 0,
        actual: 0,
        note: `the child died ${deaths} times; last: ${tail}`,
      });
      return merged;
    }
    from = Number(at) + 1;
  }
}

function mergeRow(a: FaultRow | undefined, b: FaultRow): FaultRow {
  if (!a) return b;
  const surfaced = { ...a.surfaced };
  for (const [k, v] of Object.entries(b.surfaced)) surfaced[k] = (surfaced[k] ?? 0) + v;
  return { verb: a.verb, tried: Math.max(a.tried, b.tried), injected: a.injected + b.injected, surfaced };
}

/** The child's side: one verb's fail-nth sweep from step `from`, or one probability's rounds; JSON on stdout. */
export function runChild(argv: string[]): ChildResult {
  const [mode, deviceName, what, limit, fromText] = argv as [string, string, string, string, string];
  const device = resolveDevice(deviceName);
  const reader = rdmaResReader(device.name);
  const resources = typeof reader === 'function' ? reader : undefined;
  const part = newPart('fault-injection');
  const from = Number(fromText);
  const at = (n: number) => writeSync(2, `at ${n}\n`);
  if (mode === 'verb') {
    const verb = VERBS.find((v) => v.name === what);
    if (!verb) throw new Error(`no verb ${what}`);
    const nth = new FailNth();
    try {
      return { row: sweepVerb(part, device, verb, nth, resources, Number(limit), undefined, from, at), part };
    } finally {
      nth.disarm();
      nth.close();
    }
  }
  const rows: FaultRow[] = [];
  probabilitySweep(
    part,
    device,
    resources,
    { maxNth: 0, probabilities: [Number(what)], rounds: Number(limit) },
    rows,
    from,
    at,
  );
  return { row: rows[0] as FaultRow, part };
}

/** Where a fault is armed: fail-nth, or a stand-in (the host tests' fake kernel). */
export interface FaultSite {
  arm(n: number): void;
  /** 0: the armed fault was injected; otherwise it was not reached. */
  read(): number;
  disarm(): void;
}

/** `read`, with a read that throws (`rdma` failing) reported as a disagreement instead (undefined: no comparison). */
function reportingReader(
  part: PartResult,
  what: string,
  read: ResourceReader | undefined,
): (() => ReturnType<ResourceReader> | undefined) | undefined {
  if (!read) return undefined;
  return () => {
    try {
      return read();
    } catch (error) {
      compare(part, {
        case: `${what}: rdma res could not be read`,
        kind: 'verb',
        predicted: 0,
        actual: 0,
        note: (error as Error).message,
      });
      return undefined;
    }
  };
}

/**
 * The fail-nth sweep of one verb (see the module's comment); `sys` opens
 * the contexts through another system-call layer (a test's fake kernel).
 */
export function sweepVerb(
  part: PartResult,
  device: DeviceInfo,
  verb: Verb,
  nth: FaultSite,
  resources: ResourceReader | undefined,
  maxNth: number,
  sys?: Sys,
  from = 1,
  onArm?: (n: number) => void,
): FaultRow {
  const open = () => Context.open(device, sys ? { sys } : {});
  const readRes = reportingReader(part, verb.name, resources);
  // the verb's code runs twice unarmed first: once armed, a first run would have V8 compile it (and map
  // memory for that) between arming and the verb's first fault site, and a fault there is V8's, fatal
  for (let i = 0; i < 2; i++) {
    const ctx = open();
    try {
      verb.act(verb.setup(ctx), ctx, open)?.close();
    } catch {
      // an unsupported verb: the sweep below says so
    } finally {
      ctx.close();
    }
  }
  const row = { verb: verb.name, tried: 0, injected: 0, surfaced: {} as Record<string, number> };
  const baseline = readRes?.();
  for (let n = from; n <= maxNth; n++) {
    row.tried = n;
    const fds = fdCount();
    const ctx = open();
    let deps: KernelObject[];
    try {
      deps = verb.setup(ctx);
    } catch (error) {
      ctx.close();
      if ((error as UverbsError).unsupported || (error as Error).name === 'UverbsGidNotFoundError') {
        row.tried = 0;
        row.surfaced[`not on this device: ${surfacedAs(error)}`] = 1;
        return row;
      }
      throw error;
    }
    const before = verb.destroys ? undefined : readRes?.();
    let made: KernelObject | undefined;
    let thrown: unknown;
    let left: number;
    onArm?.(n);
    nth.arm(n);
    try {
      made = verb.act(deps, ctx, open);
    } catch (error) {
      thrown = error;
    } finally {
      left = nth.read();
      nth.disarm();
    }
    const injected = left === 0;
    const name = `${verb.name}, fail-nth ${n}`;
    if (!injected) {
      // the verb needed fewer than n fault sites: the sweep of this verb is complete
      if (thrown instanceof UverbsError && thrown.unsupported) {
        // the device has no such verb (siw: MWs): what came before were faults in reaching that answer
        row.surfaced[`not on this device: ${surfacedAs(thrown)}`] = 1;
      } else if (thrown !== undefined) {
        compare(part, {
          case: name,
          kind: 'verb',
          predicted: 0,
          actual: (thrown as UverbsError).errno ?? -1,
          note: `failed with no fault injected: ${surfacedAs(thrown)}`,
        });
      }
      try {
        made?.close();
        ctx.close();
      } catch (error) {
        compare(part, {
          case: `${name}: closing after the verb completed`,
          kind: 'verb',
          predicted: 0,
          actual: (error as UverbsError).errno ?? -1,
          note: `closing threw ${surfacedAs(error)}`,
        });
      }
      break;
    }
    row.injected++;
    const what = thrown === undefined ? 'success' : surfacedAs(thrown);
    row.surfaced[what] = (row.surfaced[what] ?? 0) + 1;
    expectThat(
      part,
      `${name}: surfaces as a typed UverbsError or succeeds`,
      thrown === undefined || thrown instanceof UverbsError,
      `surfaced as ${what}: ${(thrown as Error)?.stack ?? String(thrown)}`,
    );
    if (verb.destroys) {
      const target = deps[deps.length - 1] as KernelObject;
      if (thrown !== undefined) {
        expectThat(
          part,
          `${name}: a destroy that threw leaves the object open`,
          !target.closed,
          'the library marked it closed',
        );
      } else {
        expectThat(part, `${name}: a destroy that returned closed the object`, target.closed, 'still open');
      }
    } else if (thrown !== undefined && before && readRes) {
      const after = readRes();
      if (after)
        expectThat(
          part,
          `${name}: a create that threw made nothing`,
          sameCounts(before, after),
          `rdma res before ${showCounts(before)}, after ${showCounts(after)}`,
        );
    }
    const others = verb.destroys ? deps.slice(0, -1) : deps;
    expectThat(
      part,
      `${name}: every object made before is still open`,
      others.every((o) => !o.closed) && !ctx.closed,
      'one was closed',
    );
    // everything closes, one by one, children first
    let closing: unknown;
    try {
      made?.close();
      for (const o of [...deps].reverse()) o.close();
      ctx.close();
    } catch (error) {
      closing = error;
      try {
        ctx.close();
      } catch {
        // reported below
      }
    }
    expectThat(
      part,
      `${name}: closing everything works`,
      closing === undefined,
      `closing threw ${surfacedAs(closing)}`,
    );
    const fdsAfter = fdCount();
    expectThat(part, `${name}: no file descriptor left open`, fdsAfter === fds, `${fdsAfter - fds} more than before`);
  }
  if (row.tried === maxNth) count(part, `fail-nth limit reached: ${verb.name}`);
  if (baseline && readRes) {
    const after = readRes();
    if (after)
      expectThat(
        part,
        `${verb.name}: rdma res back at baseline after the sweep`,
        sameCounts(baseline, after),
        `before ${showCounts(baseline)}, after ${showCounts(after)}`,
      );
  }
  return row;
}

/** The lifecycle scenario under failslab's probability, restricted to this thread around each verb call. */
function probabilitySweep(
  part: PartResult,
  device: DeviceInfo,
  resources: ResourceReader | undefined,
  options: FaultOptions,
  rows: FaultRow[],
  from = 1,
  onRound?: (round: number) => void,
): void {
  const failFd = new MakeItFail();
  const baseline = resources?.();
  try {
    for (const p of options.probabilities) {
      options.progress?.(`fault injection: probability ${p}%`);
      // the filter first: with probability set and no filter, every task's allocations would fail
      setFailslab({ 'task-filter': 'Y', interval: 1, times: -1, probability: p });
      const row = { verb: `lifecycle at ${p}%`, tried: 0, injected: 0, surfaced: {} as Record<string, number> };
      const faulty = <T>(what: string, fn: () => T): T | undefined => {
        row.tried++;
        failFd.arm();
        let result: T | undefined;
        let thrown: unknown;
        try {
          result = fn();
        } catch (error) {
          thrown = error;
        } finally {
          failFd.disarm();
        }
        if (thrown !== undefined) {
          row.injected++;
          const as = `${what}: ${surfacedAs(thrown)}`;
          row.surfaced[as] = (row.surfaced[as] ?? 0) + 1;
          expectThat(
            part,
            `probability ${p}%: ${what} surfaces as a typed UverbsError`,
            thrown instanceof UverbsError,
            `surfaced as ${surfacedAs(thrown)}`,
          );
        }
        return result;
      };
      for (let round = from; round <= options.rounds; round++) {
        onRound?.(round);
        const ctx = faulty('context open', () => Context.open(device));
        if (!ctx) continue;
        const live: KernelObject[] = [];
        const keep = <T extends KernelObject>(o: T | undefined) => {
          if (o) live.push(o);
          return o;
        };
        const pd = keep(faulty('PD alloc', () => ctx.allocPd()));
        const ch = keep(faulty('comp channel create', () => ctx.createCompletionChannel()));
        const cq = keep(faulty('CQ create', () => ctx.createCq(ch ? { cqe: 8, channel: ch } : { cqe: 8 })));
        if (pd) {
          keep(faulty('MR reg', () => pd.registerMemory(4096, { localWrite: true })));
          const srq = keep(faulty('SRQ create', () => pd.createSrq({ maxWr: 8, maxSge: 1 })));
          if (cq)
            keep(
              faulty('QP create (RC)', () =>
                pd.createQp(
                  srq
                    ? { type: 'RC', sendCq: cq, recvCq: cq, srq, cap: CAP }
                    : { type: 'RC', sendCq: cq, recvCq: cq, cap: CAP },
                ),
              ),
            );
        }
        expectThat(
          part,
          `probability ${p}%: every object made is still open`,
          live.every((o) => !o.closed),
          'one was closed',
        );
        // destroys under fault too: one that throws must leave the object open; then it closes unfaulted
        for (const o of [...live].reverse()) {
          if (o.closed) continue;
          let threw = true;
          faulty(`${o.constructor.name} close`, () => {
            o.close();
            threw = false;
          });
          if (threw) {
            expectThat(
              part,
              `probability ${p}%: a ${o.constructor.name} close that threw leaves it open`,
              !o.closed,
              'the library marked it closed',
            );
          }
        }
        let closing: unknown;
        try {
          for (const o of [...live].reverse()) o.close();
          ctx.close();
        } catch (error) {
          closing = error;
        }
        expectThat(
          part,
          `probability ${p}%: closing everything works`,
          closing === undefined,
          `closing threw ${surfacedAs(closing)}`,
        );
      }
      rows.push(row);
    }
  } finally {
    // the probability goes to 0 before the filter goes off: in the other order every task could fail for a moment
    try {
      failFd.close();
    } finally {
      setFailslab({ probability: 0, 'task-filter': 'N' });
    }
  }
  if (failFd.inherited > 0)
    count(part, 'threads started while armed (inherited make-it-fail, disarmed)', failFd.inherited);
  const armed = failFd.armedThreads();
  expectThat(
    part,
    'probability sweep: no thread of the process is left armed (make-it-fail is inherited by what it spawns)',
    armed.length === 0,
    `threads ${armed.join(', ')} still have make-it-fail set`,
  );
  if (baseline && resources) {
    const after = resources();
    expectThat(
      part,
      'probability sweep: rdma res back at baseline',
      sameCounts(baseline, after),
      `before ${showCounts(baseline)}, after ${showCounts(after)}`,
    );
  }
}

/**
 * What `uverbs check` reports: per part, how many of the kernel's answers
 * agreed with the expectation (the in-process model's errno, or the
 * scenario's), and each disagreement with the command's bytes; the kernel
 * log's warnings during the run; and whether `rdma res` came back to its
 * baseline. {@link renderCheck} writes it for people, {@link checkFailed}
 * decides the exit status.
 */

import { errnoName } from '../errno.js';

/** The version of the JSON object (`schema`); bumped on any incompatible change. */
export const CHECK_SCHEMA = 1;

export type CheckPartName = 'abi' | 'fuzz' | 'lifetime' | 'exhaustion' | 'fault-injection';

/** One answer that was not the expected one. */
export interface Disagreement {
  /** What was sent or done, e.g. `QUERY_PORT: reserved1 nonzero`, `fuzz #112 UVERBS_METHOD_CQ_CREATE`. */
  readonly case: string;
  /** `ioctl` / `write`: raw command bytes were sent; `verb`: a library call was made. */
  readonly kind: 'ioctl' | 'write' | 'verb';
  /** The command's bytes as hex (raw commands only). */
  readonly bytes?: string;
  /** What the model or the scenario expected: an errno (0: success). */
  readonly predicted: number;
  /** What the kernel (or the library) answered. */
  readonly actual: number;
  /** Anything else worth saying (a non-errno outcome, e.g. an untyped exception). */
  readonly note?: string;
}

export interface PartResult {
  readonly part: CheckPartName;
  /** Answers that were the expected ones. */
  agreements: number;
  readonly disagreements: Disagreement[];
  /** Why the part did not run (not an agreement, not a disagreement), e.g. `the device has no AHs`. */
  skipped?: string;
  /** Counts that describe the run (e.g. the fuzz's commands not sent, by reason). */
  readonly counts: Record<string, number>;
  /** Free-form lines for the summary. */
  readonly notes: string[];
}

export function newPart(part: CheckPartName): PartResult {
  return { part, agreements: 0, disagreements: [], counts: {}, notes: [] };
}

/** Adds `n` to a count of `part`. */
export function count(part: PartResult, what: string, n = 1): void {
  part.counts[what] = (part.counts[what] ?? 0) + n;
}

/** Records one expected-vs-actual comparison. */
export function compare(part: PartResult, d: Disagreement): boolean {
  if (d.predicted === d.actual && d.note === undefined) {
    part.agreements++;
    return true;
  }
  part.disagreements.push(d);
  return false;
}

/** A kernel log record that counts as a warning (see `dmesg.ts`). */
export interface KernelWarning {
  readonly seq: number;
  /** Microseconds since boot, from the record. */
  readonly usec: number;
  readonly message: string;
}

export interface DmesgResult {
  /** Whether /dev/kmsg could be read: when false, `reason` says why, and no warning could be seen. */
  readonly watched: boolean;
  /** True when the kernel log was not asked for (`dmesg: false`, `--no-dmesg`): not watching it does not make the run incomplete. */
  readonly optedOut?: boolean;
  readonly reason?: string;
  readonly warnings: KernelWarning[];
}

export interface ResourcesResult {
  /** Whether `rdma res` could be read; when false, `reason` says why. */
  readonly checked: boolean;
  readonly reason?: string;
  readonly before?: Record<string, number>;
  readonly after?: Record<string, number>;
  /** True when the counts at the end equal those at the start. */
  readonly atBaseline?: boolean;
}

/** Injected failures of one verb in the fault-injection part. */
export interface FaultRow {
  readonly verb: string;
  /** fail-nth values tried; the last one completed without reaching its fault. */
  readonly tried: number;
  /** Faults the kernel reported injected (fail-nth read back 0). */
  readonly injected: number;
  /** What each injected failure surfaced as: `UverbsError ENOMEM`, `success` (the verb tolerated it), ... */
  readonly surfaced: Record<string, number>;
}

export interface CheckReport {
  readonly schema: typeof CHECK_SCHEMA;
  readonly device: string;
  readonly kernel: string;
  readonly seed: number;
  readonly parts: PartResult[];
  readonly dmesg: DmesgResult;
  readonly resources: ResourcesResult;
  /** Only with fault injection. */
  readonly faults?: FaultRow[];
  readonly seconds: number;
}

/** The errno as `EINVAL (22)`; 0 as `0 (accepted)`. */
export function showErrno(errno: number): string {
  if (errno === 0) return '0 (accepted)';
  if (errno < 0) return String(errno);
  return `${errnoName(errno)} (${errno})`;
}

/**
 * `FAIL` when the run found something (a disagreement, a kernel warning,
 * resources not back at baseline); otherwise `INCOMPLETE` when it could not
 * look everywhere (the kernel log not watched, unless opted out of; `rdma
 * res` not checked); otherwise `clean`.
 */
export function checkVerdict(report: CheckReport): 'clean' | 'FAIL' | 'INCOMPLETE' {
  if (
    report.parts.some((p) => p.disagreements.length > 0) ||
    report.dmesg.warnings.length > 0 ||
    report.resources.atBaseline === false
  )
    return 'FAIL';
  if ((!report.dmesg.watched && !report.dmesg.optedOut) || !report.resources.checked) return 'INCOMPLETE';
  return 'clean';
}

/** True unless the run is clean ({@link checkVerdict}): it found something, or could not look everywhere. */
export function checkFailed(report: CheckReport): boolean {
  return checkVerdict(report) !== 'clean';
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The report as text: one line per part, then each disagreement with its bytes, warnings, resources and verdict. */
export function renderCheck(report: CheckReport): string {
  const out = [`uverbs check ${report.device} (kernel ${report.kernel}, seed ${report.seed})`, ''];
  for (const p of report.parts) {
    const counts = Object.entries(p.counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const head = p.skipped
      ? `${p.part}: skipped: ${p.skipped}`
      : `${p.part}: ${p.agreements} agree, ${p.disagreements.length} disagree${counts ? ` (${counts})` : ''}`;
    out.push(head);
    for (const n of p.notes) out.push(`  ${n}`);
    for (const d of p.disagreements) {
      out.push(`  DISAGREE ${d.case}: predicted ${showErrno(d.predicted)}, kernel ${showErrno(d.actual)}`);
      if (d.note) out.push(`    ${d.note}`);
      if (d.bytes !== undefined) out.push(`    ${d.kind} bytes ${d.bytes}`);
    }
  }
  if (report.faults) {
    out.push('', 'fault injection (fail-nth sweep): verb, tried, injected, surfaced as');
    for (const f of report.faults) {
      const surfaced = Object.entries(f.surfaced)
        .map(([k, v]) => `${k} x${v}`)
        .join(', ');
      out.push(`  ${f.verb.padEnd(24)} ${String(f.tried).padStart(4)} ${String(f.injected).padStart(4)}  ${surfaced}`);
    }
  }
  out.push('');
  if (report.dmesg.optedOut) out.push(`dmesg: ${report.dmesg.reason}`);
  else if (!report.dmesg.watched) out.push(`dmesg: NOT WATCHED: ${report.dmesg.reason}`);
  else if (report.dmesg.warnings.length === 0) out.push('dmesg: no kernel warnings during the run');
  else {
    out.push(`dmesg: ${report.dmesg.warnings.length} kernel warning(s) during the run:`);
    for (const w of report.dmesg.warnings) out.push(`  [${(w.usec / 1e6).toFixed(6)}] ${w.message}`);
  }
  const r = report.resources;
  if (!r.checked) out.push(`rdma res: NOT CHECKED: ${r.reason}`);
  else {
    const show = (c: Record<string, number> | undefined) =>
      Object.entries(c ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(' ');
    out.push(
      r.atBaseline
        ? `rdma res: back at baseline (${show(r.after)})`
        : `rdma res: NOT at baseline: before ${show(r.before)}, after ${show(r.after)}`,
    );
  }
  const disagreements = report.parts.reduce((n, p) => n + p.disagreements.length, 0);
  const agreements = report.parts.reduce((n, p) => n + p.agreements, 0);
  out.push(
    `${checkVerdict(report)}: ${agreements} agreements, ${disagreements} disagreements, ` +
      `${report.dmesg.warnings.length} kernel warnings, ${report.seconds.toFixed(1)} s`,
  );
  return `${out.join('\n')}\n`;
}

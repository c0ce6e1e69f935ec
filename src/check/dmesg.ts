/**
 * Watches the kernel log (/dev/kmsg) from the start of a run to its end for
 * the records that mean the kernel found a bug in itself: WARNING:, BUG:,
 * Oops, KASAN and UBSAN reports, lockdep's "possible circular locking" and
 * "inconsistent lock state", refcount_t saturation, a general protection
 * fault. Reading /dev/kmsg needs CAP_SYSLOG where dmesg_restrict is set:
 * when it cannot be read, the watch says why (`watched: false`).
 */

import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { DmesgResult, KernelWarning } from './report.js';

/** A line of the kernel log that is a warning of the kernel about itself. */
export const KERNEL_WARNING =
  /WARNING:|BUG:|\bOops\b|KASAN|UBSAN|possible circular locking|inconsistent lock state|possible recursive locking|refcount_t|general protection fault|kernel BUG|suspicious RCU usage/;

/** One /dev/kmsg record (`prio,seq,usec,flags;message`), or undefined for what is not one. */
export function parseKmsgRecord(record: string): { seq: number; usec: number; message: string } | undefined {
  const semi = record.indexOf(';');
  if (semi < 0) return undefined;
  const [, seq, usec] = record.slice(0, semi).split(',');
  if (seq === undefined || usec === undefined) return undefined;
  // the message is the first line; continuation lines (" KEY=value") follow it
  const message = record.slice(semi + 1).split('\n')[0] as string;
  return { seq: Number(seq), usec: Number(usec), message };
}

/** The warnings among kmsg records. */
export function kernelWarnings(records: readonly string[]): KernelWarning[] {
  const out: KernelWarning[] = [];
  for (const r of records) {
    const p = parseKmsgRecord(r);
    if (p && KERNEL_WARNING.test(p.message)) out.push(p);
  }
  return out;
}

export class DmesgWatch {
  #fd: number | undefined;
  readonly #reason: string | undefined;
  readonly #buffer = Buffer.alloc(16 * 1024);

  /** Opens /dev/kmsg (or `path`) and skips what is already there: only what comes after is seen. */
  constructor(path = '/dev/kmsg') {
    try {
      this.#fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      this.#reason =
        e.code === 'EPERM' || e.code === 'EACCES'
          ? `cannot read ${path} (${e.code}): needs CAP_SYSLOG where kernel.dmesg_restrict is 1 (run as root, or sysctl kernel.dmesg_restrict=0)`
          : `cannot open ${path} (${e.code ?? e.message})`;
      return;
    }
    this.#drain();
  }

  /** Every record since the last read. */
  #drain(): string[] {
    const records: string[] = [];
    if (this.#fd === undefined) return records;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.#fd, this.#buffer, 0, this.#buffer.byteLength, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records were overwritten before we read them: go on with the next
        if (code === 'EAGAIN') break;
        throw error;
      }
      if (n === 0) break;
      records.push(this.#buffer.toString('utf8', 0, n));
    }
    return records;
  }

  /** The warnings logged since the watch began (or since the last `check`). */
  check(): KernelWarning[] {
    return kernelWarnings(this.#drain());
  }

  /** Ends the watch (closes /dev/kmsg) without a result; safe to call twice. */
  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** The watch's result, and its end. */
  finish(earlier: KernelWarning[] = []): DmesgResult {
    if (this.#fd === undefined) return { watched: false, reason: this.#reason as string, warnings: [] };
    const warnings = [...earlier, ...this.check()];
    closeSync(this.#fd);
    this.#fd = undefined;
    return { watched: true, warnings };
  }
}

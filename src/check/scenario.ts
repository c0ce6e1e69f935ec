/**
 * Helpers for the verb-level parts (lifetime, exhaustion, fault injection):
 * an expected outcome of a library call compared with what it did.
 */

import { UverbsError, UverbsGidNotFoundError, UverbsUnsupportedError } from '../errors.js';
import { compare, count, type PartResult } from './report.js';

/** What a call did: 0 when it returned, the errno of a UverbsError, or -1 with a note for anything else. */
export function outcome(fn: () => unknown): { errno: number; error?: unknown; note?: string } {
  try {
    fn();
    return { errno: 0 };
  } catch (error) {
    if (error instanceof UverbsError) return { errno: error.errno, error };
    return {
      errno: -1,
      error,
      note: `threw ${(error as Error)?.name} ${(error as { code?: string })?.code ?? ''}: ${(error as Error)?.message}`,
    };
  }
}

/** Compares the errno `fn` ends with (0: it returned) with `expected`. Returns what it did. */
export function expectErrno(part: PartResult, name: string, expected: number, fn: () => unknown): number {
  const o = outcome(fn);
  const d = { case: name, kind: 'verb' as const, predicted: expected, actual: o.errno };
  compare(part, o.note === undefined ? d : { ...d, note: o.note });
  return o.errno;
}

/** A fact the scenario expects to hold (`ok`); `note` says what was seen when it does not. */
export function expectThat(part: PartResult, name: string, ok: boolean, note: string): void {
  compare(
    part,
    ok
      ? { case: name, kind: 'verb', predicted: 0, actual: 0 }
      : { case: name, kind: 'verb', predicted: 0, actual: 0, note },
  );
}

/**
 * Runs `fn`, which makes an object this device may not have: the kernel's
 * "unsupported" answer (or no GID of the kind an AH needs) is counted under
 * `unsupported <what>`, and undefined returned; anything else is rethrown.
 */
export function ifSupported<T>(part: PartResult, what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof UverbsUnsupportedError || error instanceof UverbsGidNotFoundError) {
      count(part, `unsupported ${what}`);
      return undefined;
    }
    throw error;
  }
}

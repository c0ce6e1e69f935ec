/**
 * The device tests' skip helper (test/device/support.ts `orSkip`) on the
 * host: it skips only on the kernel's own "unsupported" answer to the one
 * call it wraps, and never on a feature the device must have on that kernel.
 */

import { afterEach, describe, expect, it, vi } from 'vitest';
import { UverbsError, UverbsUnsupportedError } from '../src/errors.js';
import type { TraceEvent } from '../src/transport/dispatch.js';
import { Calls, MUST_HAVE, orSkip } from './device/support.js';

class Skipped extends Error {}
const test = {
  skip: (note?: string): never => {
    throw new Skipped(note);
  },
};

/** A call that makes `events` (as the dispatcher traces them) and then throws `error`. */
function failing(calls: Calls, events: TraceEvent[], error: unknown): () => never {
  return () => {
    for (const e of events) calls.trace(e);
    throw error;
  };
}

const resizeRefused = {
  event: { object: 'UVERBS_OBJECT_CQ', method: 'IB_USER_VERBS_CMD_RESIZE_CQ', path: 'write', errno: 95 } as const,
  error: () =>
    new UverbsUnsupportedError({
      errno: 95,
      syscall: 'write',
      object: 'UVERBS_OBJECT_CQ',
      method: 'IB_USER_VERBS_CMD_RESIZE_CQ',
      path: 'write',
    }),
};

function on(device: string, kernel: string) {
  vi.stubEnv('UVERBS_TEST_DEVICE', device);
  vi.stubEnv('UVERBS_VM_KERNEL', kernel);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
}

describe('orSkip', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('returns what the call returns', () => {
    on('rxe0', '6.1');
    expect(orSkip(test, 'RESIZE_CQ', new Calls(), () => 42)).toBe(42);
  });

  it('skips on the kernel’s unsupported answer to the call it wraps, saying errno and syscall', () => {
    on('siw0', '6.12');
    const calls = new Calls();
    expect(() =>
      orSkip(test, 'RESIZE_CQ', calls, failing(calls, [resizeRefused.event], resizeRefused.error())),
    ).toThrow(
      new Skipped(
        'siw0 on 6.12: RESIZE_CQ: the kernel answers EOPNOTSUPP (errno 95) to write IB_USER_VERBS_CMD_RESIZE_CQ',
      ),
    );
  });

  it('fails instead where the device must have the feature on that kernel', () => {
    expect(MUST_HAVE.rxe['6.12']).toContain('RESIZE_CQ');
    on('rxe0', '6.12');
    const calls = new Calls();
    expect(() =>
      orSkip(test, 'RESIZE_CQ', calls, failing(calls, [resizeRefused.event], resizeRefused.error())),
    ).toThrow(/but rxe on 6\.12 must have RESIZE_CQ \(MUST_HAVE\)/);
  });

  it('REREG_MR may skip on rxe 6.1 and must not from 6.12', () => {
    const event = {
      object: 'UVERBS_OBJECT_MR',
      method: 'IB_USER_VERBS_CMD_REREG_MR',
      path: 'write',
      errno: 95,
    } as const;
    const error = () =>
      new UverbsUnsupportedError({ ...event, syscall: 'write', object: 'UVERBS_OBJECT_MR', errno: 95 });
    for (const [kernel, outcome] of [
      ['6.1', Skipped],
      ['6.12', /must have REREG_MR/],
      ['7', /must have REREG_MR/],
    ] as const) {
      on('rxe0', kernel);
      const calls = new Calls();
      expect(() => orSkip(test, 'REREG_MR', calls, failing(calls, [event], error()))).toThrow(outcome);
    }
  });

  it('is no skip when the library raised it with no syscall', () => {
    on('siw0', '6.1');
    const calls = new Calls();
    const error = new UverbsUnsupportedError({
      errno: 95,
      syscall: 'none',
      object: 'CompletionQueue 1',
      method: 'poll cq',
      path: 'ring',
    });
    expect(() => orSkip(test, 'RESIZE_CQ', calls, failing(calls, [], error))).toThrow(/not a skip/);
  });

  it('is no skip when no syscall made during the call gave that errno (a cached answer)', () => {
    on('siw0', '6.1');
    const calls = new Calls();
    calls.trace(resizeRefused.event); // before the call: not this call's answer
    expect(() => orSkip(test, 'RESIZE_CQ', calls, failing(calls, [], resizeRefused.error()))).toThrow(/not a skip/);
  });

  it('is no skip when the refused call implements another feature than the one named', () => {
    on('siw0', '6.1');
    const calls = new Calls();
    expect(() => orSkip(test, 'UC QP', calls, failing(calls, [resizeRefused.event], resizeRefused.error()))).toThrow(
      /not a skip/,
    );
  });

  it('rethrows any other error as it is', () => {
    on('siw0', '6.1');
    const calls = new Calls();
    const einval = new UverbsError({ errno: 22, syscall: 'write', object: 'o', method: 'm', path: 'write' });
    const event = { object: 'o', method: 'm', path: 'write', errno: 22 } as const;
    expect(() => orSkip(test, 'RESIZE_CQ', calls, failing(calls, [event], einval))).toThrow(einval);
    const type = new TypeError('x');
    expect(() => orSkip(test, 'RESIZE_CQ', calls, failing(calls, [], type))).toThrow(type);
  });
});

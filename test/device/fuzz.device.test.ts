/**
 * A bounded fuzz run against the real kernel: uverbs check's fuzz
 * (src/check/fuzz.ts, one implementation for the suite and the command):
 * random but well-shaped ioctl and write commands (every method and command
 * the library encodes, with random arguments, then a few bytes
 * overwritten), each sent only when the in-process kernel model predicts
 * the kernel refuses it before any handler runs, and the kernel's errno
 * compared with that prediction. A disagreement fails with the seed and
 * the bytes. What is never sent, and why, is counted (see fuzz.ts).
 *
 * Bounds: UVERBS_FUZZ_COMMANDS (default 4000 generated) and
 * UVERBS_FUZZ_SECONDS (default 60); UVERBS_FUZZ_SEED repeats a run (default: a
 * fixed seed, so the suite is repeatable; `random` draws one and prints it).
 */

import { describe, expect, it } from 'vitest';
import { fuzzCheck } from '../../src/check/fuzz.js';
import { DEFAULT_SEED } from '../../src/check/index.js';
import { showErrno } from '../../src/check/report.js';
import { probe } from '../../src/probe/probe.js';
import { Context } from '../../src/verbs/context.js';
import { fdCount, resources, TEST_DEVICE, VM_KERNEL } from './support.js';

const COMMANDS = Number(process.env.UVERBS_FUZZ_COMMANDS ?? 4000);
const SECONDS = Number(process.env.UVERBS_FUZZ_SECONDS ?? 60);
// a fixed seed by default, so `npm test` is repeatable; UVERBS_FUZZ_SEED=random explores
const SEED =
  process.env.UVERBS_FUZZ_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.UVERBS_FUZZ_SEED ?? DEFAULT_SEED);

describe.runIf(TEST_DEVICE)(`fuzz against ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it(`random well-shaped commands get the model's errno (seed ${SEED})`, () => {
    const name = TEST_DEVICE as string;
    const found = probe(name);
    const fds = fdCount();
    const before = resources(name);
    const ctx = Context.open(name);
    let part: ReturnType<typeof fuzzCheck>;
    try {
      part = fuzzCheck(ctx, found, { seed: SEED, iterations: COMMANDS, budgetMs: SECONDS * 1000 });
    } finally {
      ctx.close();
    }
    process.stderr.write(
      `fuzz ${name} ${VM_KERNEL} seed ${SEED}: ${part.agreements} sent and agreed; ${JSON.stringify(part.counts)}\n`,
    );
    expect(
      part.disagreements.map(
        (d) =>
          `seed ${SEED}, ${d.case}: the kernel said ${showErrno(d.actual)}, the model ${showErrno(d.predicted)}` +
          `${d.note ? ` (${d.note})` : ''}; ${d.kind} bytes ${d.bytes ?? '-'}`,
      ),
    ).toEqual([]);
    const generated = part.counts.generated ?? 0;
    expect(part.counts.sent).toBeGreaterThan(Math.min(100, generated / 10));
    expect(fdCount()).toBe(fds);
    expect(resources(name)).toBe(before);
  }, 300_000);
});

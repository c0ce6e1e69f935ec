/**
 * The issue-14 program (examples/tour.mjs), run as a user runs it: `node
 * examples/tour.mjs DEVICE`, importing the package by its name. Each step
 * it prints is one test here: passed, failed with the program's error, or
 * skipped with the kernel's answer (the program's UverbsUnsupportedError),
 * so the counts show what this kernel lacks.
 *
 * The program connects two RC QPs by hand and moves data, which needs the
 * library's datapath: rxe. siw's QPs reach RTS only through the connection
 * manager, and the library has no siw datapath: that device skips, saying so.
 */

import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { libraryDatapath, TEST_DEVICE, VM_KERNEL } from './support.js';

const STEPS = [
  'connect',
  'register SharedArrayBuffer',
  'RDMA WRITE into it, RDMA READ it back',
  'bind a type 2 memory window',
  'RDMA WRITE through the window',
  'SEND with invalidate',
] as const;

interface StepLine {
  step: string;
  ok?: boolean;
  skipped?: string;
  error?: string;
  [field: string]: unknown;
}

const datapath = libraryDatapath();

describe.runIf(TEST_DEVICE)(`examples/tour.mjs on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  let lines: StepLine[] = [];
  let status: number | null = null;
  let stderr = '';

  beforeAll(() => {
    if (!datapath) return;
    const r = spawnSync(process.execPath, ['examples/tour.mjs', TEST_DEVICE as string], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    status = r.status;
    stderr = r.stderr;
    lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as StepLine);
  }, 90_000);

  it.for(STEPS)('%s', (name, test) => {
    if (!datapath) {
      test.skip(`${TEST_DEVICE}: no datapath in this library (siw's QPs reach RTS only through the CM)`);
      return;
    }
    const line = lines.find((l) => l.step === name);
    // a step the program never reached: an earlier one failed or skipped
    if (line === undefined) {
      const before = lines.find((l) => l.skipped !== undefined);
      if (before !== undefined) test.skip(`needs "${before.step}", skipped: ${before.skipped}`);
      expect.fail(
        `the program never reached "${name}" (exit ${status}); it printed ${JSON.stringify(lines)}\n${stderr}`,
      );
    }
    if (line.skipped !== undefined) test.skip(line.skipped);
    expect(line, line.error).toMatchObject({ ok: true });
  });

  it('exits 0 exactly when no step failed', (test) => {
    if (!datapath) test.skip(`${TEST_DEVICE}: no datapath in this library`);
    expect(status, stderr).toBe(lines.some((l) => l.ok === false) ? 1 : 0);
  });

  it('reads back every non-default connect() parameter through query()', (test) => {
    if (!datapath) test.skip(`${TEST_DEVICE}: no datapath in this library`);
    const connect = lines.find((l) => l.step === 'connect');
    // the nine parameters the program set, none of them connect()'s default (see ConnectOptions)
    expect(Object.keys(connect?.set ?? {})).toHaveLength(9);
    expect(connect?.readBack).toEqual(connect?.set);
  });
});

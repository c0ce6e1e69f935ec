/**
 * `uverbs check` on the device under test: a run with a budget that keeps
 * it under a minute in the TCG guest is clean (no disagreement, no kernel
 * warning, `rdma res` back at baseline); a run with a planted disagreement
 * (a prediction hook that expects the wrong errno for one matrix case)
 * reports it with the command's bytes and fails (`checkFailed`, which the
 * CLI's exit status is); the CLI's clean run exits 0 with versioned JSON.
 * Fault injection is refused on a kernel without failslab; on one with it
 * (the debug kernel) the fault-injection sweeps run clean.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkFailed, FaultInjectionUnavailableError, renderCheck, runCheck } from '../../src/check/index.js';
import { TEST_DEVICE, VM_KERNEL } from './support.js';

const name = TEST_DEVICE as string;
const cli = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
// the budget: fuzz and cycles each stop at 15 s of wall clock in the TCG guest
const BUDGET = { iterations: 1500, budgetMs: 15_000 };
const FAULT_INJECTION = existsSync('/sys/kernel/debug/failslab') && existsSync('/proc/thread-self/fail-nth');

describe.runIf(TEST_DEVICE)(`uverbs check on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it('is clean: every part agrees, the kernel log has no warning, rdma res is back at baseline', () => {
    const report = runCheck({ device: name, ...BUDGET });
    process.stderr.write(renderCheck(report));
    expect(report.parts.map((p) => p.part)).toEqual(['abi', 'fuzz', 'lifetime', 'exhaustion']);
    expect(report.parts.flatMap((p) => p.disagreements)).toEqual([]);
    expect(report.dmesg).toEqual({ watched: true, warnings: [] });
    expect(report.resources).toMatchObject({ checked: true, atBaseline: true });
    const fuzz = report.parts.find((p) => p.part === 'fuzz');
    expect(fuzz?.counts.sent).toBeGreaterThan(100);
    expect(report.parts.find((p) => p.part === 'abi')?.agreements).toBeGreaterThanOrEqual(30);
    expect(checkFailed(report)).toBe(false);
  }, 120_000);

  it('can fail: a planted disagreement is reported with the bytes and both errnos', () => {
    const report = runCheck({
      device: name,
      parts: ['abi'],
      // the model is made to expect EINVAL where the kernel says EPROTONOSUPPORT (QUERY_PORT: 24 + 2 x 16 bytes)
      predict: (c) => (c.case === 'QUERY_PORT: reserved1 nonzero' ? 22 : c.predicted),
    });
    expect(report.parts[0]?.disagreements).toEqual([
      {
        case: 'QUERY_PORT: reserved1 nonzero',
        kind: 'ioctl',
        bytes: expect.stringMatching(/^[0-9a-f]{112}$/),
        predicted: 22,
        actual: 93,
      },
    ]);
    // the edit itself is in the bytes: reserved1 (offset 8) is 1
    expect(report.parts[0]?.disagreements[0]?.bytes?.slice(16, 24)).toBe('01000000');
    expect(checkFailed(report)).toBe(true);
    expect(renderCheck(report)).toMatch(
      /DISAGREE QUERY_PORT: reserved1 nonzero: predicted EINVAL \(22\), kernel EPROTONOSUPPORT \(93\)\n {4}ioctl bytes [0-9a-f]{112}/,
    );
  }, 60_000);

  // only on a kernel with fault injection (uverbs vm --kernel debug): elsewhere vitest reports it skipped
  it.skipIf(!FAULT_INJECTION)(
    'with fault injection: every injected failure surfaces typed, nothing leaks, the kernel log stays clean',
    () => {
      const report = runCheck({ device: name, parts: [], faultInjection: true, maxNth: 48 });
      process.stderr.write(renderCheck(report));
      expect(report.parts.map((p) => p.part)).toEqual(['fault-injection']);
      expect(report.parts[0]?.disagreements).toEqual([]);
      // the sweep reached the kernel: faults were injected into most verbs
      expect(report.faults?.filter((f) => f.injected > 0).length).toBeGreaterThan(5);
      expect(report.dmesg).toEqual({ watched: true, warnings: [] });
      expect(report.resources).toMatchObject({ checked: true, atBaseline: true });
    },
    600_000,
  );

  it('the CLI: clean exits 0 with a versioned JSON object; --fault-injection without failslab is a clear error', () => {
    const run = spawnSync(
      process.execPath,
      [cli, 'check', '-d', name, '--json', '-q', '--iterations', '200', '--seconds', '5'],
      {
        encoding: 'utf8',
      },
    );
    expect(run.stderr).toBe('');
    const report = JSON.parse(run.stdout);
    expect({ status: run.status, schema: report.schema, device: report.device }).toEqual({
      status: 0,
      schema: 1,
      device: name,
    });
    if (FAULT_INJECTION) return;
    expect(() => runCheck({ device: name, faultInjection: true })).toThrow(FaultInjectionUnavailableError);
    const refused = spawnSync(process.execPath, [cli, 'check', '-d', name, '--fault-injection'], { encoding: 'utf8' });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/fault injection needs .*'uverbs vm --kernel debug'/);
  }, 120_000);
});

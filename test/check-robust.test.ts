/**
 * `uverbs check`'s verdict and robustness without a device: a run that
 * could not watch the kernel log or check `rdma res` is INCOMPLETE (exit 1)
 * unless the kernel log was explicitly not asked for (--no-dmesg); a part
 * that throws is a reported failure and the run goes on; an unknown device
 * is the library's ENODEV; a fault-injection child that dies is a fault in
 * Node's runtime only with V8's own evidence, anything else a disagreement
 * carrying its stderr, and a hung child is killed.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inChildren, runtimeDeath } from '../src/check/fault-injection.js';
import {
  type CheckReport,
  checkFailed,
  checkVerdict,
  newPart,
  renderCheck,
  runCheck,
  runPart,
} from '../src/check/index.js';
import { CHECK_HELP, parseCheckArgs } from '../src/cli/check.js';
import { UverbsError } from '../src/errors.js';

const clean = (): CheckReport => ({
  schema: 1,
  device: 'rxe0',
  kernel: '6.12.0',
  seed: 7,
  parts: [{ part: 'abi', agreements: 30, disagreements: [], counts: {}, notes: [] }],
  dmesg: { watched: true, warnings: [] },
  resources: { checked: true, before: { pd: 1 }, after: { pd: 1 }, atBaseline: true },
  seconds: 1,
});

describe('uverbs check: a run that could not see everything is INCOMPLETE', () => {
  it('an unread kernel log fails the run as INCOMPLETE', () => {
    const blind = { ...clean(), dmesg: { watched: false, reason: 'cannot read /dev/kmsg (EPERM)', warnings: [] } };
    expect(checkFailed(blind)).toBe(true);
    expect(checkVerdict(blind)).toBe('INCOMPLETE');
    expect(renderCheck(blind)).toMatch(/^INCOMPLETE: 30 agreements, 0 disagreements/m);
  });

  it('rdma res not checked fails the run as INCOMPLETE', () => {
    const r = { ...clean(), resources: { checked: false, reason: "no 'rdma' tool (iproute2) on PATH" } };
    expect(checkFailed(r)).toBe(true);
    expect(checkVerdict(r)).toBe('INCOMPLETE');
  });

  it('--no-dmesg: the kernel log not asked for is said, and the run can be clean', () => {
    expect(parseCheckArgs(['--no-dmesg']).options).toEqual({ faultInjection: false, dmesg: false });
    expect(CHECK_HELP).toContain('--no-dmesg');
    const r = {
      ...clean(),
      dmesg: { watched: false, optedOut: true, reason: 'not watched (--no-dmesg)', warnings: [] },
    };
    expect(checkFailed(r)).toBe(false);
    expect(checkVerdict(r)).toBe('clean');
    expect(renderCheck(r)).toContain('dmesg: not watched (--no-dmesg)');
    expect(checkVerdict(clean())).toBe('clean');
    const failed = { ...r, resources: { checked: true, before: { pd: 1 }, after: { pd: 2 }, atBaseline: false } };
    expect(checkVerdict(failed)).toBe('FAIL');
  });
});

describe('uverbs check: one failing part does not lose the report', () => {
  it('a part that throws is a disagreement carrying the error', () => {
    const part = runPart('lifetime', () => {
      throw new TypeError('boom in lifetime');
    });
    expect(part.part).toBe('lifetime');
    expect(part.disagreements).toHaveLength(1);
    expect(part.disagreements[0]).toMatchObject({
      case: 'lifetime: the part threw',
      kind: 'verb',
      predicted: 0,
      actual: -1,
      note: expect.stringContaining('boom in lifetime'),
    });
    const ok = newPart('abi');
    expect(runPart('abi', () => ok)).toBe(ok);
  });
});

describe('uverbs check: device names', () => {
  it('an unknown device is the library’s ENODEV UverbsError, before anything is opened', () => {
    let error: unknown;
    try {
      runCheck({ device: 'nosuchdev0' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'ENODEV', message: expect.stringContaining("'nosuchdev0'") });
  });

  it('the CLI answers an unknown device with a usage error naming it (exit 2)', () => {
    const run = spawnSync(process.execPath, ['dist/src/cli/main.js', 'check', '-q', '-d', 'nosuchdev0'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("no uverbs device is called 'nosuchdev0'");
  });
});

describe('uverbs check --fault-injection: a child that dies', () => {
  const child = (body: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'uverbs-child-'));
    const file = join(dir, 'child.mjs');
    writeFileSync(file, body);
    return file;
  };

  it('only V8’s own fatal error (its signal and its text) is a fault in the runtime', () => {
    const v8 = '\n#\n# Fatal error in , line 0\n# Check failed: ...\n#\n';
    expect(runtimeDeath({ status: null, signal: 'SIGTRAP', stderr: `at 3\n${v8}` })).toBe(true);
    expect(runtimeDeath({ status: null, signal: 'SIGILL', stderr: v8 })).toBe(true);
    expect(
      runtimeDeath({
        status: null,
        signal: 'SIGABRT',
        stderr: 'FATAL ERROR: Committing semi space failed. Allocation failed - JavaScript heap out of memory',
      }),
    ).toBe(true);
    expect(runtimeDeath({ status: null, signal: 'SIGABRT', stderr: 'at 3\n' })).toBe(false);
    expect(runtimeDeath({ status: 1, signal: null, stderr: `TypeError: x is not a function${v8}` })).toBe(false);
    expect(runtimeDeath({ status: null, signal: 'SIGSEGV', stderr: v8 })).toBe(false);
    expect(runtimeDeath({ status: null, signal: 'SIGKILL', stderr: '' })).toBe(false);
  });

  it('an uncaught exception in the child is a disagreement with its stderr, not a runtime death', () => {
    const script = child(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the child's own template
      "process.stderr.write(`at ${process.argv.at(-1)}\\n`); throw new TypeError('library bug in the child');\n",
    );
    const part = newPart('fault-injection');
    const row = inChildren(part, ['verb', 'rxe0', 'PD alloc', '8'], 'fail-nth', script);
    expect(part.counts['child deaths (fault in the runtime)']).toBeUndefined();
    expect(part.disagreements.length).toBeGreaterThan(0);
    expect(part.disagreements[0]).toMatchObject({
      case: expect.stringContaining('PD alloc'),
      note: expect.stringContaining('library bug in the child'),
    });
    expect(row.verb).toBe('PD alloc');
  });

  it('a hung child is killed and is a disagreement', () => {
    const script = child('process.stderr.write("at 1\\n"); setInterval(() => {}, 1000);\n');
    const part = newPart('fault-injection');
    inChildren(part, ['verb', 'rxe0', 'PD alloc', '8'], 'fail-nth', script, 1500);
    expect(part.disagreements).toHaveLength(1);
    expect(part.disagreements[0]?.note).toMatch(/did not finish in 1\.5 s/);
  }, 20_000);
});

// scripts/summarize-tests.mjs: what the suite's last line and exit status say about missing
// reports and about a device run that died of a signal (scripts/device-tests kept its backtrace)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = join(__dirname, '..', 'scripts', 'summarize-tests.mjs');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function results(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'uverbs-summary-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const report = (passed: number, failed = 0, skipped = 0) =>
  JSON.stringify({ numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, testResults: [] });
const summarize = (dir: string, ...expected: string[]) => {
  const r = spawnSync(process.execPath, [script, dir, ...expected], { encoding: 'utf8' });
  return { status: r.status, last: r.stdout.trim(), stderr: r.stderr };
};
// what gdb prints for `info sharedlibrary` (scripts/device-tests), trimmed to the lines that matter
const libraries = (...libs: string[]) =>
  [
    'signal 11 in the vitest run for 6.1-rxe0 (try 1)',
    'From                To                  Syms Read   Shared Object Library',
    ...libs.map((l) => `0x00007fe012e2a040  0x00007fe012e2a101  Yes         ${l}`),
  ].join('\n');

describe('scripts/summarize-tests.mjs', () => {
  it('adds up the reports; a missing one is a failure', () => {
    const dir = results({ 'a.json': report(3, 0, 1), 'b.json': report(2) });
    expect(summarize(dir, 'a', 'b')).toMatchObject({ status: 0, last: '5 passed, 0 failed, 1 skipped' });
    const missing = summarize(dir, 'a', 'b', 'c');
    expect(missing).toMatchObject({ status: 1, last: '5 passed, 1 failed, 1 skipped' });
    expect(missing.stderr).toContain('c: no report');
  });

  it('a crash outside our code is printed, and the second run is the one counted', () => {
    const dir = results({
      'device-6.1-rxe0.json': report(4),
      'crash-6.1-rxe0-1.txt': libraries('/lib/x86_64-linux-gnu/libc.so.6', '/x/rollup.linux-x64-gnu.node'),
    });
    const r = summarize(dir, 'device-6.1-rxe0');
    expect(r).toMatchObject({ status: 0, last: '4 passed, 0 failed, 0 skipped' });
    expect(r.stderr).toContain('crash-6.1-rxe0-1.txt: a process crashed outside our code');
    expect(r.stderr).toContain('signal 11 in the vitest run');
  });

  it.each([
    ['uverbs.node', '/work/main/build/Release/uverbs.node'],
    ['koffi.node', '/work/main/node_modules/koffi/build/koffi/linux_x64/koffi.node'],
  ])('a crash in a process that had loaded %s fails the suite even after a passing second run', (_, lib) => {
    const dir = results({
      'device-6.1-rxe0.json': report(4),
      'crash-6.1-rxe0-1.txt': libraries('/lib/x86_64-linux-gnu/libc.so.6', lib),
    });
    const r = summarize(dir, 'device-6.1-rxe0');
    expect(r).toMatchObject({ status: 1, last: '4 passed, 1 failed, 0 skipped' });
    expect(r.stderr).toContain('a crash in a process running our code: counted as a failure');
  });

  it('a crash nobody examined (no gdb, no core) counts as ours', () => {
    const dir = results({
      'device-6.1-rxe0.json': report(4),
      'crash-6.1-rxe0-1.txt':
        'signal 11 in the vitest run for 6.1-rxe0 (try 1)\n(no gdb: the core is /x/core.1, not examined)\n',
    });
    const r = summarize(dir, 'device-6.1-rxe0');
    expect(r).toMatchObject({ status: 1, last: '4 passed, 1 failed, 0 skipped' });
    expect(r.stderr).toContain('a crash nothing examined: counted as a failure');
  });
});

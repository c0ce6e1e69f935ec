#!/usr/bin/env node
// Adds up the vitest JSON reports named on the command line (other JSON in the
// folder, such as saved probes, is not a report): one line per report, then
// "N passed, N failed, N skipped". Exits 1 if any test failed, any report is
// missing, or a report is not one vitest wrote.
// A core any process of a device run left (scripts/device-tests examined it)
// is crash-*.txt with its backtrace: each is printed; one in a process that
// had loaded our addon (uverbs.node) or koffi counts as a failure, even when
// the run passed (a vitest process that died was run once more).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...expected] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const reasons = [];
const count = (v) => (Number.isInteger(v) && v >= 0 ? v : undefined);
for (const name of expected) {
  const file = `${name}.json`;
  if (!existsSync(join(dir, file))) {
    // a run that never reported (the VM could not start, the guest died) counts as one failure
    failed += 1;
    process.stderr.write(`${name}: no report (the run did not complete)\n`);
    continue;
  }
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const p = count(report.numPassedTests);
  const f0 = count(report.numFailedTests);
  const s0 = count(report.numPendingTests);
  if (p === undefined || f0 === undefined || s0 === undefined) {
    failed += 1;
    process.stderr.write(`${name}: not a vitest report\n`);
    continue;
  }
  // a file that failed without any failed test (it did not load) counts once; describe blocks are not extra failures
  const broken = (report.testResults ?? []).filter(
    (r) => r.status === 'failed' && !(r.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
  const f = f0 + broken;
  const s = s0 + (report.numTodoTests ?? 0);
  passed += p;
  failed += f;
  skipped += s;
  process.stderr.write(`${name}: ${p} passed, ${f} failed, ${s} skipped\n`);
  for (const suite of report.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) {
      if (t.status === 'skipped' || t.status === 'pending') reasons.push(`  skipped (${name}): ${t.fullName}`);
    }
  }
}
for (const r of reasons) process.stderr.write(`${r}\n`);
for (const file of readdirSync(dir)
  .filter((f) => /^crash-.*\.txt$/.test(f))
  .sort()) {
  const text = readFileSync(join(dir, file), 'utf8');
  // gdb's `info sharedlibrary` table: without it nothing says whose code crashed, and it counts as ours
  const examined = /Shared Object Library/.test(text);
  const ours = !examined || /\b(uverbs|koffi)\.node\b/.test(text);
  if (ours) failed += 1;
  const verdict = ours
    ? `${examined ? 'a crash in a process running our code' : 'a crash nothing examined'}: counted as a failure`
    : 'a process crashed outside our code (neither uverbs.node nor koffi.node loaded): not counted (a vitest process that died was run again, and the second run is the one reported; a run that did not finish counts through its missing report)';
  process.stderr.write(`${file}: ${verdict}\n${text}\n`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;

#!/usr/bin/env node
// Adds up vitest JSON reports: one line per report, then "N passed, N failed, N skipped".
// Exits 1 if any test failed or any report is missing its results.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...expected] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const reasons = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const p = report.numPassedTests;
  // a file that failed without any failed test (it did not load) counts once; describe blocks are not extra failures
  const broken = (report.testResults ?? []).filter(
    (r) => r.status === 'failed' && !(r.assertionResults ?? []).some((t) => t.status === 'failed'),
  ).length;
  const f = report.numFailedTests + broken;
  const s = report.numPendingTests + (report.numTodoTests ?? 0);
  passed += p;
  failed += f;
  skipped += s;
  process.stderr.write(`${file.replace(/\.json$/, '')}: ${p} passed, ${f} failed, ${s} skipped\n`);
  for (const suite of report.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) {
      if (t.status === 'skipped' || t.status === 'pending') reasons.push(`  skipped (${file.replace(/\.json$/, '')}): ${t.fullName}`);
    }
  }
}
for (const name of expected) {
  try {
    readFileSync(join(dir, `${name}.json`));
  } catch {
    // a run that never reported (the VM could not start, the guest died) counts as one failure
    failed += 1;
    process.stderr.write(`${name}: no report (the run did not complete)\n`);
  }
}
for (const r of reasons) process.stderr.write(`${r}\n`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;

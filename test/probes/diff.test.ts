/**
 * The cross-kernel diff, from the probes the device tests saved inside
 * `uverbs vm` (scripts/test runs this after every kernel's device tests).
 * A probe a run did not make is a skip that says which.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIFF_SCHEMA, diffProbes } from '../../src/probe/diff.js';
import type { ProbeResult } from '../../src/probe/probe.js';

const DIR = process.env.UVERBS_TEST_RESULTS ?? '.cache/test-results';

function saved(kernel: string, device: string): { path: string; probe?: ProbeResult } {
  const path = join(DIR, `probe-${kernel}-${device}.json`);
  return { path, probe: existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as ProbeResult) : undefined };
}

function pair(test: { skip: (note?: string) => void }, a: string, b: string, device = 'rxe0') {
  const pa = saved(a, device);
  const pb = saved(b, device);
  for (const p of [pa, pb]) {
    if (!p.probe) {
      const reason = `${p.path} was not made in this run (scripts/test ${a} ${b})`;
      process.stderr.write(`skipped: ${reason}\n`);
      test.skip(reason);
    }
  }
  return { a: pa as Required<typeof pa>, b: pb as Required<typeof pb> };
}

const names = (fs: { kind: string; name: string }[]) => fs.map((f) => `${f.kind} ${f.name}`);

describe('uverbs diff across kernels (rxe0)', () => {
  it('6.1 -> 7.x: REG_MR and the CQ-create buffer attributes are new', (test) => {
    const { a, b } = pair(test, '6.1', '7');
    const d = diffProbes(a.probe, b.probe);
    expect(names(d.onlyB)).toEqual(
      expect.arrayContaining([
        'method UVERBS_METHOD_REG_MR',
        'method UVERBS_METHOD_QUERY_PORT_SPEED',
        'attribute UVERBS_METHOD_CQ_CREATE.UVERBS_ATTR_CREATE_CQ_BUFFER_VA',
        'attribute UVERBS_METHOD_CQ_CREATE.UVERBS_ATTR_CREATE_CQ_BUFFER_LENGTH',
        'attribute UVERBS_METHOD_CQ_CREATE.UVERBS_ATTR_CREATE_CQ_BUFFER_FD',
        'attribute UVERBS_METHOD_CQ_CREATE.UVERBS_ATTR_CREATE_CQ_BUFFER_OFFSET',
        'attribute UVERBS_METHOD_CQ_CREATE.UVERBS_ATTR_CREATE_CQ_BUF_UMEM',
      ]),
    );
    // the human table says the same
    const table = execFileSync('node', ['dist/src/cli/main.js', 'diff', a.path, b.path], { encoding: 'utf8' });
    expect(table).toMatch(/^\+\s+method\s+UVERBS_METHOD_REG_MR$/m);
    expect(table).toMatch(/^\+\s+attribute\s+UVERBS_METHOD_CQ_CREATE\.UVERBS_ATTR_CREATE_CQ_BUFFER_VA$/m);
  });

  it('6.1 -> 6.12: the FLUSH and ATOMIC_WRITE capability bits are new', (test) => {
    const { a, b } = pair(test, '6.1', '6.12');
    const d = diffProbes(a.probe, b.probe);
    expect(names(d.onlyB)).toEqual(
      expect.arrayContaining([
        'capability IB_UVERBS_DEVICE_FLUSH_GLOBAL',
        'capability IB_UVERBS_DEVICE_FLUSH_PERSISTENT',
        'capability IB_UVERBS_DEVICE_ATOMIC_WRITE',
      ]),
    );
    expect(names(d.onlyB)).not.toContain('method UVERBS_METHOD_REG_MR');
    const out = JSON.parse(
      execFileSync('node', ['dist/src/cli/main.js', 'diff', '--json', a.path, b.path], { encoding: 'utf8' }),
    );
    expect(out.schema).toBe(DIFF_SCHEMA);
    expect(out.onlyB).toContainEqual({ kind: 'capability', name: 'IB_UVERBS_DEVICE_ATOMIC_WRITE' });
  });
});

/**
 * `npm run bench`'s report (bench/run.mjs report): rows followed by their stable id, the earlier
 * figures beside the new ones (`--compare FILE`), the run count taken from the rows. No device:
 * the parts' JSON lines are made here.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const run = (args: string[], input: string) =>
  spawnSync(process.execPath, ['bench/run.mjs', 'report', ...args], { input, encoding: 'utf8' });

const ratio = (median: number) => ({ min: median, median, max: median });
const row = (id: string | undefined, name: string, median: number) => ({
  ...(id === undefined ? {} : { id }),
  name,
  unit: 'us/op',
  ours: median,
  theirs: 1,
  ratio: ratio(median),
  runs: 2,
});
const part = (name: string, rows: object[]) => JSON.stringify({ schema: 1, part: name, rows });

const now = [
  part('host', [row('host.poll.b16', 'CQ poll, batch 16', 1.2)]),
  part('guest', [
    row('guest.pd.cold', 'PD alloc + free, cold (vs libibverbs, 300 iters)', 2.5),
    row('guest.pd.warm', 'PD alloc + free, after 1000 warm-up (vs libibverbs)', 1.7),
  ]),
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'uverbs-bench-report-'));
afterAll(() => rmSync(dir, { recursive: true }));

describe('bench report', () => {
  it('--json keeps each row under its id and takes the run count from the rows', () => {
    const r = run(['--json'], now);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.runs).toBe(2);
    expect(doc.rows.map((x: { id: string }) => x.id)).toEqual(['host.poll.b16', 'guest.pd.cold', 'guest.pd.warm']);
  });

  it('--compare prints the earlier median ratio beside each row, by id, and says the target', () => {
    // an earlier output from before rows had ids, as npm printed it: ids come from the names
    const file = join(dir, 'before.json');
    const before = {
      schema: 1,
      runs: 5,
      rows: [
        { part: 'guest', ...row(undefined, 'PD alloc + free, cold (vs libibverbs, 300 iters)', 40.59) },
        { part: 'guest', ...row(undefined, 'RC ping-pong 4 KiB, 2000 iters (vs ibv_rc_pingpong)', 4.2) },
      ],
    };
    writeFileSync(file, `\n> uverbs@0.1.0 bench\n> scripts/bench --json\n\n${JSON.stringify(before, null, 2)}\n`);
    const r = run(['--compare', file], now);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^id\s+what\s+unit\s+ours\s+reference\s+ratio min\s+median\s+max\s+target\s+before$/);
    expect(lines.find((l) => l.startsWith('guest.pd.cold'))).toMatch(/<=3x ok\s+40\.6$/);
    expect(lines.find((l) => l.startsWith('guest.pd.warm'))).toMatch(/<=1\.5x over\s+-$/);
    expect(r.stdout).toContain(`only in ${file}: guest.pingpong`);

    const json = JSON.parse(run(['--json', '--compare', file], now).stdout);
    expect(json.rows[1].before.median).toBe(40.59);
    expect(json.rows[0].before).toBeNull();
  });

  it('refuses a row without an id, and two rows with one id', () => {
    const noId = run([], part('host', [row(undefined, 'CQ poll, batch 16', 1)]));
    expect(noId.status).not.toBe(0);
    expect(noId.stderr).toContain('a row without an id: CQ poll, batch 16');
    const twice = run([], `${now}\n${part('host', [row('guest.pd.cold', 'again', 1)])}`);
    expect(twice.status).not.toBe(0);
    expect(twice.stderr).toContain('two rows have the id guest.pd.cold');
  });
});

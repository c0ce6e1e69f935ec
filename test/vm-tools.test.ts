/**
 * The one runner every external tool of the harness goes through: a time
 * limit, a typed error, and nothing left running after it.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTool } from '../src/vm/tools.js';
import { alive, waitFor } from './vm-cli.js';

describe('runTool', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'uverbs-vm-tool-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('returns the output of a tool that succeeds', () => {
    expect(runTool('sh', ['-c', 'echo out; echo err >&2'], { timeout: 10 })).toMatchObject({
      stdout: Buffer.from('out\n'),
      stderr: 'err\n',
      status: 0,
    });
  });

  it('a failing tool is a typed error with its status and stderr', () => {
    expect(() => runTool('sh', ['-c', 'echo why >&2; exit 3'], { timeout: 10 })).toThrow(
      expect.objectContaining({ code: 'ERR_UVERBS_TOOL_FAILED', command: 'sh', status: 3, stderr: 'why\n' }),
    );
  });

  it('a missing tool is ENOENT', () => {
    expect(() => runTool('uverbs-no-such-tool', [], { timeout: 10 })).toThrow(
      expect.objectContaining({ code: 'ENOENT', command: 'uverbs-no-such-tool' }),
    );
  });

  it('a tool over its time limit is ETIMEDOUT, and its children die with it', () => {
    const pids = join(scratch, 'pids');
    writeFileSync(pids, '');
    const t0 = Date.now();
    expect(() =>
      runTool('sh', ['-c', `sleep 600 & echo $! >>${pids}; echo $$ >>${pids}; wait`], { timeout: 1 }),
    ).toThrow(expect.objectContaining({ code: 'ETIMEDOUT', command: 'sh' }));
    expect(Date.now() - t0).toBeLessThan(8000);
    const recorded = readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number);
    expect(recorded).toHaveLength(2);
    return waitFor(() => recorded.every((p) => !alive(p)), 5).then((gone) => expect(gone).toBe(true));
  });
});

describe('every external tool of the harness goes through runTool or the tied spawn', () => {
  it('no file in src/vm but tools.ts imports node:child_process', () => {
    const dir = 'src/vm';
    const direct = readdirSync(dir).filter(
      (f) => f !== 'tools.ts' && /from 'node:child_process'/.test(readFileSync(join(dir, f), 'utf8')),
    );
    expect(direct).toEqual([]);
  });
});

/**
 * `uverbs vm` end to end, through the real CLI: each kernel boots and runs
 * the command; exit statuses pass through; usage mistakes exit 2 before
 * anything boots; a timeout has its own status.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNEL_SERIES } from '../src/vm/kernels.js';
import { VM_EXIT } from '../src/vm/run.js';

const CLI = 'dist/src/cli/main.js';

function uverbs(...args: string[]) {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('uverbs vm usage', () => {
  it.each([
    [['vm'], /no COMMAND given/],
    [['vm', '--kernel', '5.10', '--', 'true'], /--kernel must be one of 6.1, 6.12, 7/],
    [['vm', '--devs', 'mlx5', '--', 'true'], /--devs takes rxe and\/or siw/],
    [['vm', '--smp', '0', '--', 'true'], /--smp must be 1..64/],
    [['vm', '--bogus', '--', 'true'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j exits 2 with a clear message', (args, message) => {
    const r = uverbs(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--help prints the options and exits 0', () => {
    const r = uverbs('vm', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--kernel SERIES/);
  });
});

describe.runIf(existsSync('/usr/bin/qemu-system-x86_64'))('uverbs vm boots real kernels', () => {
  it.each(KERNEL_SERIES)(
    '--kernel %s: uname -r is that series, with /dev/infiniband/uverbs0',
    { timeout: 900_000 },
    (k) => {
      const r = uverbs('vm', '-q', '--kernel', k, '--', 'sh', '-c', 'uname -r; ls /dev/infiniband/uverbs0');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const [release, node] = r.stdout.trim().split('\n');
      expect(release?.startsWith(k === '7' ? '7.' : `${k}.`)).toBe(true);
      expect(node).toBe('/dev/infiniband/uverbs0');
    },
  );

  it('passes exit statuses through: false is 1, exit 7 is 7', { timeout: 300_000 }, () => {
    expect(uverbs('vm', '-q', '--', 'false').status).toBe(1);
    expect(uverbs('vm', '-q', '--', 'sh', '-c', 'exit 7').status).toBe(7);
  });

  it('runs in the caller directory, with stdout and stderr kept apart', { timeout: 300_000 }, () => {
    const r = uverbs('vm', '-q', '--', 'sh', '-c', 'pwd; echo oops >&2');
    expect(r.stdout.trim()).toBe(process.cwd());
    expect(r.stderr.trim()).toBe('oops');
  });

  it(`a kernel panic in the guest exits ${VM_EXIT.GUEST_FAILED} and says so`, { timeout: 300_000 }, () => {
    const r = uverbs('vm', '-q', '--', 'sh', '-c', 'echo c > /proc/sysrq-trigger');
    expect(r.status).toBe(VM_EXIT.GUEST_FAILED);
    expect(r.stderr).toMatch(/Kernel panic/);
  });

  it(`a timeout kills the guest and exits ${VM_EXIT.TIMEOUT}`, { timeout: 300_000 }, () => {
    const r = uverbs('vm', '-q', '--timeout', '2', '--', 'sleep', '600');
    expect(r.status).toBe(VM_EXIT.TIMEOUT);
    expect(r.stderr).toMatch(/timed out after 2s/);
  });
});

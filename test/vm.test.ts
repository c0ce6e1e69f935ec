/**
 * `uverbs vm` end to end, through the real CLI: each kernel boots and runs
 * the command; exit statuses pass through; usage mistakes exit 2 before
 * anything boots; a timeout has its own status.
 */

import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KERNEL_SERIES } from '../src/vm/kernels.js';
import { guestShares, VM_EXIT } from '../src/vm/run.js';
import { HAS_QEMU, uverbs, uverbsIn } from './vm-cli.js';

describe('guest shares', () => {
  it('a caller directory the guest would hide (/tmp) is shared read-only, parents before children', () => {
    expect(guestShares('/tmp/co', ['/tmp/co/.cache/out'])).toEqual([
      { tag: 'uverbs.share0', dir: '/tmp/co', readonly: true },
      { tag: 'uverbs.share1', dir: '/tmp/co/.cache/out', readonly: false },
    ]);
  });
  it('a caller directory the guest sees through the root needs no share', () => {
    expect(guestShares('/work/co', [])).toEqual([]);
  });
  it('this package, when the guest would hide it, is shared read-only (the guest runs its uverbs)', () => {
    expect(guestShares('/work/co', [], ['/tmp/pkg'])).toEqual([
      { tag: 'uverbs.share0', dir: '/tmp/pkg', readonly: true },
    ]);
    expect(guestShares('/tmp/pkg/sub', [], ['/tmp/pkg'])).toEqual([
      { tag: 'uverbs.share0', dir: '/tmp/pkg', readonly: true },
    ]);
  });
  it('a writable share that already holds the caller directory is enough', () => {
    expect(guestShares('/tmp/co/sub', ['/tmp/co'])).toEqual([
      { tag: 'uverbs.share0', dir: '/tmp/co', readonly: false },
    ]);
  });
});

describe('uverbs vm usage', () => {
  it.each([
    [['vm'], /no COMMAND given/],
    [['vm', '--kernel', '5.10', '--', 'true'], /--kernel must be one of 6.1, 6.12, 7/],
    [['vm', '--devs', 'mlx5', '--', 'true'], /--devs takes rxe and\/or siw/],
    [['vm', '--smp', '0', '--', 'true'], /--smp must be 1..64/],
    [['vm', '--bogus', '--', 'true'], /Unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const r = await uverbs(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('--help prints the options and exits 0', async () => {
    const r = await uverbs('vm', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--kernel SERIES/);
  });
});

describe.runIf(HAS_QEMU)('uverbs vm boots real kernels', () => {
  it.each(KERNEL_SERIES)(
    '--kernel %s: uname -r is that series, with /dev/infiniband/uverbs0',
    { timeout: 900_000 },
    async (k) => {
      const r = await uverbs('vm', '-q', '--kernel', k, '--', 'sh', '-c', 'uname -r; ls /dev/infiniband/uverbs0');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const [release, node] = r.stdout.trim().split('\n');
      expect(release?.startsWith(k === '7' ? '7.' : `${k}.`)).toBe(true);
      expect(node).toBe('/dev/infiniband/uverbs0');
    },
  );

  it('passes exit statuses through: false is 1, exit 7 is 7', { timeout: 300_000 }, async () => {
    expect((await uverbs('vm', '-q', '--', 'false')).status).toBe(1);
    expect((await uverbs('vm', '-q', '--', 'sh', '-c', 'exit 7')).status).toBe(7);
  });

  it('runs in the caller directory, with stdout and stderr kept apart', { timeout: 300_000 }, async () => {
    const r = await uverbs('vm', '-q', '--', 'sh', '-c', 'pwd; echo oops >&2');
    expect(r.stdout.trim()).toBe(process.cwd());
    expect(r.stderr.trim()).toBe('oops');
  });

  it('works from a directory under /tmp, which the guest covers with its own tmpfs', { timeout: 300_000 }, async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'uverbs-vm-cwd-')));
    try {
      writeFileSync(join(dir, 'hello'), 'from the host\n');
      mkdirSync(join(dir, 'out'));
      const r = await uverbsIn(dir, [
        'vm',
        '-q',
        '-w',
        'out',
        '--',
        'sh',
        '-c',
        'pwd; cat hello; echo back > out/reply',
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${dir}\nfrom the host\n`);
      expect(readFileSync(join(dir, 'out', 'reply'), 'utf8')).toBe('back\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`a kernel panic in the guest exits ${VM_EXIT.GUEST_FAILED} and says so`, { timeout: 300_000 }, async () => {
    const r = await uverbs('vm', '-q', '--', 'sh', '-c', 'echo c > /proc/sysrq-trigger');
    expect(r.status).toBe(VM_EXIT.GUEST_FAILED);
    expect(r.stderr).toMatch(/Kernel panic/);
  });

  it(`a timeout kills the guest and exits ${VM_EXIT.TIMEOUT}`, { timeout: 300_000 }, async () => {
    const r = await uverbs('vm', '-q', '--timeout', '2', '--', 'sleep', '600');
    expect(r.status).toBe(VM_EXIT.TIMEOUT);
    expect(r.stderr).toMatch(/timed out after 2s/);
  });
});

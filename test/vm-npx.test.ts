/**
 * The package's own `uverbs` inside the guest: on PATH as `uverbs`, and
 * through `npx uverbs` in the package's directory, with npm offline (the
 * guest has no network and a read-only tree: npm must answer from what is
 * there or fail at once, never wait on a registry).
 */

import { describe, expect, it } from 'vitest';
import { HAS_QEMU, uverbs } from './vm-cli.js';

describe.runIf(HAS_QEMU)('uverbs inside uverbs vm', () => {
  it('`uverbs` is on the guest PATH and lists rxe0', { timeout: 300_000 }, async () => {
    const r = await uverbs('vm', '-q', '--', 'sh', '-c', 'command -v uverbs && uverbs devices');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // this package's launcher, not some other `uverbs` the host happens to have installed
    expect(r.stdout.split('\n')[0]).toBe('/run/uverbs/bin/uverbs');
    expect(r.stdout).toMatch(/ rxe0 +rxe /);
  });

  it('`npx uverbs` in the package directory runs this package, offline', { timeout: 300_000 }, async () => {
    const r = await uverbs('vm', '-q', '--timeout', '240', '--', 'npx', 'uverbs', 'devices');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ rxe0 +rxe /);
  });

  it('npx of a package that is not here fails at once with npm offline, not after network retries', {
    timeout: 300_000,
  }, async () => {
    const r = await uverbs(
      'vm',
      '-q',
      '--timing',
      '--timeout',
      '240',
      '--',
      'npx',
      '--yes',
      'uverbs-not-a-package-here',
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ENOTCACHED/);
    const command = Number(/command ([\d.]+)s/.exec(r.stderr)?.[1]);
    // npm's own start-up under TCG takes 10-40 s on a busy 2-core machine; waiting on the registry took 130 s
    expect(command).toBeLessThan(90);
  });
});

/**
 * The guest writes its results (exit status, boot and command times, the
 * console log, dmesg) into a share the host reads afterwards; the guest can
 * put anything there. A FIFO must not block the harness, a symlink must not
 * be followed, and only a status the guest's init could have written (an
 * integer 0..255) counts: otherwise the run is the guest's failure (123).
 */

import { describe, expect, it } from 'vitest';
import { HAS_QEMU, uverbs } from './vm-cli.js';

describe.runIf(HAS_QEMU)('what the guest leaves in its results share', () => {
  it('a FIFO in place of the console log and a symlink in place of the status: no hang, no host file read, status 123', {
    timeout: 300_000,
  }, async () => {
    const r = await uverbs(
      'vm',
      '-q',
      '--timeout',
      '200',
      '--',
      'sh',
      '-c',
      'rm -f /run/uverbs/console.log && mkfifo /run/uverbs/console.log && ln -sf /proc/uptime /run/uverbs/status && ln -sf /dev/zero /run/uverbs/dmesg && echo planted',
    );
    expect(r.stdout.trim()).toBe('planted');
    expect(r.status).toBe(123);
    expect(r.stderr).toMatch(/uverbs vm: /);
    expect(r.seconds).toBeLessThan(200);
  });

  it('a --timeout no timer can hold (past 2^31 - 1 ms) is a usage error, not an instant "timeout"', async () => {
    const r = await uverbs('vm', '-q', '--timeout', '3000000', '--', 'true');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/timeout/);
  });
});

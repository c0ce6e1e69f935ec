/**
 * A guest that hangs before its command (its console silent) is stopped
 * after `bootStall` seconds and booted again, like one that crashed while
 * booting, instead of holding the run until --timeout. The QEMU here is a
 * stand-in first on PATH that prints nothing and never exits.
 */

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runInVm, VM_EXIT } from '../src/vm/run.js';

const scratch = mkdtempSync(join(tmpdir(), 'uverbs-vm-stall-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a guest hung while booting', () => {
  it('is stopped after bootStall seconds of console silence and booted again, 3 attempts in all, then reported', async () => {
    const starts = join(scratch, 'starts');
    writeFileSync(starts, '');
    writeFileSync(join(scratch, 'qemu-system-x86_64'), `#!/bin/sh\necho start >> '${starts}'\nexec sleep 600\n`);
    chmodSync(join(scratch, 'qemu-system-x86_64'), 0o755);
    let stderr = '';
    const sink = new Writable({
      write(chunk, _encoding, done) {
        stderr += chunk;
        done();
      },
    });
    const path = process.env.PATH;
    process.env.PATH = `${scratch}:${path}`;
    const began = Date.now();
    try {
      const result = await runInVm(['true'], {
        kernel: '6.1',
        devs: ['rxe'],
        memory: '2G',
        smp: 2,
        timeout: 300,
        bootStall: 2,
        writable: [],
        env: {},
        cwd: process.cwd(),
        progress: () => {},
        stdout: sink,
        stderr: sink,
      });
      expect(result.status).toBe(VM_EXIT.GUEST_FAILED);
      expect(result.failure).toMatch(/^the guest hung while booting \(console silent 2s\)/);
    } finally {
      process.env.PATH = path;
    }
    expect(readFileSync(starts, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(stderr).toContain(
      'uverbs vm: the guest did not boot (the guest hung while booting (console silent 2s)); booting again (2/3)',
    );
    expect(stderr).toContain('booting again (3/3)');
    // three stalls of ~2 s, not the 300 s --timeout
    expect(Date.now() - began).toBeLessThan(120_000);
  }, 300_000);
});

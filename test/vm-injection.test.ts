/**
 * What the caller hands `uverbs vm` (share directories, the working
 * directory, --env names and values) reaches QEMU's option strings and the
 * guest's shell. None of it may change what QEMU exports or what the guest
 * runs: commas are escaped in QEMU option values, share paths the guest
 * would split are refused, --env names must be shell identifiers.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runInVm, type VmOptions } from '../src/vm/run.js';
import { HAS_QEMU, uverbs, uverbsIn } from './vm-cli.js';

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'uverbs-vm-inject-')));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Options for runInVm whose progress callback fails the test if anything gets prepared. */
function refusedOptions(overrides: Partial<VmOptions>): VmOptions {
  return {
    kernel: '6.1',
    devs: ['rxe'],
    memory: '2G',
    smp: 2,
    timeout: 60,
    writable: [],
    env: {},
    cwd: process.cwd(),
    progress: (line) => {
      throw new Error(`runInVm went on to prepare the VM: ${line}`);
    },
    stdout: process.stdout,
    stderr: process.stderr,
    ...overrides,
  };
}

describe('runInVm refuses what it cannot hand to QEMU or the guest safely, before preparing anything', () => {
  const spaced = join(scratch, 'a b');
  const newline = join(scratch, 'a\nb');
  mkdirSync(spaced, { recursive: true });
  mkdirSync(newline, { recursive: true });

  it.each([
    ['an --env name with shell syntax', { env: { 'X;touch /tmp/pwned;Y': '1' } }, /"env".*X;touch/s],
    ['an --env name starting with a digit', { env: { '1X': '1' } }, /"env".*1X/s],
    ['a writable share with a space', { writable: [spaced] }, /"writable".*a b/s],
    ['a writable share with a newline', { writable: [newline] }, /"writable".*a\\nb/s],
    ['a working directory the guest must be given as a share, with a space', { cwd: spaced }, /"cwd".*a b/s],
    ['a device that is not rxe or siw', { devs: ['rxe0 rxe\nbogus'] as never }, /"devs"/],
    ['a memory size with more QEMU options after it', { memory: '2G,maxmem=64G' }, /"memory"/],
  ])('%s: ERR_INVALID_ARG_VALUE', async (_what, overrides, message) => {
    const error = await runInVm(['true'], refusedOptions(overrides)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect((error as Error).message).toMatch(message);
  });
});

describe('uverbs vm refuses unsafe names and paths with usage status 2, before booting', () => {
  it('--env whose name is not a shell identifier: nothing runs in the guest', { timeout: 300_000 }, async () => {
    const r = await uverbs('vm', '-q', '-e', 'X;echo injected;Y=1', '--', 'true');
    expect(r.stdout).not.toMatch(/injected/);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/env.*X;echo injected;Y/);
  });

  it('-w DIR with a space in its path', { timeout: 300_000 }, async () => {
    const dir = join(scratch, 'with space');
    mkdirSync(dir, { recursive: true });
    const r = await uverbs('vm', '-q', '-w', dir, '--', 'sh', '-c', `touch '${dir}/f'`);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(dir);
    expect(existsSync(join(dir, 'f'))).toBe(false);
  });
});

describe.runIf(HAS_QEMU)('uverbs vm: a comma in a share path is part of the path', () => {
  it('-w ".../out,path=VICTIM" shares that directory, not VICTIM', { timeout: 300_000 }, async () => {
    const victim = join(scratch, 'victim');
    const odd = join(scratch, `out,path=${victim}`);
    mkdirSync(victim, { recursive: true });
    mkdirSync(odd, { recursive: true });
    const r = await uverbsIn(scratch, ['vm', '-q', '-w', odd, '--', 'sh', '-c', `echo guest > '${odd}/written'`]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(join(victim, 'written'))).toBe(false);
    expect(readFileSync(join(odd, 'written'), 'utf8')).toBe('guest\n');
  });

  it('--env values reach the command verbatim, quotes and newlines included', { timeout: 300_000 }, async () => {
    const value = `it's "$HOME" \`id\` $(id)\nline two; exit 3`;
    // __proto__ is a shell identifier like any other (it used to vanish into Object.prototype)
    const r = await uverbs(
      'vm',
      '-q',
      '-e',
      `ODD=${value}`,
      '-e',
      '__proto__=kept',
      '--',
      'sh',
      '-c',
      'printf "%s|%s" "$ODD" "$__proto__"',
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${value}|kept`);
  });
});

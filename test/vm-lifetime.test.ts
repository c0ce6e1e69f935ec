/**
 * Nothing `uverbs vm` starts outlives it: QEMU dies with the harness even
 * when the harness is SIGKILLed, and so do the tools it prepares the VM
 * with (apt-get here, through a stand-in on PATH), with their children.
 * The cache, whose chroot `make` runs in as root, must belong to the user
 * and be writable by nobody else.
 */

import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cacheDir } from '../src/vm/apt.js';
import { alive, childrenOf, HAS_QEMU, uverbsIn, waitFor } from './vm-cli.js';

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'uverbs-vm-life-')));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Processes a test started; killed by pid if the test fails with them still running. */
const started = new Set<number>();
afterEach(() => {
  for (const pid of started) {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  started.clear();
});

describe.runIf(HAS_QEMU)('QEMU dies with the harness', () => {
  it('SIGKILL of the uverbs vm process leaves no QEMU running', { timeout: 300_000 }, async () => {
    let harness = 0;
    const run = uverbsIn(scratch, ['vm', '-q', '--timeout', '240', '--', 'sleep', '200'], {
      onSpawn: (pid) => {
        harness = pid;
        started.add(pid);
      },
    });
    let qemu: number | undefined;
    const booted = await waitFor(() => {
      qemu = childrenOf(harness).find((c) => c.comm.startsWith('qemu-system'))?.pid;
      return qemu !== undefined;
    }, 120);
    expect(booted, 'QEMU never started under the harness').toBe(true);
    started.add(qemu as number);
    // let it get into the boot
    await new Promise((r) => setTimeout(r, 2000));
    expect(alive(qemu as number)).toBe(true);
    // a SIGKILLed harness cannot remove its run directory (the results share): the test does
    const cmdline = readFileSync(`/proc/${qemu}/cmdline`, 'utf8').split('\0');
    // QEMU's option value: ',,' is an escaped comma (TMPDIR may hold one); only a run directory of ours is removed
    const escaped = cmdline.find((a) => a.includes('id=results,'))?.match(/path=((?:[^,]|,,)*)/)?.[1];
    const path = escaped?.replaceAll(',,', ',');
    const results =
      path !== undefined && dirname(path) === realpathSync(tmpdir()) && basename(path).startsWith('uverbs-vm-')
        ? path
        : undefined;
    try {
      process.kill(harness, 'SIGKILL');
      expect((await run).signal).toBe('SIGKILL');
      const gone = await waitFor(() => !alive(qemu as number), 10);
      expect(gone, `QEMU (pid ${qemu}) still runs after its harness was SIGKILLed`).toBe(true);
    } finally {
      if (results !== undefined) rmSync(results, { recursive: true, force: true });
    }
  });
});

/** A stand-in apt-get that records its pid and a child's, then waits forever. */
function fakeAptGet(bin: string): void {
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'apt-get'),
    '#!/bin/sh\nsleep 600 &\necho $! >>"$FAKE_PIDS"\necho $$ >>"$FAKE_PIDS"\nwait\n',
    { mode: 0o755 },
  );
}

describe('the tools that prepare the VM die with the harness', () => {
  const bin = join(scratch, 'bin');
  fakeAptGet(bin);
  const aptModule = resolve('dist/src/vm/apt.js');

  it.each(['SIGTERM', 'SIGKILL'] as const)(
    '%s to a harness inside apt-get update ends apt-get and its children',
    { timeout: 60_000 },
    async (signal) => {
      const cache = mkdtempSync(join(scratch, 'cache-'));
      const pids = join(scratch, `pids-${signal}`);
      writeFileSync(pids, '');
      const script = `import { PrivateApt } from ${JSON.stringify(aptModule)};
new PrivateApt('bookworm', { mirror: { uri: 'http://mirror.invalid/debian', suites: ['bookworm'], components: ['main'] } }).update();`;
      const harness = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, UVERBS_CACHE_DIR: cache, FAKE_PIDS: pids },
        stdio: 'ignore',
      });
      const exited = new Promise((r) => harness.once('exit', r));
      started.add(harness.pid as number);
      const recorded = () => readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number);
      expect(await waitFor(() => recorded().length === 2, 30), 'the stand-in apt-get never ran').toBe(true);
      for (const pid of recorded()) started.add(pid);
      harness.kill(signal);
      await exited;
      const gone = await waitFor(() => recorded().every((pid) => !alive(pid)), 15);
      expect(gone, `still running after ${signal} to the harness: ${recorded().filter(alive).join(', ')}`).toBe(true);
    },
  );
});

describe('the cache directory must be trusted', () => {
  const saved = process.env.UVERBS_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.UVERBS_CACHE_DIR;
    else process.env.UVERBS_CACHE_DIR = saved;
  });

  function cacheError(root: string, ...parts: string[]): unknown {
    process.env.UVERBS_CACHE_DIR = root;
    try {
      cacheDir(...parts);
      return undefined;
    } catch (e) {
      return e;
    }
  }

  it('one of mine, 0755, is used', () => {
    const root = join(mkdtempSync(join(scratch, 'ok-')), 'cache');
    expect(cacheError(root, 'kernels')).toBeUndefined();
    expect(readdirSync(root)).toEqual(['kernels']);
  });

  it('a cache writable by everyone (0777) is refused, naming the path and the reason', () => {
    const root = mkdtempSync(join(scratch, 'open-'));
    chmodSync(root, 0o777);
    const e = cacheError(root, 'kernels');
    expect(e).toMatchObject({ code: 'ERR_UVERBS_UNTRUSTED_CACHE', path: root });
    expect((e as Error).message).toMatch(/writable by group or others/);
    expect((e as Error).message).toContain(root);
  });

  it('a directory inside the cache writable by group is refused', () => {
    const root = mkdtempSync(join(scratch, 'inner-'));
    mkdirSync(join(root, 'chroots'));
    chmodSync(join(root, 'chroots'), 0o775);
    expect(cacheError(root, 'chroots')).toMatchObject({
      code: 'ERR_UVERBS_UNTRUSTED_CACHE',
      path: join(root, 'chroots'),
    });
  });

  it.runIf(process.getuid?.() === 0)('a cache owned by another user is refused', () => {
    const root = mkdtempSync(join(scratch, 'theirs-'));
    chownSync(root, 65534, 65534);
    const e = cacheError(root);
    expect(e).toMatchObject({ code: 'ERR_UVERBS_UNTRUSTED_CACHE', path: root });
    expect((e as Error).message).toMatch(/owned by uid 65534/);
  });

  it(`uverbs vm with such a cache exits 125 before preparing anything`, { timeout: 60_000 }, async () => {
    const root = mkdtempSync(join(scratch, 'cli-'));
    chmodSync(root, 0o777);
    const r = await uverbsIn(process.cwd(), ['vm', '-q', '--', 'true'], {
      env: { ...process.env, UVERBS_CACHE_DIR: root },
    });
    expect(r.status).toBe(125);
    expect(r.stderr).toContain(root);
    expect(readdirSync(root)).toEqual([]);
  });
});

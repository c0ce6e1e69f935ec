/**
 * `uverbs vm --kernel PATH [--modules DIR]` and `--kernel debug`: option
 * parsing, the configuration checks that name a missing CONFIG option
 * before anything boots (fake build trees, modules directories and images
 * made here), and one boot of Debian's 6.12 files laid out as a user's
 * build would be. The debug kernel boots here only when it is already
 * built (the first `uverbs vm --kernel debug` builds it, about 21 minutes);
 * otherwise that test is reported skipped, with the reason.
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  realpathSync,
  rmSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configProblems,
  imageRelease,
  kernelFilesFromPath,
  kernelNeeds,
  openCustomKernel,
  parseKernelConfig,
} from '../src/vm/custom-kernel.js';
import {
  buildDebugKernel,
  cachedDebugKernel,
  DEBUG_CONFIG,
  lockBuild,
  missingOptions,
} from '../src/vm/debug-kernel.js';
import { KernelConfigError } from '../src/vm/errors.js';
import { fetchKernel } from '../src/vm/kernels.js';
import { VM_EXIT } from '../src/vm/run.js';
import { HAS_QEMU, uverbs } from './vm-cli.js';

/** Everything the harness and both devices need, built in: the base every fake config removes one line from. */
const FULL_CONFIG = `${kernelNeeds(['rxe', 'siw'])
  .map((n) => `${n.option}=y`)
  .join('\n')}\nCONFIG_PVH=y\n`;

/** A bzImage as far as the harness reads one: the boot header's magic and kernel_version pointing at the version string. */
function fakeBzImage(release: string): Buffer {
  const image = Buffer.alloc(0x1000);
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt16LE(0x400 - 0x200, 0x20e);
  image.write(`${release} (someone@somewhere) #1 SMP PREEMPT_DYNAMIC\0`, 0x400, 'latin1');
  return image;
}

let dir: string;
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'uverbs-custom-kernel-')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A build tree as `make` leaves one: arch/x86/boot/bzImage, .config, include/config/kernel.release. */
function buildTree(name: string, config: string, release = '6.12.0-custom'): string {
  const tree = join(dir, name);
  mkdirSync(join(tree, 'arch', 'x86', 'boot'), { recursive: true });
  mkdirSync(join(tree, 'include', 'config'), { recursive: true });
  writeFileSync(join(tree, 'arch', 'x86', 'boot', 'bzImage'), fakeBzImage(release));
  writeFileSync(join(tree, '.config'), config);
  writeFileSync(join(tree, 'include', 'config', 'kernel.release'), `${release}\n`);
  return tree;
}

/** lib/modules/RELEASE under an INSTALL_MOD_PATH, with the given built-in and loadable module files listed. */
function modulesRoot(name: string, release: string, builtin: string[], loadable: string[]): string {
  const root = join(dir, name);
  const mods = join(root, 'lib', 'modules', release);
  mkdirSync(mods, { recursive: true });
  writeFileSync(join(mods, 'modules.builtin'), builtin.map((m) => `kernel/drivers/${m}.ko\n`).join(''));
  writeFileSync(join(mods, 'modules.dep'), loadable.map((m) => `kernel/drivers/${m}.ko.xz:\n`).join(''));
  return root;
}

describe('kernel configuration checks', () => {
  it('parses a .config: y, m, values, and "is not set" as n', () => {
    const c = parseKernelConfig('CONFIG_A=y\nCONFIG_B=m\nCONFIG_S="x y"\n# CONFIG_C is not set\n# a comment\n');
    expect([...c]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_B', 'm'],
      ['CONFIG_S', '"x y"'],
      ['CONFIG_C', 'n'],
    ]);
  });

  it('what is needed follows --devs: rxe needs RDMA_RXE, siw needs RDMA_SIW, none needs no RDMA', () => {
    const options = (devs: ('rxe' | 'siw')[]) => kernelNeeds(devs).map((n) => n.option);
    expect(options(['rxe'])).toContain('CONFIG_RDMA_RXE');
    expect(options(['rxe'])).not.toContain('CONFIG_RDMA_SIW');
    expect(options(['siw'])).toContain('CONFIG_RDMA_SIW');
    expect(options([])).not.toContain('CONFIG_INFINIBAND');
    expect(options([])).toEqual(expect.arrayContaining(['CONFIG_9P_FS', 'CONFIG_NET_9P_VIRTIO', 'CONFIG_VIRTIO_NET']));
  });

  it('a build tree without CONFIG_RDMA_RXE: KernelConfigError names it, before anything boots', () => {
    const tree = buildTree('no-rxe', FULL_CONFIG.replace('CONFIG_RDMA_RXE=y\n', '# CONFIG_RDMA_RXE is not set\n'));
    const files = kernelFilesFromPath(tree);
    expect(files.release).toBe('6.12.0-custom');
    expect(() => openCustomKernel(files, ['siw'])).not.toThrow();
    let error: unknown;
    try {
      openCustomKernel(files, ['rxe', 'siw']);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KernelConfigError);
    expect((error as KernelConfigError).code).toBe('ERR_UVERBS_KERNEL_CONFIG');
    expect((error as KernelConfigError).problems.map((p) => p.option)).toEqual(['CONFIG_RDMA_RXE']);
    expect((error as Error).message).toMatch(/^kernel 6\.12\.0-custom lacks CONFIG_RDMA_RXE \(needed for --devs rxe\)/);
  });

  it('a harness option missing (9p) is named with what needs it', () => {
    const tree = buildTree('no-9p', FULL_CONFIG.replace('CONFIG_9P_FS=y\n', ''));
    expect(() => openCustomKernel(kernelFilesFromPath(tree), [])).toThrow(
      /lacks CONFIG_9P_FS \(needed for the harness \(9p root share\)\)/,
    );
  });

  it('a module without --modules, and a module the modules directory lacks, are named', () => {
    const tree = buildTree('rxe-m', FULL_CONFIG.replace('CONFIG_RDMA_RXE=y', 'CONFIG_RDMA_RXE=m'));
    expect(() => openCustomKernel(kernelFilesFromPath(tree), ['rxe'])).toThrow(
      /builds CONFIG_RDMA_RXE as modules but no modules were given \(--modules DIR/,
    );
    const mods = modulesRoot('rxe-m-mods', '6.12.0-custom', [], ['misc/other']);
    expect(() => openCustomKernel(kernelFilesFromPath(tree, mods), ['rxe'])).toThrow(
      /builds CONFIG_RDMA_RXE as a module but its modules directory has no rdma_rxe/,
    );
    const good = modulesRoot('rxe-m-good', '6.12.0-custom', [], ['infiniband/sw/rxe/rdma_rxe']);
    const kernel = openCustomKernel(kernelFilesFromPath(tree, good), ['rxe']);
    expect(kernel.release).toBe('6.12.0-custom');
    expect(kernel.modulesDir).toBe(join(good, 'lib', 'modules', '6.12.0-custom'));
    expect(kernel.root).toBe(good);
  });

  it('a bzImage file with no .config: the modules directory says what is built in or a module', () => {
    const image = join(dir, 'bzImage-only');
    writeFileSync(image, fakeBzImage('6.13.0-rc1'));
    expect(imageRelease(image)).toBe('6.13.0-rc1');
    const needs = kernelNeeds(['rxe']).filter((n) => n.module);
    const builtin = needs.map((n) => `x/${n.module}`);
    const mods = modulesRoot('mods-no-siw', '6.13.0-rc1', builtin, []);
    const files = kernelFilesFromPath(image, join(mods, 'lib', 'modules', '6.13.0-rc1'));
    expect(files.config).toBeUndefined();
    expect(openCustomKernel(files, ['rxe']).release).toBe('6.13.0-rc1');
    expect(() => openCustomKernel(files, ['rxe', 'siw'])).toThrow(
      /^kernel 6\.13\.0-rc1 lacks CONFIG_RDMA_SIW \(needed for --devs siw\) \(configuration: modules\.builtin and modules\.dep in /,
    );
  });

  it('modules built for another release are refused: they would not load', () => {
    const image = join(dir, 'bzImage-mismatch');
    writeFileSync(image, fakeBzImage('6.13.0-a'));
    const mods = modulesRoot('mods-b', '6.13.0-b', [], []);
    expect(() => openCustomKernel(kernelFilesFromPath(image, mods), [])).toThrow(
      /the modules in .* are for 6\.13\.0-b, but the kernel .* is 6\.13\.0-a/,
    );
  });

  it('config-RELEASE beside the image is found (the /boot layout)', () => {
    const boot = join(dir, 'boot');
    mkdirSync(boot);
    writeFileSync(join(boot, 'vmlinuz-6.14.2'), fakeBzImage('6.14.2'));
    writeFileSync(join(boot, 'config-6.14.2'), FULL_CONFIG.replace('CONFIG_RDMA_SIW=y\n', ''));
    const files = kernelFilesFromPath(join(boot, 'vmlinuz-6.14.2'));
    expect(files.config).toBe(join(boot, 'config-6.14.2'));
    expect(() => openCustomKernel(files, ['siw'])).toThrow(/lacks CONFIG_RDMA_SIW \(needed for --devs siw\)/);
  });

  it('boots the ELF vmlinux through PVH when the kernel has CONFIG_PVH, the bzImage when it also has KASAN', () => {
    const elf = (release: string) =>
      Buffer.concat([
        Buffer.from([0x7f, 0x45, 0x4c, 0x46]),
        Buffer.alloc(60),
        Buffer.from(`Linux version ${release} (x@y)\0`),
      ]);
    const pvh = buildTree('pvh', FULL_CONFIG);
    writeFileSync(join(pvh, 'vmlinux'), elf('6.12.0-custom'));
    expect(openCustomKernel(kernelFilesFromPath(pvh), []).vmlinux).toBe(join(pvh, 'vmlinux'));
    const kasan = buildTree('pvh-kasan', `${FULL_CONFIG}CONFIG_KASAN=y\n`);
    writeFileSync(join(kasan, 'vmlinux'), elf('6.12.0-custom'));
    const kernel = openCustomKernel(kernelFilesFromPath(kasan), []);
    expect(kernel.vmlinux).toBeUndefined();
    expect(kernel.vmlinuz).toBe(join(kasan, 'arch', 'x86', 'boot', 'bzImage'));
    // a vmlinux file alone: its banner gives the release; with KASAN it cannot boot, and that is said
    const boot = join(dir, 'elf-boot');
    mkdirSync(boot);
    writeFileSync(join(boot, 'vmlinux'), elf('6.15.0-k'));
    expect(imageRelease(join(boot, 'vmlinux'))).toBe('6.15.0-k');
    writeFileSync(join(boot, '.config'), `${FULL_CONFIG}CONFIG_KASAN=y\n`);
    expect(() => openCustomKernel(kernelFilesFromPath(join(boot, 'vmlinux')), [])).toThrow(
      /is a vmlinux of a kernel with CONFIG_KASAN, which does not boot through its PVH entry.*give the bzImage/,
    );
  });

  it('a vmlinux banner is found by bounded reads: past a 1 MiB read boundary, and in a 3 GiB (sparse) file', () => {
    const elf = join(dir, 'vmlinux-big');
    const fd = openSync(elf, 'w');
    try {
      writeSync(fd, Buffer.from([0x7f, 0x45, 0x4c, 0x46]), 0, 4, 0);
      // the banner cut by the first 1 MiB read
      writeSync(fd, Buffer.from('Linux version 6.16.0-big (x@y)\0', 'latin1'), 0, 31, 1024 * 1024 - 5);
      // more than a Buffer (readFileSync) can hold: only bounded reads work
      ftruncateSync(fd, 3 * 1024 ** 3);
    } finally {
      closeSync(fd);
    }
    expect(imageRelease(elf)).toBe('6.16.0-big');
  });

  it('configProblems skips what a modules-only configuration cannot know (bool options)', () => {
    const partial = { options: new Map([['CONFIG_RDMA_RXE', 'y']]), source: 'x', complete: false };
    expect(configProblems(partial, kernelNeeds(['rxe']), undefined)).toEqual([]);
  });
});

describe('the debug kernel configuration', () => {
  it('asks for KASAN, lockdep, fault injection with debugfs, and the RDMA stack with rxe and siw', () => {
    const c = parseKernelConfig(DEBUG_CONFIG);
    for (const option of [
      'CONFIG_KASAN',
      'CONFIG_KASAN_GENERIC',
      'CONFIG_KASAN_INLINE',
      'CONFIG_PROVE_LOCKING',
      'CONFIG_DEBUG_FS',
      'CONFIG_FAULT_INJECTION',
      'CONFIG_FAILSLAB',
      'CONFIG_FAIL_PAGE_ALLOC',
      'CONFIG_FAULT_INJECTION_DEBUG_FS',
      'CONFIG_FAULT_INJECTION_USERCOPY',
      'CONFIG_INFINIBAND_USER_ACCESS',
      'CONFIG_INFINIBAND_ADDR_TRANS',
      'CONFIG_RDMA_RXE',
      'CONFIG_RDMA_SIW',
      'CONFIG_DEBUG_INFO_NONE',
    ]) {
      expect(c.get(option), option).toBe('y');
    }
    // everything the harness and both devices need, built in
    expect(
      configProblems({ options: c, source: 'fragment', complete: true }, kernelNeeds(['rxe', 'siw']), undefined),
    ).toEqual([]);
  });

  it('an option olddefconfig dropped is named with what it got', () => {
    const config = parseKernelConfig(DEBUG_CONFIG.replace('CONFIG_FAILSLAB=y', '# CONFIG_FAILSLAB is not set'));
    expect(missingOptions(DEBUG_CONFIG, config)).toEqual(['CONFIG_FAILSLAB (wanted y, got n)']);
    config.delete('CONFIG_WERROR');
    expect(missingOptions(DEBUG_CONFIG, config)).toEqual(['CONFIG_FAILSLAB (wanted y, got n)']);
  });
});

describe('the debug kernel in the cache', () => {
  /** A complete build record in a fake cache: build.json and the files it names. */
  function fakeBuild(cache: string, version: string, hash: string, mtime: number): string {
    const d = join(cache, 'kernels', `debug-${version}-${hash}`);
    const release = `${version.split('-')[0]}-uverbs-debug`;
    const modulesDir = join(d, 'root', 'lib', 'modules', release);
    mkdirSync(modulesDir, { recursive: true });
    for (const f of ['bzImage', 'vmlinux', 'config']) writeFileSync(join(d, f), '');
    writeFileSync(join(modulesDir, 'modules.dep'), '');
    const build = {
      dir: d,
      release,
      sourceVersion: version,
      vmlinux: join(d, 'vmlinux'),
      bzImage: join(d, 'bzImage'),
      config: join(d, 'config'),
      root: join(d, 'root'),
      modulesDir,
      buildSeconds: 1,
    };
    writeFileSync(join(d, 'build.json'), JSON.stringify(build));
    utimesSync(join(d, 'build.json'), mtime, mtime);
    return d;
  }

  it('the newest complete build of this fragment is used as is: apt is not asked, nothing is fetched or built', {
    timeout: 60_000,
  }, () => {
    const cache = join(dir, 'fake-cache');
    mkdirSync(cache, { mode: 0o700 });
    const hash = createHash('sha256').update(DEBUG_CONFIG).digest('hex').slice(0, 12);
    fakeBuild(cache, '6.1.170-1', hash, 1_000_000);
    const newest = fakeBuild(cache, '6.1.172-1', hash, 2_000_000);
    fakeBuild(cache, '6.1.199-1', 'another0hash', 3_000_000);
    // an unfinished build (no build.json) of a later version is not complete
    mkdirSync(join(cache, 'kernels', `debug-6.1.180-1-${hash}`, 'src'), { recursive: true });
    const saved = { cache: process.env.UVERBS_CACHE_DIR, proxy: process.env.http_proxy };
    process.env.UVERBS_CACHE_DIR = cache;
    // were apt asked, it would fail at once rather than reach the network
    process.env.http_proxy = 'http://127.0.0.1:9';
    try {
      expect(cachedDebugKernel()?.dir).toBe(newest);
      expect(buildDebugKernel().dir).toBe(newest);
      expect(existsSync(join(cache, 'apt')), 'apt state made in the cache').toBe(false);
    } finally {
      for (const [k, v] of [
        ['UVERBS_CACHE_DIR', saved.cache],
        ['http_proxy', saved.proxy],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('the debug kernel build lock', () => {
  /** A node process that takes the lock on each of `dirs` through the built library (dist/), with a script of its own. */
  function locker(script: string, ...args: string[]) {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, resolve('dist/src/vm/debug-kernel.js'), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    const exited = new Promise<string>((done) => child.once('exit', () => done(out)));
    return { child, exited, output: () => out };
  }

  it('two builders racing for a lock a killed builder left: never both hold it at once', {
    timeout: 120_000,
  }, async () => {
    const rounds = 40;
    const slot = 150;
    const dirs = Array.from({ length: rounds }, (_, r) => {
      const d = join(dir, 'debug-race', String(r));
      mkdirSync(d, { recursive: true });
      return d;
    });
    // a builder that took every lock and was killed part way (SIGKILL: no cleanup)
    const killed = locker(
      `const { lockBuild } = await import(process.argv[1]);
       for (const d of process.argv.slice(2)) lockBuild(d);
       console.log('ready'); setInterval(() => {}, 1000);`,
      ...dirs,
    );
    while (!killed.output().includes('ready')) {
      if (killed.child.exitCode !== null) throw new Error(killed.output());
      await new Promise((r) => setTimeout(r, 20));
    }
    killed.child.kill('SIGKILL');
    await killed.exited;
    // two builders, each trying every lock at the same instant, holding what it got until the end of the slot
    const start = Date.now() + 1500;
    const racer = `
      const { lockBuild } = await import(process.argv[1]);
      const [start, slot, ...dirs] = process.argv.slice(2);
      const now = () => performance.timeOrigin + performance.now();
      const out = [];
      for (let r = 0; r < dirs.length; r++) {
        const at = Number(start) + r * Number(slot);
        while (now() < at) {}
        try {
          const unlock = lockBuild(dirs[r]);
          const got = now();
          while (now() < at + Number(slot) - 30) {}
          out.push({ r, got, released: now() });
          unlock();
        } catch (e) {
          out.push({ r, refused: String(e.message) });
        }
      }
      console.log(JSON.stringify(out));`;
    const a = locker(racer, String(start), String(slot), ...dirs);
    const b = locker(racer, String(start), String(slot), ...dirs);
    const results = (await Promise.all([a.exited, b.exited])).map(
      (o) =>
        JSON.parse(o.trim().split('\n').at(-1) as string) as {
          r: number;
          got?: number;
          released?: number;
          refused?: string;
        }[],
    );
    const pids = [a.child.pid, b.child.pid];
    let overlaps = 0;
    for (let r = 0; r < rounds; r++) {
      const [x, y] = results.map((o) => o.find((e) => e.r === r));
      expect(x?.got !== undefined || y?.got !== undefined, `round ${r}: ${JSON.stringify([x, y])}`).toBe(true);
      if (x?.got !== undefined && y?.got !== undefined) {
        if (x.got < (y.released as number) && y.got < (x.released as number)) overlaps++;
      }
      for (const [i, e] of [x, y].entries()) {
        if (e?.refused !== undefined)
          expect(e.refused).toMatch(new RegExp(`being built by (process ${pids[1 - i]}|another process) `));
      }
    }
    expect(overlaps, 'rounds in which both builders held the lock at once').toBe(0);
  });

  it("a second build while one runs is refused naming its pid; a killed builder's lock is free", async () => {
    const place = join(dir, 'debug-lock');
    mkdirSync(place);
    const holder = locker(
      `const { lockBuild } = await import(process.argv[1]);
       lockBuild(process.argv[2]); console.log('ready'); setInterval(() => {}, 1000);`,
      place,
    );
    try {
      while (!holder.output().includes('ready')) {
        if (holder.child.exitCode !== null) throw new Error(holder.output());
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(() => lockBuild(place)).toThrow(new RegExp(`being built by process ${holder.child.pid} `));
    } finally {
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
    const unlock = lockBuild(place);
    expect(() => lockBuild(place)).toThrow(new RegExp(`being built by process ${process.pid} `));
    unlock();
    lockBuild(place)();
  });
});

describe('uverbs vm --kernel PATH usage', () => {
  it(`a build tree without CONFIG_RDMA_RXE exits ${VM_EXIT.SETUP_FAILED} naming it, without booting`, async () => {
    const tree = buildTree('cli-no-rxe', FULL_CONFIG.replace('CONFIG_RDMA_RXE=y\n', ''));
    const r = await uverbs('vm', '-q', '--kernel', tree, '--devs', 'rxe', '--', 'true');
    expect(r.stderr).toMatch(/^uverbs vm: kernel 6\.12\.0-custom lacks CONFIG_RDMA_RXE \(needed for --devs rxe\)/);
    expect(r.status).toBe(VM_EXIT.SETUP_FAILED);
  });

  it.each([
    [['--kernel', '5.10'], /--kernel must be one of 6\.1, 6\.12, 7, debug, or the path of a kernel/],
    [['--kernel', './no-such-tree'], /--kernel \.\/no-such-tree: no such file or directory/],
    [['--kernel', '6.12', '--modules', '/'], /--modules goes with --kernel PATH/],
    [['--kernel', 'debug', '--modules', '/'], /--modules goes with --kernel PATH/],
    [['--kernel', '/', '--modules', '/no/such/dir'], /--modules \/no\/such\/dir: no such directory/],
    [['--kernel', '6.1', '--rebuild-debug'], /--rebuild-debug goes with --kernel debug \(got --kernel 6\.1\)/],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const r = await uverbs('vm', ...args, '--', 'true');
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });

  it('--help documents --kernel PATH, --modules, --kernel debug and --rebuild-debug', async () => {
    const r = await uverbs('vm', '--help');
    expect(r.stdout).toMatch(/--kernel PATH/);
    expect(r.stdout).toMatch(/--modules DIR/);
    expect(r.stdout).toMatch(/--kernel debug/);
    // the measured first build, as the README says, and how to ask for a new one
    expect(r.stdout).toMatch(/builds it \(20 min 45 s on two CPUs here\)/);
    expect(r.stdout).toMatch(/--rebuild-debug {3}with --kernel debug: ask apt/);
  });
});

describe.runIf(HAS_QEMU)('uverbs vm --kernel PATH boots a kernel from a path', () => {
  it("Debian's 6.12 laid out as a user's build tree, its modules via --modules: uname -r is its release, rxe0 is up, debugfs is mounted", {
    timeout: 900_000,
  }, async () => {
    const debian = fetchKernel('6.12');
    const tree = join(dir, 'debian-6.12-tree');
    mkdirSync(join(tree, 'arch', 'x86', 'boot'), { recursive: true });
    copyFileSync(debian.vmlinuz, join(tree, 'arch', 'x86', 'boot', 'bzImage'));
    copyFileSync(join(debian.root, 'boot', `config-${debian.release}`), join(tree, '.config'));
    const r = await uverbs(
      'vm',
      '-q',
      '--kernel',
      tree,
      '--modules',
      debian.modulesDir,
      '--devs',
      'rxe',
      '--',
      'sh',
      '-c',
      'uname -r; ls /sys/class/infiniband; grep -c " /sys/kernel/debug debugfs " /proc/mounts',
    );
    expect(r.stderr).toBe('');
    // the guest mounts debugfs where the kernel has it (Debian's does)
    expect(r.stdout.trim().split('\n')).toEqual([debian.release, 'rxe0', '1']);
    expect(r.status).toBe(0);
  });
});

/** The debug kernel if built (the cache only: no apt, no network), or why its boot test is skipped. */
function builtDebugKernel(): { build?: ReturnType<typeof cachedDebugKernel>; skip?: string } {
  if (!HAS_QEMU) return { skip: 'no qemu-system-x86_64 on this machine' };
  try {
    const build = cachedDebugKernel();
    return build
      ? { build }
      : { skip: 'the debug kernel is not built (uverbs vm --kernel debug builds it, ~21 min on two CPUs)' };
  } catch (error) {
    return { skip: `the uverbs cache cannot be read: ${(error as Error).message}` };
  }
}

const debugKernel = builtDebugKernel();

describe('uverbs vm --kernel debug (already built)', () => {
  it('boots with failslab in debugfs, fail-nth, KASAN and lockdep, rxe0 and siw0', {
    timeout: 900_000,
  }, async (ctx) => {
    if (debugKernel.skip !== undefined) {
      process.stderr.write(`skipped: ${debugKernel.skip}\n`);
      ctx.skip(debugKernel.skip);
    }
    const r = await uverbs(
      'vm',
      '-q',
      '--kernel',
      'debug',
      '--devs',
      'rxe,siw',
      '--',
      'sh',
      '-c',
      'uname -r; ls -d /sys/kernel/debug/failslab; cat /proc/self/fail-nth; ls /sys/class/infiniband; dmesg | grep -c -e "KernelAddressSanitizer initialized" -e "Lock dependency validator"',
    );
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      debugKernel.build?.release,
      '/sys/kernel/debug/failslab',
      '0',
      'rxe0',
      'siw0',
      '2',
    ]);
    expect(r.status).toBe(0);
  });
});

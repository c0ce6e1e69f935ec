/**
 * `uverbs vm --kernel PATH [--modules DIR]` and `--kernel debug`: option
 * parsing, the configuration checks that name a missing CONFIG option
 * before anything boots (fake build trees, modules directories and images
 * made here), and one boot of Debian's 6.12 files laid out as a user's
 * build would be. The debug kernel boots here only when it is already
 * built (the first `uverbs vm --kernel debug` builds it; most of an hour).
 */

import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configProblems,
  imageRelease,
  kernelFilesFromPath,
  kernelNeeds,
  openCustomKernel,
  parseKernelConfig,
} from '../src/vm/custom-kernel.js';
import { cachedDebugKernel, DEBUG_CONFIG, lockBuild, missingOptions } from '../src/vm/debug-kernel.js';
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

describe('the debug kernel build lock', () => {
  it("a second build while one runs is refused naming its pid; a dead builder's lock is taken over", async () => {
    const place = join(dir, 'debug-lock');
    mkdirSync(place);
    const builder = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      writeFileSync(join(place, 'building.pid'), String(builder.pid));
      expect(() => lockBuild(place)).toThrow(new RegExp(`being built by process ${builder.pid} `));
    } finally {
      builder.kill('SIGKILL');
      await new Promise((r) => builder.once('exit', r));
    }
    const unlock = lockBuild(place);
    expect(readFileSync(join(place, 'building.pid'), 'utf8')).toBe(String(process.pid));
    unlock();
    expect(existsSync(join(place, 'building.pid'))).toBe(false);
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
  ])('%j exits 2 with a clear message', async (args, message) => {
    const r = await uverbs('vm', ...args, '--', 'true');
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });

  it('--help documents --kernel PATH, --modules and --kernel debug', async () => {
    const r = await uverbs('vm', '--help');
    expect(r.stdout).toMatch(/--kernel PATH/);
    expect(r.stdout).toMatch(/--modules DIR/);
    expect(r.stdout).toMatch(/--kernel debug/);
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

function builtDebugKernel() {
  try {
    return HAS_QEMU ? cachedDebugKernel() : undefined;
  } catch {
    return undefined;
  }
}

const debugKernel = builtDebugKernel();

describe.runIf(debugKernel !== undefined)('uverbs vm --kernel debug (already built)', () => {
  it('boots with failslab in debugfs, fail-nth, KASAN and lockdep, rxe0 and siw0', { timeout: 900_000 }, async () => {
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
      debugKernel?.release,
      '/sys/kernel/debug/failslab',
      '0',
      'rxe0',
      'siw0',
      '2',
    ]);
    expect(r.status).toBe(0);
  });
});

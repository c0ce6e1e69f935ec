/**
 * Kernels the user built (`uverbs vm --kernel PATH [--modules DIR]`), and
 * the debug kernel (debug-kernel.ts), which takes the same way in.
 *
 * PATH is a kernel build tree (its `arch/x86/boot/bzImage`, `vmlinux`,
 * `.config` and `include/config/kernel.release`) or a bzImage or vmlinux
 * file. DIR holds its modules as `make modules_install
 * INSTALL_MOD_PATH=DIR` left them: DIR itself, or DIR/lib/modules/VERSION.
 *
 * Before anything boots, the kernel's configuration is checked for what the
 * harness and the asked-for RDMA devices need ({@link kernelNeeds}), each
 * as a module or built in, and a missing option is named
 * ({@link KernelConfigError}). The configuration is the build tree's
 * `.config`, else a `config-RELEASE` or `.config` beside the image, else the
 * modules' `build/.config` (modules_install links `build` to the tree),
 * else what the modules directory says (modules.builtin and modules.dep:
 * tristate options only).
 *
 * siw on such a kernel is the kernel's own (CONFIG_RDMA_SIW); only Debian's
 * packaged kernels get the out-of-tree build of siw.ts.
 */

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cacheDir, type Progress } from './apt.js';
import { KernelConfigError, type KernelConfigProblem, VmSetupError } from './errors.js';
import { extractVmlinux, type Kernel } from './kernels.js';
import type { RdmaDevice } from './run.js';

/** A kernel option the guest needs: a tristate's module name, when it is one. */
export interface KernelNeed {
  option: string;
  /** The module a tristate option builds (its name as modprobe knows it). */
  module?: string;
  /** What needs it, in words: `the harness (9p root share)`, `--devs siw`. */
  neededFor: string;
}

const HARNESS_NEEDS: readonly KernelNeed[] = [
  { option: 'CONFIG_BLK_DEV_INITRD', neededFor: 'the harness (its initramfs)' },
  { option: 'CONFIG_DEVTMPFS', neededFor: 'the harness (/dev in the guest)' },
  { option: 'CONFIG_TMPFS', neededFor: 'the harness (/tmp and /run in the guest)' },
  { option: 'CONFIG_VIRTIO_PCI', module: 'virtio_pci', neededFor: 'the harness (virtio devices)' },
  { option: 'CONFIG_VIRTIO_NET', module: 'virtio_net', neededFor: 'the harness (the NIC rxe and siw run on)' },
  { option: 'CONFIG_VIRTIO_CONSOLE', module: 'virtio_console', neededFor: "the harness (the command's output)" },
  { option: 'CONFIG_NET_9P', module: '9pnet', neededFor: 'the harness (9p root share)' },
  { option: 'CONFIG_NET_9P_VIRTIO', module: '9pnet_virtio', neededFor: 'the harness (9p root share)' },
  { option: 'CONFIG_9P_FS', module: '9p', neededFor: 'the harness (9p root share)' },
];

const DEVICE_NEEDS: Record<RdmaDevice, KernelNeed> = {
  rxe: { option: 'CONFIG_RDMA_RXE', module: 'rdma_rxe', neededFor: '--devs rxe' },
  siw: { option: 'CONFIG_RDMA_SIW', module: 'siw', neededFor: '--devs siw' },
};

/** What a kernel must have for the harness and for `devs`, in the order they are checked. */
export function kernelNeeds(devs: readonly RdmaDevice[]): KernelNeed[] {
  const needs = [...HARNESS_NEEDS];
  if (devs.length > 0) {
    const forDevs = `--devs ${devs.join(',')}`;
    needs.push(
      { option: 'CONFIG_INFINIBAND', module: 'ib_core', neededFor: forDevs },
      {
        option: 'CONFIG_INFINIBAND_USER_ACCESS',
        module: 'ib_uverbs',
        neededFor: `${forDevs} (/dev/infiniband/uverbs*)`,
      },
    );
  }
  for (const d of devs) needs.push(DEVICE_NEEDS[d]);
  return needs;
}

/** The options of a kernel .config (or fragment): `CONFIG_X` to `y`, `m`, a value, or `n` ("is not set"). */
export function parseKernelConfig(text: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set?.[1] && set[2] !== undefined) options.set(set[1], set[2]);
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset?.[1]) options.set(unset[1], 'n');
  }
  return options;
}

/** A kernel's configuration as far as it is known, and where it came from. */
export interface KernelConfig {
  options: Map<string, string>;
  /** A file, or `modules.builtin and modules.dep in DIR`. */
  source: string;
  /** False when read off the modules: only tristate options are known (others are not checked). */
  complete: boolean;
}

/** The modules a modules directory holds: names (with `-` as `_`) to `y` (modules.builtin) or `m` (modules.dep). */
function modulesIn(modulesDir: string): Map<string, 'y' | 'm'> {
  const out = new Map<string, 'y' | 'm'>();
  const name = (path: string) =>
    basename(path)
      .replace(/\.ko(\.\w+)?$/, '')
      .replaceAll('-', '_');
  const read = (file: string) =>
    existsSync(join(modulesDir, file)) ? readFileSync(join(modulesDir, file), 'utf8') : '';
  for (const line of read('modules.builtin').split('\n')) if (line.trim()) out.set(name(line.trim()), 'y');
  for (const line of read('modules.dep').split('\n')) {
    const file = line.split(':')[0]?.trim();
    if (file) out.set(name(file), 'm');
  }
  return out;
}

/** Tristate options as the modules directory shows them: built in, a module, or (neither) not set. */
function configFromModules(modulesDir: string): KernelConfig {
  const modules = modulesIn(modulesDir);
  const options = new Map<string, string>();
  for (const need of [...kernelNeeds(['rxe', 'siw'])]) {
    if (need.module) options.set(need.option, modules.get(need.module) ?? 'n');
  }
  return { options, source: `modules.builtin and modules.dep in ${modulesDir}`, complete: false };
}

/**
 * What `config` lacks of `needs`: options neither built in nor a module,
 * and modules the modules directory does not hold (or no directory given).
 * An option a partial configuration does not know is not checked.
 */
export function configProblems(
  config: KernelConfig,
  needs: readonly KernelNeed[],
  modulesDir: string | undefined,
): KernelConfigProblem[] {
  const problems: KernelConfigProblem[] = [];
  const modules = modulesDir && existsSync(modulesDir) ? modulesIn(modulesDir) : undefined;
  for (const need of needs) {
    const value = config.options.get(need.option);
    if (value === undefined && !config.complete) continue;
    if (value !== 'y' && value !== 'm') {
      problems.push({ ...need, problem: 'not set' });
    } else if (value === 'm' && need.module && modules?.get(need.module) !== 'm') {
      problems.push({ ...need, problem: modules ? 'module missing' : 'no modules' });
    }
  }
  return problems;
}

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(ELF_MAGIC);
  } finally {
    closeSync(fd);
  }
}

/** How far into a vmlinux its banner is looked for: it sits in .rodata, within the first few tens of MB. */
const BANNER_SCAN_LIMIT = 256 * 1024 * 1024;

/** The offset of `needle` in `fd` from byte 0, read in bounded chunks (never the whole file), or -1. */
function findInFile(fd: number, needle: Buffer, limit: number): number {
  const chunk = Buffer.alloc(1024 * 1024 + needle.length);
  let carried = 0; // bytes at the chunk's start kept from the previous read
  let position = 0; // the file offset of chunk[carried]
  while (position < limit) {
    const n = readSync(fd, chunk, carried, chunk.length - carried, position);
    if (n === 0) return -1;
    const filled = carried + n;
    const at = chunk.subarray(0, filled).indexOf(needle);
    if (at >= 0) return position - carried + at;
    position += n;
    // the last needle.length - 1 bytes may begin a match the next read completes
    carried = Math.min(needle.length - 1, filled);
    chunk.copy(chunk, 0, filled - carried, filled);
  }
  return -1;
}

/** The release (`uname -r`) a bzImage (its header's version string) or a vmlinux (its banner) names. */
export function imageRelease(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(64 * 1024);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n >= 0x210 && head.toString('latin1', 0x202, 0x206) === 'HdrS') {
      // boot protocol: kernel_version at 0x20e is the version string's offset minus 0x200
      const at = head.readUInt16LE(0x20e) + 0x200;
      const end = head.indexOf(0, at);
      if (at > 0x200 && end > at) return /^(\S+)/.exec(head.toString('latin1', at, end))?.[1];
    }
    if (n >= 4 && head.subarray(0, 4).equals(ELF_MAGIC)) {
      // the banner only, read in bounded chunks: a debug vmlinux is over 100 MB
      const banner = findInFile(fd, Buffer.from('Linux version ', 'latin1'), BANNER_SCAN_LIMIT);
      if (banner < 0) return undefined;
      const text = Buffer.alloc(200);
      const got = readSync(fd, text, 0, text.length, banner);
      return /^Linux version (\S+)/.exec(text.toString('latin1', 0, got))?.[1];
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** A kernel the user names, as files: the caller (CLI, debug kernel) found them, nothing checked yet. */
export interface KernelFiles {
  /** What the user gave (for messages). */
  origin: string;
  /** The bzImage, or the vmlinux when that is all there is. */
  image: string;
  /** The ELF vmlinux beside it (a build tree's), if any. */
  vmlinux?: string;
  /** The kernel's .config, if found. */
  config?: string;
  /** The release, when the files say it (a build tree's include/config/kernel.release). */
  release?: string;
  /** lib/modules/<release>, if the kernel has modules. */
  modulesDir?: string;
}

const RELEASE = /^[0-9][A-Za-z0-9._+~-]*$/;

function isModulesDir(dir: string): boolean {
  return ['modules.dep', 'modules.order', 'modules.builtin', 'kernel'].some((f) => existsSync(join(dir, f)));
}

/**
 * `--modules DIR`: lib/modules/VERSION itself, or an INSTALL_MOD_PATH
 * holding lib/modules/VERSION (or usr/lib/modules/VERSION); `release` picks
 * among several.
 */
export function findModulesDir(dir: string, release?: string): string {
  if (isModulesDir(dir)) return dir;
  for (const sub of ['lib/modules', 'usr/lib/modules']) {
    const top = join(dir, sub);
    if (!existsSync(top)) continue;
    const versions = readdirSync(top).filter((v) => isModulesDir(join(top, v)));
    if (release && versions.includes(release)) return join(top, release);
    if (versions.length === 1) return join(top, versions[0] as string);
    if (versions.length > 1) {
      throw new VmSetupError(
        `--modules ${dir} holds modules for ${versions.join(', ')}: name one (--modules ${top}/VERSION)`,
      );
    }
  }
  throw new VmSetupError(
    `--modules ${dir}: neither a lib/modules/VERSION directory (no modules.dep, modules.order or kernel/) nor a make modules_install INSTALL_MOD_PATH holding lib/modules/VERSION`,
  );
}

/**
 * The files of `--kernel PATH [--modules DIR]`: a build tree (a directory
 * with arch/x86/boot/bzImage) or a bzImage or vmlinux file.
 */
export function kernelFilesFromPath(path: string, modules?: string): KernelFiles {
  if (!existsSync(path)) throw new VmSetupError(`--kernel ${path}: no such file or directory`);
  const files: KernelFiles = { origin: path, image: path };
  if (statSync(path).isDirectory()) {
    const bzImage = join(path, 'arch', 'x86', 'boot', 'bzImage');
    if (!existsSync(bzImage)) {
      throw new VmSetupError(
        `--kernel ${path}: a directory but no kernel build tree (no arch/x86/boot/bzImage: run make)`,
      );
    }
    files.image = bzImage;
    if (existsSync(join(path, 'vmlinux'))) files.vmlinux = join(path, 'vmlinux');
    if (existsSync(join(path, '.config'))) files.config = join(path, '.config');
    const releaseFile = join(path, 'include', 'config', 'kernel.release');
    if (existsSync(releaseFile)) files.release = readFileSync(releaseFile, 'utf8').trim();
  }
  const release = files.release ?? imageRelease(files.image);
  if (modules !== undefined) {
    if (!existsSync(modules)) throw new VmSetupError(`--modules ${modules}: no such directory`);
    files.modulesDir = findModulesDir(modules, release);
  }
  if (!files.config) {
    const beside = dirname(files.image);
    const candidates = [
      ...(release ? [join(beside, `config-${release}`)] : []),
      join(beside, '.config'),
      ...(files.modulesDir ? [join(files.modulesDir, 'build', '.config')] : []),
      ...(files.modulesDir && release ? [join(files.modulesDir, '..', '..', '..', 'boot', `config-${release}`)] : []),
    ];
    files.config = candidates.find((c) => existsSync(c));
  }
  return files;
}

function sha(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Checks a user's kernel against what the harness and `devs` need and
 * makes it bootable: its release worked out (the files', the image's, the
 * modules directory's name, which must agree), its modules under a root
 * modprobe can read (`ROOT/lib/modules/RELEASE`, a link in the cache when
 * DIR is not laid out so), the ELF vmlinux for a PVH boot when the kernel
 * has CONFIG_PVH (and not CONFIG_KASAN: the bzImage then). Throws {@link KernelConfigError} naming each missing
 * option, VmSetupError when the files do not make a kernel.
 */
export function openCustomKernel(
  files: KernelFiles,
  devs: readonly RdmaDevice[],
  progress: Progress = () => {},
): Kernel {
  const fromImage = imageRelease(files.image);
  const fromModules = files.modulesDir ? basename(files.modulesDir) : undefined;
  const release = files.release ?? fromImage ?? fromModules;
  if (!release || !RELEASE.test(release)) {
    throw new VmSetupError(
      `${files.origin}: cannot tell the kernel release (no include/config/kernel.release, no version string in ${files.image}, no --modules)`,
    );
  }
  if (fromModules !== undefined && fromModules !== release) {
    throw new VmSetupError(
      `the modules in ${files.modulesDir} are for ${fromModules}, but the kernel ${files.image} is ${release}: they would not load`,
    );
  }
  if (files.modulesDir && !existsSync(join(files.modulesDir, 'modules.dep'))) {
    throw new VmSetupError(
      `${files.modulesDir} has no modules.dep: run depmod (make modules_install runs it when depmod is installed)`,
    );
  }

  let config: KernelConfig;
  if (files.config) {
    config = { options: parseKernelConfig(readFileSync(files.config, 'utf8')), source: files.config, complete: true };
  } else if (files.modulesDir) {
    config = configFromModules(files.modulesDir);
  } else {
    throw new VmSetupError(
      `${files.origin}: cannot find kernel ${release}'s configuration (no .config in a build tree, no config-${release} or .config beside the image, no --modules DIR)`,
    );
  }
  const problems = configProblems(config, kernelNeeds(devs), files.modulesDir);
  if (problems.length > 0) throw new KernelConfigError(release, config.source, problems);
  progress(`vm: kernel ${release} from ${files.origin} (configuration: ${config.source})`);

  // modprobe -d ROOT reads ROOT/lib/modules/RELEASE: the user's own root when laid out so, else a link in the cache
  let root: string;
  let modulesDir: string;
  if (files.modulesDir) {
    const real = realpathSync(files.modulesDir);
    const above = dirname(dirname(real));
    if (basename(dirname(real)) === 'modules' && basename(above) === 'lib') {
      root = dirname(above);
      modulesDir = real;
    } else {
      root = cacheDir('kernels', 'custom', sha(real));
      mkdirSync(join(root, 'lib', 'modules'), { recursive: true });
      modulesDir = join(root, 'lib', 'modules', release);
      rmSync(modulesDir, { force: true });
      symlinkSync(real, modulesDir);
    }
  } else {
    root = cacheDir('kernels', 'custom', 'no-modules');
    modulesDir = join(root, 'lib', 'modules', release);
  }

  // QEMU boots an ELF kernel only through its PVH entry; a bzImage boots either way (PVH is faster under TCG).
  // A KASAN kernel (the debug kernel) stops at once through the PVH entry, without a line on the console
  // (seen on 6.1: arch/x86/platform/pvh is instrumented and runs before KASAN's shadow exists): bzImage.
  const kasan = config.options.get('CONFIG_KASAN') === 'y';
  const pvh = config.options.get('CONFIG_PVH') === 'y' && !kasan;
  let vmlinux: string | undefined;
  if (isElf(files.image)) {
    if (!pvh && config.complete) {
      throw new VmSetupError(
        `${files.image} is a vmlinux of a kernel ${kasan ? 'with CONFIG_KASAN, which does not boot through its PVH entry' : 'without CONFIG_PVH'}: QEMU boots an ELF kernel only through its PVH entry; give the bzImage`,
      );
    }
    vmlinux = files.image;
  } else if (pvh) {
    vmlinux =
      files.vmlinux ??
      extractVmlinux(
        files.image,
        join(cacheDir('kernels', 'custom'), `vmlinux-${sha(readFileSync(files.image))}`),
        progress,
      );
  }
  return { release, root, vmlinuz: files.image, vmlinux, modulesDir };
}

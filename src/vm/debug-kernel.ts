/**
 * The debug kernel (`uverbs vm --kernel debug`): Debian bookworm's
 * linux-source-6.1 built once with KASAN, lockdep, fault injection
 * (failslab, fail_page_alloc, fail-nth) and debugfs, the RDMA stack and
 * everything the guest needs built in, and cached under the uverbs cache
 * keyed by the source package's version and {@link DEBUG_CONFIG}'s hash: a
 * second run builds nothing and asks apt nothing (the newest complete build
 * for the fragment is used, whatever bookworm's current linux-source is);
 * only a rebuild (`uverbs vm --kernel debug --rebuild-debug`) asks apt for
 * the current version and builds it.
 *
 * The build runs in a minimal bookworm chroot (debootstrap, like siw.ts's),
 * so the compiler is the one Debian builds 6.1 with (gcc-12), at `nice 19`
 * with `make -j` as many jobs as this machine has CPUs. The tree, its build
 * log, the installed modules and the images stay in the cache:
 *
 *     kernels/debug-<source version>-<config hash>/
 *       src/          the kernel tree (built in place), build.log
 *       root/lib/modules/<release>/   modules_install + depmod
 *       vmlinux bzImage config build.json
 *
 * The configuration is x86_64_defconfig, then kvm_guest.config, then
 * {@link DEBUG_CONFIG}; every option the fragment asks for is checked in the
 * resulting .config (olddefconfig silently drops an option whose
 * dependencies are missing) and a missing one fails the build by name.
 */

import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cacheDir, PrivateApt, type Progress } from './apt.js';
import { type KernelFiles, parseKernelConfig } from './custom-kernel.js';
import { VmSetupError } from './errors.js';
import { suiteChroot } from './siw.js';
import { runTool, TOOL_TIMEOUT } from './tools.js';

/** The Debian release whose linux-source the debug kernel is built from, and its series. */
export const DEBUG_SUITE = 'bookworm';
export const DEBUG_SERIES = '6.1';

/** What the chroot needs to build a whole kernel (not only a module, as siw.ts's does). */
const BUILD_PACKAGES = [
  'gcc',
  'make',
  'flex',
  'bison',
  'bc',
  'perl',
  'libc6-dev',
  'libelf-dev',
  'libssl-dev',
  'kmod',
  'xz-utils',
  'cpio',
];

/**
 * The configuration fragment merged over x86_64_defconfig and
 * kvm_guest.config. Built in, so the guest loads no module for them: the
 * guest's own needs (virtio PCI, net and console, 9p over virtio, devtmpfs,
 * tmpfs, PVH boot of the ELF vmlinux), the RDMA stack (uverbs, umad, the
 * CM's address translation, rxe, siw, ODP) with the crc32/crc32c they use,
 * dummy netdevs; then the debugging: KASAN (generic, inline), lockdep
 * (PROVE_LOCKING), debugfs and fault injection (failslab,
 * fail_page_alloc, usercopy, /proc/<pid>/make-it-fail and fail-nth). No
 * debug info (build time), and drivers the guest never sees are off (DRM,
 * sound, USB, Ethernet, wireless, netfilter) to shorten the build.
 */
export const DEBUG_CONFIG = `
CONFIG_LOCALVERSION="-uverbs-debug"
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_PVH=y
CONFIG_DEVTMPFS=y
CONFIG_TMPFS=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_VIRTIO=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_CONSOLE=y
CONFIG_NET_9P=y
CONFIG_NET_9P_VIRTIO=y
CONFIG_9P_FS=y
CONFIG_9P_FS_POSIX_ACL=y
CONFIG_DUMMY=y
CONFIG_INET=y
CONFIG_IPV6=y
CONFIG_CRYPTO_CRC32=y
CONFIG_CRYPTO_CRC32C=y
CONFIG_LIBCRC32C=y
CONFIG_INFINIBAND=y
CONFIG_INFINIBAND_USER_MAD=y
CONFIG_INFINIBAND_USER_ACCESS=y
CONFIG_INFINIBAND_ON_DEMAND_PAGING=y
CONFIG_INFINIBAND_ADDR_TRANS=y
CONFIG_CONFIGFS_FS=y
CONFIG_INFINIBAND_ADDR_TRANS_CONFIGFS=y
CONFIG_RDMA_RXE=y
CONFIG_RDMA_SIW=y
CONFIG_DEBUG_KERNEL=y
CONFIG_DEBUG_INFO_NONE=y
CONFIG_DEBUG_FS=y
CONFIG_DEBUG_FS_ALLOW_ALL=y
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y
CONFIG_KASAN_INLINE=y
CONFIG_PROVE_LOCKING=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_FAULT_INJECTION=y
CONFIG_FAILSLAB=y
CONFIG_FAIL_PAGE_ALLOC=y
CONFIG_FAULT_INJECTION_USERCOPY=y
CONFIG_FAULT_INJECTION_DEBUG_FS=y
# CONFIG_WERROR is not set
# CONFIG_DRM is not set
# CONFIG_SOUND is not set
# CONFIG_USB_SUPPORT is not set
# CONFIG_ETHERNET is not set
# CONFIG_WLAN is not set
# CONFIG_WIRELESS is not set
# CONFIG_NETFILTER is not set
`.trimStart();

/** The options of `fragment` that `config` does not carry as asked, each with what it got. */
export function missingOptions(fragment: string, config: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [name, value] of parseKernelConfig(fragment)) {
    const got = config.get(name) ?? 'n';
    if (got !== value) out.push(`${name} (wanted ${value}, got ${got})`);
  }
  return out;
}

export interface DebugKernelBuild {
  /** Where everything lives: kernels/debug-<version>-<hash>. */
  dir: string;
  release: string;
  /** linux-source package version the tree came from. */
  sourceVersion: string;
  vmlinux: string;
  bzImage: string;
  config: string;
  /** Root holding lib/modules/<release>. */
  root: string;
  modulesDir: string;
  /** Seconds the (first) build took, all stages. */
  buildSeconds: number;
}

function elapsed(since: number): string {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** The first 12 hex digits of {@link DEBUG_CONFIG}'s SHA-256: the end of every build directory's name. */
export const DEBUG_CONFIG_HASH = createHash('sha256').update(DEBUG_CONFIG).digest('hex').slice(0, 12);

/** Where the debug kernel of bookworm's current linux-source version and {@link DEBUG_CONFIG} lives (asks apt). */
function debugKernelPlace(progress: Progress) {
  const apt = new PrivateApt(DEBUG_SUITE, { progress });
  const pkg = `linux-source-${DEBUG_SERIES}`;
  const sourceVersion = apt.version(pkg);
  const dir = cacheDir('kernels', `debug-${sourceVersion.replace(/:/g, '_')}-${DEBUG_CONFIG_HASH}`);
  return { apt, pkg, sourceVersion, dir };
}

/** A complete build in `dir`: its build.json, and the files it names present. */
function readBuild(dir: string): DebugKernelBuild | undefined {
  const record = join(dir, 'build.json');
  if (!existsSync(record)) return undefined;
  const build = JSON.parse(readFileSync(record, 'utf8')) as DebugKernelBuild;
  const files = [build.bzImage, build.vmlinux, build.config, join(build.modulesDir ?? '', 'modules.dep')];
  return files.every((f) => typeof f === 'string' && existsSync(f)) ? build : undefined;
}

/**
 * The newest complete debug kernel build of {@link DEBUG_CONFIG} in the
 * cache (kernels/debug-VERSION-HASH with this fragment's HASH; newest by its
 * build.json's time), or undefined. Reads the cache only: no apt, no
 * network, nothing built.
 */
export function cachedDebugKernel(): DebugKernelBuild | undefined {
  const kernels = cacheDir('kernels');
  let newest: { build: DebugKernelBuild; time: number } | undefined;
  for (const name of readdirSync(kernels)) {
    if (!name.startsWith('debug-') || !name.endsWith(`-${DEBUG_CONFIG_HASH}`)) continue;
    const build = readBuild(join(kernels, name));
    if (!build) continue;
    const time = statSync(join(kernels, name, 'build.json')).mtimeMs;
    if (!newest || time > newest.time) newest = { build, time };
  }
  return newest?.build;
}

/** How long the whole kernel build (make bzImage or modules) may take: KASAN on two CPUs took 20 min 45 s here. */
const KERNEL_MAKE_TIMEOUT = 6 * 3600;

export interface DebugKernelOptions {
  /**
   * Ask apt for bookworm's current linux-source-6.1 and build the debug
   * kernel from it, even when a build (of it or of an older version) is
   * cached; make is incremental, so a rebuild of the version already built
   * redoes only the configuration check, the links and the install.
   * Default: false (the newest cached build, see {@link cachedDebugKernel}).
   */
  rebuild?: boolean;
}

/**
 * Builds (once) and returns the debug kernel: the newest cached build
 * unless `rebuild` is asked, without apt or network. Each stage prints a
 * progress line with the time since the build began; a build interrupted
 * part way goes on from the stage it reached (make itself is incremental).
 */
export function buildDebugKernel(progress: Progress = () => {}, options: DebugKernelOptions = {}): DebugKernelBuild {
  if (!options.rebuild) {
    const cached = cachedDebugKernel();
    if (cached) return cached;
  }
  const place = debugKernelPlace(progress);
  const unlock = lockBuild(place.dir);
  try {
    const done = readBuild(place.dir);
    if (done && !options.rebuild) return done;
    rmSync(join(place.dir, 'build.json'), { force: true });
    return runBuild(place, progress);
  } finally {
    unlock();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let libcFlock: ((fd: number, operation: number) => number) | undefined;

/** flock(2) through libc (koffi): 0, or -errno. */
function flock(fd: number, operation: number): number {
  if (!libcFlock) {
    // loaded on first use, not at import: \`uverbs vm --help\` and the other commands load no koffi
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const f = koffi.load('libc.so.6').func('int flock(int fd, int operation)');
    libcFlock = (fd, operation) => {
      const r = f(fd, operation) as number;
      return r < 0 ? -koffi.errno() : r;
    };
  }
  return libcFlock(fd, operation);
}

/** <sys/file.h> */
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

/**
 * One build at a time: an exclusive flock(2) on `build.lock` in `dir`, held
 * on this process's open file description until the returned function
 * closes it (or this process dies, however it dies: the kernel drops the
 * lock, so nothing is ever stale). A second attempt, from another process
 * or from this one, is refused while the lock is held (VmSetupError naming
 * the holder's pid, which it writes into the file once it holds the lock,
 * or `another process` until it has),
 * never run over the same tree. The file itself stays: removing it would
 * let a third builder lock a new file while a second holds the old one.
 */
export function lockBuild(dir: string): () => void {
  const lock = join(dir, 'build.lock');
  // O_CLOEXEC (Node's default): no tool the build starts inherits the lock
  const fd = openSync(lock, 'a+', 0o600);
  const r = flock(fd, LOCK_EX | LOCK_NB);
  if (r !== 0) {
    closeSync(fd);
    if (r !== -EWOULDBLOCK) throw new VmSetupError(`cannot lock ${lock}: flock failed with errno ${-r}`);
    // the holder writes its pid just after it locks: until then the file is empty or names a builder that died
    const pid = Number(readFileSync(lock, 'utf8').trim());
    const who = Number.isInteger(pid) && pid > 0 && alive(pid) ? `process ${pid}` : 'another process';
    throw new VmSetupError(`the debug kernel is being built by ${who} (in ${dir}): wait for it to finish`);
  }
  ftruncateSync(fd, 0);
  writeSync(fd, String(process.pid), 0);
  return () => closeSync(fd);
}

function runBuild(
  { apt, pkg, sourceVersion, dir }: ReturnType<typeof debugKernelPlace>,
  progress: Progress,
): DebugKernelBuild {
  const started = Date.now();
  const stage = (what: string) => progress(`vm: debug kernel: ${what} (${elapsed(started)} so far)`);
  stage(`download: ${pkg} ${sourceVersion} and a ${DEBUG_SUITE} build chroot`);
  const chroot = suiteChroot(DEBUG_SUITE, BUILD_PACKAGES, progress);
  apt.unpack(pkg, sourceVersion, chroot);

  const src = join(dir, 'src');
  if (!existsSync(join(src, '.uverbs-unpacked'))) {
    stage(`unpack: linux-source-${DEBUG_SERIES}.tar.xz`);
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src);
    runTool('tar', ['-xaf', join(chroot, 'usr', 'src', `${pkg}.tar.xz`), '-C', src, '--strip-components=1'], {
      timeout: TOOL_TIMEOUT.local,
    });
    writeFileSync(join(src, '.uverbs-unpacked'), '');
  }

  // the cache directory appears inside the chroot at /build (a bind mount in a private mount namespace)
  const inChroot = (script: string, timeout: number) =>
    runTool(
      'unshare',
      [
        '--mount',
        '--fork',
        'sh',
        '-c',
        'mount -t proc proc "$0/proc" && mkdir -p "$0/build" && mount --bind "$1" "$0/build" && exec chroot "$0" sh -c "$2"',
        chroot,
        dir,
        `cd /build/src && ${script}`,
      ],
      { timeout, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', HOME: '/tmp' } },
    );
  const log = join(src, 'build.log');
  const make = (targets: string, timeout: number) => {
    try {
      inChroot(`nice -n 19 make -j${availableParallelism()} ${targets} >>build.log 2>&1`, timeout);
    } catch (error) {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-40).join('\n') : '';
      throw new VmSetupError(
        `debug kernel: make ${targets} failed (${(error as Error).message.split('\n')[0]}); see ${log}:\n${tail}`,
      );
    }
  };

  stage('configure: x86_64_defconfig + kvm_guest.config + uverbs-debug.config');
  writeFileSync(join(src, 'kernel', 'configs', 'uverbs-debug.config'), DEBUG_CONFIG);
  make('x86_64_defconfig', TOOL_TIMEOUT.make);
  make('kvm_guest.config', TOOL_TIMEOUT.make);
  make('uverbs-debug.config', TOOL_TIMEOUT.make);
  const missing = missingOptions(DEBUG_CONFIG, parseKernelConfig(readFileSync(join(src, '.config'), 'utf8')));
  if (missing.length > 0) {
    throw new VmSetupError(
      `debug kernel: the configuration lost options olddefconfig could not keep: ${missing.join(', ')}`,
    );
  }
  stage('bzImage: make bzImage (the long part)');
  make('bzImage', KERNEL_MAKE_TIMEOUT);
  stage('modules: make modules');
  make('modules', KERNEL_MAKE_TIMEOUT);
  const release = inChroot('make -s kernelrelease', TOOL_TIMEOUT.query).stdout.toString().trim();
  if (!/^[0-9][A-Za-z0-9.+~-]*$/.test(release))
    throw new VmSetupError(`debug kernel: not a kernel release: '${release}'`);

  stage(`install: modules_install and depmod for ${release}`);
  const root = join(dir, 'root');
  rmSync(root, { recursive: true, force: true });
  make('INSTALL_MOD_PATH=/build/root DEPMOD=/sbin/depmod modules_install', TOOL_TIMEOUT.make);
  runTool('depmod', ['-b', root, release], { timeout: TOOL_TIMEOUT.query });
  for (const [from, to] of [
    ['vmlinux', 'vmlinux'],
    ['arch/x86/boot/bzImage', 'bzImage'],
    ['.config', 'config'],
  ] as const) {
    copyFileSync(join(src, from), join(dir, `${to}.tmp`));
    renameSync(join(dir, `${to}.tmp`), join(dir, to));
  }
  const build: DebugKernelBuild = {
    dir,
    release,
    sourceVersion,
    vmlinux: join(dir, 'vmlinux'),
    bzImage: join(dir, 'bzImage'),
    config: join(dir, 'config'),
    root,
    modulesDir: join(root, 'lib', 'modules', release),
    buildSeconds: Math.round((Date.now() - started) / 1000),
  };
  const record = join(dir, 'build.json');
  writeFileSync(`${record}.tmp`, JSON.stringify(build, null, 2));
  renameSync(`${record}.tmp`, record);
  progress(`vm: debug kernel ${release} built in ${elapsed(started)}`);
  return build;
}

/** The debug kernel's files, for openCustomKernel: it boots the way a user's kernel does. */
export function debugKernelFiles(build: DebugKernelBuild): KernelFiles {
  return {
    origin: `the debug kernel (${build.dir})`,
    image: build.bzImage,
    vmlinux: build.vmlinux,
    config: build.config,
    release: build.release,
    modulesDir: build.modulesDir,
  };
}

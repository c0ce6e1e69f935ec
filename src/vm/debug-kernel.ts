/**
 * The debug kernel (`uverbs vm --kernel debug`): Debian bookworm's
 * linux-source-6.1 built once with KASAN, lockdep, fault injection
 * (failslab, fail_page_alloc, fail-nth) and debugfs, the RDMA stack and
 * everything the guest needs built in, and cached under the uverbs cache
 * keyed by the source package's version and {@link DEBUG_CONFIG}'s hash: a
 * second run builds nothing.
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
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** Where the debug kernel of the current linux-source version and {@link DEBUG_CONFIG} lives in the cache. */
function debugKernelPlace(progress: Progress) {
  const apt = new PrivateApt(DEBUG_SUITE, { progress });
  const pkg = `linux-source-${DEBUG_SERIES}`;
  const sourceVersion = apt.version(pkg);
  const hash = createHash('sha256').update(DEBUG_CONFIG).digest('hex').slice(0, 12);
  const dir = cacheDir('kernels', `debug-${sourceVersion.replace(/:/g, '_')}-${hash}`);
  return { apt, pkg, sourceVersion, dir };
}

function readBuild(dir: string): DebugKernelBuild | undefined {
  const record = join(dir, 'build.json');
  return existsSync(record) ? (JSON.parse(readFileSync(record, 'utf8')) as DebugKernelBuild) : undefined;
}

/** The debug kernel if it is already built (nothing is built or downloaded; apt's lists may be refreshed). */
export function cachedDebugKernel(): DebugKernelBuild | undefined {
  return readBuild(debugKernelPlace(() => {}).dir);
}

/** How long the whole kernel build (make bzImage or modules) may take: KASAN on two CPUs is most of an hour. */
const KERNEL_MAKE_TIMEOUT = 6 * 3600;

/**
 * Builds (once) and returns the debug kernel. Each stage prints a progress
 * line with the time since the build began; a build interrupted part way
 * goes on from the stage it reached (make itself is incremental).
 */
export function buildDebugKernel(progress: Progress = () => {}): DebugKernelBuild {
  const place = debugKernelPlace(progress);
  const done = readBuild(place.dir);
  if (done) return done;
  const unlock = lockBuild(place.dir);
  try {
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

/**
 * One build at a time: a second `--kernel debug` while the first builds is
 * refused (VmSetupError naming the builder's pid), not run over the same
 * tree. A lock whose process is gone (a build killed part way) is taken over.
 */
export function lockBuild(dir: string): () => void {
  const lock = join(dir, 'building.pid');
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number(readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new VmSetupError(`the debug kernel is being built by process ${pid} (in ${dir}): wait for it to finish`);
    }
    rmSync(lock, { force: true });
  }
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

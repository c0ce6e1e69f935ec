/**
 * Debian kernels for the guest: resolved, downloaded and unpacked once into
 * the cache, from the suite that carries each series.
 *
 * | series | suite    |
 * |--------|----------|
 * | 6.1    | bookworm |
 * | 6.12   | trixie   |
 * | 7      | sid      |
 *
 * `linux-image-amd64` is followed to the real packages: 6.1 and 6.12 ship
 * one `linux-image-<ver>` with /boot/vmlinuz and /lib/modules; 7.x splits
 * it into `linux-binary-<ver>` (/usr/lib/modules/<ver>/vmlinuz) and
 * `linux-modules-<ver>`, without modules.dep (we run depmod).
 */

import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { cacheDir, PrivateApt, type Progress } from './apt.js';
import { VmSetupError } from './errors.js';
import { runTool, TOOL_TIMEOUT } from './tools.js';

export const KERNEL_SERIES = ['6.1', '6.12', '7'] as const;
export type KernelSeries = (typeof KERNEL_SERIES)[number];

export const KERNEL_SUITES: Record<KernelSeries, string> = { '6.1': 'bookworm', '6.12': 'trixie', '7': 'sid' };

/** A kernel the guest can boot: a Debian one ({@link DebianKernel}) or one the user built (custom-kernel.ts). */
export interface Kernel {
  /** The uncompressed ELF kernel (booted directly via its PVH entry), when it could be extracted. */
  vmlinux?: string;
  /** The kernel release, as `uname -r` will print it (`6.1.0-50-amd64`). */
  release: string;
  /** Root holding lib/modules/<release> (which may be absent: a kernel with everything built in). */
  root: string;
  /** The bzImage. */
  vmlinuz: string;
  modulesDir: string;
}

/** One of Debian's packaged kernels, downloaded and unpacked into the cache. */
export interface DebianKernel extends Kernel {
  series: KernelSeries;
  suite: string;
  /** Debian package version (`6.1.176-1`). */
  packageVersion: string;
}

const KERNEL_PACKAGE = /^linux-(image|binary|modules)-\d/;

/** The package names behind `linux-image-amd64` in a suite, with versions. */
function resolvePackages(apt: PrivateApt): { name: string; version: string }[] {
  apt.update();
  const seen = new Set<string>();
  const out: { name: string; version: string }[] = [];
  const visit = (pkg: string) => {
    for (const dep of apt.depends(pkg)) {
      if (!KERNEL_PACKAGE.test(dep) || seen.has(dep)) continue;
      seen.add(dep);
      out.push({ name: dep, version: apt.version(dep) });
      visit(dep);
    }
  };
  visit('linux-image-amd64');
  if (out.length === 0) throw new VmSetupError(`${apt.suite}: linux-image-amd64 leads to no kernel package`);
  return out;
}

/** How long a resolved package set is reused before apt is asked again (the lists' own freshness). */
const RESOLUTION_HOURS = 24;

/** The packages behind a series, resolved at most once a day (apt-cache costs ~2 s a run). */
function cachedResolution(
  series: KernelSeries,
  resolve: () => { name: string; version: string }[],
): { name: string; version: string }[] {
  const file = join(cacheDir('kernels'), `${series}.json`);
  if (existsSync(file) && Date.now() - statSync(file).mtimeMs < RESOLUTION_HOURS * 3600e3) {
    return JSON.parse(readFileSync(file, 'utf8')) as { name: string; version: string }[];
  }
  const packages = resolve();
  writeFileSync(file, JSON.stringify(packages));
  return packages;
}

function findOne(dir: string, test: (name: string) => boolean): string | undefined {
  if (!existsSync(dir)) return undefined;
  const hit = readdirSync(dir).find(test);
  return hit === undefined ? undefined : join(dir, hit);
}

/** Downloads (once) and unpacks the newest kernel of a series; a second call downloads nothing. */
export function fetchKernel(series: KernelSeries, progress: Progress = () => {}): DebianKernel {
  const suite = KERNEL_SUITES[series];
  const apt = new PrivateApt(suite, { progress });
  const packages = cachedResolution(series, () => resolvePackages(apt));
  const image = packages.find((p) => p.name.startsWith('linux-image-')) ?? packages[0];
  if (!image) throw new VmSetupError(`${suite}: no kernel image package`);
  const release = image.name.replace(/^linux-(image|binary|modules)-/, '');
  // the release names cache paths and goes on make's command line (siw): a Debian package name's characters only
  if (!/^[0-9][a-z0-9.+~-]*$/.test(release)) throw new VmSetupError(`${suite}: not a kernel release: '${release}'`);
  if (!(release === series || release.startsWith(`${series}.`))) {
    throw new VmSetupError(`${suite} carries kernel ${release}, not the ${series} series`);
  }
  const root = cacheDir('kernels', release);
  for (const p of packages) apt.unpack(p.name, p.version, root);
  // 7.x keeps modules under /usr/lib/modules; give depmod/modprobe the classic path too.
  const usrModules = join(root, 'usr', 'lib', 'modules', release);
  const libModules = join(root, 'lib', 'modules');
  if (!existsSync(join(libModules, release)) && existsSync(usrModules)) {
    mkdirSync(libModules, { recursive: true });
    symlinkSync(usrModules, join(libModules, release));
  }
  const modulesDir = join(libModules, release);
  if (!existsSync(join(modulesDir, 'modules.dep'))) {
    progress(`vm: depmod ${release}`);
    // 7.x ships no modules.order / modules.builtin: depmod warns and carries on; keep that off the caller's stderr
    runTool('depmod', ['-b', root, release], { timeout: TOOL_TIMEOUT.query });
  }
  const vmlinuz =
    findOne(join(root, 'boot'), (n) => n === `vmlinuz-${release}`) ?? findOne(usrModules, (n) => n === 'vmlinuz');
  if (!vmlinuz) throw new VmSetupError(`kernel ${release}: no vmlinuz in ${root}`);
  const vmlinux = extractVmlinux(vmlinuz, join(root, 'vmlinux'), progress);
  return { series, suite, release, packageVersion: image.version, root, vmlinuz, vmlinux, modulesDir };
}

/** Compressed payloads a bzImage may carry: magic bytes and the tool that undoes them. */
const PAYLOADS: { magic: Buffer; command: string[] }[] = [
  { magic: Buffer.from('fd377a585a00', 'hex'), command: ['xz', '-dc', '--single-stream'] },
  { magic: Buffer.from('28b52ffd', 'hex'), command: ['zstd', '-dcq'] },
  { magic: Buffer.from('1f8b0800', 'hex'), command: ['gzip', '-dcq'] },
];

/**
 * The ELF vmlinux inside a bzImage, decompressed once into the cache.
 * Booting it through its PVH entry skips the firmware's real-mode boot and
 * the in-guest decompression (seconds under TCG). Undefined if no payload
 * decompresses to an ELF image; the caller then boots the bzImage.
 */
export function extractVmlinux(vmlinuz: string, target: string, progress: Progress): string | undefined {
  if (existsSync(target)) return target;
  const image = readFileSync(vmlinuz);
  for (const { magic, command } of PAYLOADS) {
    for (let at = image.indexOf(magic); at >= 0; at = image.indexOf(magic, at + 1)) {
      const [tool, ...args] = command as [string, ...string[]];
      // trailing bytes after the stream make the tools complain; the output is what counts
      const out = runTool(tool, args, { input: image.subarray(at), timeout: TOOL_TIMEOUT.local, check: false }).stdout;
      if (out && out.length > 1 << 20 && out.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
        progress(`vm: extracted vmlinux (${tool}) for PVH boot`);
        writeFileSync(`${target}.tmp`, out);
        renameSync(`${target}.tmp`, target);
        return target;
      }
    }
  }
  return undefined;
}

/**
 * The guest's initramfs: a static busybox, the RDMA and virtio modules of
 * one kernel (dependencies resolved by `modprobe --show-depends`,
 * decompressed on the host), and the init script. Built once per kernel, its
 * module files (sizes and times: a user rebuilds in place) and the init
 * version, cached as an uncompressed newc cpio.
 */

import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cacheDir, type Progress } from './apt.js';
import { GUEST_INIT } from './guest-init.js';
import type { Kernel } from './kernels.js';
import { runTool, TOOL_TIMEOUT } from './tools.js';

/**
 * Modules the guest loads, in this order (each after its own dependencies).
 * crc32_generic first: rdma_rxe needs it but does not declare it ("failed to
 * init crc32 algorithm err:-2"). Modules a kernel builds in are skipped.
 */
export const GUEST_MODULES = [
  'crc32_generic',
  'crc32c_generic',
  'virtio_pci',
  'virtio_net',
  'virtio_console',
  '9pnet_virtio',
  '9p',
  'ib_uverbs',
  'ib_umad',
  'rdma_ucm',
  'rdma_rxe',
  // netdevs of their own for tests that take a link down (async port events)
  'dummy',
] as const;

const BUSYBOX = '/bin/busybox';

export interface Initramfs {
  path: string;
  /** Guest paths of the modules, in load order. */
  modules: string[];
  /** Requested modules this kernel has built in (or lacks). */
  notModules: string[];
}

/** insmod lines for a module and its dependencies, or undefined when modprobe finds no such module. */
function dependencies(kernel: Kernel, module: string): string[] | undefined {
  const r = runTool('modprobe', ['-d', kernel.root, '-S', kernel.release, '--show-depends', module], {
    timeout: TOOL_TIMEOUT.query,
    check: false,
  });
  if (r.status !== 0) return undefined;
  return r.stdout
    .toString()
    .split('\n')
    .map((l) => /^insmod (\S+)/.exec(l.trim())?.[1])
    .filter((p): p is string => p !== undefined);
}

/** The tool that decompresses a module file, by its suffix. */
const DECOMPRESSORS: [string, string, string[]][] = [
  ['.xz', 'xz', ['-dc']],
  ['.zst', 'zstd', ['-dcq']],
  ['.gz', 'gzip', ['-dc']],
];

function decompress(source: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  const tool = DECOMPRESSORS.find(([suffix]) => source.endsWith(suffix));
  if (!tool) {
    copyFileSync(source, target);
    return;
  }
  const [, command, args] = tool;
  writeFileSync(target, runTool(command, [...args, source], { timeout: TOOL_TIMEOUT.local }).stdout);
}

function fileStamps(paths: string[]): string[] {
  return paths.map((p) => {
    const st = statSync(p);
    return `${st.size}:${st.mtimeMs}`;
  });
}

/** Builds (once) the initramfs for a kernel plus any extra out-of-tree modules (siw). */
export function buildInitramfs(kernel: Kernel, extraModules: string[] = [], progress: Progress = () => {}): Initramfs {
  const order: string[] = [];
  const notModules: string[] = [];
  // out-of-tree modules (siw) declare their in-tree dependencies in modinfo
  const declared = extraModules.flatMap((ko) =>
    runTool('modinfo', ['-F', 'depends', ko], { timeout: TOOL_TIMEOUT.query })
      .stdout.toString()
      .trim()
      .split(',')
      .filter(Boolean),
  );
  for (const m of [...GUEST_MODULES, ...declared]) {
    const deps = dependencies(kernel, m);
    if (deps === undefined) notModules.push(m);
    else for (const d of deps) if (!order.includes(d)) order.push(d);
  }
  const key = createHash('sha256')
    // a user's kernel is rebuilt in place: its module files' sizes and times are part of the key
    .update(
      JSON.stringify({
        release: kernel.release,
        order,
        extraModules,
        init: GUEST_INIT,
        files: fileStamps([...order, ...extraModules]),
      }),
    )
    .digest('hex')
    .slice(0, 16);
  const path = join(cacheDir('initramfs'), `${kernel.release}-${key}.cpio`);
  const guestModules = [...order, ...extraModules].map((p) => `/modules/${basename(p).replace(/\.(xz|zst|gz)$/, '')}`);
  if (existsSync(path)) return { path, modules: guestModules, notModules };

  progress(`vm: building initramfs for ${kernel.release}`);
  const stage = join(cacheDir('initramfs'), `stage-${key}`);
  rmSync(stage, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'modules', 'results'])
    mkdirSync(join(stage, d), { recursive: true });
  copyFileSync(BUSYBOX, join(stage, 'bin', 'busybox'));
  chmodSync(join(stage, 'bin', 'busybox'), 0o755);
  // modprobe -d prints absolute host paths under the kernel root
  for (const [i, source] of [...order, ...extraModules].entries()) {
    decompress(source, join(stage, (guestModules[i] as string).slice(1)));
  }
  writeFileSync(join(stage, 'modules.order'), `${guestModules.join('\n')}\n`);
  writeFileSync(join(stage, 'init'), GUEST_INIT, { mode: 0o755 });
  const files = runTool('find', ['.', '-mindepth', '1'], { cwd: stage, timeout: TOOL_TIMEOUT.local }).stdout;
  const cpio = runTool('cpio', ['--quiet', '-o', '-H', 'newc'], {
    cwd: stage,
    input: files,
    timeout: TOOL_TIMEOUT.local,
  }).stdout;
  writeFileSync(`${path}.tmp`, cpio);
  renameSync(`${path}.tmp`, path);
  rmSync(stage, { recursive: true, force: true });
  return { path, modules: guestModules, notModules };
}

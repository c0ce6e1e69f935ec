/**
 * siw (software iWARP) for Debian kernels, which do not ship it
 * (CONFIG_RDMA_SIW is unset): built out of tree, once per kernel, from
 * Debian's own linux-source (drivers/infiniband/sw/siw) against that
 * kernel's linux-headers and linux-kbuild.
 *
 * The build runs in a minimal chroot of the kernel's own suite
 * (debootstrap, through the mirror the system already uses, cached), so
 * the module is compiled by the compiler the kernel was built with (gcc-12
 * for 6.1, gcc-14 for 6.12, gcc-16 for 7.x) and the headers sit at their
 * real /usr/src paths. The module is unsigned; Debian kernels load it
 * (tainted): module signature enforcement is off.
 */

import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cacheDir, debianMirror, PrivateApt, type Progress } from './apt.js';
import { VmSetupError } from './errors.js';
import type { DebianKernel } from './kernels.js';
import { runTool, TOOL_TIMEOUT } from './tools.js';

const HEADER_PACKAGE = /^linux-(headers|kbuild)-/;
/** The compiler a linux-headers package asks for (`gcc-14`, `gcc-16-for-host`, `linux-compiler-gcc-12-x86`). */
const COMPILER_PACKAGE = /^(gcc-\d+(-for-host)?|linux-compiler-gcc-\d+-x86)$/;

/** A minimal chroot of `suite` with `packages`, built once by debootstrap. */
export function suiteChroot(suite: string, packages: string[], progress: Progress): string {
  const root = join(cacheDir('chroots'), `${suite}-${packages.join('+').replace(/[^\w.+-]/g, '_')}`);
  if (existsSync(join(root, '.uverbs-ready'))) return root;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const mirror = debianMirror();
  progress(`vm: debootstrap ${suite} with ${packages.join(', ')} (once; about a minute)`);
  const keyring = mirror.signedBy ? [`--keyring=${mirror.signedBy}`] : [];
  runTool(
    'debootstrap',
    ['--variant=minbase', ...keyring, `--include=${packages.join(',')}`, suite, root, mirror.uri],
    {
      timeout: TOOL_TIMEOUT.debootstrap,
    },
  );
  writeFileSync(join(root, '.uverbs-ready'), '');
  return root;
}

/** Returns the host path of siw.ko for this kernel, building it on first use. */
export function buildSiw(kernel: DebianKernel, progress: Progress = () => {}): string[] {
  const out = cacheDir('siw', kernel.release);
  const module = join(out, 'siw.ko');
  if (existsSync(module)) return [module];

  const apt = new PrivateApt(kernel.suite, { progress });
  const headers = `linux-headers-${kernel.release}`;
  const headerDeps = apt.depends(headers);
  const compilers = headerDeps.filter((d) => COMPILER_PACKAGE.test(d));
  if (compilers.length === 0) throw new VmSetupError(`${headers} names no compiler package`);
  const root = suiteChroot(
    kernel.suite,
    [...compilers, 'make', 'libc6-dev', 'libelf-dev', 'bc', 'kmod', 'xz-utils'],
    progress,
  );

  const series = kernel.release.split(/[.-]/).slice(0, 2).join('.');
  const debs = [headers, ...headerDeps.filter((d) => HEADER_PACKAGE.test(d)), `linux-source-${series}`];
  for (const pkg of debs) apt.unpack(pkg, apt.version(pkg), root);

  const build = join(root, 'build', kernel.release);
  const src = join(build, 'siw');
  if (!existsSync(join(src, 'siw_main.c'))) {
    mkdirSync(build, { recursive: true });
    const tarball = readdirSync(join(root, 'usr', 'src')).find((f) => f.startsWith(`linux-source-${series}.tar`));
    if (!tarball) throw new VmSetupError(`linux-source-${series} has no source tarball`);
    progress(`vm: extracting drivers/infiniband/sw/siw from linux-source-${series}`);
    // linux-source-X/drivers/infiniband/sw/siw/* -> build/<release>/siw/*
    runTool(
      'tar',
      [
        '-xaf',
        join(root, 'usr', 'src', tarball),
        '-C',
        build,
        '--strip-components=4',
        `linux-source-${series}/drivers/infiniband/sw/siw`,
      ],
      { timeout: TOOL_TIMEOUT.local },
    );
  }
  progress(`vm: building siw.ko for ${kernel.release} (${compilers.join(', ')})`);
  // objtool reads /proc: mount one inside a private mount namespace, gone when make exits
  const makeArgs = [
    'make',
    '-C',
    `/usr/src/${headers}`,
    `M=/build/${kernel.release}/siw`,
    'CONFIG_RDMA_SIW=m',
    // the chroot has no pahole: no BTF for this one module
    'CONFIG_DEBUG_INFO_BTF_MODULES=',
    `-j${availableParallelism()}`,
    'modules',
  ];
  runTool(
    'unshare',
    ['--mount', '--fork', 'sh', '-c', 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', root, ...makeArgs],
    { timeout: TOOL_TIMEOUT.make, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } },
  );
  if (!existsSync(join(src, 'siw.ko'))) throw new VmSetupError(`building siw for ${kernel.release} left no siw.ko`);
  copyFileSync(join(src, 'siw.ko'), module);
  return [module];
}

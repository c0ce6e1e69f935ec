/**
 * siw (software iWARP) for Debian kernels, which do not ship it
 * (CONFIG_RDMA_SIW is unset): built out of tree, once per kernel, from
 * Debian's own linux-source (drivers/infiniband/sw/siw) against that
 * kernel's linux-headers and linux-kbuild, all through the private apt.
 * The module is unsigned; Debian kernels load it (tainted) since module
 * signature enforcement is off.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cacheDir, PrivateApt, type Progress } from './apt.js';
import type { Kernel } from './kernels.js';

const BUILD_PACKAGE = /^linux-(headers|kbuild)-/;

function buildPackages(apt: PrivateApt, headers: string): { name: string; version: string }[] {
  const out = [{ name: headers, version: apt.version(headers) }];
  const deps = execFileSync('apt-cache', [...apt.options, 'depends', '--no-recommends', '--no-suggests', headers], {
    encoding: 'utf8',
  });
  for (const m of deps.matchAll(/^\s*\|?(?:Pre)?Depends:\s*(\S+)/gm)) {
    const dep = m[1] as string;
    if (BUILD_PACKAGE.test(dep)) out.push({ name: dep, version: apt.version(dep) });
  }
  return out;
}

/** The series name Debian uses for linux-source (`6.1`, `6.12`, `7.2`). */
function sourceSeries(release: string): string {
  return release.split(/[.-]/).slice(0, 2).join('.');
}

/** Returns the host path of siw.ko for this kernel, building it on first use. */
export function buildSiw(kernel: Kernel, progress: Progress = () => {}): string[] {
  const dir = cacheDir('siw', kernel.release);
  const module = join(dir, 'siw.ko');
  if (existsSync(module)) return [module];

  const apt = new PrivateApt(kernel.suite, { progress });
  const root = join(dir, 'root');
  const series = sourceSeries(kernel.release);
  const packages = [
    ...buildPackages(apt, `linux-headers-${kernel.release}`),
    { name: `linux-source-${series}`, version: apt.version(`linux-source-${series}`) },
  ];
  for (const p of packages) {
    const stamp = join(root, `.unpacked-${p.name}_${p.version}`);
    if (existsSync(stamp)) continue;
    const deb = apt.download(p.name, p.version);
    progress(`vm: unpacking ${p.name}`);
    execFileSync('dpkg-deb', ['-x', deb, root]);
    writeFileSync(stamp, '');
  }
  const src = join(dir, 'siw');
  if (!existsSync(join(src, 'siw_main.c'))) {
    const tarball = readdirSync(join(root, 'usr', 'src')).find((f) => f.startsWith(`linux-source-${series}.tar`));
    if (!tarball) throw new Error(`linux-source-${series} has no source tarball`);
    progress(`vm: extracting drivers/infiniband/sw/siw from linux-source-${series}`);
    // linux-source-X/drivers/infiniband/sw/siw/* -> <dir>/siw/*
    execFileSync('tar', [
      '-xaf',
      join(root, 'usr', 'src', tarball),
      '-C',
      dir,
      '--strip-components=4',
      `linux-source-${series}/drivers/infiniband/sw/siw`,
    ]);
  }
  progress(`vm: building siw.ko for ${kernel.release}`);
  const headers = join(root, 'usr', 'src', `linux-headers-${kernel.release}`);
  const make = spawnSync(
    'make',
    [
      '-C',
      headers,
      `M=${src}`,
      'CC=gcc',
      'HOSTCC=gcc',
      'CONFIG_RDMA_SIW=m',
      // no pahole on the host: skip BTF for this module
      'CONFIG_DEBUG_INFO_BTF_MODULES=',
      `-j${availableParallelism()}`,
      'modules',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (make.status !== 0 || !existsSync(join(src, 'siw.ko'))) {
    throw new Error(`building siw for ${kernel.release} failed:\n${(make.stderr || make.stdout).slice(-3000)}`);
  }
  execFileSync('cp', [join(src, 'siw.ko'), module]);
  return [module];
}

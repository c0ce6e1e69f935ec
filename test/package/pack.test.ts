/**
 * The package a real project installs: `npm pack` of this tree, installed
 * into an empty project with install scripts withheld (as npm 11 does for a
 * package a project has not approved), so the datapath must come from the
 * prebuilt binary in the tarball. Host side; the guest side
 * (installed.guest.test.ts) then runs that project's `uverbs pingpong`
 * against ibv_rc_pingpong on rxe0. Needs the npm registry (or npm's cache)
 * for koffi, the one dependency.
 */

import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  exampleFile,
  FIRST_PROGRAM_PRINTS,
  INSTALLED,
  NODE22,
  PREBUILD,
  PROJECT,
  ROOT,
  readmeBlocks,
  WORK,
} from './support.js';

const STAGE = join(WORK, 'stage');
const NODES = [
  ['Node 20', process.execPath],
  ['Node 22', NODE22],
] as const;

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r: SpawnSyncReturns<string> = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  return {
    status: r.status,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    out: `${r.stdout}${r.stderr}${r.error ?? ''}`,
  };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Loads the addon through the installed package's own loader; prints the file it took. */
const LOAD = `
import { existsSync } from 'node:fs';
import { native, nativeCandidates } from './node_modules/uverbs/dist/src/transport/native.js';
const n = native();
if (typeof n.postSend !== 'function' || n.layout.wcSize !== 48) throw new Error('not the uverbs addon');
console.log(nativeCandidates().find((p) => existsSync(p)));
`;

/** A PATH with only `node` on it: no node-gyp, no compiler toolchain driver for an install script to find. */
function nodeOnly(): string {
  const bin = join(WORK, 'node-only');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
  }
  return bin;
}

/** A copy of the installed package as it was packed: the prebuild, no build. */
function shippedCopy(name: string): string {
  const dir = join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(INSTALLED, dir, { recursive: true });
  rmSync(join(dir, 'build'), { recursive: true, force: true });
  return dir;
}

/** A copy of the packed package with no prebuild and no build, to show what the fallbacks do. */
function bareCopy(name: string): string {
  const dir = shippedCopy(name);
  rmSync(join(dir, 'prebuilds'), { recursive: true, force: true });
  return dir;
}

let tarball = '';
let packed: string[] = [];
let version = '';

beforeAll(() => {
  // pack a copy of the checkout (tracked files and new ones git does not ignore), so that
  // `prepack` (which rebuilds dist/ and the addon) never touches the tree other tests use
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(STAGE, { recursive: true });
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT);
  expect(files.status, files.out).toBe(0);
  for (const f of files.stdout.split('\0').filter(Boolean)) {
    // deleted in the working tree but not yet committed; node_modules when it is a link (node_modules/ matches a directory)
    if (!existsSync(join(ROOT, f)) || f === 'node_modules') continue;
    mkdirSync(dirname(join(STAGE, f)), { recursive: true });
    cpSync(join(ROOT, f), join(STAGE, f));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(STAGE, 'node_modules'));
  const pack = run('npm', ['pack', '--json', '--pack-destination', WORK], STAGE);
  expect(pack.status, pack.out).toBe(0);
  const [result] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(WORK, result?.filename as string);
  packed = (result?.files ?? []).map((f) => f.path).sort();
  version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;

  mkdirSync(PROJECT, { recursive: true });
  writeFileSync(
    join(PROJECT, 'package.json'),
    JSON.stringify({ name: 'uses-uverbs', version: '1.0.0', private: true, type: 'module' }),
  );
  // --ignore-scripts: the package must work with its install script withheld
  const install = run(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball],
    PROJECT,
  );
  expect(install.status, install.out).toBe(0);
  readmeBlocks('js').forEach((code, i) => {
    writeFileSync(join(PROJECT, exampleFile(i)), code);
  });
}, 300_000);

describe('the package: npm pack, then npm install in an empty project', () => {
  it('npm pack lists exactly what a user needs: dist (JS and types), the prebuild, the native sources, README', () => {
    const sources = run('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src', 'ioctl'], ROOT);
    const dist = sources.stdout
      .split('\n')
      .filter((f) => f.endsWith('.ts') && existsSync(join(ROOT, f)))
      .flatMap((f) => [`dist/${f.replace(/\.ts$/, '.js')}`, `dist/${f.replace(/\.ts$/, '.d.ts')}`]);
    const expected = [
      ...dist,
      'README.md',
      'binding.gyp',
      'native/addon.c',
      'native/rxe_queue.h',
      'native/siw_queue.h',
      'package.json',
      PREBUILD,
      'scripts/native.mjs',
    ].sort();
    expect(packed).toEqual(expected);
  });

  it('installs with its install script withheld, and loads the prebuilt binary under Node 20 and Node 22', () => {
    expect(existsSync(join(INSTALLED, PREBUILD))).toBe(true);
    expect(existsSync(join(INSTALLED, 'build')), 'nothing was built at install').toBe(false);
    for (const [name, node] of NODES) {
      expect(existsSync(node), `${node} is missing: scripts/setup installs it`).toBe(true);
      const r = run(node, ['--input-type=module', '-e', LOAD], PROJECT);
      expect(r.status, `${name}: ${r.out}`).toBe(0);
      expect(r.stdout.trim(), name).toBe(join(INSTALLED, PREBUILD));
    }
  });

  it('the prebuild needs nothing newer than glibc 2.33 (what the README says)', () => {
    const r = run('objdump', ['-T', join(INSTALLED, PREBUILD)], ROOT);
    expect(r.status, r.out).toBe(0);
    const versions = [...r.stdout.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]));
    expect(versions.length).toBeGreaterThan(0);
    expect(Math.max(...versions)).toBeLessThanOrEqual(2033);
  });

  it('the install script leaves a prebuild that loads alone', () => {
    const r = run(process.execPath, ['scripts/native.mjs', 'install'], INSTALLED);
    expect(r.status, r.out).toBe(0);
    expect(existsSync(join(INSTALLED, 'build'))).toBe(false);
  });

  it('without a prebuild the install script builds from the packed sources, byte for byte the shipped prebuild, and that build loads first', () => {
    const dir = bareCopy('from-source');
    // node-gyp on PATH, as npm provides its own to install scripts
    const PATH = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`;
    const r = run(process.execPath, ['scripts/native.mjs', 'install'], dir, { ...process.env, PATH });
    expect(r.status, r.out).toBe(0);
    expect(r.stderr).toContain('building from source');
    const built = join(dir, 'build', 'Release', 'uverbs.node');
    expect(sha256(built), 'the prebuild is reproducible from the sources in the package').toBe(
      sha256(join(INSTALLED, PREBUILD)),
    );
    // with both there, the local build comes first, as node-gyp-build orders them
    cpSync(join(INSTALLED, 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
    const load = run(
      process.execPath,
      ['--input-type=module', '-e', LOAD.replaceAll('./node_modules/uverbs/', './')],
      dir,
    );
    expect(load.status, load.out).toBe(0);
    expect(load.stdout.trim()).toBe(built);
  });

  it("a compiler warning does not stop the build at a user's install; this project's own builds (UVERBS_WERROR=1) fail on it", () => {
    const dir = bareCopy('warning');
    // what a newer compiler might warn about: an unused function
    writeFileSync(
      join(dir, 'native', 'addon.c'),
      `${readFileSync(join(dir, 'native', 'addon.c'), 'utf8')}\nstatic int uverbs_unused(void) { return 0; }\n`,
    );
    const PATH = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`;
    const env: NodeJS.ProcessEnv = { ...process.env, PATH, UVERBS_NATIVE_VERBOSE: '1' };
    delete env.UVERBS_WERROR;
    const r = run(process.execPath, ['scripts/native.mjs', 'install'], dir, env);
    expect(r.status, r.out).toBe(0);
    expect(r.stderr).toContain('-Wunused-function');
    const flags = readFileSync(join(dir, 'build', 'uverbs.target.mk'), 'utf8');
    expect(flags).toContain('-fstack-protector-strong');
    expect(flags).not.toContain('-Werror');
    const strict = run(process.execPath, ['scripts/native.mjs', 'build'], dir, env);
    expect(strict.status, strict.out).not.toBe(0);
    expect(strict.stderr).toMatch(/-Werror[=\s]/);
  });

  it('with neither a prebuild nor a build: ERR_UVERBS_NATIVE from the loader and the install script, saying what to do', () => {
    const dir = bareCopy('neither');
    const load = `
      import { native } from './dist/src/transport/native.js';
      try { native(); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const r = run(process.execPath, ['--input-type=module', '-e', load], dir);
    const error = JSON.parse(r.stdout) as { code: string; message: string };
    expect(error.code).toBe('ERR_UVERBS_NATIVE');
    expect(error.message).toContain(join(dir, PREBUILD));
    expect(error.message).toContain('npm rebuild uverbs');
    // no node-gyp anywhere: only `node` on PATH
    const env = { ...process.env, PATH: nodeOnly() };
    const i = run(process.execPath, ['scripts/native.mjs', 'install'], dir, env);
    expect(i.status, i.out).toBe(1);
    expect(i.stderr).toContain('ERR_UVERBS_NATIVE');
    expect(i.stderr).toContain('npm rebuild uverbs');
    expect(readdirSync(dir)).not.toContain('build');
    // asked to build from source, with no prebuild to fall back on: the same failure
    const asked = run(process.execPath, ['scripts/native.mjs', 'install'], dir, {
      ...env,
      npm_config_build_from_source: 'true',
    });
    expect(asked.status, asked.out).toBe(1);
    expect(asked.stderr).toContain('ERR_UVERBS_NATIVE');
  });

  it('asked to build from source (npm_config_build_from_source) where the build fails, the install falls back to the prebuild that loads, with a warning', () => {
    const dir = shippedCopy('from-source-fails');
    for (const wanted of ['true', 'uverbs']) {
      const r = run(process.execPath, ['scripts/native.mjs', 'install'], dir, {
        ...process.env,
        PATH: nodeOnly(), // node-gyp cannot run: the build from source fails
        npm_config_build_from_source: wanted,
      });
      expect(r.status, r.out).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/warning: the build from source failed .*; using the prebuilt binary/);
      expect(r.stderr).toContain(join(dir, PREBUILD));
      expect(r.stderr).not.toContain('ERR_UVERBS_NATIVE');
      expect(existsSync(join(dir, 'build', 'Release', 'uverbs.node'))).toBe(false);
      const load = run(
        process.execPath,
        ['--input-type=module', '-e', LOAD.replaceAll('./node_modules/uverbs/', './')],
        dir,
      );
      expect(load.status, load.out).toBe(0);
      expect(load.stdout.trim()).toBe(join(dir, PREBUILD));
    }
  });

  it("the project's `uverbs --version` and `-V` print the package's version", () => {
    for (const flag of ['--version', '-V']) {
      const r = run(join(PROJECT, 'node_modules', '.bin', 'uverbs'), [flag], PROJECT);
      expect(r.status, r.out).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it("the README's plain-JS programs are valid syntax on Node 20 and Node 22", () => {
    const examples = readmeBlocks('js');
    expect(examples.length).toBeGreaterThan(0);
    expect(examples[0]).toContain(FIRST_PROGRAM_PRINTS);
    for (const [name, node] of NODES)
      examples.forEach((_, i) => {
        const r = run(node, ['--check', exampleFile(i)], PROJECT);
        expect(r.status, `${name} ${exampleFile(i)}: ${r.out}`).toBe(0);
      });
  });

  it("the README's `using` is what Node 20 cannot parse (so the plain-JS form is needed)", () => {
    const using = readmeBlocks('ts').find((code) => /^using /m.test(code)) as string;
    writeFileSync(join(PROJECT, 'using.mjs'), using);
    const r = run(process.execPath, ['--check', 'using.mjs'], PROJECT);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('SyntaxError');
  });

  it("the README's TypeScript program type-checks against the installed package's types", () => {
    const ts = readmeBlocks('ts').find((code) => code.includes(FIRST_PROGRAM_PRINTS) && /^using /m.test(code));
    expect(ts).toBeDefined();
    writeFileSync(join(PROJECT, 'readme-example.ts'), ts as string);
    writeFileSync(
      join(PROJECT, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2022', 'ESNext.Disposable'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['readme-example.ts'],
      }),
    );
    const r = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], PROJECT);
    expect(r.status, r.out).toBe(0);
  });
});

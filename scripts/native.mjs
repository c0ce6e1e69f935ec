#!/usr/bin/env node
// The native datapath (binding.gyp, native/addon.c): built, prebuilt, or found at install.
//   node scripts/native.mjs build     node-gyp rebuild into build/Release/uverbs.node
//   node scripts/native.mjs prebuild  build, then copy it to where the package ships it,
//                                     prebuilds/<platform>-<arch>/node.napi.<libc>.node (npm pack)
//   node scripts/native.mjs install   the package's install script: nothing when a binary
//                                     already loads (the prebuild, or a local build), else
//                                     build from source; ERR_UVERBS_NATIVE if that fails too.
//                                     Asked to build from source (npm_config_build_from_source
//                                     true or uverbs), it builds first; should that fail, the
//                                     prebuild serves, with a warning, if it loads
// build and prebuild (this project's own builds, CI's and a developer's) compile with -Werror
// (binding.gyp's uverbs_werror, from UVERBS_WERROR=1); install, on a user's compiler, does not,
// so a newer compiler's new warning does not stop the build from source. UVERBS_WERROR=0 or 1
// in the environment overrides both.
// node-gyp is the project's own (devDependency) in a checkout, else the one on PATH: npm puts
// its bundled node-gyp there for install scripts. It builds against the headers installed next
// to `node` when they are there (Debian's nodejs, a tarball's include/node), so nothing is
// downloaded; otherwise node-gyp fetches the headers of the running Node.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const loader = join(root, 'dist', 'src', 'transport', 'native.js');
const say = (line) => process.stderr.write(`uverbs: ${line}\n`);

/** node-gyp rebuild; `strict`: warnings are errors (unless UVERBS_WERROR says otherwise). */
function build(strict = true) {
  const local = join(root, 'node_modules', '.bin', 'node-gyp');
  const gyp = existsSync(local) ? local : 'node-gyp';
  const prefix = dirname(dirname(process.execPath));
  const args = ['rebuild'];
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  if (!process.env.UVERBS_NATIVE_VERBOSE) args.push('--silent');
  // node-gyp's and make's progress go to stderr: stdout stays the caller's (`npm pack --json`)
  const env = { ...process.env, UVERBS_WERROR: process.env.UVERBS_WERROR ?? (strict ? '1' : '0') };
  const r = spawnSync(gyp, args, { cwd: root, stdio: [0, 2, 2], env });
  if (r.error) say(`cannot run ${gyp}: ${r.error.message}`);
  return r.status ?? 1;
}

async function prebuild() {
  const status = build();
  if (status !== 0) return status;
  const { nativeCandidates } = await import(pathToFileURL(loader).href);
  const [built, shipped] = nativeCandidates(root);
  if (shipped === undefined) {
    say(`no prebuild name for ${process.platform}-${process.arch}`);
    return 1;
  }
  mkdirSync(dirname(shipped), { recursive: true });
  copyFileSync(built, shipped);
  say(`prebuilt ${shipped.slice(root.length + 1)}`);
  return 0;
}

async function install() {
  if (!existsSync(loader)) {
    say('a source checkout without dist/: `npm run build` (prepare) builds the addon');
    return 0;
  }
  if (process.platform !== 'linux') {
    say(`the native datapath is Linux-only; nothing to build on ${process.platform}`);
    return 0;
  }
  const { native, nativeCandidates } = await import(pathToFileURL(loader).href);
  const wanted = process.env.npm_config_build_from_source;
  const asked = wanted === 'true' || wanted === 'uverbs';
  if (!asked) {
    try {
      native();
      return 0;
    } catch (e) {
      if (e.code !== 'ERR_UVERBS_NATIVE') throw e;
      say(`${e.message.replace(/^uverbs: /, '')}\nuverbs: building from source`);
    }
  }
  const status = build(false);
  let failure = `node-gyp exit ${status}`;
  if (status === 0) {
    try {
      native();
      return 0;
    } catch (e) {
      if (e.code !== 'ERR_UVERBS_NATIVE') throw e;
      say(e.message.replace(/^uverbs: /, ''));
      failure = 'its binary does not load';
    }
  }
  const [built, shipped] = nativeCandidates(root);
  if (asked && shipped !== undefined && existsSync(shipped)) {
    // the loader takes a local build first: one that does not load must not hide the prebuild
    rmSync(built, { force: true });
    try {
      native();
      say(
        `warning: the build from source failed (${failure}); using the prebuilt binary ${shipped}.` +
          ' To build from source: install python3, make and a C compiler (Debian: apt-get install python3 make gcc), then `npm rebuild uverbs`.',
      );
      return 0;
    } catch (e) {
      if (e.code !== 'ERR_UVERBS_NATIVE') throw e;
      say(e.message.replace(/^uverbs: /, ''));
    }
  }
  const prebuilt = asked
    ? `the prebuilt binary does not serve ${process.platform}-${process.arch}`
    : `no prebuilt binary serves ${process.platform}-${process.arch}`;
  say(
    `ERR_UVERBS_NATIVE: ${prebuilt} and the build from source failed (${failure}).` +
      ' Install python3, make and a C compiler (Debian: apt-get install python3 make gcc), then `npm rebuild uverbs`.',
  );
  return 1;
}

const commands = { build, prebuild, install };
const command = commands[process.argv[2]];
if (command === undefined) {
  say(`usage: node scripts/native.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
process.exitCode = await command();

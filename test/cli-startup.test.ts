/**
 * The CLI's start-up: a command loads only its own modules. `uverbs --version`
 * and `uverbs vm` never load koffi, the native addon's loader's callers or the
 * verbs; `uverbs pingpong` loads the library but not the VM harness. What was
 * loaded is read from Node's own ESM debug log (NODE_DEBUG=esm), whose
 * "Translating" line names each module as it is compiled.
 */

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from './vm-cli.js';

/** The modules (as paths under the package, or package names) the CLI compiled for `args`. */
function loaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, NODE_DEBUG: 'esm', NODE_DISABLE_COMPILE_CACHE: '1' },
    encoding: 'utf8',
  });
  const urls = [...r.stderr.matchAll(/Translating \w+ (file:\/\/\S+)/g)].map((m) => m[1] as string);
  return urls.map((u) =>
    u.includes('/node_modules/') ? (u.split('/node_modules/')[1]?.split('/')[0] ?? u) : u.replace(/^.*\/dist\//, ''),
  );
}

describe('uverbs start-up loads only what the command uses', () => {
  it('--version: the entry point, the compile-cache switch, its usage error and the package-root finder', () => {
    const mods = loaded(['--version']);
    // the log is read at all: the entry point is in it (else this test would pass on nothing)
    expect(mods).toContain('src/cli/main.js');
    expect(mods.sort()).toEqual([
      'src/cli/compile-cache.js',
      'src/cli/main.js',
      'src/cli/usage.js',
      'src/transport/native.js',
    ]);
  });

  it('vm --help: the VM harness, no koffi, no verbs', () => {
    const mods = loaded(['vm', '--help']);
    expect(mods).toContain('src/cli/vm.js');
    expect(mods).not.toContain('koffi');
    expect(mods.filter((m) => m.startsWith('src/verbs/') || m.startsWith('ioctl/'))).toEqual([]);
  });

  it('pingpong --help: the library, not the VM harness', () => {
    const mods = loaded(['pingpong', '--help']);
    expect(mods).toContain('src/verbs/context.js');
    expect(mods.filter((m) => m.startsWith('src/vm/') || m === 'src/cli/vm.js')).toEqual([]);
  });
});

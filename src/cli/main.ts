#!/usr/bin/env node
/**
 * The `uverbs` command. Data goes to stdout, diagnostics to stderr; exit
 * status 0 for success, 1 for an error, 2 for a usage mistake (`uverbs vm`
 * passes its command's status through).
 *
 * Start-up: a command loads only its own modules (each is imported when it
 * is chosen), and on Node 22.1 and later the CLI turns on Node's module
 * compile cache, so that a second run reuses V8's compiled code for them:
 * in $NODE_COMPILE_CACHE when set, else in a directory of this user's own
 * under the OS's temporary directory, and only if no other user can write
 * it (./compile-cache.ts); NODE_DISABLE_COMPILE_CACHE=1 turns it off. Only
 * this process's own start-up is affected: the library never does this for
 * a program that imports it. Node 20 has no such cache and runs as before.
 */

import { enableCompileCache } from './compile-cache.js';
import { UsageError } from './usage.js';

// before any of the commands' modules is compiled (they are all imported below, on demand)
enableCompileCache();

const HELP = `Usage: uverbs COMMAND [options]

Commands:
  devices   list uverbs devices: names, drivers, node GUIDs, ABI versions
  info      device, port and GID attributes (like ibv_devinfo -v)
  probe     which uverbs objects, methods, attributes and commands this kernel accepts
  diff      compare two 'probe --json' results
  matrix    kernel x feature table across saved 'probe --deep --json' results
  pingpong  RC ping-pong through the native datapath (talks to ibv_rc_pingpong)
  rping     librdmacm's rping over rdma_cm and the datapath (talks to rping)
  vm        run a command inside a QEMU guest with real rxe/siw devices
  check     conformance and robustness run: ABI matrix, fuzz, lifetimes, limits

Run 'uverbs COMMAND --help' for a command's options; 'uverbs --version' (-V)
prints this package's version.`;

/** The version in this package's package.json. */
async function version(): Promise<string> {
  const [{ readFileSync }, { join }, { packageRoot }] = await Promise.all([
    import('node:fs'),
    import('node:path'),
    import('../transport/native.js'),
  ]);
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'devices':
      return (await import('./devices.js')).devicesCommand(rest);
    case 'info':
      return (await import('./info.js')).infoCommand(rest);
    case 'probe':
      return (await import('./probe.js')).probeCommand(rest);
    case 'diff':
      return (await import('./probe.js')).diffCommand(rest);
    case 'matrix':
      return (await import('./matrix.js')).matrixCommand(rest);
    case 'pingpong':
      return (await import('./pingpong.js')).pingpongCommand(rest);
    case 'rping':
      return (await import('./rping.js')).rpingCommand(rest);
    case 'vm':
      return (await import('./vm.js')).vmCommand(rest);
    case 'check':
      return (await import('./check.js')).checkCommand(rest);
    case '-V':
    case '--version':
      process.stdout.write(`${await version()}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${HELP}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`uverbs: unknown command '${command}'\n\n${HELP}`);
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);

#!/usr/bin/env node
/**
 * The `uverbs` command. Data goes to stdout, diagnostics to stderr; exit
 * status 0 for success, 1 for an error, 2 for a usage mistake (`uverbs vm`
 * passes its command's status through).
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../transport/native.js';
import { devicesCommand } from './devices.js';
import { infoCommand } from './info.js';
import { pingpongCommand } from './pingpong.js';
import { diffCommand, probeCommand } from './probe.js';
import { UsageError } from './usage.js';
import { vmCommand } from './vm.js';

const HELP = `Usage: uverbs COMMAND [options]

Commands:
  devices   list uverbs devices: names, drivers, node GUIDs, ABI versions
  info      device, port and GID attributes (like ibv_devinfo -v)
  probe     which uverbs objects, methods, attributes and commands this kernel accepts
  diff      compare two 'probe --json' results
  pingpong  RC ping-pong through the native datapath (talks to ibv_rc_pingpong)
  vm        run a command inside a QEMU guest with real rxe/siw devices

Run 'uverbs COMMAND --help' for a command's options; 'uverbs --version' (-V)
prints this package's version.`;

/** The version in this package's package.json. */
function version(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'devices':
      return devicesCommand(rest);
    case 'info':
      return infoCommand(rest);
    case 'probe':
      return probeCommand(rest);
    case 'diff':
      return diffCommand(rest);
    case 'pingpong':
      return pingpongCommand(rest);
    case 'vm':
      return vmCommand(rest);
    case '-V':
    case '--version':
      process.stdout.write(`${version()}\n`);
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

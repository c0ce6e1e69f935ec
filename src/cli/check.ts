/**
 * `uverbs check [-d DEV] [--json] [--seed N] [--iterations N] [--seconds N]
 * [--fault-injection] [-q]`.
 */

import { parseArgs } from 'node:util';
import { type CheckOptions, checkFailed, DEFAULT_SEED, renderCheck, runCheck } from '../check/index.js';
import { type DeviceInfo, listDevices } from '../verbs/device.js';
import { deviceOption } from './device-option.js';
import { json } from './output.js';
import { UsageError } from './usage.js';

export const CHECK_HELP = `Usage: uverbs check [-d DEV] [--json] [--seed N] [--iterations N] [--seconds N]
                    [--fault-injection] [--no-dmesg] [-q]

A conformance and robustness run against a device's kernel and driver:
  abi          the ABI validation matrix: malformed commands, each with the
               errno the in-process kernel model predicts, sent raw
  fuzz         random well-shaped ioctl and write commands (bytes overwritten),
               sent when the model predicts a refusal; the errnos compared
  lifetime     create/close cycles of every object; EBUSY refusals; use after
               close refused before any syscall
  exhaustion   CQ, QP and SRQ at the device's limits, and one past them
Prints the agreements and disagreements of each part, and for each
disagreement the command's bytes (hex), the model's errno and the kernel's.
The kernel log (/dev/kmsg) is watched for WARNING:, BUG:, KASAN, UBSAN,
lockdep and refcount_t reports during the run, and the device's 'rdma res'
counts must be back at their baseline. A part that throws is reported as
that part's disagreement, and the other parts still run.

Exit status: 0 clean; 1 on a disagreement, a kernel warning, resources not
back at baseline, or an error; 1 (INCOMPLETE) when the kernel log could not
be read (needs CAP_SYSLOG, or --no-dmesg) or 'rdma res' could not be read
(needs iproute2's rdma); 2 for a usage mistake.

Options:
  -d, --device DEV      ib name (rxe0) or uverbs node; default: the first
      --json            machine-readable output ({"schema": 1, ...})
      --seed N          fuzz seed (default ${DEFAULT_SEED}); 'random' draws one
      --iterations N    fuzz commands (default 2000; lifetime cycles: N/10)
      --seconds N       time budget of the fuzz and of the cycles, each (default 20)
      --fault-injection also the fail-nth sweep per verb and failslab's
                        probability sweep (needs /sys/kernel/debug/failslab and
                        /proc/thread-self/fail-nth: 'uverbs vm --kernel debug');
                        changes failslab's settings while it runs, then restores them
      --no-dmesg        do not watch the kernel log: the run can then be clean
                        without it (otherwise an unread log makes it INCOMPLETE)
  -q, --quiet           no progress lines on stderr
  -h, --help            this help`;

export interface CheckArgs {
  readonly options: CheckOptions;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly help: boolean;
}

function whole(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`uverbs check: ${name} must be a whole number from ${min} to ${max}, not '${value}'`);
  }
  return n;
}

/** The command line as options for `runCheck`; a UsageError for a mistake. */
export function parseCheckArgs(argv: string[]): CheckArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      device: { type: 'string', short: 'd' },
      json: { type: 'boolean', default: false },
      seed: { type: 'string' },
      iterations: { type: 'string' },
      seconds: { type: 'string' },
      'fault-injection': { type: 'boolean', default: false },
      'no-dmesg': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const seed =
    values.seed === 'random' ? Math.floor(Math.random() * 2 ** 31) : whole('--seed', values.seed, 0, 0xffff_ffff);
  const iterations = whole('--iterations', values.iterations, 1, 10_000_000);
  const seconds = whole('--seconds', values.seconds, 1, 86_400);
  const options: CheckOptions = {
    ...(values.device === undefined ? {} : { device: values.device }),
    ...(seed === undefined ? {} : { seed }),
    ...(iterations === undefined ? {} : { iterations }),
    ...(seconds === undefined ? {} : { budgetMs: seconds * 1000 }),
    faultInjection: values['fault-injection'],
    ...(values['no-dmesg'] ? { dmesg: false } : {}),
  };
  return { options, json: values.json, quiet: values.quiet, help: values.help };
}

export function checkCommand(argv: string[]): number {
  const args = parseCheckArgs(argv);
  if (args.help) {
    process.stdout.write(`${CHECK_HELP}\n`);
    return 0;
  }
  const progress = args.quiet ? undefined : (line: string) => process.stderr.write(`${line}\n`);
  let device: DeviceInfo | undefined;
  if (args.options.device === undefined) device = listDevices()[0];
  else device = deviceOption('check', args.options.device);
  if (device === undefined) {
    process.stderr.write('uverbs check: no uverbs devices\n');
    return 1;
  }
  const report = runCheck({ ...args.options, device: device.name, ...(progress ? { progress } : {}) });
  if (!report.dmesg.watched && !report.dmesg.optedOut && !args.quiet)
    process.stderr.write(`uverbs check: dmesg not watched: ${report.dmesg.reason}\n`);
  process.stdout.write(args.json ? json(report) : renderCheck(report));
  return checkFailed(report) ? 1 : 0;
}

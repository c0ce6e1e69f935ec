/**
 * `uverbs probe [-d DEV] [--json]` and `uverbs diff A.json B.json [--json]`.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { diffProbes } from '../probe/diff.js';
import { type ProbeResult, probe } from '../probe/probe.js';
import { findDevice, listDevices } from '../verbs/device.js';
import { json, table } from './output.js';
import { UsageError } from './usage.js';

export const PROBE_HELP = `Usage: uverbs probe [-d DEV] [--json]

Asks the kernel which uverbs ioctl objects, methods and attributes, and
which legacy write / write-ex commands, this kernel and driver accept; and
which capability bits the device reports. Every probe is a command the
kernel refuses before any handler runs (the errno tells the answer), so
nothing is created or changed; the capability query opens a device context
and closes it, as ibv_devinfo does.

Options:
  -d, --device DEV   ib name (rxe0) or uverbs node (uverbs0); default: the first
      --json         machine-readable output ({"schema": 1, ...}), for 'uverbs diff'
  -h, --help         this help`;

export const DIFF_HELP = `Usage: uverbs diff A.json B.json [--json]

Compares two 'uverbs probe --json' results: what each supports that the
other does not (objects, methods, attributes, write commands, capability
bits).

Options:
      --json   machine-readable output ({"schema": 1, ...})
  -h, --help   this help`;

const yes = (b: boolean) => (b ? 'yes' : 'no');

export function probeCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      device: { type: 'string', short: 'd' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${PROBE_HELP}\n`);
    return 0;
  }
  const device = values.device === undefined ? listDevices()[0] : findDevice(values.device);
  if (device === undefined) {
    if (values.device !== undefined) throw new UsageError(`uverbs probe: no uverbs device '${values.device}'`);
    process.stderr.write('uverbs probe: no uverbs devices\n');
    return 1;
  }
  const r = probe(device);
  if (values.json) {
    process.stdout.write(json(r));
    return 0;
  }
  const out = [`${r.device.name} (driver ${r.device.driver}, kernel ${r.kernel})`, ''];
  const rows = [['object', 'method', 'supported', 'answer', 'attributes accepted']];
  for (const m of r.methods) {
    const attrs = m.attributes ? `${m.attributes.filter((a) => a.supported).length}/${m.attributes.length}` : '-';
    rows.push([m.object.replace(/^UVERBS_OBJECT_/, ''), m.method, yes(m.supported), m.errno, attrs]);
  }
  out.push(table(rows), '');
  const unaccepted = r.methods.flatMap((m) =>
    (m.attributes ?? []).filter((a) => !a.supported).map((a) => `${m.method}.${a.name}`),
  );
  if (unaccepted.length) out.push('attributes not accepted:', ...unaccepted.map((a) => `  ${a}`), '');
  out.push(
    table([
      ['write command', 'supported', 'answer'],
      ...r.writeCommands.map((w) => [w.command, yes(w.supported), w.errno]),
    ]),
    '',
  );
  out.push(`capabilities (${r.capabilities.raw}, ${r.capabilities.path}): ${r.capabilities.deviceCapFlags.join(' ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

function load(path: string): ProbeResult {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ProbeResult;
  } catch (error) {
    throw new UsageError(`uverbs diff: cannot read ${path}: ${(error as Error).message}`);
  }
}

export function diffCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(`${DIFF_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 2)
    throw new UsageError(`uverbs diff: two probe files, not ${positionals.length}\n\n${DIFF_HELP}`);
  const [a, b] = positionals.map(load) as [ProbeResult, ProbeResult];
  let d: ReturnType<typeof diffProbes>;
  try {
    d = diffProbes(a, b);
  } catch (error) {
    throw new UsageError(`uverbs diff: ${(error as Error).message}`);
  }
  if (values.json) {
    process.stdout.write(json(d));
    return 0;
  }
  const label = (s: { kernel: string; device: string }) => `${s.device}@${s.kernel}`;
  const rows = [['', 'kind', 'name']];
  for (const f of d.onlyB) rows.push(['+', f.kind, f.name]);
  for (const f of d.onlyA) rows.push(['-', f.kind, f.name]);
  const head = `A = ${label(d.a)}\nB = ${label(d.b)}\n+ only in B (${d.onlyB.length}), - only in A (${d.onlyA.length})`;
  process.stdout.write(`${head}\n\n${rows.length > 1 ? table(rows) : 'no differences'}\n`);
  return 0;
}

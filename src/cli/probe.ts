/**
 * `uverbs probe [-d DEV] [--deep] [--json]` and `uverbs diff A.json B.json [--json]`.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { diffProbes } from '../probe/diff.js';
import { type FeatureAnswer, features } from '../probe/features.js';
import { probe } from '../probe/probe.js';
import { type DeviceInfo, listDevices } from '../verbs/device.js';
import { deviceOption } from './device-option.js';
import { json, table } from './output.js';
import { UsageError } from './usage.js';

export const PROBE_HELP = `Usage: uverbs probe [-d DEV] [--deep] [--json]

Asks the kernel which uverbs ioctl objects, methods and attributes, and
which legacy write / write-ex commands, this kernel and driver accept; and
which capability bits the device reports. Every probe is a command the
kernel refuses before any handler runs (the errno tells the answer), so
nothing is created or changed; the capability query opens a device context
and closes it, as ibv_devinfo does, and calls the few read-only methods
whose presence does not say the driver serves them (QUERY_PORT_SPEED,
QUERY_CONTEXT). A line with a note says what its id-level answer does not.

--deep adds the feature table: what a user can do here (QP types, SRQs,
MWs, ODP, FLUSH, ...), each answered by making the real object and
destroying it (nothing is left behind), with how it was known: yes, no,
or ? (could not tell).

Options:
  -d, --device DEV   ib name (rxe0) or uverbs node (uverbs0); default: the first
      --deep         also answer the features by making and destroying objects
      --json         machine-readable output ({"schema": 2, ...}; --deep adds
                     "features"), for 'uverbs diff' and 'uverbs matrix'
  -h, --help         this help`;

export const DIFF_HELP = `Usage: uverbs diff A.json B.json [--json]

Compares two 'uverbs probe --json' results (schema 1 or 2): what each
supports that the other does not (objects, methods, attributes, write
commands, capability bits, and features where both were --deep).

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
      deep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${PROBE_HELP}\n`);
    return 0;
  }
  let device: DeviceInfo | undefined;
  if (values.device === undefined) {
    device = listDevices()[0];
    if (device === undefined) {
      process.stderr.write('uverbs probe: no uverbs devices\n');
      return 1;
    }
  } else {
    device = deviceOption('probe', values.device);
  }
  const r = probe(device);
  if (values.deep) r.features = features(device);
  if (values.json) {
    process.stdout.write(json(r));
    return 0;
  }
  const out = [`${r.device.name} (driver ${r.device.driver}, kernel ${r.kernel})`, ''];
  const rows = [['object', 'method', 'supported', 'answer', 'attributes accepted', 'note']];
  for (const m of r.methods) {
    const attrs = m.attributes ? `${m.attributes.filter((a) => a.supported).length}/${m.attributes.length}` : '-';
    rows.push([m.object.replace(/^UVERBS_OBJECT_/, ''), m.method, yes(m.supported), m.errno, attrs, m.note ?? '']);
  }
  out.push(table(rows), '');
  const unaccepted = r.methods.flatMap((m) =>
    (m.attributes ?? []).filter((a) => !a.supported).map((a) => `${m.method}.${a.name}`),
  );
  if (unaccepted.length) out.push('attributes not accepted:', ...unaccepted.map((a) => `  ${a}`), '');
  out.push(
    table([
      ['write command', 'supported', 'answer', 'note'],
      ...r.writeCommands.map((w) => [w.command, yes(w.supported), w.errno, w.note ?? '']),
    ]),
    '',
  );
  out.push(
    table([
      ['object', 'supported', 'via', 'note'],
      ...r.objects.map((o) => [
        o.object.replace(/^UVERBS_OBJECT_/, ''),
        yes(o.supported),
        o.via.join('+') || '-',
        o.note ?? '',
      ]),
    ]),
    '',
  );
  out.push(`capabilities (${r.capabilities.raw}, ${r.capabilities.path}): ${r.capabilities.deviceCapFlags.join(' ')}`);
  if (r.features) out.push('', featureTable(r.features));
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

/** The feature answers as a table: yes / no / ? and how each was known. */
export function featureTable(answers: readonly FeatureAnswer[]): string {
  const mark = (a: FeatureAnswer) => (a.supported === true ? 'yes' : a.supported === false ? 'no' : '?');
  return table([
    ['feature', 'supported', 'how'],
    ...answers.map((a) => [a.name, mark(a), `${a.how}${a.detail?.length ? ` [${a.detail.join('; ')}]` : ''}`]),
  ]);
}

/** A JSON file, parsed; UsageError naming the command and the file when it cannot be read. */
export function loadJson(command: string, path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`uverbs ${command}: cannot read ${path}: ${(error as Error).message}`);
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
  const [a, b] = positionals.map((p) => loadJson('diff', p));
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

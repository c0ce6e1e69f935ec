/**
 * `uverbs info [-d DEV] [-v] [--json]`: what ibv_devinfo (-v) shows, read
 * through this library, with the kernel release and the path each query took.
 */

import { parseArgs } from 'node:util';
import { deviceReport, INFO_SCHEMA } from '../probe/info.js';
import { Context } from '../verbs/context.js';
import { listDevices } from '../verbs/device.js';
import { deviceOption } from './device-option.js';
import { json, show, table } from './output.js';

export const INFO_HELP = `Usage: uverbs info [-d DEV] [-v] [--json]

Device attributes (the extended QUERY_DEVICE), capability bits by name,
each port and the GID table, like ibv_devinfo; plus the kernel release and
which path (ioctl, write, write-ex) each query took. Opens a device
context for the queries and closes it; creates nothing else.

Options:
  -d, --device DEV   ib name (rxe0) or uverbs node (uverbs0); default: all devices
  -v, --verbose      every attribute the kernel returned ('-' where it returned none)
      --json         machine-readable output ({"schema": 2, ...}); always verbose
  -h, --help         this help`;

const SUMMARY = ['fwVer', 'nodeGuid', 'sysImageGuid', 'vendorId', 'vendorPartId', 'hwVer', 'physPortCnt'];
const PORT_SUMMARY = ['smLid', 'lid', 'lmc', 'gidTblLen'];

export function infoCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      device: { type: 'string', short: 'd' },
      verbose: { type: 'boolean', short: 'v', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${INFO_HELP}\n`);
    return 0;
  }
  const all = listDevices();
  const devices = values.device === undefined ? all : [deviceOption('info', values.device, all)];
  if (devices.length === 0) {
    process.stderr.write('uverbs info: no uverbs devices\n');
    return 1;
  }
  const reports = devices.map((d) => {
    using ctx = Context.open(d);
    return deviceReport(ctx);
  });
  if (values.json) {
    process.stdout.write(json(values.device === undefined ? { schema: INFO_SCHEMA, devices: reports } : reports[0]));
    return 0;
  }
  const out: string[] = [];
  for (const r of reports) {
    out.push(`device ${r.device.name} (${r.device.path}, driver ${r.device.driver}, kernel ${r.kernel})`);
    const keys = values.verbose ? Object.keys(r.attributes) : SUMMARY;
    out.push(table(keys.map((k) => [`  ${k}`, show(r.attributes[k])])));
    out.push(`  capabilities: ${r.capabilities.join(' ')}`);
    for (const p of r.ports) {
      out.push(`  port ${p.port}: ${p.state}, link layer ${p.linkLayer}, mtu ${p.activeMtu} (max ${p.maxMtu})`);
      const attributes = p as unknown as Record<string, unknown>;
      const pk = values.verbose ? Object.keys(p).filter((k) => k !== 'port' && k !== 'path') : PORT_SUMMARY;
      out.push(table(pk.map((k) => [`    ${k}`, show(attributes[k])])));
    }
    out.push(
      table([
        ['  GID', 'port', 'index', 'type', 'gid', 'netdev'],
        ...r.gids.map((g) => ['', String(g.port), String(g.index), String(g.type), g.gid, g.netdev ?? '-']),
      ]),
    );
    out.push(
      `  paths: ${Object.entries(r.paths)
        .map(([k, v]) => `${k} ${v ?? 'unsupported'}`)
        .join(', ')}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

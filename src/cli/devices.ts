/**
 * `uverbs devices [--json]`: the uverbs char devices with their ib names,
 * drivers (asked of the kernel), node GUIDs and ABI versions.
 */

import { parseArgs } from 'node:util';
import { O_CLOEXEC, O_RDWR } from '../../ioctl/index.js';
import { memberName } from '../abi/c-enum.js';
import { rdma_driver_id } from '../abi/constants.js';
import { errnoName } from '../errno.js';
import { detectDriverId } from '../transport/driver-id.js';
import { Scratch } from '../transport/memory.js';
import { libcSys } from '../transport/sys.js';
import { listDevices, uverbsAbiVersion } from '../verbs/device.js';
import { json, table } from './output.js';

export const DEVICES_HELP = `Usage: uverbs devices [--json]

Lists the uverbs devices: char device, ib name, driver, node GUID, node
type, the driver's uverbs ABI version, and the netdev a software device
sits on. The driver is asked of the kernel (one ioctl for a method that
does not exist: it names the driver id, and runs nothing).

Options:
      --json   machine-readable output ({"schema": 1, ...})
  -h, --help   this help`;

function driverOf(path: string): { driver: string; driverId: number | null } {
  const sys = libcSys();
  const fd = sys.open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return { driver: `? (${errnoName(-fd)})`, driverId: null };
  const scratch = new Scratch(sys);
  try {
    const id = detectDriverId(sys, fd, scratch);
    if (id === undefined) return { driver: 'unknown', driverId: null };
    return {
      driver: memberName(rdma_driver_id, id)
        .replace(/^RDMA_DRIVER_/, '')
        .toLowerCase(),
      driverId: id,
    };
  } finally {
    scratch.free();
    sys.close(fd);
  }
}

export function devicesCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(`${DEVICES_HELP}\n`);
    return 0;
  }
  const devices = listDevices().map((d) => ({ ...d, ...driverOf(d.path) }));
  if (values.json) {
    process.stdout.write(json({ schema: 1, uverbsAbiVersion: uverbsAbiVersion() ?? null, devices }));
    return 0;
  }
  if (devices.length === 0) {
    process.stderr.write(
      'uverbs devices: no uverbs devices (is ib_uverbs loaded? try `uverbs vm -- uverbs devices`)\n',
    );
    return 1;
  }
  const rows = [['device', 'name', 'driver', 'node GUID', 'node type', 'abi', 'netdev']];
  for (const d of devices) {
    rows.push([d.path, d.name, d.driver, d.nodeGuid, d.nodeType, String(d.driverAbiVersion), d.parent ?? '-']);
  }
  process.stdout.write(`${table(rows)}\n`);
  return 0;
}

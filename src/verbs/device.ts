/**
 * uverbs devices as the kernel lists them in sysfs:
 * /sys/class/infiniband_verbs/uverbsN/{ibdev,abi_version,dev} and
 * /sys/class/infiniband/<ibdev>/{node_guid,node_type,parent}.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENODEV } from '../errno.js';
import { UverbsError } from '../errors.js';

export const SYSFS_VERBS = '/sys/class/infiniband_verbs';
export const SYSFS_IB = '/sys/class/infiniband';

export interface DeviceInfo {
  /** The ib device name (`rxe0`). */
  readonly name: string;
  /** The uverbs node (`uverbs0`). */
  readonly node: string;
  /** The char device to open (`/dev/infiniband/uverbs0`). */
  readonly path: string;
  /** The driver's own uverbs ABI version (rxe 2, siw 1), from `uverbsN/abi_version`. */
  readonly driverAbiVersion: number;
  /** Node GUID as the kernel prints it (`5054:00ff:fe12:3456`). */
  readonly nodeGuid: string;
  /** `node_type` (`1: CA`, `4: RNIC`). */
  readonly nodeType: string;
  /** The netdev a software device sits on, when it has one (`eth0`). */
  readonly parent?: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The uverbs ABI version of the core (`/sys/class/infiniband_verbs/abi_version`), or undefined without uverbs. */
export function uverbsAbiVersion(root = SYSFS_VERBS): number | undefined {
  const v = read(join(root, 'abi_version'));
  return v === undefined ? undefined : Number.parseInt(v, 10);
}

/** Every uverbs device, ordered by node number; empty where the kernel has no uverbs. */
export function listDevices(verbs = SYSFS_VERBS, ib = SYSFS_IB): DeviceInfo[] {
  if (!existsSync(verbs)) return [];
  return readdirSync(verbs)
    .filter((n) => /^uverbs\d+$/.test(n))
    .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
    .map((node) => {
      const name = read(join(verbs, node, 'ibdev')) ?? node;
      const parent = read(join(ib, name, 'parent'));
      return {
        name,
        node,
        path: `/dev/infiniband/${node}`,
        driverAbiVersion: Number.parseInt(read(join(verbs, node, 'abi_version')) ?? '0', 10),
        nodeGuid: read(join(ib, name, 'node_guid')) ?? '',
        nodeType: read(join(ib, name, 'node_type')) ?? '',
        ...(parent ? { parent } : {}),
      };
    });
}

/** One device by ib name (`rxe0`) or uverbs node (`uverbs0`). */
export function findDevice(nameOrNode: string, devices = listDevices()): DeviceInfo | undefined {
  return devices.find((d) => d.name === nameOrNode || d.node === nameOrNode);
}

/**
 * One device by ib name (`rxe0`) or uverbs node (`uverbs0`); a name that
 * names none is `UverbsError` ENODEV (syscall `none`: nothing was opened)
 * whose message lists the devices there are.
 */
export function resolveDevice(nameOrNode: string, devices = listDevices()): DeviceInfo {
  const found = findDevice(nameOrNode, devices);
  if (found !== undefined) return found;
  const there =
    devices.length === 0
      ? 'this kernel lists no uverbs devices (/sys/class/infiniband_verbs)'
      : `the uverbs devices are ${devices.map((d) => `${d.name} (${d.node})`).join(', ')}`;
  throw new UverbsError({
    errno: ENODEV,
    syscall: 'none',
    object: nameOrNode,
    method: 'open',
    path: 'open',
    detail: `no uverbs device is called '${nameOrNode}'; ${there}`,
  });
}

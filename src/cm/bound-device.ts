/**
 * Which uverbs device an rdma_cm ID is bound to, by name, so that a
 * {@link Context} can be opened on it for the ID's QP (librdmacm hands out
 * `id->verbs`; this library opens its own context).
 *
 * RDMA_USER_CM_QUERY_ADDR answers the device's node GUID and its kernel
 * index; sysfs has the GUIDs but not the index. Devices on one netdev may
 * share a GUID (rxe and siw both derive it from the MAC address): among
 * those, the RoCE device whose GID table holds the ID's source IPv4 address
 * (`::ffff:a.b.c.d`) is the one, else the first in uverbs order.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENODEV } from '../errno.js';
import { UverbsError } from '../errors.js';
import { listDevices, SYSFS_IB } from '../verbs/device.js';
import type { ConnectionId } from './connection-id.js';

/** The node GUID as sysfs prints it (`5054:00ff:fe12:3456`). */
function guidText(guid: bigint): string {
  const hex = guid.toString(16).padStart(16, '0');
  return hex.match(/.{4}/g)?.join(':') ?? hex;
}

/** Whether `ibdev`'s port `port` lists the IPv4-mapped GID of `address`. */
function hasIpv4Gid(ibdev: string, port: number, address: string, ib = SYSFS_IB): boolean {
  const octets = address.split('.').map(Number);
  if (octets.length !== 4) return false;
  const want = `0000:0000:0000:0000:0000:ffff:${((octets[0] as number) * 256 + (octets[1] as number)).toString(16).padStart(4, '0')}:${((octets[2] as number) * 256 + (octets[3] as number)).toString(16).padStart(4, '0')}`;
  const dir = join(ib, ibdev, 'ports', String(port), 'gids');
  try {
    return readdirSync(dir).some((g) => {
      try {
        return readFileSync(join(dir, g), 'utf8').trim() === want;
      } catch {
        return false; // an empty GID slot reads EINVAL on some kernels
      }
    });
  } catch {
    return false;
  }
}

/**
 * The name of the uverbs device `id` is bound to (after bind, address
 * resolution, or a connect request); `UverbsError` ENODEV when no uverbs
 * device has its node GUID (or it is bound to none yet).
 */
export function boundDevice(id: ConnectionId): string {
  const info = id.query();
  const guid = guidText(info.nodeGuid);
  const candidates = info.nodeGuid === 0n ? [] : listDevices().filter((d) => d.nodeGuid === guid);
  if (candidates.length > 1 && info.source?.family === 'IPv4') {
    const address = info.source.address;
    const roce = candidates.find((d) => hasIpv4Gid(d.name, info.port, address));
    if (roce !== undefined) return roce.name;
  }
  const first = candidates[0];
  if (first === undefined) {
    throw new UverbsError({
      errno: ENODEV,
      syscall: 'none',
      object: id.description,
      method: 'boundDevice',
      path: 'open',
      detail: info.nodeGuid === 0n ? 'the ID is bound to no device yet' : `no uverbs device has node GUID ${guid}`,
    });
  }
  return first.name;
}

/**
 * Which uverbs device an rdma_cm ID is bound to, by name, so that a
 * {@link Context} can be opened on it for the ID's QP (librdmacm hands out
 * `id->verbs`; this library opens its own context).
 *
 * RDMA_USER_CM_QUERY_ADDR answers the device's node GUID and its kernel
 * index; sysfs has the GUIDs but not the index. Devices on one netdev may
 * share a GUID (rxe and siw both derive it from the MAC address): then the
 * ID's source GID (RDMA_USER_CM_QUERY_GID) decides, the one device whose
 * GID table holds it (RoCE: the IPv4-mapped address; iWARP: the MAC-based
 * GID). Nothing is guessed: no such device, or more than one, is ENOTUNIQ.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENODEV, ENOTUNIQ } from '../errno.js';
import { UverbsError } from '../errors.js';
import { listDevices, SYSFS_IB } from '../verbs/device.js';
import type { ConnectionId } from './connection-id.js';

/** The node GUID as sysfs prints it (`5054:00ff:fe12:3456`). */
function guidText(guid: bigint): string {
  const hex = guid.toString(16).padStart(16, '0');
  return hex.match(/.{4}/g)?.join(':') ?? hex;
}

/** Whether `ibdev`'s port `port` lists `gid` (as sysfs prints it) in its GID table. */
function hasGid(ibdev: string, port: number, gid: string, ib = SYSFS_IB): boolean {
  const dir = join(ib, ibdev, 'ports', String(port), 'gids');
  try {
    return readdirSync(dir).some((g) => {
      try {
        return readFileSync(join(dir, g), 'utf8').trim() === gid;
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
 * device has its node GUID (or it is bound to none yet), ENOTUNIQ when the
 * devices sharing the GUID do not single one out by the source GID.
 */
export function boundDevice(id: ConnectionId): string {
  const info = id.query();
  const guid = guidText(info.nodeGuid);
  let candidates = info.nodeGuid === 0n ? [] : listDevices().filter((d) => d.nodeGuid === guid);
  if (candidates.length > 1) {
    // one GUID, several devices (rxe and siw on one netdev): the one whose GID table holds the ID's source GID
    const gid = id.sourceGid();
    candidates = candidates.filter((d) => hasGid(d.name, info.port, gid));
    if (candidates.length !== 1) {
      throw new UverbsError({
        errno: ENOTUNIQ,
        syscall: 'none',
        object: id.description,
        method: 'boundDevice',
        path: 'open',
        detail: `node GUID ${guid} and source GID ${gid} name ${candidates.length === 0 ? 'no uverbs device' : candidates.map((d) => d.name).join(' and ')}`,
      });
    }
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

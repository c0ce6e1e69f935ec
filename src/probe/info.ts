/**
 * Everything `ibv_devinfo -v` shows about a device, read through the
 * library: device attributes (extended query), capability bits by name,
 * each port, the GID table with types; plus the kernel release and which
 * path (ioctl / write / write-ex) each query took.
 */

import { memberName } from '../abi/c-enum.js';
import { ib_uverbs_gid_type, rdma_driver_id } from '../abi/constants.js';
import { ib_mtu, ib_port_state, rdma_link_layer } from '../abi/kernel-internal.js';
import type { CallPath } from '../errors.js';
import type { Context } from '../verbs/context.js';
import type { DeviceInfo } from '../verbs/device.js';
import { capabilityNames } from './probe.js';

export const INFO_SCHEMA = 1;

export interface PortInfo {
  port: number;
  state: string;
  maxMtu: number | string;
  activeMtu: number | string;
  linkLayer: string;
  /** Every field of the port query, camelCased. */
  attributes: Record<string, unknown>;
  path: CallPath | undefined;
}

export interface GidInfo {
  port: number;
  index: number;
  gid: string;
  type: string;
  netdevIfindex: number;
}

export interface DeviceReport {
  schema: typeof INFO_SCHEMA;
  kernel: string;
  device: DeviceInfo & { driver: string; driverId: number | null };
  /** Every field of the extended device query, camelCased and flattened (`odpCaps.generalCaps`). */
  attributes: Record<string, unknown>;
  capabilities: string[];
  ports: PortInfo[];
  gids: GidInfo[];
  /** The path each query took. */
  paths: Record<string, CallPath | undefined>;
}

function flatten(
  value: Record<string, unknown>,
  prefix = '',
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v)) {
      flatten(v as Record<string, unknown>, k === 'base' && !prefix ? '' : key, out);
    } else {
      out[key] = v;
    }
  }
  return out;
}

const MTU_BYTES: Record<string, number> = {
  IB_MTU_256: 256,
  IB_MTU_512: 512,
  IB_MTU_1024: 1024,
  IB_MTU_2048: 2048,
  IB_MTU_4096: 4096,
};

function mtu(code: number): number | string {
  return MTU_BYTES[memberName(ib_mtu, code)] ?? code;
}

function gidText(gid: Uint8Array): string {
  const hex = Buffer.from(gid).toString('hex');
  return hex.match(/.{4}/g)?.join(':') ?? hex;
}

export function deviceReport(ctx: Context): DeviceReport {
  const paths: Record<string, CallPath | undefined> = { getContext: ctx.lastPath };
  const dev = ctx.queryDevice();
  paths.queryDevice = ctx.lastPath;
  const attributes = flatten(dev);
  const flags = (dev.deviceCapFlagsEx as bigint | undefined) ?? (attributes.deviceCapFlags as bigint);
  const ports: PortInfo[] = [];
  for (let p = 1; p <= (attributes.physPortCnt as number); p++) {
    const a = ctx.queryPort(p);
    ports.push({
      port: p,
      state: memberName(ib_port_state, a.state as number).replace(/^IB_PORT_/, ''),
      maxMtu: mtu(a.maxMtu as number),
      activeMtu: mtu(a.activeMtu as number),
      linkLayer: memberName(rdma_link_layer, a.linkLayer as number).replace(/^IB_LINK_LAYER_/, ''),
      attributes: a,
      path: ctx.lastPath,
    });
  }
  paths.queryPort = ports[0]?.path;
  let gids: GidInfo[] = [];
  try {
    gids = ctx.queryGidTable().map((g) => ({
      port: g.port,
      index: g.index,
      gid: gidText(g.gid),
      type: memberName(ib_uverbs_gid_type, g.type).replace(/^IB_UVERBS_GID_TYPE_/, ''),
      netdevIfindex: g.netdevIfindex,
    }));
    paths.queryGidTable = ctx.lastPath;
  } catch (error) {
    if (!(error as { unsupported?: boolean }).unsupported) throw error;
    paths.queryGidTable = undefined;
  }
  return {
    schema: INFO_SCHEMA,
    kernel: ctx.release,
    device: {
      ...ctx.device,
      driver:
        ctx.driverId === undefined
          ? 'unknown'
          : memberName(rdma_driver_id, ctx.driverId)
              .replace(/^RDMA_DRIVER_/, '')
              .toLowerCase(),
      driverId: ctx.driverId ?? null,
    },
    attributes,
    capabilities: capabilityNames(flags),
    ports,
    gids,
    paths,
  };
}

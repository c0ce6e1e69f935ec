/**
 * Everything `ibv_devinfo -v` shows about a device, read through the
 * library: device attributes (extended query), capability bits by name,
 * each port, the GID table with types; plus the kernel release and which
 * path (ioctl / write / write-ex) each query took.
 */

import { memberName } from '../abi/c-enum.js';
import { rdma_driver_id } from '../abi/constants.js';
import type { CallPath } from '../errors.js';
import { type DeviceAttributes, type GidType, gidText, type PortAttributes } from '../verbs/attributes.js';
import type { Context } from '../verbs/context.js';
import type { DeviceInfo } from '../verbs/device.js';
import { capabilityNames } from './probe.js';

/**
 * 2: the device and port attributes are `queryDevice()` / `queryPort()`'s
 * typed results (names for enums, MTUs in bytes, libibverbs' field names);
 * each port's attributes sit in the port's entry; GID types are `IB`,
 * `RoCEv1`, `RoCEv2`. 1 carried the kernel's raw camelCased responses.
 */
export const INFO_SCHEMA = 2;

/** One port: its number, what `queryPort()` returned, and the path the query took. */
export type PortInfo = { port: number; path: CallPath | undefined } & PortAttributes;

export interface GidInfo {
  port: number;
  index: number;
  gid: string;
  type: GidType | number;
  netdevIfindex: number;
  netdev?: string;
}

export interface DeviceReport {
  schema: typeof INFO_SCHEMA;
  kernel: string;
  device: DeviceInfo & { driver: string; driverId: number | null };
  /**
   * `queryDevice()`'s result flattened (`odpCaps.generalCaps`), its
   * `capabilities` left to the report's own list.
   */
  attributes: Record<string, unknown>;
  /** `deviceCapFlags` by `IB_UVERBS_DEVICE_*` name, and bits without one in hex. */
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
      flatten(v as Record<string, unknown>, key, out);
    } else {
      out[key] = v;
    }
  }
  return out;
}

export function deviceReport(ctx: Context): DeviceReport {
  const paths: Record<string, CallPath | undefined> = { getContext: ctx.lastPath };
  const dev: DeviceAttributes = ctx.queryDevice();
  paths.queryDevice = ctx.lastPath;
  const { capabilities: _, ...rest } = dev;
  const attributes = flatten(rest as Record<string, unknown>);
  const ports: PortInfo[] = [];
  for (let p = 1; p <= dev.physPortCnt; p++) {
    const a = ctx.queryPort(p);
    ports.push({ port: p, path: ctx.lastPath, ...a });
  }
  paths.queryPort = ports[0]?.path;
  let gids: GidInfo[] = [];
  try {
    gids = ctx.queryGidTable().map((g) => ({
      port: g.port,
      index: g.index,
      gid: gidText(g.gid),
      type: g.type,
      netdevIfindex: g.netdevIfindex,
      ...(g.netdev === undefined ? {} : { netdev: g.netdev }),
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
    capabilities: capabilityNames(dev.deviceCapFlags),
    ports,
    gids,
    paths,
  };
}

/**
 * What `Context.queryDevice()`, `queryPort()` and the GID queries return, in
 * names a program can read: libibverbs' field names camelCased
 * (`ibv_device_attr_ex`, `ibv_port_attr`), one name per field, enums as
 * names (port state, physical state, link layer, width, speed, atomic
 * capability, GID type), MTUs in bytes as `QueuePair.modify` takes them,
 * capability bits both raw and by name.
 *
 * The decoders read the camelCased kernel responses
 * (`ib_uverbs_ex_query_device_resp`, `ib_uverbs_query_port_resp_ex`,
 * `ib_uverbs_gid_entry`); the name tables are the ones
 * src/abi/kernel-internal.ts proves against the kernels' headers.
 */

import { readdirSync, readFileSync } from 'node:fs';
import {
  ib_uverbs_device_cap_flags,
  ib_uverbs_gid_type,
  ib_uverbs_query_port_cap_flags,
  ib_uverbs_query_port_flags,
} from '../abi/constants.js';
import {
  ib_atomic_cap,
  ib_mtu,
  ib_port_phys_state,
  ib_port_speed,
  ib_port_state,
  ib_port_width,
  rdma_link_layer,
} from '../abi/kernel-internal.js';
import type { Mtu } from './queue-pair.js';

type Strip<K, P extends string> = K extends `${P}${infer N}` ? N : never;

/** `enum ib_port_state` without `IB_PORT_`. */
export type PortState = Strip<keyof typeof ib_port_state, 'IB_PORT_'>;
/** `enum ib_port_phys_state` without `IB_PORT_PHYS_STATE_`. */
export type PortPhysState = Strip<keyof typeof ib_port_phys_state, 'IB_PORT_PHYS_STATE_'>;
/** `enum ib_port_width` as ibv_devinfo prints it: the lane count and `X`. */
export type PortWidth = Strip<keyof typeof ib_port_width, 'IB_WIDTH_'>;
/** `enum ib_port_speed` without `IB_SPEED_`: the per-lane signalling rate (SDR 2.5 Gb/s .. XDR 200 Gb/s). */
export type PortSpeed = Strip<keyof typeof ib_port_speed, 'IB_SPEED_'>;
/** `enum rdma_link_layer`, as ibv_devinfo prints it. */
export type LinkLayer = 'Unspecified' | 'InfiniBand' | 'Ethernet';
/** `enum ib_atomic_cap` without `IB_ATOMIC_`: NONE, HCA (atomic within this device), GLOB (with the CPU too). */
export type AtomicCap = Strip<keyof typeof ib_atomic_cap, 'IB_ATOMIC_'>;
/** `enum ib_uverbs_gid_type`: IB, RoCE v1 (the GRH in Ethernet), RoCE v2 (in UDP/IP). */
export type GidType = 'IB' | 'RoCEv1' | 'RoCEv2';
/** `enum ib_uverbs_device_cap_flags` without `IB_UVERBS_DEVICE_`. */
export type DeviceCapability = Strip<keyof typeof ib_uverbs_device_cap_flags, 'IB_UVERBS_DEVICE_'>;
/** `enum ib_uverbs_query_port_cap_flags` without `IB_UVERBS_PCF_`. */
export type PortCapability = Strip<keyof typeof ib_uverbs_query_port_cap_flags, 'IB_UVERBS_PCF_'>;

const LINK_LAYERS: Record<number, LinkLayer> = {
  [rdma_link_layer.IB_LINK_LAYER_UNSPECIFIED]: 'Unspecified',
  [rdma_link_layer.IB_LINK_LAYER_INFINIBAND]: 'InfiniBand',
  [rdma_link_layer.IB_LINK_LAYER_ETHERNET]: 'Ethernet',
};
const GID_TYPES: Record<number, GidType> = {
  [ib_uverbs_gid_type.IB_UVERBS_GID_TYPE_IB]: 'IB',
  [ib_uverbs_gid_type.IB_UVERBS_GID_TYPE_ROCE_V1]: 'RoCEv1',
  [ib_uverbs_gid_type.IB_UVERBS_GID_TYPE_ROCE_V2]: 'RoCEv2',
};
const MTU_BYTES: Record<number, Mtu> = {
  [ib_mtu.IB_MTU_256]: 256,
  [ib_mtu.IB_MTU_512]: 512,
  [ib_mtu.IB_MTU_1024]: 1024,
  [ib_mtu.IB_MTU_2048]: 2048,
  [ib_mtu.IB_MTU_4096]: 4096,
};

/** The member of `table` whose value is `code`, less `prefix`; the code itself where there is none. */
function named<N extends string>(table: Readonly<Record<string, number>>, prefix: string, code: number): N | number {
  for (const [k, v] of Object.entries(table)) if (v === code) return k.slice(prefix.length) as N;
  return code;
}

function flagNames<N extends string>(
  table: Readonly<Record<string, number | bigint>>,
  prefix: string,
  bits: bigint,
): N[] {
  const out: N[] = [];
  for (const [k, v] of Object.entries(table)) if (bits & BigInt(v)) out.push(k.slice(prefix.length) as N);
  return out;
}

/** A GUID as sysfs and `DeviceInfo.nodeGuid` print it: four groups of four hex digits. */
function guidText(guid: bigint): string {
  return (guid.toString(16).padStart(16, '0').match(/.{4}/g) as string[]).join(':');
}

/** `ibv_odp_caps`: on-demand paging, `IBV_ODP_SUPPORT*` / `IBV_ODP_SUPPORT_<op>` bits. */
export interface OdpCaps {
  generalCaps: bigint;
  perTransportCaps: { rcOdpCaps: number; ucOdpCaps: number; udOdpCaps: number };
}

/** `ibv_rss_caps` (the hash fields and function are not in the kernel's reply). */
export interface RssCaps {
  supportedQpts: number;
  maxRwqIndirectionTables: number;
  maxRwqIndirectionTableSize: number;
}

/** `ibv_tm_caps`: tag matching. */
export interface TmCaps {
  maxRndvHdrSize: number;
  maxNumTags: number;
  flags: number;
  maxOps: number;
  maxSge: number;
}

/** `ibv_cq_moderation_caps`. */
export interface CqModCaps {
  maxCqCount: number;
  maxCqPeriod: number;
}

/**
 * Device attributes: `ibv_device_attr` flattened (`orig_attr` is not a
 * level of its own) and `ibv_device_attr_ex`'s extensions, camelCased. The
 * extensions are optional: a kernel that does not vouch for them (its
 * `response_length` stops short) leaves them undefined.
 */
export interface DeviceAttributes {
  /** `fw_ver` as the kernel's u64 (rxe and siw: 0); ibv_devinfo prints sysfs' `fw_ver` text instead. */
  fwVer: bigint;
  /** As sysfs prints it (`5054:00ff:fe12:3456`), the same text as `DeviceInfo.nodeGuid`. */
  nodeGuid: string;
  sysImageGuid: string;
  maxMrSize: bigint;
  pageSizeCap: bigint;
  vendorId: number;
  vendorPartId: number;
  hwVer: number;
  maxQp: number;
  maxQpWr: number;
  /**
   * The raw capability bits: `device_cap_flags_ex` where the kernel returns
   * it (a 64-bit superset), else the 32-bit `device_cap_flags`.
   */
  deviceCapFlags: bigint;
  /** `deviceCapFlags` by name (`MEM_WINDOW`, `MEM_WINDOW_TYPE_2B`, `ATOMIC_WRITE`, ...); bits without a name are only in `deviceCapFlags`. */
  capabilities: DeviceCapability[];
  maxSge: number;
  maxSgeRd: number;
  maxCq: number;
  maxCqe: number;
  maxMr: number;
  maxPd: number;
  maxQpRdAtom: number;
  maxEeRdAtom: number;
  maxResRdAtom: number;
  maxQpInitRdAtom: number;
  maxEeInitRdAtom: number;
  /** The atomic capability's name, or the code where it has none (a newer kernel's). */
  atomicCap: AtomicCap | number;
  maxEe: number;
  maxRdd: number;
  maxMw: number;
  maxRawIpv6Qp: number;
  maxRawEthyQp: number;
  maxMcastGrp: number;
  maxMcastQpAttach: number;
  maxTotalMcastQpAttach: number;
  maxAh: number;
  maxFmr: number;
  maxMapPerFmr: number;
  maxSrq: number;
  maxSrqWr: number;
  maxSrqSge: number;
  maxPkeys: number;
  localCaAckDelay: number;
  physPortCnt: number;
  odpCaps?: OdpCaps;
  /** The kernel's `timestamp_mask`. */
  completionTimestampMask?: bigint;
  /** In kHz. */
  hcaCoreClock?: bigint;
  rssCaps?: RssCaps;
  maxWqTypeRq?: number;
  /** `IB_UVERBS_RAW_PACKET_CAP_*` bits. */
  rawPacketCaps?: number;
  tmCaps?: TmCaps;
  /** The kernel's `cq_moderation_caps`. */
  cqModCaps?: CqModCaps;
  maxDmSize?: bigint;
  xrcOdpCaps?: number;
}

/** Port attributes: `ibv_port_attr`, camelCased, with enums as names. */
export interface PortAttributes {
  /** The port state's name (`ACTIVE`, `DOWN`, ...), or the code where it has none (a newer kernel's). */
  state: PortState | number;
  /**
   * The largest MTU the port supports, in bytes, or the kernel's
   * `enum ib_mtu` code where it names no MTU `modify()` takes. Narrow with
   * `isMtu()` before giving it as a `pathMtu`.
   */
  maxMtu: Mtu | number;
  /**
   * The port's active MTU, in bytes as `connect()`'s `pathMtu` takes it, or
   * the kernel's `enum ib_mtu` code where it has no size here; narrow with
   * `isMtu()`: `isMtu(port.activeMtu) ? port.activeMtu : 1024`.
   */
  activeMtu: Mtu | number;
  gidTblLen: number;
  /** The raw `port_cap_flags` (`IB_UVERBS_PCF_*`). */
  portCapFlags: number;
  /** `portCapFlags` by name (`IP_BASED_GIDS`, `CM_SUP`, ...). */
  capabilities: PortCapability[];
  /** The raw `port_cap_flags2`. */
  portCapFlags2: number;
  maxMsgSz: number;
  badPkeyCntr: number;
  qkeyViolCntr: number;
  pkeyTblLen: number;
  lid: number;
  smLid: number;
  lmc: number;
  maxVlNum: number;
  smSl: number;
  subnetTimeout: number;
  initTypeReply: number;
  /** The width's name (`1X`, `4X`, ...), or the code where it has none (a driver that reports 0). */
  activeWidth: PortWidth | number;
  /**
   * The per-lane speed's name (`SDR`, ..., `XDR`): from `active_speed_ex`
   * where the kernel returns it (6.12+, ioctl), else `active_speed`; the
   * code where it has no name.
   */
  activeSpeed: PortSpeed | number;
  physState: PortPhysState | number;
  linkLayer: LinkLayer;
  /** `flags & IB_UVERBS_QPF_GRH_REQUIRED`: address handles on this port need a GRH. */
  grhRequired: boolean;
}

/** One entry of the GID table (`ib_uverbs_gid_entry`). */
export interface GidEntry {
  gid: Uint8Array;
  index: number;
  port: number;
  /** The GID type's name, or the kernel's code where it has none (a newer kernel's). */
  type: GidType | number;
  /** The netdev the GID belongs to (0: none). */
  netdevIfindex: number;
  /** That netdev's name (`eth0`), where this host's /sys/class/net has it. */
  netdev?: string;
}

/** @internal the camelCased `ib_uverbs_ex_query_device_resp`, typed. */
export function deviceAttributes(r: Record<string, unknown>): DeviceAttributes {
  const b = r.base as Record<string, number | bigint>;
  const n = (k: string) => b[k] as number;
  const flags = (r.deviceCapFlagsEx as bigint | undefined) ?? BigInt(n('deviceCapFlags'));
  const out: DeviceAttributes = {
    fwVer: b.fwVer as bigint,
    nodeGuid: guidText(b.nodeGuid as bigint),
    sysImageGuid: guidText(b.sysImageGuid as bigint),
    maxMrSize: b.maxMrSize as bigint,
    pageSizeCap: b.pageSizeCap as bigint,
    vendorId: n('vendorId'),
    vendorPartId: n('vendorPartId'),
    hwVer: n('hwVer'),
    maxQp: n('maxQp'),
    maxQpWr: n('maxQpWr'),
    deviceCapFlags: flags,
    capabilities: flagNames(ib_uverbs_device_cap_flags, 'IB_UVERBS_DEVICE_', flags),
    maxSge: n('maxSge'),
    maxSgeRd: n('maxSgeRd'),
    maxCq: n('maxCq'),
    maxCqe: n('maxCqe'),
    maxMr: n('maxMr'),
    maxPd: n('maxPd'),
    maxQpRdAtom: n('maxQpRdAtom'),
    maxEeRdAtom: n('maxEeRdAtom'),
    maxResRdAtom: n('maxResRdAtom'),
    maxQpInitRdAtom: n('maxQpInitRdAtom'),
    maxEeInitRdAtom: n('maxEeInitRdAtom'),
    atomicCap: named<AtomicCap>(ib_atomic_cap, 'IB_ATOMIC_', n('atomicCap')),
    maxEe: n('maxEe'),
    maxRdd: n('maxRdd'),
    maxMw: n('maxMw'),
    maxRawIpv6Qp: n('maxRawIpv6Qp'),
    maxRawEthyQp: n('maxRawEthyQp'),
    maxMcastGrp: n('maxMcastGrp'),
    maxMcastQpAttach: n('maxMcastQpAttach'),
    maxTotalMcastQpAttach: n('maxTotalMcastQpAttach'),
    maxAh: n('maxAh'),
    maxFmr: n('maxFmr'),
    maxMapPerFmr: n('maxMapPerFmr'),
    maxSrq: n('maxSrq'),
    maxSrqWr: n('maxSrqWr'),
    maxSrqSge: n('maxSrqSge'),
    maxPkeys: n('maxPkeys'),
    localCaAckDelay: n('localCaAckDelay'),
    physPortCnt: n('physPortCnt'),
  };
  const odp = r.odpCaps as { generalCaps?: bigint; perTransportCaps?: OdpCaps['perTransportCaps'] } | undefined;
  if (odp?.generalCaps !== undefined && odp.perTransportCaps?.udOdpCaps !== undefined) {
    const t = odp.perTransportCaps;
    out.odpCaps = {
      generalCaps: odp.generalCaps,
      perTransportCaps: { rcOdpCaps: t.rcOdpCaps, ucOdpCaps: t.ucOdpCaps, udOdpCaps: t.udOdpCaps },
    };
  }
  if (r.timestampMask !== undefined) out.completionTimestampMask = r.timestampMask as bigint;
  if (r.hcaCoreClock !== undefined) out.hcaCoreClock = r.hcaCoreClock as bigint;
  const rss = r.rssCaps as Partial<RssCaps> | undefined;
  if (rss?.maxRwqIndirectionTableSize !== undefined) {
    out.rssCaps = {
      supportedQpts: rss.supportedQpts as number,
      maxRwqIndirectionTables: rss.maxRwqIndirectionTables as number,
      maxRwqIndirectionTableSize: rss.maxRwqIndirectionTableSize,
    };
  }
  if (r.maxWqTypeRq !== undefined) out.maxWqTypeRq = r.maxWqTypeRq as number;
  if (r.rawPacketCaps !== undefined) out.rawPacketCaps = r.rawPacketCaps as number;
  const tm = r.tmCaps as Partial<TmCaps> | undefined;
  if (tm?.maxSge !== undefined) {
    const { maxRndvHdrSize, maxNumTags, flags: tmFlags, maxOps, maxSge } = tm as TmCaps;
    out.tmCaps = { maxRndvHdrSize, maxNumTags, flags: tmFlags, maxOps, maxSge };
  }
  const cqm = r.cqModerationCaps as { maxCqModerationCount?: number; maxCqModerationPeriod?: number } | undefined;
  if (cqm?.maxCqModerationPeriod !== undefined) {
    out.cqModCaps = { maxCqCount: cqm.maxCqModerationCount as number, maxCqPeriod: cqm.maxCqModerationPeriod };
  }
  if (r.maxDmSize !== undefined) out.maxDmSize = r.maxDmSize as bigint;
  if (r.xrcOdpCaps !== undefined) out.xrcOdpCaps = r.xrcOdpCaps as number;
  return out;
}

/** @internal the camelCased `ib_uverbs_query_port_resp_ex` (its `legacyResp` flattened), typed. */
export function portAttributes(p: Record<string, number | undefined>): PortAttributes {
  const n = (k: string) => p[k] as number;
  const capFlags = n('portCapFlags');
  return {
    state: named<PortState>(ib_port_state, 'IB_PORT_', n('state')),
    maxMtu: MTU_BYTES[n('maxMtu')] ?? n('maxMtu'),
    activeMtu: MTU_BYTES[n('activeMtu')] ?? n('activeMtu'),
    gidTblLen: n('gidTblLen'),
    portCapFlags: capFlags,
    capabilities: flagNames(ib_uverbs_query_port_cap_flags, 'IB_UVERBS_PCF_', BigInt(capFlags >>> 0)),
    portCapFlags2: p.portCapFlags2 ?? 0,
    maxMsgSz: n('maxMsgSz'),
    badPkeyCntr: n('badPkeyCntr'),
    qkeyViolCntr: n('qkeyViolCntr'),
    pkeyTblLen: n('pkeyTblLen'),
    lid: n('lid'),
    smLid: n('smLid'),
    lmc: n('lmc'),
    maxVlNum: n('maxVlNum'),
    smSl: n('smSl'),
    subnetTimeout: n('subnetTimeout'),
    initTypeReply: n('initTypeReply'),
    activeWidth: named<PortWidth>(ib_port_width, 'IB_WIDTH_', n('activeWidth')),
    activeSpeed: named<PortSpeed>(ib_port_speed, 'IB_SPEED_', p.activeSpeedEx ?? n('activeSpeed')),
    physState: named<PortPhysState>(ib_port_phys_state, 'IB_PORT_PHYS_STATE_', n('physState')),
    linkLayer: LINK_LAYERS[n('linkLayer')] ?? 'Unspecified',
    grhRequired: (n('flags') & ib_uverbs_query_port_flags.IB_UVERBS_QPF_GRH_REQUIRED) !== 0,
  };
}

/** Netdev names by ifindex, from /sys/class/net (empty where there is none). */
export function netdevNames(root = '/sys/class/net'): Map<number, string> {
  const out = new Map<number, string>();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      out.set(Number.parseInt(readFileSync(`${root}/${name}/ifindex`, 'utf8'), 10), name);
    } catch {
      // a netdev that went away between the listing and the read
    }
  }
  return out;
}

/** @internal an `ib_uverbs_gid_entry` as decoded, typed; `netdevs` names the ifindex. */
export function gidEntry(
  e: { gid: bigint[]; gid_index: number; port_num: number; gid_type: number; netdev_ifindex: number },
  netdevs: Map<number, string>,
): GidEntry {
  const gid = new Uint8Array(16);
  const view = new DataView(gid.buffer);
  view.setBigUint64(0, e.gid[0] as bigint, true);
  view.setBigUint64(8, e.gid[1] as bigint, true);
  const netdev = e.netdev_ifindex === 0 ? undefined : netdevs.get(e.netdev_ifindex);
  return {
    gid,
    index: e.gid_index,
    port: e.port_num,
    // the core's enum; a value past it would be a new kernel's, shown as its number
    type: GID_TYPES[e.gid_type] ?? e.gid_type,
    netdevIfindex: e.netdev_ifindex,
    ...(netdev === undefined ? {} : { netdev }),
  };
}

/** A GID as text: IPv6 notation, as `rdma link` / sysfs `gids/N` print it (`fe80:0000:...`). */
export function gidText(gid: Uint8Array): string {
  const hex = Buffer.from(gid).toString('hex');
  return (hex.match(/.{4}/g) as string[]).join(':');
}

/** Whether a GID is an IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`), as RoCE v2 over IPv4 uses. */
export function isIpv4Mapped(gid: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (gid[i] !== 0) return false;
  return gid[10] === 0xff && gid[11] === 0xff;
}

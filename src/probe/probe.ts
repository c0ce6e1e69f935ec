/**
 * What this kernel and driver accept, asked of the kernel without making
 * anything: every ioctl method and, where the library has the method's
 * table, each of its attributes; every legacy write and write-ex command;
 * the device's capability bits.
 *
 * Each probe is a command the kernel must refuse before any handler runs
 * (uverbs_ioctl.c, uverbs_main.c), so nothing is created, changed or
 * destroyed. Which refusal comes back tells the answer:
 *
 * - a method: sent with no attributes, it answers EINVAL (a mandatory
 *   attribute is missing) if this device's uapi tree has it, EPROTONOSUPPORT
 *   if not. A method whose attributes are all optional (GET_CONTEXT,
 *   QUERY_CONTEXT) would run with none, so it gets one optional attribute
 *   with a nonzero reserved field instead: EINVAL if the method exists.
 * - an attribute: sent marked UVERBS_ATTR_F_MANDATORY with a nonzero
 *   reserved field: EPROTONOSUPPORT if the kernel does not know it
 *   (an unknown mandatory attribute), EINVAL if it does (the reserved field).
 * - a write command: a bare 8-byte header (in_words 2). A legacy command
 *   the device has answers ENOSPC (shorter than its request struct); an
 *   extended one EINVAL (too short for the extended header). One it lacks
 *   goes to the kernel's placeholder, which answers EOPNOTSUPP. (An extended
 *   command sent with its full header would reach its handler even when
 *   empty: the kernel keeps no request size for write-ex commands.)
 *
 * Before a probe is sent, the in-process kernel model (src/abi/kernel-model.ts)
 * must predict two different nonzero errnos for "has it" and "lacks it";
 * a probe that could reach a handler is never sent.
 *
 * The capability bits come from the extended QUERY_DEVICE, which needs a
 * device context: the probe opens one (as ibv_devinfo does) and closes it.
 *
 * What an id-level answer does not say is said beside it (schema 2):
 * - a method the kernel routes may still be declined by the driver's
 *   handler (QUERY_PORT_SPEED on rxe: the method is there, the driver has
 *   no op). The few methods that only read ({@link CALLED}) are called
 *   once on that context where the probe finds them: `usable` is false
 *   and `note` says why when the call answers an "unsupported" errno.
 * - a command that needs another one the device lacks (CREATE_XSRQ makes
 *   XRC SRQs only in an XRC domain, which OPEN_XRCD opens) carries a
 *   `note` naming it ({@link NEEDS}).
 * - an object is supported when any of its ioctl methods or write commands
 *   is: a completion channel has no ioctl method, the write command makes
 *   it; `via` says which.
 * The feature answers (`features`, with `probe(..., { deep: true })`) say
 * what a user can do; see ./features.ts.
 */

import { readFileSync } from 'node:fs';
import { O_CLOEXEC, O_RDWR } from '../../ioctl/index.js';
import { cEnumInfo, memberName } from '../abi/c-enum.js';
import {
  ib_uverbs_device_cap_flags,
  ib_uverbs_ex_write_cmds,
  ib_uverbs_write_cmds,
  rdma_driver_id,
  rdma_user_ioctl_defines,
  uverbs_attr_flags,
} from '../abi/constants.js';
import * as ids from '../abi/ids.js';
import { modelDevice, validateIoctl } from '../abi/kernel-model.js';
import { encode, type UapiRelease } from '../abi/layout.js';
import type { AttrSpec, MethodSpec } from '../abi/method-spec.js';
import { UVERBS_METHOD_QUERY_PORT_SPEED } from '../abi/methods.js';
import { ib_uverbs_attr, ib_uverbs_ioctl_hdr } from '../abi/structs.js';
import { EINVAL, ENOSPC, errnoName } from '../errno.js';
import { invalidArgType, UverbsError, UverbsUnsupportedError } from '../errors.js';
import { detectDriverId } from '../transport/driver-id.js';
import { Scratch } from '../transport/memory.js';
import { libcSys, type Sys } from '../transport/sys.js';
import { Context } from '../verbs/context.js';
import { type DeviceInfo, listDevices, resolveDevice } from '../verbs/device.js';
import type { FeatureAnswer } from './features.js';
import { hasAttributeTable, KNOWN_METHODS } from './known-methods.js';

/** 2: `usable`/`note` on methods and write commands, `via`/`note` on objects, and `features` (deep). */
export const PROBE_SCHEMA = 2;

export interface ProbedAttribute {
  name: string;
  /** UA_MANDATORY in the kernel's declaration. */
  mandatory: boolean;
  supported: boolean;
  /** The kernel's answer to the probe. */
  errno: string;
  /** First uapi release declaring it, when later than 6.1. */
  since?: UapiRelease;
}

export interface ProbedMethod {
  object: string;
  method: string;
  supported: boolean;
  errno: string;
  /** How the answer was read from the errno. */
  how: string;
  since?: UapiRelease;
  /** Per attribute, where the library has the method's table; absent otherwise. */
  attributes?: ProbedAttribute[];
  /** For a method the probe also called ({@link CALLED}): whether the driver served the call. */
  usable?: boolean;
  /** What the id-level answer does not say, and the feature that answers the user's question. */
  note?: string;
}

export interface ProbedWrite {
  command: string;
  extended: boolean;
  supported: boolean;
  errno: string;
  /** What the id-level answer does not say ({@link NEEDS}). */
  note?: string;
}

export interface ProbedObject {
  object: string;
  /** Any of its ioctl methods or write commands is supported. */
  supported: boolean;
  /** Which kinds of call the device has for it. */
  via: ('ioctl' | 'write')[];
  note?: string;
}

export interface ProbeResult {
  schema: typeof PROBE_SCHEMA;
  kernel: string;
  device: { name: string; node: string; driver: string; driverId: number | null; driverAbiVersion: number };
  objects: ProbedObject[];
  methods: ProbedMethod[];
  writeCommands: ProbedWrite[];
  /** `IB_UVERBS_DEVICE_*` bits set in the device's capability flags, and the raw value. */
  capabilities: { deviceCapFlags: string[]; raw: string; path: string };
  /** What a user can do here, each answered by making the thing (`probe(dev, sys, { deep: true })`; ./features.ts). */
  features?: FeatureAnswer[];
}

/** A probe as saved by an older release: schema 1 had no notes, no `via` and no features. */
export interface ProbeResultV1 extends Omit<ProbeResult, 'schema' | 'objects'> {
  schema: 1;
  objects: { object: string; supported: boolean }[];
}

/**
 * Methods that only read, called once where the probe finds them: the
 * method being routed does not say the driver has the op behind it
 * (uverbs_std_types_device.c calls the driver's op, EOPNOTSUPP when it is
 * NULL), and the feature each answers.
 */
export const CALLED: Readonly<Record<string, { call: (ctx: Context) => unknown; feature?: string }>> = {
  UVERBS_METHOD_QUERY_PORT_SPEED: {
    call: (ctx) => ctx.dispatch.invoke(UVERBS_METHOD_QUERY_PORT_SPEED, { portNum: 1 }),
    feature: 'PORT_SPEED_QUERY',
  },
  UVERBS_METHOD_QUERY_CONTEXT: { call: (ctx) => ctx.queryContext() },
};

/**
 * Write commands whose use needs another command: the one needed, and the
 * note the needing command carries where the device lacks it.
 */
export const NEEDS: Readonly<Record<string, { needs: string; note: string }>> = {
  IB_USER_VERBS_CMD_CREATE_XSRQ: {
    needs: 'IB_USER_VERBS_CMD_OPEN_XRCD',
    note: 'XRC SRQs: no, they need an XRC domain and IB_USER_VERBS_CMD_OPEN_XRCD is not supported (feature XRC_SRQ); the command still makes basic SRQs',
  },
  IB_USER_VERBS_CMD_OPEN_QP: {
    needs: 'IB_USER_VERBS_CMD_OPEN_XRCD',
    note: 'opens only XRC target QPs, which need an XRC domain, and IB_USER_VERBS_CMD_OPEN_XRCD is not supported (feature QP_XRC)',
  },
};

/** Write commands whose names do not end in their object's (the rest: the object named by the suffix). */
const WRITE_OBJECT: Readonly<Record<string, string>> = {
  IB_USER_VERBS_CMD_GET_CONTEXT: 'UVERBS_OBJECT_DEVICE',
  IB_USER_VERBS_CMD_QUERY_DEVICE: 'UVERBS_OBJECT_DEVICE',
  IB_USER_VERBS_CMD_QUERY_PORT: 'UVERBS_OBJECT_DEVICE',
  IB_USER_VERBS_EX_CMD_QUERY_DEVICE: 'UVERBS_OBJECT_DEVICE',
  IB_USER_VERBS_CMD_REG_SMR: 'UVERBS_OBJECT_MR',
  IB_USER_VERBS_CMD_POLL_CQ: 'UVERBS_OBJECT_CQ',
  IB_USER_VERBS_CMD_PEEK_CQ: 'UVERBS_OBJECT_CQ',
  IB_USER_VERBS_CMD_REQ_NOTIFY_CQ: 'UVERBS_OBJECT_CQ',
  IB_USER_VERBS_CMD_POST_SEND: 'UVERBS_OBJECT_QP',
  IB_USER_VERBS_CMD_POST_RECV: 'UVERBS_OBJECT_QP',
  IB_USER_VERBS_CMD_ATTACH_MCAST: 'UVERBS_OBJECT_QP',
  IB_USER_VERBS_CMD_DETACH_MCAST: 'UVERBS_OBJECT_QP',
  IB_USER_VERBS_CMD_POST_SRQ_RECV: 'UVERBS_OBJECT_SRQ',
  IB_USER_VERBS_CMD_CREATE_XSRQ: 'UVERBS_OBJECT_SRQ',
  IB_USER_VERBS_CMD_BIND_MW: 'UVERBS_OBJECT_MW',
};

/** The uverbs object a write command acts on. */
export function writeObject(command: string): string | undefined {
  if (command in WRITE_OBJECT) return WRITE_OBJECT[command];
  const m = /_(COMP_CHANNEL|RWQ_IND_TBL|XRCD|FLOW|PD|AH|MR|MW|CQ|QP|SRQ|WQ)$/.exec(command);
  return m ? `UVERBS_OBJECT_${m[1]}` : undefined;
}

const { UVERBS_ATTR_F_MANDATORY } = uverbs_attr_flags;
const EXTENDED = 0x8000_0000;

/** One attribute of a probe command, as it goes on the wire. */
interface WireAttr {
  id: number;
  flags: number;
  len: number;
  reserved: number;
}

/** The `since` tag the kernel's enums carry for a method name. */
function methodSince(name: string): UapiRelease | undefined {
  for (const table of Object.values(ids)) {
    const info = cEnumInfo(table);
    if (info && name in (table as object)) return info.since[name];
  }
  return undefined;
}

/** Bytes of an ioctl command: header plus attributes. */
function command(spec: MethodSpec, driverId: number, attrs: readonly WireAttr[]): Uint8Array {
  const bytes = new Uint8Array(ib_uverbs_ioctl_hdr.size + ib_uverbs_attr.size * attrs.length);
  encode(
    ib_uverbs_ioctl_hdr,
    {
      length: bytes.byteLength,
      object_id: spec.object,
      method_id: spec.id,
      num_attrs: attrs.length,
      driver_id: driverId,
    },
    bytes.subarray(0, ib_uverbs_ioctl_hdr.size),
  );
  attrs.forEach((a, i) => {
    const at = ib_uverbs_ioctl_hdr.size + ib_uverbs_attr.size * i;
    encode(
      ib_uverbs_attr,
      { attr_id: a.id, len: a.len, flags: a.flags, reserved: a.reserved },
      bytes.subarray(at, at + ib_uverbs_attr.size),
    );
  });
  return bytes;
}

/** An attribute the kernel must refuse for its reserved field, if it knows it: right length, nonzero reserved. */
function refusedAttr(attr: AttrSpec, mandatory: boolean): WireAttr {
  const len = attr.kind === 'ptrIn' || attr.kind === 'ptrOut' ? Math.min(attr.len, Math.max(attr.minLen, 8)) : 0;
  // ENUM_IN: elem_id 0, enum_data.reserved 1; every other type: attr_data.reserved nonzero
  return { id: attr.id, flags: mandatory ? UVERBS_ATTR_F_MANDATORY : 0, len, reserved: 0x100 };
}

/** A probe and what the model says it gets, with and without the thing asked about. */
interface Plan {
  bytes: Uint8Array;
  has: number;
  lacks: number;
}

function plan(spec: MethodSpec, driverId: number, attrs: WireAttr[], without: MethodSpec[]): Plan {
  const bytes = command(spec, driverId, attrs);
  const has = validateIoctl(modelDevice(driverId, [spec], []), rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, bytes);
  const lacks = validateIoctl(modelDevice(driverId, without, []), rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, bytes);
  if (has === 0 || lacks === 0 || has === lacks) {
    throw new Error(`${spec.name}: no safe probe (model: has -> ${has}, lacks -> ${lacks})`);
  }
  return { bytes, has, lacks };
}

/** The probe for a method's presence. */
export function methodProbe(spec: MethodSpec, driverId: number): Plan {
  const bare = validateIoctl(
    modelDevice(driverId, [spec], []),
    rdma_user_ioctl_defines.RDMA_VERBS_IOCTL,
    command(spec, driverId, []),
  );
  if (bare !== 0) return plan(spec, driverId, [], []);
  // every attribute optional: the bare command would run the handler
  const first = Object.values(spec.attrs)[0];
  if (!first) throw new Error(`${spec.name}: no attributes to probe with`);
  return plan(spec, driverId, [refusedAttr(first, false)], []);
}

/** The probe for one attribute of a method the device has. */
export function attributeProbe(spec: MethodSpec, key: string, driverId: number): Plan {
  const attr = spec.attrs[key] as AttrSpec;
  const rest = Object.fromEntries(Object.entries(spec.attrs).filter(([k]) => k !== key));
  return plan(spec, driverId, [refusedAttr(attr, true)], [{ ...spec, attrs: rest }]);
}

/** The probe for a write command: the bare header, no request. */
export function writeProbe(index: number, extended: boolean): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, ((extended ? EXTENDED : 0) | index) >>> 0, true);
  view.setUint16(4, 2, true); // in_words: the 8-byte header itself, in 4-byte words
  return bytes;
}

/** The answer that means "the device has this command" (ENOSPC legacy, EINVAL extended). */
export function writeHas(extended: boolean): number {
  return extended ? EINVAL : ENOSPC;
}

class Prober {
  readonly #sys: Sys;
  readonly #fd: number;
  readonly #scratch: Scratch;

  constructor(sys: Sys, fd: number, scratch: Scratch) {
    this.#sys = sys;
    this.#fd = fd;
    this.#scratch = scratch;
  }

  #copy(bytes: Uint8Array): bigint {
    this.#scratch.reset();
    const region = this.#scratch.take(bytes.byteLength);
    region.bytes.set(bytes);
    return region.address;
  }

  ioctl(bytes: Uint8Array): number {
    const r = this.#sys.ioctl(this.#fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, this.#copy(bytes));
    return r < 0 ? -r : 0;
  }

  write(bytes: Uint8Array): number {
    const r = this.#sys.write(this.#fd, this.#copy(bytes), bytes.byteLength);
    return r < 0 ? -r : 0;
  }
}

function probeMethods(prober: Prober, driverId: number): ProbedMethod[] {
  return KNOWN_METHODS.map((spec) => {
    const p = methodProbe(spec, driverId);
    const errno = prober.ioctl(p.bytes);
    if (errno === 0) throw new Error(`${spec.name}: the kernel accepted a probe the model says it refuses`);
    const supported = errno === p.has;
    const since = methodSince(spec.name);
    const result: ProbedMethod = {
      object: spec.objectName,
      method: spec.name,
      supported,
      errno: errnoName(errno),
      how:
        errno === p.has
          ? `${errnoName(errno)}: refused after the method was found`
          : errno === p.lacks
            ? `${errnoName(errno)}: no such method for this device`
            : `${errnoName(errno)}: unexpected (has it: ${errnoName(p.has)}, lacks it: ${errnoName(p.lacks)})`,
      ...(since ? { since } : {}),
    };
    if (supported && hasAttributeTable(spec)) {
      result.attributes = Object.entries(spec.attrs).map(([key, attr]) => {
        const a = attributeProbe(spec, key, driverId);
        const e = prober.ioctl(a.bytes);
        if (e === 0)
          throw new Error(`${spec.name}.${attr.name}: the kernel accepted a probe the model says it refuses`);
        return {
          name: attr.name,
          mandatory: attr.mandatory,
          supported: e === a.has,
          errno: errnoName(e),
          ...(attr.since ? { since: attr.since } : {}),
        };
      });
    }
    return result;
  });
}

function probeWrites(prober: Prober): ProbedWrite[] {
  const out: ProbedWrite[] = [];
  for (const [table, extended] of [
    [ib_uverbs_write_cmds, false],
    [ib_uverbs_ex_write_cmds, true],
  ] as const) {
    for (const [name, index] of Object.entries(table)) {
      const errno = prober.write(writeProbe(index, extended));
      if (errno === 0) throw new Error(`${name}: the kernel accepted a bare header`);
      out.push({ command: name, extended, supported: errno === writeHas(extended), errno: errnoName(errno) });
    }
  }
  return out;
}

/** Names of the `IB_UVERBS_DEVICE_*` bits set in `flags`; bits this library does not know as hex. */
export function capabilityNames(flags: bigint): string[] {
  const names: string[] = [];
  let rest = flags;
  for (const [name, bit] of Object.entries(ib_uverbs_device_cap_flags)) {
    if (flags & (bit as bigint)) {
      names.push(name);
      rest &= ~(bit as bigint);
    }
  }
  for (let i = 0n; i < 64n; i++) if (rest & (1n << i)) names.push(`0x${(1n << i).toString(16)}`);
  return names;
}

/**
 * The device a `device` argument names (ib name, uverbs node, or
 * `DeviceInfo`; the first device when undefined): a name that names no
 * device, or no device at all, is {@link resolveDevice}'s ENODEV listing
 * the devices there are; anything else a TypeError.
 */
export function deviceArg(device: string | DeviceInfo | undefined, devices?: DeviceInfo[]): DeviceInfo {
  if (typeof device === 'object' && device !== null) return device;
  if (device !== undefined && typeof device !== 'string') {
    throw invalidArgType('device', 'the name of a uverbs device or a DeviceInfo', device);
  }
  const all = devices ?? listDevices();
  if (device === undefined) return all[0] ?? resolveDevice('(the first device)', all);
  return resolveDevice(device, all);
}

/** Probes one device (ib name, uverbs node, or `DeviceInfo`); the first device when none is named. */
export function probe(device?: string | DeviceInfo, sys: Sys = libcSys()): ProbeResult {
  const info = deviceArg(device);
  const fd = sys.open(info.path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    throw new UverbsError({ errno: -fd, syscall: 'open', object: info.name, method: info.path, path: 'ioctl' });
  const scratch = new Scratch(sys);
  let driverId: number | undefined;
  let methods: ProbedMethod[] = [];
  let writeCommands: ProbedWrite[];
  try {
    driverId = detectDriverId(sys, fd, scratch);
    const prober = new Prober(sys, fd, scratch);
    if (driverId !== undefined) methods = probeMethods(prober, driverId);
    writeCommands = probeWrites(prober);
  } finally {
    scratch.free();
    sys.close(fd);
  }
  for (const w of writeCommands) {
    const need = NEEDS[w.command];
    if (need && w.supported && !writeCommands.find((x) => x.command === need.needs)?.supported) w.note = need.note;
  }
  const objects = Object.keys(ids.uverbs_default_objects).map((object): ProbedObject => {
    const via: ProbedObject['via'] = [];
    if (methods.some((m) => m.object === object && m.supported)) via.push('ioctl');
    if (writeCommands.some((w) => w.supported && writeObject(w.command) === object)) via.push('write');
    const o: ProbedObject = { object, supported: via.length > 0, via };
    if (via.length === 1 && via[0] === 'write' && !KNOWN_METHODS.some((m) => m.objectName === object)) {
      o.note = 'no ioctl methods: its write commands make and use it';
    }
    return o;
  });
  const caps = capabilities(info, sys, methods);
  return {
    schema: PROBE_SCHEMA,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    device: {
      name: info.name,
      node: info.node,
      driver:
        driverId === undefined
          ? 'unknown'
          : memberName(rdma_driver_id, driverId)
              .replace(/^RDMA_DRIVER_/, '')
              .toLowerCase(),
      driverId: driverId ?? null,
      driverAbiVersion: info.driverAbiVersion,
    },
    objects,
    methods,
    writeCommands,
    capabilities: caps,
  };
}

/** The capability bits; and each method of {@link CALLED} the probe found, called once, its answer on the method. */
function capabilities(info: DeviceInfo, sys: Sys, methods: ProbedMethod[]): ProbeResult['capabilities'] {
  using ctx = Context.open(info, { sys });
  const flags = ctx.queryDevice().deviceCapFlags;
  const path = ctx.lastPath ?? 'write-ex';
  for (const m of methods) {
    const called = CALLED[m.method];
    if (!called || !m.supported) continue;
    try {
      called.call(ctx);
      m.usable = true;
    } catch (error) {
      if (!(error instanceof UverbsError)) throw error;
      if (!(error instanceof UverbsUnsupportedError)) {
        // neither served nor declined: usable stays unset, the probe goes on
        m.note =
          `the kernel has the method, but a call answered ${error.code}, not an "unsupported" answer: could not tell whether the driver serves it` +
          (called.feature ? ` (feature ${called.feature})` : '');
        continue;
      }
      m.usable = false;
      m.note =
        `the kernel has the method, but the driver declines it: a call answered ${error.code}` +
        (called.feature ? ` (feature ${called.feature})` : '');
    }
  }
  return { deviceCapFlags: capabilityNames(flags), raw: `0x${flags.toString(16)}`, path };
}

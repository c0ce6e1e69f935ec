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
import { ib_uverbs_attr, ib_uverbs_ioctl_hdr } from '../abi/structs.js';
import { EINVAL, ENOSPC, errnoName } from '../errno.js';
import { invalidArgType, UverbsError } from '../errors.js';
import { detectDriverId } from '../transport/driver-id.js';
import { Scratch } from '../transport/memory.js';
import { libcSys, type Sys } from '../transport/sys.js';
import { Context } from '../verbs/context.js';
import { type DeviceInfo, findDevice, listDevices } from '../verbs/device.js';
import { hasAttributeTable, KNOWN_METHODS } from './known-methods.js';

export const PROBE_SCHEMA = 1;

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
}

export interface ProbedWrite {
  command: string;
  extended: boolean;
  supported: boolean;
  errno: string;
}

export interface ProbeResult {
  schema: typeof PROBE_SCHEMA;
  kernel: string;
  device: { name: string; node: string; driver: string; driverId: number | null; driverAbiVersion: number };
  objects: { object: string; supported: boolean }[];
  methods: ProbedMethod[];
  writeCommands: ProbedWrite[];
  /** `IB_UVERBS_DEVICE_*` bits set in the device's capability flags, and the raw value. */
  capabilities: { deviceCapFlags: string[]; raw: string; path: string };
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

/** Probes one device (ib name, uverbs node, or `DeviceInfo`); the first device when none is named. */
export function probe(device?: string | DeviceInfo, sys: Sys = libcSys()): ProbeResult {
  const info = typeof device === 'object' ? device : device === undefined ? listDevices()[0] : findDevice(device);
  if (info === undefined) throw invalidArgType('device', 'the name of a uverbs device', device);
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
  const objects = Object.keys(ids.uverbs_default_objects).map((object) => ({
    object,
    supported: methods.some((m) => m.object === object && m.supported),
  }));
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
    capabilities: capabilities(info, sys),
  };
}

function capabilities(info: DeviceInfo, sys: Sys): ProbeResult['capabilities'] {
  using ctx = Context.open(info, { sys });
  const flags = ctx.queryDevice().deviceCapFlags;
  return { deviceCapFlags: capabilityNames(flags), raw: `0x${flags.toString(16)}`, path: ctx.lastPath ?? 'write-ex' };
}

/**
 * Work requests and completions, as the datapath's callers see them.
 *
 * A scatter/gather element names a registered region and a range inside it,
 * never an address: the library computes `iova + offset` after checking the
 * range, so no caller number becomes an address the kernel is told to use.
 * Every check here runs before anything is written to a ring.
 *
 * Completions are `struct ib_uverbs_wc` records. The fast path copies them
 * into memory the caller owns (`CompletionQueue.poll`); `decodeCompletions`
 * turns such a buffer into objects when convenience matters more.
 */

import {
  ib_uverbs_access_flags as A,
  ib_uverbs_device_cap_flags as D,
  ib_selectivity_level as L,
  ib_uverbs_wr_opcode as O,
  ib_placement_type as P,
} from '../abi/constants.js';
import { ib_wc_flags, ib_wc_opcode, ib_wc_status } from '../abi/kernel-internal.js';
import { bytesLength, decode, uint8Range } from '../abi/layout.js';
import { ib_uverbs_wc } from '../abi/structs.js';
import { EOPNOTSUPP } from '../errno.js';
import { invalidArgType, invalidArgValue, outOfRange, UverbsClosedError, UverbsUnsupportedError } from '../errors.js';
import { AddressHandle } from './address-handle.js';
import { MemoryRegion } from './memory-region.js';
import { MemoryWindow, type WindowAccess, type WindowBinding } from './memory-window.js';
import type { ProtectionDomain } from './protection-domain.js';
import type { QpType, QueuePair } from './queue-pair.js';

/** A range of a registered region: `length` bytes at `offset` (default 0). */
export interface Sge {
  readonly mr: MemoryRegion;
  readonly offset?: number;
  readonly length: number;
}

export type SendOpcode =
  | 'SEND'
  | 'SEND_WITH_IMM'
  | 'RDMA_WRITE'
  | 'RDMA_WRITE_WITH_IMM'
  | 'RDMA_READ'
  | 'ATOMIC_CMP_AND_SWP'
  | 'ATOMIC_FETCH_AND_ADD'
  | 'ATOMIC_WRITE'
  | 'FLUSH'
  | 'BIND_MW'
  | 'LOCAL_INV'
  | 'SEND_WITH_INV';

export const SEND_OPCODES: Readonly<Record<SendOpcode, number>> = {
  SEND: O.IB_UVERBS_WR_SEND,
  SEND_WITH_IMM: O.IB_UVERBS_WR_SEND_WITH_IMM,
  RDMA_WRITE: O.IB_UVERBS_WR_RDMA_WRITE,
  RDMA_WRITE_WITH_IMM: O.IB_UVERBS_WR_RDMA_WRITE_WITH_IMM,
  RDMA_READ: O.IB_UVERBS_WR_RDMA_READ,
  ATOMIC_CMP_AND_SWP: O.IB_UVERBS_WR_ATOMIC_CMP_AND_SWP,
  ATOMIC_FETCH_AND_ADD: O.IB_UVERBS_WR_ATOMIC_FETCH_AND_ADD,
  ATOMIC_WRITE: O.IB_UVERBS_WR_ATOMIC_WRITE,
  FLUSH: O.IB_UVERBS_WR_FLUSH,
  BIND_MW: O.IB_UVERBS_WR_BIND_MW,
  LOCAL_INV: O.IB_UVERBS_WR_LOCAL_INV,
  SEND_WITH_INV: O.IB_UVERBS_WR_SEND_WITH_INV,
};

/**
 * Opcodes a device has only when it says so (ib_user_verbs.h since 6.2:
 * `device_cap_flags_ex`); posting one elsewhere is a typed "unsupported"
 * before anything is written (a 6.1 rxe would fail the WQE and the QP).
 */
export const SEND_CAPABILITY: Readonly<Partial<Record<SendOpcode, bigint>>> = {
  ATOMIC_WRITE: D.IB_UVERBS_DEVICE_ATOMIC_WRITE,
  FLUSH: D.IB_UVERBS_DEVICE_FLUSH_GLOBAL | D.IB_UVERBS_DEVICE_FLUSH_PERSISTENT,
};

/** FLUSH: where the data must be placed (`enum ib_placement_type`) and how much is meant (`enum ib_selectivity_level`). */
export interface FlushSpec {
  /** `global`: visible to every initiator (IB_FLUSH_GLOBAL); `persistent`: on persistent memory (IB_FLUSH_PERSISTENT). */
  readonly type: 'global' | 'persistent';
  /** `range` (IB_FLUSH_RANGE): `length` bytes at `remote.addr`; `mr` (IB_FLUSH_MR): the whole region. */
  readonly level: 'range' | 'mr';
  /** Bytes, for `level: 'range'`. */
  readonly length?: number;
}

const FLUSH_TYPE: Readonly<Record<FlushSpec['type'], number>> = {
  global: P.IB_FLUSH_GLOBAL,
  persistent: P.IB_FLUSH_PERSISTENT,
};
const FLUSH_LEVEL: Readonly<Record<FlushSpec['level'], number>> = { range: L.IB_FLUSH_RANGE, mr: L.IB_FLUSH_MR };

/** `table[name]` where `name` is the table's own key, else undefined (never a value from Object.prototype). */
/** `table[name]` for the table's own keys only (never a prototype's: `constructor` is not a name). */
export function own<T>(table: Readonly<Record<string | number, T>>, name: unknown): T | undefined {
  return (typeof name === 'string' || typeof name === 'number') && Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * What each transport may post (IBA 10.7.2: UC has no reads or atomics, UD
 * only sends; memory-window binds and local invalidation on RC and UC,
 * send with invalidate on RC only, as rxe_opcode.c has them).
 */
const ALLOWED: Readonly<Record<QpType, readonly SendOpcode[]>> = {
  RC: Object.keys(SEND_OPCODES) as SendOpcode[],
  UC: ['SEND', 'SEND_WITH_IMM', 'RDMA_WRITE', 'RDMA_WRITE_WITH_IMM', 'BIND_MW', 'LOCAL_INV'],
  UD: ['SEND', 'SEND_WITH_IMM'],
};

/** A window's rights as `enum ib_access_flags` bits (the values of ib_uverbs_access_flags). */
const WINDOW_ACCESS: Readonly<Record<keyof WindowAccess, number>> = {
  remoteRead: A.IB_UVERBS_ACCESS_REMOTE_READ,
  remoteWrite: A.IB_UVERBS_ACCESS_REMOTE_WRITE,
  remoteAtomic: A.IB_UVERBS_ACCESS_REMOTE_ATOMIC,
};

/** BIND_MW: which window exposes which range of which region, how. */
export interface MwBind extends WindowBinding {
  readonly mw: MemoryWindow;
}

/** The peer's memory an RDMA or atomic operation targets (the peer's kernel checks it against `rkey`). */
export interface RemoteAddress {
  readonly addr: bigint;
  readonly rkey: number;
}

export interface SendWr {
  readonly wrId?: bigint;
  readonly opcode: SendOpcode;
  /** Local buffers: gathered for sends and writes, scattered into for reads and atomics (one 8-byte SGE). */
  readonly sg?: readonly Sge[];
  /** Payload copied into the WQE instead of `sg` (at most the QP's `maxInlineData`). */
  readonly inline?: Uint8Array;
  /** Produce a completion (always, when the QP was created with `sqSigAll`). */
  readonly signaled?: boolean;
  readonly solicited?: boolean;
  readonly fence?: boolean;
  /** Immediate data, for the `*_WITH_IMM` opcodes (a u32; it travels big-endian). */
  readonly imm?: number;
  /** RDMA and atomic operations. */
  readonly remote?: RemoteAddress;
  /** ATOMIC_CMP_AND_SWP: the value compared with, and the value swapped in. */
  readonly compare?: bigint;
  readonly swap?: bigint;
  /** ATOMIC_FETCH_AND_ADD: the value added. */
  readonly add?: bigint;
  /** ATOMIC_WRITE: the 8 bytes written at `remote.addr` as one unit, verbatim. */
  readonly data?: Uint8Array;
  /** FLUSH: what to make durable or visible at the peer. */
  readonly flush?: FlushSpec;
  /** BIND_MW: the window, and the range of a region it exposes (see {@link MemoryWindow}). */
  readonly bind?: MwBind;
  /** LOCAL_INV: the rkey of a type 2 window to revoke; SEND_WITH_INV: the peer's rkey to revoke. */
  readonly invalidateRkey?: number;
  /** UD: the destination. */
  readonly ud?: { readonly ah: AddressHandle; readonly remoteQpn: number; readonly remoteQkey: number };
}

export interface RecvWr {
  readonly wrId?: bigint;
  readonly sg: readonly Sge[];
}

/** A scatter/gather element, checked and resolved: the numbers that go into the WQE. */
export interface ResolvedSge {
  readonly addr: bigint;
  readonly length: number;
  readonly lkey: number;
  /** The region it was checked against (prepared work re-checks this very object at each post). */
  readonly mr: MemoryRegion;
}

/** A receive WR checked against its queue. */
export interface ResolvedRecv {
  readonly wrId: bigint;
  readonly sg: readonly ResolvedSge[];
}

const U32 = 0xffff_ffff;
/** The most work requests one post takes (the addon's count is 16 bits); queues are smaller anyway. */
const MAX_BATCH = 0xffff;
/** IB's largest message, 2^31 bytes (rxe: RXE_MAX_MSG_SIZE). */
const MAX_MESSAGE = 2 ** 31;
const U64 = (1n << 64n) - 1n;

function u32(name: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > U32)
    throw outOfRange(name, 'a u32', value);
  return value as number;
}

function u64(name: string, value: unknown): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U64) throw outOfRange(name, 'a u64 bigint', value);
  return value;
}

/**
 * Checks one SGE against its region: a MemoryRegion this library made (a
 * look-alike object is refused: its address would be a caller's number),
 * open, of this very PD (not merely one with the same handle number in
 * another context), and the range inside its registered length.
 */
export function resolveSge(sge: Sge, name: string, pd: ProtectionDomain): ResolvedSge {
  if (typeof sge !== 'object' || sge === null) throw invalidArgType(name, 'an { mr, offset, length } object', sge);
  const { mr, offset = 0, length } = sge;
  if (!MemoryRegion.is(mr)) throw invalidArgType(`${name}.mr`, 'an open MemoryRegion', mr);
  if (mr.closed) throw new UverbsClosedError(`${mr.description} (${name}.mr)`);
  if (mr.pd !== pd) throw invalidArgValue(`${name}.mr`, "must belong to the QP's protection domain", mr.handle);
  if (!Number.isSafeInteger(offset) || offset < 0) throw outOfRange(`${name}.offset`, '>= 0', offset);
  if (!Number.isSafeInteger(length) || length < 0 || length > U32) throw outOfRange(`${name}.length`, 'a u32', length);
  if (offset + length > mr.length) {
    throw outOfRange(`${name}.offset + length`, `<= the region's ${mr.length} bytes`, offset + length);
  }
  return { addr: mr.address + BigInt(offset), length, lkey: mr.lkey, mr };
}

/**
 * The SGEs of one work request; their lengths may add up to at most 2^31
 * (IB's largest message), so the 32-bit total the driver keeps never wraps.
 */
function resolveSges(list: readonly Sge[], name: string, pd: ProtectionDomain): ResolvedSge[] {
  const sg = list.map((s, i) => resolveSge(s, `${name}[${i}]`, pd));
  const total = sg.reduce((sum, s) => sum + s.length, 0);
  if (total > MAX_MESSAGE) throw outOfRange(`${name} total length`, `<= ${MAX_MESSAGE} (2^31)`, total);
  return sg;
}

/** A send WR checked against its QP; what the provider encodes. */
export interface ResolvedSend {
  readonly wrId: bigint;
  readonly opcode: number;
  readonly flags: number;
  readonly imm: number;
  readonly remoteAddr: bigint;
  readonly rkey: number;
  readonly compareAdd: bigint;
  readonly swap: bigint;
  /** FLUSH: type | level << 8, and the range's length; absent for other opcodes. */
  readonly flush?: number;
  readonly flushLength?: number;
  /** LOCAL_INV and SEND_WITH_INV: the rkey revoked. */
  readonly invalidateRkey?: number;
  /** BIND_MW: the words of `wr.mw` (addr is the region's iova + offset; rkey the window's new one). */
  readonly bind?: {
    readonly mw: MemoryWindow;
    readonly addr: bigint;
    readonly length: number;
    readonly mrLkey: number;
    readonly mwRkey: number;
    readonly rkey: number;
    readonly access: number;
    /** The provider calls this once the request is in the ring on `qp`: the window has `rkey` from then on. */
    readonly posted: (qp: QueuePair) => void;
  };
  readonly ud?: { readonly ah: AddressHandle; readonly remoteQpn: number; readonly remoteQkey: number };
  readonly sg: readonly ResolvedSge[];
  readonly inline?: Uint8Array;
}

export interface SendLimits {
  readonly type: QpType;
  readonly pd: ProtectionDomain;
  readonly maxSge: number;
  readonly maxInline: number;
  readonly flags: { fence: number; signaled: number; solicited: number; inline: number };
  /** The QP, for errors. */
  readonly owner: string;
  /** The device's `device_cap_flags_ex`; asked only for an opcode in SEND_CAPABILITY. */
  capabilities(): bigint;
}

export function resolveSend(wr: SendWr, name: string, limits: SendLimits): ResolvedSend {
  if (typeof wr !== 'object' || wr === null) throw invalidArgType(name, 'a send work request', wr);
  const opcode = own(SEND_OPCODES, wr.opcode);
  if (opcode === undefined) throw invalidArgValue(`${name}.opcode`, 'must be a send opcode name', wr.opcode);
  if (!ALLOWED[limits.type].includes(wr.opcode)) {
    throw invalidArgValue(`${name}.opcode`, `is not allowed on a ${limits.type} QP`, wr.opcode);
  }
  const need = SEND_CAPABILITY[wr.opcode];
  if (need !== undefined && (limits.capabilities() & need) === 0n) {
    // nothing written: a driver that predates the opcode would fail the WQE and the QP with it
    throw new UverbsUnsupportedError({
      errno: EOPNOTSUPP,
      syscall: 'none',
      object: limits.owner,
      method: `post send ${wr.opcode}`,
      path: 'ring',
    });
  }
  const f = limits.flags;
  let flags = (wr.signaled ? f.signaled : 0) | (wr.solicited ? f.solicited : 0) | (wr.fence ? f.fence : 0);
  const withImm = wr.opcode === 'SEND_WITH_IMM' || wr.opcode === 'RDMA_WRITE_WITH_IMM';
  const imm = withImm ? u32(`${name}.imm`, wr.imm) : 0;
  const rdma = wr.opcode.startsWith('RDMA_');
  // ATOMIC_WRITE carries its 8 bytes in the WQE: no local buffer, unlike the fetching atomics
  const fetching = wr.opcode === 'ATOMIC_CMP_AND_SWP' || wr.opcode === 'ATOMIC_FETCH_AND_ADD';
  const atomic = wr.opcode.startsWith('ATOMIC_');
  // no local buffer: the payload is in the WQE (ATOMIC_WRITE), or there is none (FLUSH, the local operations)
  const bare =
    wr.opcode === 'ATOMIC_WRITE' || wr.opcode === 'FLUSH' || wr.opcode === 'BIND_MW' || wr.opcode === 'LOCAL_INV';
  let remoteAddr = 0n;
  let rkey = 0;
  if (rdma || atomic || wr.opcode === 'ATOMIC_WRITE' || wr.opcode === 'FLUSH') {
    if (typeof wr.remote !== 'object' || wr.remote === null) {
      throw invalidArgType(`${name}.remote`, 'an { addr, rkey } object', wr.remote);
    }
    remoteAddr = u64(`${name}.remote.addr`, wr.remote.addr);
    rkey = u32(`${name}.remote.rkey`, wr.remote.rkey);
    if (atomic && remoteAddr % 8n !== 0n)
      throw invalidArgValue(`${name}.remote.addr`, 'must be 8-byte aligned', remoteAddr);
  }
  let compareAdd = 0n;
  let swap = 0n;
  if (wr.opcode === 'ATOMIC_CMP_AND_SWP') {
    compareAdd = u64(`${name}.compare`, wr.compare);
    swap = u64(`${name}.swap`, wr.swap);
  } else if (wr.opcode === 'ATOMIC_FETCH_AND_ADD') {
    compareAdd = u64(`${name}.add`, wr.add);
  } else if (wr.opcode === 'ATOMIC_WRITE') {
    const data = wr.data; // read once, by the intrinsic length (an own `byteLength` could hide fewer bytes)
    if (bytesLength(data) !== 8) throw invalidArgType(`${name}.data`, 'a Uint8Array of 8 bytes', data);
    // the C side stores this u64 with memcpy: the same 8 bytes, in any host byte order
    const word = new BigUint64Array(1);
    new Uint8Array(word.buffer).set(data as Uint8Array);
    compareAdd = word[0] as bigint;
  }
  let flush: number | undefined;
  let flushLength: number | undefined;
  if (wr.opcode === 'FLUSH') {
    const f = wr.flush;
    if (typeof f !== 'object' || f === null)
      throw invalidArgType(`${name}.flush`, 'a { type, level, length } object', f);
    const type = own(FLUSH_TYPE, f.type);
    const level = own(FLUSH_LEVEL, f.level);
    if (type === undefined) throw invalidArgValue(`${name}.flush.type`, "must be 'global' or 'persistent'", f.type);
    if (level === undefined) throw invalidArgValue(`${name}.flush.level`, "must be 'range' or 'mr'", f.level);
    flush = type | (level << 8);
    flushLength = f.level === 'range' ? u32(`${name}.flush.length`, f.length) : 0;
  }
  let invalidateRkey: number | undefined;
  if (wr.opcode === 'LOCAL_INV' || wr.opcode === 'SEND_WITH_INV') {
    invalidateRkey = u32(`${name}.invalidateRkey`, wr.invalidateRkey);
  } else if (wr.invalidateRkey !== undefined) {
    throw invalidArgValue(`${name}.invalidateRkey`, `is not taken by ${wr.opcode}`, wr.invalidateRkey);
  }
  let bind: ResolvedSend['bind'];
  if (wr.opcode === 'BIND_MW') bind = resolveBind(wr.bind, `${name}.bind`, limits.pd);
  else if (wr.bind !== undefined) throw invalidArgValue(`${name}.bind`, `is not taken by ${wr.opcode}`, wr.bind);
  let ud: ResolvedSend['ud'];
  if (limits.type === 'UD') {
    const d = wr.ud;
    if (typeof d !== 'object' || d === null || !AddressHandle.is(d.ah) || d.ah.closed) {
      throw invalidArgType(`${name}.ud`, 'an { ah: open AddressHandle, remoteQpn, remoteQkey } object', d);
    }
    if (d.ah.pd !== limits.pd) {
      throw invalidArgValue(`${name}.ud.ah`, "must belong to the QP's protection domain", d.ah.handle);
    }
    ud = {
      ah: d.ah,
      remoteQpn: u32(`${name}.ud.remoteQpn`, d.remoteQpn),
      remoteQkey: u32(`${name}.ud.remoteQkey`, d.remoteQkey),
    };
  } else if (wr.ud !== undefined) {
    throw invalidArgValue(`${name}.ud`, `is for UD QPs, not ${limits.type}`, wr.ud);
  }
  let sg: ResolvedSge[] = [];
  let inline: Uint8Array | undefined;
  const given = wr.inline; // read once: what is checked is what is posted
  if (given !== undefined) {
    // a view of our own over the same memory, by the intrinsic getters: an own `byteLength` on the
    // caller's cannot pass a length check it fails, and a Proxy (not a Uint8Array) cannot run caller
    // code while the post gathers the payloads into the descriptors it is writing
    const range = uint8Range(given);
    if (range === undefined) throw invalidArgType(`${name}.inline`, 'a Uint8Array', given);
    if (wr.sg !== undefined) throw invalidArgValue(`${name}.sg`, 'cannot be given with inline data', wr.sg);
    if (rdma && wr.opcode === 'RDMA_READ') throw invalidArgValue(`${name}.inline`, 'cannot receive a read', given);
    if (fetching) throw invalidArgValue(`${name}.inline`, 'cannot receive an atomic result', given);
    if (bare) throw invalidArgValue(`${name}.inline`, `is not taken by ${wr.opcode}`, given);
    if (range.byteLength > limits.maxInline) {
      throw outOfRange(
        `${name}.inline.byteLength`,
        `<= the QP's maxInlineData (${limits.maxInline})`,
        range.byteLength,
      );
    }
    inline = new Uint8Array(range.buffer, range.byteOffset, range.byteLength);
    flags |= f.inline;
  } else {
    const list = wr.sg ?? [];
    if (!Array.isArray(list)) throw invalidArgType(`${name}.sg`, 'an array of SGEs', list);
    if (list.length > limits.maxSge)
      throw outOfRange(`${name}.sg.length`, `<= the QP's maxSendSge (${limits.maxSge})`, list.length);
    sg = resolveSges(list, `${name}.sg`, limits.pd);
    if (bare && sg.length > 0) throw invalidArgValue(`${name}.sg`, `is not taken by ${wr.opcode}`, wr.sg);
    if (fetching && (sg.length !== 1 || sg[0]?.length !== 8)) {
      throw invalidArgValue(`${name}.sg`, 'must be one 8-byte SGE for the original value', wr.sg);
    }
  }
  return {
    wrId: u64(`${name}.wrId`, wr.wrId ?? 0n),
    opcode,
    flags,
    imm,
    remoteAddr,
    rkey,
    compareAdd,
    swap,
    ...(flush === undefined ? {} : { flush, flushLength }),
    ...(invalidateRkey === undefined ? {} : { invalidateRkey }),
    ...(bind === undefined ? {} : { bind }),
    ud,
    sg,
    inline,
  };
}

/**
 * BIND_MW's window and range: a MemoryWindow and a MemoryRegion this
 * library made, open, both of the QP's protection domain; the range inside
 * the region (the library computes the address); the new rkey keeps the
 * window's upper 24 bits.
 */
function resolveBind(b: MwBind | undefined, name: string, pd: ProtectionDomain): NonNullable<ResolvedSend['bind']> {
  if (typeof b !== 'object' || b === null) {
    throw invalidArgType(name, 'a { mw, mr, offset, length, access, key } object', b);
  }
  const { mw, mr, offset = 0, length, access = {}, key } = b;
  if (!MemoryWindow.is(mw)) throw invalidArgType(`${name}.mw`, 'an open MemoryWindow', mw);
  if (mw.closed) throw new UverbsClosedError(`${mw.description} (${name}.mw)`);
  if (mw.pd !== pd) throw invalidArgValue(`${name}.mw`, "must belong to the QP's protection domain", mw.handle);
  if (!MemoryRegion.is(mr)) throw invalidArgType(`${name}.mr`, 'an open MemoryRegion', mr);
  if (mr.closed) throw new UverbsClosedError(`${mr.description} (${name}.mr)`);
  if (mr.pd !== pd) throw invalidArgValue(`${name}.mr`, "must belong to the QP's protection domain", mr.handle);
  if (!Number.isSafeInteger(offset) || offset < 0) throw outOfRange(`${name}.offset`, '>= 0', offset);
  const least = mw.type === 2 ? 1 : 0;
  if (!Number.isSafeInteger(length) || length < least) {
    throw outOfRange(`${name}.length`, `an integer >= ${least} (type ${mw.type} window)`, length);
  }
  if (offset + length > mr.length) {
    throw outOfRange(`${name}.offset + length`, `<= the region's ${mr.length} bytes`, offset + length);
  }
  if (typeof access !== 'object' || access === null) throw invalidArgType(`${name}.access`, 'an object', access);
  let bits = 0;
  for (const [right, on] of Object.entries(access)) {
    const bit = own(WINDOW_ACCESS, right);
    if (bit === undefined) throw invalidArgValue(`${name}.access.${right}`, 'is not a window access right', on);
    if (on) bits |= bit;
  }
  // the region's rights, as rxe_check_bind_mw has them (a region is looked up only for a nonzero length)
  if (length > 0) {
    const rights = mr.access;
    if (!rights.mwBind) {
      throw invalidArgValue(`${name}.mr`, 'must be registered with mwBind to be bound to a window (C10-73)', mr.handle);
    }
    const writes = A.IB_UVERBS_ACCESS_REMOTE_WRITE | A.IB_UVERBS_ACCESS_REMOTE_ATOMIC;
    if ((bits & writes) !== 0 && !rights.localWrite) {
      throw invalidArgValue(
        `${name}.access`,
        'cannot grant remoteWrite or remoteAtomic over a region without localWrite (C10-74)',
        access,
      );
    }
  }
  const current = mw.rkey;
  const next = key ?? (current + 1) & 0xff;
  if (!Number.isInteger(next) || next < 0 || next > 0xff) throw outOfRange(`${name}.key`, '0..255', key);
  const rkey = ((current & ~0xff) | next) >>> 0;
  return {
    mw,
    addr: mr.address + BigInt(offset),
    length,
    mrLkey: mr.lkey,
    mwRkey: current,
    rkey,
    access: bits,
    posted: (qp) => MemoryWindow.bindPosted(mw, rkey, length > 0 ? mr : undefined, qp),
  };
}

export function resolveRecv(wr: RecvWr, name: string, pd: ProtectionDomain, maxSge: number): ResolvedRecv {
  if (typeof wr !== 'object' || wr === null) throw invalidArgType(name, 'a receive work request', wr);
  if (!Array.isArray(wr.sg)) throw invalidArgType(`${name}.sg`, 'an array of SGEs', wr.sg);
  if (wr.sg.length > maxSge) throw outOfRange(`${name}.sg.length`, `<= ${maxSge}`, wr.sg.length);
  return {
    wrId: u64(`${name}.wrId`, wr.wrId ?? 0n),
    sg: resolveSges(wr.sg, `${name}.sg`, pd),
  };
}

/**
 * One work request or an array of them, each resolved under the name an
 * error about it would use: `wr` for one, `wrs[i]` in an array.
 */
export function resolveEach<W, R>(wrs: W | readonly W[], resolve: (wr: W, name: string) => R): R[] {
  if (!Array.isArray(wrs)) return [resolve(wrs as W, 'wr')];
  if (wrs.length > MAX_BATCH) throw outOfRange('wrs.length', `<= ${MAX_BATCH} (one post)`, wrs.length);
  return (wrs as readonly W[]).map((wr, i) => resolve(wr, `wrs[${i}]`));
}

/**
 * Send work requests checked as {@link resolveEach} does, and as one batch:
 * a window is bound at most once per batch (each bind is resolved from the
 * window's current key; a second bind of it in the same post would name it
 * by a key the first replaces, and rxe would fail it and the QP with it).
 */
export function resolveSends(wrs: SendWr | readonly SendWr[], limits: SendLimits): ResolvedSend[] {
  const resolved = resolveEach(wrs, (wr, name) => resolveSend(wr, name, limits));
  // made only for a post that binds: a post without BIND_MW (the hot path) allocates nothing here
  let windows: Set<MemoryWindow> | undefined;
  for (let i = 0; i < resolved.length; i++) {
    const mw = resolved[i]?.bind?.mw;
    if (mw === undefined) continue;
    windows ??= new Set();
    if (windows.has(mw)) {
      throw invalidArgValue(
        `wrs[${i}].bind.mw`,
        'is bound by an earlier work request of this post (bind a window once per post)',
        mw.description,
      );
    }
    windows.add(mw);
  }
  return resolved;
}

/**
 * Work requests checked and encoded once, posted many times
 * (`QueuePair.prepareSend`, `prepareRecv`, `SharedReceiveQueue.prepareRecv`):
 * each `post()` skips the argument checks and the encoding, and re-checks
 * only what can change after preparing: the queue is open (and, for a QP,
 * in a state that takes the post: `UverbsQpStateError` otherwise, nothing
 * written), every region is open with the key and protection domain it
 * had, every address handle is open, every inline payload has the length
 * it had. Inline payloads are
 * read at each post (change the bytes, not the length); wr_ids are fixed.
 */
export class PreparedWork {
  /** How many work requests each post writes. */
  readonly count: number;
  readonly #assertOpen: () => void;
  readonly #pd: ProtectionDomain;
  readonly #regions: readonly { readonly mr: MemoryRegion; readonly lkey: number }[];
  readonly #ahs: readonly AddressHandle[];
  readonly #inline: readonly { readonly bytes: Uint8Array; readonly length: number }[];
  readonly #post: (wrIds?: readonly bigint[]) => void;
  /** One wrId, as the array a post hands on (reused: a post with a wrId allocates nothing). */
  readonly #one: bigint[] = [0n];

  /**
   * @internal `wrs` as resolved (checked) from the caller's: what is
   * re-checked at each post is the objects the checks saw, never the
   * caller's work requests read again (a getter could return others).
   * `assertOpen` throws when the queue cannot take a post now: closed, or
   * (a QP) in a state that refuses it.
   */
  constructor(
    assertOpen: () => void,
    pd: ProtectionDomain,
    wrs: readonly (ResolvedSend | ResolvedRecv)[],
    post: (wrIds?: readonly bigint[]) => void,
  ) {
    const sends = wrs as readonly Partial<ResolvedSend>[];
    const binding = sends.findIndex((wr) => wr.bind !== undefined);
    if (binding >= 0) {
      // each bind moves the window to a new key: a second post would name the window by a stale one
      throw invalidArgValue(`wrs[${binding}].opcode`, 'BIND_MW cannot be prepared (post it with postSend)', 'BIND_MW');
    }
    this.#assertOpen = assertOpen;
    this.#pd = pd;
    this.count = wrs.length;
    this.#regions = wrs.flatMap((wr) => wr.sg.map((s) => ({ mr: s.mr, lkey: s.lkey })));
    this.#ahs = sends.flatMap((wr) => (wr.ud === undefined ? [] : [wr.ud.ah]));
    this.#inline = sends.flatMap((wr) =>
      wr.inline === undefined ? [] : [{ bytes: wr.inline, length: wr.inline.byteLength }],
    );
    this.#post = post;
  }

  /**
   * Writes the work requests into the ring (and rings the doorbell for sends), all or none; ENOMEM
   * when there is no room. `wrIds` replaces, for this post only, the `wrId` each work request was
   * prepared with: one bigint for a single work request, or an array of exactly `count` (u64 each),
   * checked before anything is written; without it, the prepared ones are posted.
   */
  post(wrIds?: bigint | readonly bigint[]): void {
    let ids: readonly bigint[] | undefined;
    if (wrIds !== undefined) {
      if (typeof wrIds === 'bigint') {
        if (this.count !== 1) {
          throw invalidArgType('wrIds', `an array of ${this.count} bigints (one per prepared work request)`, wrIds);
        }
        this.#one[0] = u64('wrIds', wrIds);
        ids = this.#one;
      } else {
        if (!Array.isArray(wrIds)) throw invalidArgType('wrIds', 'a bigint or an array of bigints', wrIds);
        if (wrIds.length !== this.count) {
          throw outOfRange('wrIds.length', `${this.count} (one per prepared work request)`, wrIds.length);
        }
        // read once: what is checked is what is posted
        const copy = this.count === 1 ? this.#one : new Array<bigint>(this.count);
        for (let i = 0; i < this.count; i++) copy[i] = u64(`wrIds[${i}]`, wrIds[i]);
        ids = copy;
      }
    }
    this.#assertOpen();
    for (const { mr, lkey } of this.#regions) {
      // closed, re-registered (new keys) or moved to another PD since: nothing is written
      if (mr.closed || mr.lkey !== lkey || mr.pd !== this.#pd) {
        throw new UverbsClosedError(`${mr.description} as prepared (closed, re-registered or moved since)`);
      }
    }
    for (const ah of this.#ahs) if (ah.closed) throw new UverbsClosedError(ah.description);
    for (const { bytes, length } of this.#inline) {
      if (bytes.byteLength !== length) {
        throw invalidArgValue('inline', `must keep the ${length} bytes it had when prepared`, bytes.byteLength);
      }
    }
    this.#post(ids);
  }
}

/** `wrs` with the `wrId`s of one post (a datapath without its own prepared form posts these). */
export function withWrIds<W extends { readonly wrId: bigint }>(
  wrs: readonly W[],
  wrIds?: readonly bigint[],
): readonly W[] {
  if (wrIds === undefined) return wrs;
  return wrs.map((wr, i) => ({ ...wr, wrId: wrIds[i] as bigint }));
}

/** Bytes one completion takes in a poll buffer (`sizeof(struct ib_uverbs_wc)`). */
export const COMPLETION_SIZE = ib_uverbs_wc.size;

export type CompletionStatus = keyof typeof ib_wc_status;
export type CompletionOpcode = keyof typeof ib_wc_opcode;

export interface Completion {
  readonly wrId: bigint;
  /** `IB_WC_SUCCESS`, or the error (`IB_WC_REM_ACCESS_ERR`, ...); a number the library does not know stays a number. */
  readonly status: CompletionStatus | number;
  /**
   * What completed (`IB_WC_RDMA_WRITE`, `IB_WC_RECV`, ...), for a successful
   * completion only: `undefined` for every other status, since the kernel
   * does not fill it in then (rxe and others leave 0, which would read as
   * `IB_WC_SEND`). Match a failed completion to its work request by `wrId`.
   */
  readonly opcode: CompletionOpcode | number | undefined;
  readonly vendorErr: number;
  readonly byteLen: number;
  /** Immediate data (host order), when `IB_WC_WITH_IMM` is set. */
  readonly imm?: number;
  /**
   * The rkey the peer's SEND_WITH_INV invalidated here, when
   * `IB_WC_WITH_INVALIDATE` is set (the kernel's `ex.invalidate_rkey`).
   */
  readonly invalidatedRkey?: number;
  readonly qpNum: number;
  readonly srcQp: number;
  readonly wcFlags: number;
}

function namer<T extends string>(table: Readonly<Record<T, number | bigint>>): (n: number) => T | number {
  const names = new Map<number, T>(Object.entries(table).map(([k, v]) => [Number(v), k as T]));
  return (n) => names.get(n) ?? n;
}
const statusName = namer(ib_wc_status as unknown as Record<CompletionStatus, number>);
const opcodeName = namer(ib_wc_opcode as unknown as Record<CompletionOpcode, number>);

/** Decodes the first `count` completions of a poll buffer. */
export function decodeCompletions(buffer: Uint8Array, count: number): Completion[] {
  const out: Completion[] = [];
  for (let i = 0; i < count; i++) {
    const wc = decode(ib_uverbs_wc, buffer, i * COMPLETION_SIZE);
    const withImm = (wc.wc_flags & ib_wc_flags.IB_WC_WITH_IMM) !== 0;
    const withInvalidate = (wc.wc_flags & ib_wc_flags.IB_WC_WITH_INVALIDATE) !== 0;
    const success = wc.status === ib_wc_status.IB_WC_SUCCESS;
    out.push({
      wrId: wc.wr_id,
      status: statusName(wc.status),
      opcode: success ? opcodeName(wc.opcode) : undefined,
      vendorErr: wc.vendor_err,
      byteLen: wc.byte_len,
      ...(withImm ? { imm: wc.imm_data } : {}),
      // the same word as imm_data (the ex union of ib_uverbs_wc), host order
      ...(withInvalidate ? { invalidatedRkey: wc.invalidate_rkey } : {}),
      qpNum: wc.qp_num,
      srcQp: wc.src_qp,
      wcFlags: wc.wc_flags,
    });
  }
  return out;
}

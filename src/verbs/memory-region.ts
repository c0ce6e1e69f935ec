/**
 * A memory region. The kernel may DMA into it (rxe copies into it from its
 * own threads), so its memory lives exactly as long as the registration and
 * is let go only after the kernel has (MR_DESTROY succeeded, or the
 * context's fd closed). Three kinds of memory, each with the address the
 * kernel sees taken from the addon, never from a caller's number:
 *
 * - `pd.registerMemory(length)`: fresh anonymous memory the library maps;
 *   `bytes` shows it and is detached at close.
 * - `pd.registerMemory(sharedArrayBuffer | view)`: the caller's own
 *   SharedArrayBuffer, registered in place and held until the MR closes;
 *   `bytes` is a view over the registered range, and the caller's buffer
 *   stays theirs, never detached. An ArrayBuffer (a plain Buffer, a typed
 *   array over one) is refused: it can be detached or transferred while the
 *   kernel writes into it, and N-API cannot stop that
 *   (src/transport/memory.ts, `SharedMemory`).
 * - `pd.registerFile(path | fd, options)`: a regular file's bytes, mapped
 *   MAP_SHARED; no `bytes` (use the file).
 *
 * Re-registration (IB_USER_VERBS_CMD_REREG_MR, write only: there is no
 * ioctl method) moves the MR to another PD or changes its access rights in
 * place; the handle stays, the keys may change. A new translation (other
 * memory) is not offered: rxe and siw refuse it (EOPNOTSUPP), and the
 * library would have to keep both mappings alive across the swap.
 */

import { closeSync, fstatSync, openSync } from 'node:fs';
import { ib_uverbs_access_flags as A, ib_uverbs_odp_general_cap_bits as O } from '../abi/constants.js';
import { ib_mr_rereg_flags as R } from '../abi/kernel-internal.js';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_REG_MR } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { EOPNOTSUPP } from '../errno.js';
import {
  type CallPath,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  UverbsError,
  UverbsUnsupportedError,
} from '../errors.js';
import { uhwFor } from '../providers/index.js';
import {
  FileMemory,
  PAGE_SIZE,
  type RegisteredMemory,
  SharedMemory,
  type SharedMemorySource,
  UserMemory,
} from '../transport/memory.js';
import { type Context, sysOf } from './context.js';
import { KernelObject } from './kernel-object.js';
import { ProtectionDomain } from './protection-domain.js';

/**
 * IB access rights, by name. For memory (a memory region, and the
 * re-registration of one) `remoteWrite` and `remoteAtomic` require
 * `localWrite`: the IB spec's rule, which the kernel enforces with EINVAL
 * (ib_check_mr_access) and the library checks first. It is required, never
 * implied: the library adds no right the caller did not name. A QP's
 * access rights (what a peer may do through that QP) have no such rule:
 * `{ remoteWrite: true, remoteRead: true }` is a valid QP grant.
 */
export interface AccessFlags {
  localWrite?: boolean;
  remoteWrite?: boolean;
  remoteRead?: boolean;
  remoteAtomic?: boolean;
  mwBind?: boolean;
  /** The peer may FLUSH this memory to global visibility (IB_UVERBS_ACCESS_FLUSH_GLOBAL; 6.2 and later). */
  flushGlobal?: boolean;
  /** ... to persistence (IB_UVERBS_ACCESS_FLUSH_PERSISTENT; the memory must be persistent memory). */
  flushPersistent?: boolean;
}

const BITS: Record<keyof AccessFlags, number> = {
  localWrite: A.IB_UVERBS_ACCESS_LOCAL_WRITE,
  remoteWrite: A.IB_UVERBS_ACCESS_REMOTE_WRITE,
  remoteRead: A.IB_UVERBS_ACCESS_REMOTE_READ,
  remoteAtomic: A.IB_UVERBS_ACCESS_REMOTE_ATOMIC,
  mwBind: A.IB_UVERBS_ACCESS_MW_BIND,
  flushGlobal: A.IB_UVERBS_ACCESS_FLUSH_GLOBAL,
  flushPersistent: A.IB_UVERBS_ACCESS_FLUSH_PERSISTENT,
};

/**
 * The `IB_UVERBS_ACCESS_*` bits of `access`, checked before any syscall:
 * for `'memory'` (the default: MRs) with the IB rule that remote write or
 * atomic access requires local write (ib_check_mr_access); for `'qp'`
 * without it (a QP's access flags, ib_modify_qp: no such check).
 */
export function accessBits(access: AccessFlags, object: 'memory' | 'qp' = 'memory'): number {
  if (typeof access !== 'object' || access === null) throw invalidArgType('access', 'an object', access);
  let bits = 0;
  // the caller's own enumerable keys, in order (as Object.entries, without its array per call)
  for (const name in access) {
    if (!Object.hasOwn(access, name)) continue;
    const on = access[name as keyof AccessFlags];
    // an own key only: `constructor` or `toString` is no access right
    const bit = Object.hasOwn(BITS, name) ? BITS[name as keyof AccessFlags] : undefined;
    if (bit === undefined) throw invalidArgValue(`access.${name}`, 'is not an access right', on);
    if (on) bits |= bit;
  }
  if (object === 'memory' && (access.remoteWrite || access.remoteAtomic) && !access.localWrite) {
    throw invalidArgValue(
      'access',
      'must include localWrite when it grants remoteWrite or remoteAtomic (IB spec; the kernel says EINVAL)',
      access,
    );
  }
  return bits;
}

/** Every access right by name, true where `bits` grant it (bits the library has no name for are left out). */
export function accessFlags(bits: number): Required<AccessFlags> {
  const out = {} as Required<AccessFlags>;
  for (const [name, bit] of Object.entries(BITS) as [keyof AccessFlags, number][]) out[name] = (bits & bit) !== 0;
  return out;
}

/** Access rights of a memory region: {@link AccessFlags}, and on-demand paging. */
export interface MemoryAccessFlags extends AccessFlags {
  /**
   * An on-demand-paging MR (IB_UVERBS_ACCESS_ON_DEMAND): the kernel does
   * not pin the pages, it faults them in when the device touches them. Only
   * where the device reports ODP (`queryDevice().odpCaps.generalCaps` bit
   * IB_UVERBS_ODP_SUPPORT; rxe from 6.15 / 7.x): elsewhere
   * `UverbsUnsupportedError` (EOPNOTSUPP, syscall 'none') before anything
   * is mapped or registered. rxe's ODP in 7.2 moves bytes to the wrong
   * place when an RDMA WRITE packet does not start on a page boundary, or
   * an RDMA READ crosses one, and the completion still says success
   * (README, "Registering your own memory"): keep each packet of a WRITE
   * to such an MR page-aligned.
   */
  onDemand?: boolean;
}

/** MR access bits: {@link accessBits} plus on-demand paging. */
export function memoryAccessBits(access: MemoryAccessFlags): number {
  if (typeof access !== 'object' || access === null) throw invalidArgType('access', 'an object', access);
  const { onDemand, ...rights } = access;
  return accessBits(rights) | (onDemand ? A.IB_UVERBS_ACCESS_ON_DEMAND : 0);
}

/**
 * The rights for which the kernel pins memory for writing, so a file is
 * mapped writable: ib_access_writable() (include/rdma/ib_verbs.h, the same
 * on 6.1, 6.12 and 7.x) counts local and remote write, remote atomic and
 * MW bind (a window bound over the MR may grant writes). Its pin then asks
 * for write access (FOLL_WRITE) and a read-only mapping is EFAULT. (6.1
 * pins every MR with FOLL_WRITE, so a read-only file MR is EFAULT there
 * whatever its rights.)
 */
const WRITABLE =
  A.IB_UVERBS_ACCESS_LOCAL_WRITE |
  A.IB_UVERBS_ACCESS_REMOTE_WRITE |
  A.IB_UVERBS_ACCESS_REMOTE_ATOMIC |
  A.IB_UVERBS_ACCESS_MW_BIND;

/** Where a file registration starts and how much of the file it covers. */
export interface FileRegistration {
  /** Byte offset into the file, a multiple of the page size (4096); default 0. */
  offset?: number | bigint;
  /** Bytes to register; default: from `offset` to the end of the file. The range must lie inside the file. */
  length?: number;
  /**
   * Any right the kernel pins for writing (localWrite, remoteWrite,
   * remoteAtomic, mwBind: ib_access_writable()) maps the file writable: a
   * path is then opened read-write, an fd must be open for writing.
   */
  access?: MemoryAccessFlags;
}

export interface Reregistration {
  /** Move the MR to this PD (IB_MR_REREG_PD). */
  pd?: ProtectionDomain;
  /** Replace its access rights (IB_MR_REREG_ACCESS). */
  access?: MemoryAccessFlags;
}

export class MemoryRegion extends KernelObject {
  readonly handle: number;
  /** Bytes registered (the mapping behind them is whole pages). */
  readonly length: number;
  /** How the registration reached the kernel: ioctl REG_MR (7.x) or the legacy write. */
  readonly path: CallPath;
  readonly #memory: RegisteredMemory;
  #pd: ProtectionDomain;
  #lkey: number;
  #rkey: number;
  /** The IB_UVERBS_ACCESS_* bits the kernel registered it with (re-registration replaces them). */
  #access: number;

  private constructor(
    pd: ProtectionDomain,
    memory: RegisteredMemory,
    length: number,
    outputs: Record<string, unknown>,
    path: CallPath,
    access: number,
  ) {
    super(pd);
    this.#access = access;
    this.length = length;
    this.#pd = pd;
    this.#memory = memory;
    this.handle = outputs.handle as number;
    this.#lkey = outputs.lkey as number;
    this.#rkey = outputs.rkey as number;
    this.path = path;
  }

  get pd(): ProtectionDomain {
    return this.#pd;
  }

  /** The local key; `UverbsClosedError` once closed (a stale key names nothing, or another MR). */
  get lkey(): number {
    this.assertOpen();
    return this.#lkey;
  }

  /** The remote key; `UverbsClosedError` once closed. */
  get rkey(): number {
    this.assertOpen();
    return this.#rkey;
  }

  /**
   * The access rights the region is registered with, by name (as given to
   * `registerMemory` / `registerFile`, or the last `reregister` that
   * changed them): what a bind of a window over it may use (`mwBind`, and
   * `localWrite` for a window granting remote write or atomics).
   */
  get access(): Readonly<Required<MemoryAccessFlags>> {
    return { ...accessFlags(this.#access), onDemand: (this.#access & A.IB_UVERBS_ACCESS_ON_DEMAND) !== 0 };
  }

  /** @internal use `ProtectionDomain.registerMemory()` */
  static register(pd: ProtectionDomain, source: number | SharedMemorySource, access: MemoryAccessFlags): MemoryRegion {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    // every argument is checked before the first syscall (the ODP query included)
    if (typeof source !== 'number') {
      const range = SharedMemory.check(source, 'memory');
      const bits = MemoryRegion.#checkOnDemand(pd, memoryAccessBits(access));
      return MemoryRegion.#register(pd, SharedMemory.pin(range, 'memory'), bits);
    }
    const length = source;
    if (!Number.isSafeInteger(length) || length <= 0) throw outOfRange('length', 'a positive integer', length);
    const bits = MemoryRegion.#checkOnDemand(pd, memoryAccessBits(access));
    const memory = MemoryRegion.#allocate(pd, length);
    return MemoryRegion.#register(pd, memory, bits, length);
  }

  /**
   * `bits`, once the device has said it pages on demand where they ask for
   * it: otherwise `UverbsUnsupportedError` (EOPNOTSUPP, syscall 'none',
   * path the one REG_MR would have taken) with nothing mapped or
   * registered. The kernel's own answer differs by age (6.1's legacy write
   * says EINVAL, 7.x's ioctl EOPNOTSUPP), so the device query
   * (`odpCaps.generalCaps` IB_UVERBS_ODP_SUPPORT) decides first: the one
   * syscall, made only once every argument has been checked.
   */
  static #checkOnDemand(pd: ProtectionDomain, bits: number): number {
    if ((bits & A.IB_UVERBS_ACCESS_ON_DEMAND) === 0) return bits;
    const { dispatch } = pd.context;
    const caps = pd.context.queryDevice().odpCaps;
    if (((caps?.generalCaps ?? 0n) & BigInt(O.IB_UVERBS_ODP_SUPPORT)) === 0n) {
      throw new UverbsUnsupportedError({
        errno: EOPNOTSUPP,
        syscall: 'none',
        object: 'UVERBS_OBJECT_MR',
        method: 'REG_MR onDemand (the device reports no ODP support)',
        path: dispatch.route(UVERBS_METHOD_REG_MR) ?? (dispatch.ioctlAvailable ? 'ioctl' : 'write'),
      });
    }
    return bits;
  }

  /** A failed mmap is a `UverbsError` (syscall 'mmap', path 'mmap') naming the registration. */
  static #allocate(pd: ProtectionDomain, length: number): UserMemory {
    try {
      return UserMemory.allocate(sysOf(pd.context), length);
    } catch (error) {
      if (!(error instanceof UverbsError)) throw error;
      throw new UverbsError({
        errno: error.errno,
        syscall: error.syscall,
        object: 'UVERBS_OBJECT_MR',
        method: `registerMemory(${length})`,
        path: 'mmap',
      });
    }
  }

  /** @internal use `ProtectionDomain.registerFile()` */
  static registerFile(pd: ProtectionDomain, file: string | number, options: FileRegistration): MemoryRegion {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    if (typeof file !== 'string' && !(Number.isInteger(file) && file >= 0)) {
      throw invalidArgType('file', 'a path or an open file descriptor', file);
    }
    const { offset = 0, length, access = {} } = options;
    if (typeof offset !== 'bigint' && !Number.isSafeInteger(offset)) {
      throw outOfRange('options.offset', `a non-negative multiple of ${PAGE_SIZE}`, offset);
    }
    const at = BigInt(offset);
    if (at < 0n || at % BigInt(PAGE_SIZE) !== 0n) {
      throw outOfRange('options.offset', `a non-negative multiple of ${PAGE_SIZE}`, offset);
    }
    if (length !== undefined && (!Number.isSafeInteger(length) || length <= 0)) {
      throw outOfRange('options.length', 'a positive integer', length);
    }
    const bits = memoryAccessBits(access);
    const writable = (bits & WRITABLE) !== 0;
    const fd = typeof file === 'string' ? openSync(file, writable ? 'r+' : 'r') : file;
    let memory: FileMemory;
    try {
      const size = BigInt(fstatSync(fd).size);
      const bytes = length ?? Number(size - at);
      if (at + BigInt(bytes) > size || bytes <= 0) {
        throw outOfRange('options.length', `a range inside the file (${size} bytes from offset ${at})`, length);
      }
      MemoryRegion.#checkOnDemand(pd, bits);
      memory = FileMemory.map(fd, at, bytes, writable);
    } finally {
      if (typeof file === 'string') closeSync(fd); // the mapping holds the file
    }
    return MemoryRegion.#register(pd, memory, bits);
  }

  /**
   * REG_MR over `memory`, which the new MR then owns. Called right after
   * `memory` was taken, with nothing in between that can throw: a REG_MR
   * the kernel refuses lets go of it, and once the kernel has the
   * registration, only the MR lets go (after MR_DESTROY or the fd's close).
   */
  static #register(pd: ProtectionDomain, memory: RegisteredMemory, bits: number, length = memory.length): MemoryRegion {
    let r: ReturnType<Context['dispatch']['invoke']>;
    try {
      const context: Context = pd.context;
      r = context.dispatch.invoke(
        UVERBS_METHOD_REG_MR,
        { pdHandle: pd.handle, addr: memory.address, length, iova: memory.address, accessFlags: bits },
        uhwFor(context.provider, 'regMr'),
      );
    } catch (error) {
      memory.free();
      throw error;
    }
    return new MemoryRegion(pd, memory, length, r.outputs, r.path, bits);
  }

  /** @internal whether `value` is a MemoryRegion this library made (a brand check: a look-alike object is not one). */
  static is(value: unknown): value is MemoryRegion {
    return typeof value === 'object' && value !== null && #memory in value;
  }

  get description(): string {
    return `MemoryRegion ${this.handle}`;
  }

  /**
   * The registered bytes (its first `length` bytes are what the kernel
   * sees): the library's mapping, or a view over the caller's
   * SharedArrayBuffer range; a file MR has none (ERR_UVERBS_NO_VIEW).
   */
  get bytes(): Uint8Array {
    this.assertOpen();
    return this.#memory.bytes;
  }

  /** The address the region is registered at (its iova). */
  get address(): bigint {
    return this.#memory.address;
  }

  /**
   * IB_USER_VERBS_CMD_REREG_MR with what is given: another PD of the same
   * context, new access rights, or both. The keys the kernel answers with
   * replace `lkey` and `rkey`.
   */
  reregister(changes: Reregistration): void {
    this.assertOpen();
    if (typeof changes !== 'object' || changes === null) throw invalidArgType('changes', 'an object', changes);
    const { pd, access } = changes;
    if (pd !== undefined && KernelObject.checked(pd, ProtectionDomain, 'changes.pd').context !== this.#pd.context) {
      throw invalidArgType('changes.pd', 'an open ProtectionDomain of this context', pd);
    }
    const flags = (pd ? R.IB_MR_REREG_PD : 0) | (access ? R.IB_MR_REREG_ACCESS : 0);
    if (flags === 0) throw invalidArgValue('changes', 'must name a pd or access rights', changes);
    // read once: what the kernel gets is what `mr.access` (and BIND_MW's check) says
    const bits = access ? memoryAccessBits(access) : 0;
    // rxe's rereg changes the rights in place, without pinning again: a file mapped read-only
    // must not gain a right the kernel would have pinned it for writing
    if (this.#memory instanceof FileMemory && !this.#memory.writable && (bits & WRITABLE) !== 0) {
      throw invalidArgValue(
        'changes.access',
        'cannot grant localWrite, remoteWrite, remoteAtomic or mwBind to a file registered read-only (register it again)',
        access,
      );
    }
    const r = this.#pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_REREG_MR, {
      mr_handle: this.handle,
      flags,
      start: this.#memory.address,
      length: BigInt(this.#memory.length),
      hca_va: this.#memory.address,
      pd_handle: (pd ?? this.#pd).handle,
      access_flags: bits,
    });
    this.#lkey = r.response?.lkey as number;
    this.#rkey = r.response?.rkey as number;
    if (access) this.#access = bits;
    if (pd !== undefined && pd !== this.#pd) {
      this.changeDependency(this.#pd, pd);
      this.#pd = pd;
    }
  }

  protected destroy(): void {
    this.#pd.context.dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle: this.handle });
    this.released();
  }

  protected override released(): void {
    this.#memory.free();
  }
}

/**
 * A memory region over library-owned memory. The kernel may DMA into it
 * (rxe copies into it from its own threads), so the mapping lives exactly
 * as long as the registration: it is unmapped only after the kernel has
 * let go (MR_DESTROY succeeded, or the context's fd closed).
 *
 * Re-registration (IB_USER_VERBS_CMD_REREG_MR, write only: there is no
 * ioctl method) moves the MR to another PD or changes its access rights in
 * place; the handle stays, the keys may change. A new translation (other
 * memory) is not offered: rxe and siw refuse it (EOPNOTSUPP), and the
 * library would have to keep both mappings alive across the swap.
 */

import { ib_uverbs_access_flags as A } from '../abi/constants.js';
import { ib_mr_rereg_flags as R } from '../abi/kernel-internal.js';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_REG_MR } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { type CallPath, invalidArgType, invalidArgValue, outOfRange } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import { UserMemory } from '../transport/memory.js';
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
  for (const [name, on] of Object.entries(access)) {
    const bit = BITS[name as keyof AccessFlags];
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

export interface Reregistration {
  /** Move the MR to this PD (IB_MR_REREG_PD). */
  pd?: ProtectionDomain;
  /** Replace its access rights (IB_MR_REREG_ACCESS). */
  access?: AccessFlags;
}

export class MemoryRegion extends KernelObject {
  readonly handle: number;
  /** Bytes registered (the mapping behind them is whole pages). */
  readonly length: number;
  /** How the registration reached the kernel: ioctl REG_MR (7.x) or the legacy write. */
  readonly path: CallPath;
  readonly #memory: UserMemory;
  #pd: ProtectionDomain;
  #lkey: number;
  #rkey: number;

  private constructor(
    pd: ProtectionDomain,
    memory: UserMemory,
    length: number,
    outputs: Record<string, unknown>,
    path: CallPath,
  ) {
    super(pd);
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

  get lkey(): number {
    return this.#lkey;
  }

  get rkey(): number {
    return this.#rkey;
  }

  /** @internal use `ProtectionDomain.registerMemory()` */
  static register(pd: ProtectionDomain, length: number, access: AccessFlags): MemoryRegion {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    if (!Number.isSafeInteger(length) || length <= 0) throw outOfRange('length', 'a positive integer', length);
    const bits = accessBits(access);
    const context: Context = pd.context;
    const memory = UserMemory.allocate(sysOf(context), length);
    try {
      const r = context.dispatch.invoke(
        UVERBS_METHOD_REG_MR,
        { pdHandle: pd.handle, addr: memory.address, length, iova: memory.address, accessFlags: bits },
        uhwFor(context.provider, 'regMr'),
      );
      return new MemoryRegion(pd, memory, length, r.outputs, r.path);
    } catch (error) {
      memory.free();
      throw error;
    }
  }

  /** @internal whether `value` is a MemoryRegion this library made (a brand check: a look-alike object is not one). */
  static is(value: unknown): value is MemoryRegion {
    return typeof value === 'object' && value !== null && #memory in value;
  }

  get description(): string {
    return `MemoryRegion ${this.handle}`;
  }

  /** The registered bytes (its first `length` bytes are what the kernel sees). */
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
    const r = this.#pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_REREG_MR, {
      mr_handle: this.handle,
      flags,
      start: this.#memory.address,
      length: BigInt(this.#memory.length),
      hca_va: this.#memory.address,
      pd_handle: (pd ?? this.#pd).handle,
      access_flags: access ? accessBits(access) : 0,
    });
    this.#lkey = r.response?.lkey as number;
    this.#rkey = r.response?.rkey as number;
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

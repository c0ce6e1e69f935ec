/**
 * A memory region over library-owned memory. The kernel may DMA into it
 * (rxe copies into it from its own threads), so the mapping lives exactly
 * as long as the registration: it is unmapped only after the kernel has
 * let go (MR_DESTROY succeeded).
 */

import { ib_uverbs_access_flags as A } from './abi/constants.js';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_REG_MR } from './abi/methods.js';
import type { Context } from './context.js';
import { type CallPath, invalidArgValue, outOfRange } from './errors.js';
import { KernelObject } from './kernel-object.js';
import { UserMemory } from './memory.js';
import type { ProtectionDomain } from './protection-domain.js';
import { uhwFor } from './providers/index.js';

/** IB access rights, by name; `localWrite` is implied by any remote write or atomic, as the IB spec requires. */
export interface AccessFlags {
  localWrite?: boolean;
  remoteWrite?: boolean;
  remoteRead?: boolean;
  remoteAtomic?: boolean;
  mwBind?: boolean;
}

const BITS: Record<keyof AccessFlags, number> = {
  localWrite: A.IB_UVERBS_ACCESS_LOCAL_WRITE,
  remoteWrite: A.IB_UVERBS_ACCESS_REMOTE_WRITE,
  remoteRead: A.IB_UVERBS_ACCESS_REMOTE_READ,
  remoteAtomic: A.IB_UVERBS_ACCESS_REMOTE_ATOMIC,
  mwBind: A.IB_UVERBS_ACCESS_MW_BIND,
};

export function accessBits(access: AccessFlags): number {
  let bits = 0;
  for (const [name, on] of Object.entries(access)) {
    const bit = BITS[name as keyof AccessFlags];
    if (bit === undefined) throw invalidArgValue(`access.${name}`, 'is not an access right', on);
    if (on) bits |= bit;
  }
  if ((access.remoteWrite || access.remoteAtomic) && !access.localWrite) {
    throw invalidArgValue(
      'access',
      'must include localWrite when it grants remoteWrite or remoteAtomic (IB spec; the kernel says EINVAL)',
      access,
    );
  }
  return bits;
}

export class MemoryRegion extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly handle: number;
  readonly lkey: number;
  readonly rkey: number;
  /** How the registration reached the kernel: ioctl REG_MR (7.x) or the legacy write. */
  readonly path: CallPath;
  readonly #memory: UserMemory;

  private constructor(pd: ProtectionDomain, memory: UserMemory, outputs: Record<string, unknown>, path: CallPath) {
    super(pd);
    this.pd = pd;
    this.#memory = memory;
    this.handle = outputs.handle as number;
    this.lkey = outputs.lkey as number;
    this.rkey = outputs.rkey as number;
    this.path = path;
  }

  /** @internal use `ProtectionDomain.registerMemory()` */
  static register(pd: ProtectionDomain, length: number, access: AccessFlags): MemoryRegion {
    if (!Number.isSafeInteger(length) || length <= 0) throw outOfRange('length', 'a positive integer', length);
    const bits = accessBits(access);
    const context: Context = pd.context;
    const memory = UserMemory.allocate(context.sys, length);
    try {
      const r = context.dispatch.invoke(
        UVERBS_METHOD_REG_MR,
        { pdHandle: pd.handle, addr: memory.address, length, iova: memory.address, accessFlags: bits },
        uhwFor(context.provider, 'regMr'),
      );
      return new MemoryRegion(pd, memory, r.outputs, r.path);
    } catch (error) {
      memory.free();
      throw error;
    }
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

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle: this.handle });
    this.#memory.free();
  }
}

/**
 * A memory window (type 1 or 2): the legacy ALLOC_MW write, destroyed
 * through UVERBS_METHOD_MW_DESTROY.
 *
 * A window gives a peer remote access to part of a region under a key of
 * its own, which can be revoked without touching the region. It is bound
 * by a BIND_MW send work request on a QP of its protection domain
 * (`qp.postSend({ opcode: 'BIND_MW', bind: { mw, mr, offset, length,
 * access } })`, or `mw.bind(qp, ...)`), and a type 2 window is revoked by
 * LOCAL_INV or by the peer's SEND_WITH_INV naming its rkey (rxe:
 * drivers/infiniband/sw/rxe/rxe_mw.c, since 5.13).
 *
 * The rkey: its upper 24 bits name the window (the kernel chose them at
 * allocation), the low 8 bits are the key each bind sets. `rkey` is the
 * key the last posted bind gives the window: the window has it once that
 * bind's completion reports success (a failed bind leaves the kernel's key
 * as it was, and the QP in error).
 *
 * Closing: a window depends on its protection domain, on every region a
 * bind of it was posted with, and (type 2) on every QP it was bound
 * through (from the post on: the library cannot see from here whether the
 * bind took effect or an invalidation has run since). rxe refuses to
 * deregister a region while a window is bound to it (rxe_dereg_mr:
 * EINVAL), and a bound type 2 window holds its QP (6.1's QP destroy then
 * waits 50 s for it and warns), so closing such a region or QP, their PD,
 * CQ or the context closes the window first; `mr.close({ cascade: false })`
 * asks the kernel alone and gets its refusal while the window is bound.
 */

import { ib_mw_type } from '../abi/kernel-internal.js';
import { UVERBS_METHOD_MW_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import { KernelObject } from './kernel-object.js';
import type { MemoryRegion } from './memory-region.js';
import { ProtectionDomain } from './protection-domain.js';
import { QueuePair } from './queue-pair.js';

/** What a bound window lets the peer do (each a subset of what the region allows). */
export interface WindowAccess {
  remoteRead?: boolean;
  /** Needs the region's `localWrite` (C10-74; rxe fails the bind otherwise). */
  remoteWrite?: boolean;
  /** Needs the region's `localWrite` too. */
  remoteAtomic?: boolean;
}

/** `mw.bind(qp, ...)`: the range of `mr` to expose and how (a BIND_MW work request's `bind`, less the window). */
export interface WindowBinding {
  /** The region the window exposes part of; registered with `mwBind: true`, on the window's PD. */
  readonly mr: MemoryRegion;
  /** Where the range starts in the region (default 0). */
  readonly offset?: number;
  /** Bytes exposed; at least 1 for a type 2 window. A type 1 window bound with length 0 is unbound. */
  readonly length: number;
  readonly access?: WindowAccess;
  /** The low 8 bits of the window's new rkey (0..255); default: the current key + 1 (libibverbs' `ibv_inc_rkey`). */
  readonly key?: number;
}

export class MemoryWindow extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly type: 1 | 2;
  readonly handle: number;
  #rkey: number;

  private constructor(pd: ProtectionDomain, type: 1 | 2, handle: number, rkey: number) {
    super(pd);
    this.pd = pd;
    this.type = type;
    this.handle = handle;
    this.#rkey = rkey;
  }

  /** A MemoryWindow this library made (a brand check: a look-alike's keys would be a caller's numbers). */
  static is(value: unknown): value is MemoryWindow {
    return typeof value === 'object' && value !== null && #rkey in value;
  }

  /** @internal use `ProtectionDomain.allocMw()` */
  static allocate(pd: ProtectionDomain, type: 1 | 2): MemoryWindow {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    if (type !== 1 && type !== 2) throw invalidArgValue('type', 'must be 1 or 2', type);
    const r = pd.context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_ALLOC_MW,
      { pd_handle: pd.handle, mw_type: type === 1 ? ib_mw_type.IB_MW_TYPE_1 : ib_mw_type.IB_MW_TYPE_2 },
      uhwFor(pd.context.provider, 'allocMw'),
    );
    return new MemoryWindow(pd, type, r.response?.mw_handle as number, r.response?.rkey as number);
  }

  /**
   * @internal a bind of `mw` giving it `rkey` was posted (the datapath calls
   * this once the work request is in the ring); `mr`, the region it binds
   * the window to (none for a type 1 unbind, length 0), and for a type 2
   * window `qp`, the QP it was bound through (rxe holds it), now close only
   * after the window.
   */
  static bindPosted(mw: MemoryWindow, rkey: number, mr?: MemoryRegion, qp?: QueuePair): void {
    mw.#rkey = rkey;
    if (mr !== undefined && !mr.closed) mw.addDependency(mr);
    if (mw.type === 2 && qp instanceof QueuePair && !qp.closed) mw.addDependency(qp);
  }

  /**
   * The key a peer uses to reach the window: as allocated, then as the last
   * posted bind sets it (valid once that bind completes successfully; after
   * LOCAL_INV or SEND_WITH_INV it no longer grants anything). A closed
   * window has none: reading it is a `UverbsClosedError`.
   */
  get rkey(): number {
    this.assertOpen();
    return this.#rkey;
  }

  /**
   * Posts a BIND_MW work request on `qp` (same protection domain) that
   * exposes `binding.length` bytes of `binding.mr` at `binding.offset`
   * through this window, and returns the window's new rkey (also `rkey`
   * from now on). Usable once the bind completes (signaled: a completion
   * with opcode `IB_WC_BIND_MW`); a failed bind completes with
   * `IB_WC_MW_BIND_ERR` and leaves the QP in error. The same checks and
   * errors as `qp.postSend({ opcode: 'BIND_MW', ... })`.
   */
  bind(
    qp: QueuePair,
    binding: WindowBinding & { readonly wrId?: bigint; readonly signaled?: boolean; readonly fence?: boolean },
  ): number {
    this.assertOpen();
    KernelObject.checked(qp, QueuePair, 'qp');
    if (typeof binding !== 'object' || binding === null) {
      throw invalidArgType('binding', 'an object { mr, offset, length, access, key }', binding);
    }
    const { wrId, signaled, fence, ...rest } = binding;
    qp.postSend({ opcode: 'BIND_MW', wrId, signaled, fence, bind: { ...rest, mw: this } });
    return this.#rkey;
  }

  get description(): string {
    return `MemoryWindow ${this.handle}`;
  }

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_MW_DESTROY, { handle: this.handle });
  }
}

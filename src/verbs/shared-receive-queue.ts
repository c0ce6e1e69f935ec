/**
 * A shared receive queue: UVERBS_METHOD_SRQ_CREATE with the provider's
 * driver data, MODIFY_SRQ / QUERY_SRQ writes, UVERBS_METHOD_SRQ_DESTROY.
 */

import { ib_uverbs_srq_type } from '../abi/constants.js';
import { ib_srq_attr_mask } from '../abi/kernel-internal.js';
import { UVERBS_METHOD_SRQ_CREATE, UVERBS_METHOD_SRQ_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { type CallPath, invalidArgValue, outOfRange } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import type { Ring } from '../transport/ring.js';
import type { Context } from './context.js';
import { KernelObject } from './kernel-object.js';
import { ProtectionDomain } from './protection-domain.js';
import { PreparedWork, type RecvWr, type ResolvedRecv, resolveEach, resolveRecv, withWrIds } from './work-request.js';

export interface SharedReceiveQueueOptions {
  maxWr: number;
  maxSge: number;
  /** Arm the SRQ-limit event at this many outstanding WRs (0: off). */
  limit?: number;
  userHandle?: bigint;
}

/** What `SharedReceiveQueue.query()` returns (`ibv_srq_attr`; `limit` is its `srq_limit`, as `modify()` takes it). */
export interface SrqAttributes {
  /** Receive work requests the SRQ holds (what the kernel granted, which may exceed what was asked). */
  maxWr: number;
  /** Scatter/gather elements per receive. */
  maxSge: number;
  /** The SRQ-limit event's threshold (0: not armed). */
  limit: number;
}

export class SharedReceiveQueue extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly handle: number;
  /** What the kernel granted. */
  readonly maxWr: number;
  readonly maxSge: number;
  readonly srqNum: number | undefined;
  readonly path: CallPath;
  readonly driverData: Uint8Array | undefined;
  /** The driver's work-queue rings (rxe, siw), mapped while the object lives. */
  readonly rings: readonly Ring[];

  private constructor(
    pd: ProtectionDomain,
    o: Record<string, unknown>,
    path: CallPath,
    driverData: Uint8Array | undefined,
    rings: Ring[],
  ) {
    super(pd);
    this.pd = pd;
    this.handle = o.handle as number;
    this.maxWr = o.respMaxWr as number;
    this.maxSge = o.respMaxSge as number;
    this.srqNum = o.respSrqNum as number | undefined;
    this.path = path;
    this.driverData = driverData;
    this.rings = rings;
  }

  /** @internal use `ProtectionDomain.createSrq()` */
  static create(pd: ProtectionDomain, options: SharedReceiveQueueOptions): SharedReceiveQueue {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    for (const k of ['maxWr', 'maxSge'] as const) {
      if (!Number.isInteger(options?.[k]) || options[k] < 1)
        throw outOfRange(`options.${k}`, 'a positive integer', options?.[k]);
    }
    const r = pd.context.dispatch.invoke(
      UVERBS_METHOD_SRQ_CREATE,
      {
        pdHandle: pd.handle,
        type: ib_uverbs_srq_type.IB_UVERBS_SRQT_BASIC,
        userHandle: options.userHandle ?? 0n,
        maxWr: options.maxWr,
        maxSge: options.maxSge,
        limit: options.limit ?? 0,
        respSrqNum: true,
      },
      uhwFor(pd.context.provider, 'createSrq'),
    );
    const rings = SharedReceiveQueue.#mapOrDestroy(pd.context, r.outputs.handle as number, r.udataOut);
    return new SharedReceiveQueue(pd, r.outputs, r.path, r.udataOut, rings);
  }

  get description(): string {
    return `SharedReceiveQueue ${this.handle}`;
  }

  /** Sets the SRQ limit (IB_SRQ_LIMIT); resizing (IB_SRQ_MAX_WR) remaps the ring and belongs with the datapath. */
  modify(attributes: { limit: number }): void {
    this.assertOpen();
    if (!Number.isInteger(attributes?.limit) || attributes.limit < 0) {
      throw invalidArgValue('attributes.limit', 'must be a non-negative integer', attributes?.limit);
    }
    this.pd.context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_MODIFY_SRQ,
      { srq_handle: this.handle, attr_mask: ib_srq_attr_mask.IB_SRQ_LIMIT, srq_limit: attributes.limit },
      uhwFor(this.pd.context.provider, 'modifySrq'),
    );
  }

  /** QUERY_SRQ (write): the SRQ's sizes and its limit, as the kernel has them now. */
  query(): SrqAttributes {
    this.assertOpen();
    const r = this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_QUERY_SRQ, { srq_handle: this.handle });
    const x = r.response as { max_wr: number; max_sge: number; srq_limit: number };
    return { maxWr: x.max_wr, maxSge: x.max_sge, limit: x.srq_limit };
  }

  /** Posts receive work requests, all or none (ENOMEM when the SRQ is full). */
  postRecv(wrs: RecvWr | readonly RecvWr[]): void {
    this.assertOpen();
    this.pd.context.datapath(this, 'post srq recv').postRecv(this, this.#resolve(wrs));
  }

  /** `postRecv`, checked and encoded once, for posting many times (see `PreparedWork`). */
  prepareRecv(wrs: RecvWr | readonly RecvWr[]): PreparedWork {
    this.assertOpen();
    const datapath = this.pd.context.datapath(this, 'post srq recv');
    const resolved = this.#resolve(wrs);
    const post = datapath.prepareRecv?.(this, resolved) ?? ((ids) => datapath.postRecv(this, withWrIds(resolved, ids)));
    return new PreparedWork(() => this.assertOpen(), this.pd, resolved, post);
  }

  #resolve(wrs: RecvWr | readonly RecvWr[]): ResolvedRecv[] {
    return resolveEach(wrs, (wr, name) => resolveRecv(wr, name, this.pd, this.maxSge));
  }

  /** Maps the object's rings; if that fails, destroys the kernel object too (nothing half-created). */
  static #mapOrDestroy(context: Context, handle: number, driverData: Uint8Array | undefined): Ring[] {
    try {
      return context.mapRings('createSrq', driverData, `SharedReceiveQueue ${handle}`);
    } catch (error) {
      context.dispatch.invoke(UVERBS_METHOD_SRQ_DESTROY, { handle });
      throw error;
    }
  }

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_SRQ_DESTROY, { handle: this.handle });
    this.released();
  }

  protected override released(): void {
    for (const ring of this.rings) ring.unmap();
  }
}

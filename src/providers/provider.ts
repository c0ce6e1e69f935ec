/**
 * Providers: what a driver adds to the core verbs — its driver data (UHW)
 * for the calls that carry it. Core looks providers up by the ioctl
 * `driver_id`; a third party registers its own without touching core.
 * A device whose driver has no provider still works for every call that
 * needs no driver data.
 */

import { outOfRange } from '../errors.js';
import type { RingSpec } from '../transport/ring.js';
import type { CompletionQueue } from '../verbs/completion-queue.js';
import type { QueuePair } from '../verbs/queue-pair.js';
import type { SharedReceiveQueue } from '../verbs/shared-receive-queue.js';
import type { ResolvedRecv, ResolvedSend } from '../verbs/work-request.js';

/** Driver data for one call: what to send, and how much reply to make room for. */
export interface UhwExchange {
  /** Bytes after the core request (UVERBS_ATTR_UHW_IN / the write command's tail). */
  readonly in?: () => Uint8Array;
  /** Bytes the driver writes back (UVERBS_ATTR_UHW_OUT / after the core response). */
  readonly outLength?: number;
}

export interface Provider {
  /** Driver name as the kernel spells it in link types (`rxe`, `siw`). */
  readonly name: string;
  /** `enum rdma_driver_id` value the kernel checks in every ioctl header. */
  readonly driverId: number;
  /** Driver data per call; a call without an entry sends none. */
  readonly uhw: Readonly<Partial<Record<UhwCall, UhwExchange>>>;
  /**
   * The rings a call's driver reply (UHW out) describes, to be mapped from
   * the uverbs fd; a call without an entry maps none.
   */
  readonly rings?: Readonly<Partial<Record<RingCall, (driverData: Uint8Array) => RingSpec[]>>>;
  /**
   * Posting and polling through the driver's rings, for drivers whose
   * datapath is in user space. Work requests arrive checked and resolved
   * (SGEs are addresses inside registered regions); a post is all or none.
   * Without a datapath, posting and polling are `UverbsUnsupportedError`.
   */
  readonly datapath?: Datapath;
  /**
   * ioctl methods (by kernel name) this driver needs served by their write
   * form even where the ioctl exists, each with the reason: a kernel bug
   * that breaks the ioctl for this driver, written down where it is worked
   * around.
   */
  readonly writeFirst?: Readonly<Record<string, string>>;
}

export interface Datapath {
  /**
   * Writes the WQEs and rings the doorbell; throws ENOMEM (nothing posted) when the SQ has too little room,
   * `UverbsDoorbellError` (all posted) when the WQEs are in the ring and the doorbell failed.
   */
  postSend(qp: QueuePair, wrs: readonly ResolvedSend[]): void;
  /** Receive WQEs into a QP's own RQ or an SRQ; ENOMEM as for sends. */
  postRecv(queue: QueuePair | SharedReceiveQueue, wrs: readonly ResolvedRecv[]): void;
  /**
   * Optional, for `prepareSend`: encodes checked work requests once and returns what
   * posts them (as `postSend` does) each time it is called, with `wrIds` (one per work
   * request) in place of the prepared ones when given. Without it, a prepared
   * post hands the checked work requests to `postSend`, skipping only the checks.
   */
  prepareSend?(qp: QueuePair, wrs: readonly ResolvedSend[]): (wrIds?: readonly bigint[]) => void;
  /** Optional, for `prepareRecv`: as `prepareSend`, for `postRecv`. */
  prepareRecv?(
    queue: QueuePair | SharedReceiveQueue,
    wrs: readonly ResolvedRecv[],
  ): (wrIds?: readonly bigint[]) => void;
  /** Copies up to `max` completions (`struct ib_uverbs_wc`) into `out`; returns how many. */
  pollCq(cq: CompletionQueue, out: Uint8Array, max: number): number;
  /**
   * Optional: arms the CQ's notification (the next completion, or the next solicited one, signals
   * its channel once) through the driver's mapped memory, for drivers that arm without a syscall
   * (siw: its `siw_cq_ctrl` word). Without it, `requestNotify` writes IB_USER_VERBS_CMD_REQ_NOTIFY_CQ.
   */
  armCq?(cq: CompletionQueue, solicitedOnly: boolean): void;
}

/** The calls whose replies describe rings. */
export type RingCall = 'createCq' | 'resizeCq' | 'createQp' | 'createSrq';

/** The calls that carry driver data. */
export type UhwCall =
  | 'getContext'
  | 'allocPd'
  | 'regMr'
  | 'allocMw'
  | 'createCq'
  | 'resizeCq'
  | 'createQp'
  | 'createSrq'
  | 'modifySrq'
  | 'createAh';

const registry = new Map<number, Provider>();

/** Makes a provider available to every device of its driver; a later registration replaces an earlier one. */
export function registerProvider(provider: Provider): void {
  if (!Number.isInteger(provider.driverId) || provider.driverId < 0 || provider.driverId > 0xffff_ffff) {
    throw outOfRange('provider.driverId', 'a u32', provider.driverId);
  }
  registry.set(provider.driverId, Object.freeze({ ...provider }));
}

export function providerFor(driverId: number): Provider | undefined {
  return registry.get(driverId);
}

/** The rings a call's reply describes, or none. */
export function ringsFor(
  provider: Provider | undefined,
  call: RingCall,
  driverData: Uint8Array | undefined,
): RingSpec[] {
  const describe = provider?.rings?.[call];
  return describe && driverData ? describe(driverData) : [];
}

/** The driver data a call sends and expects, or none. */
export function uhwFor(
  provider: Provider | undefined,
  call: UhwCall,
): { udataIn?: Uint8Array; udataOutLength?: number } {
  const x = provider?.uhw[call];
  if (!x) return {};
  return { udataIn: x.in?.(), udataOutLength: x.outLength };
}

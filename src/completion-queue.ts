/**
 * A completion queue: UVERBS_METHOD_CQ_CREATE (where the kernel lacks it,
 * legacy CREATE_CQ, or the extended write-ex CREATE_CQ when flags are
 * asked for), with the provider's driver data; the driver's reply (rxe:
 * where the ring is mapped) is kept for the datapath. Resizing has no ioctl
 * method: the legacy RESIZE_CQ write serves every kernel.
 */

import { ib_uverbs_ex_create_cq_flags as F } from './abi/constants.js';
import { UVERBS_METHOD_CQ_CREATE, UVERBS_METHOD_CQ_DESTROY } from './abi/methods.js';
import { WRITE_COMMANDS } from './abi/write-commands.js';
import type { CompletionChannel } from './completion-channel.js';
import type { Context } from './context.js';
import { type CallPath, invalidArgType, outOfRange } from './errors.js';
import { KernelObject } from './kernel-object.js';
import { uhwFor } from './providers/index.js';
import type { Ring } from './ring.js';

export interface CompletionQueueOptions {
  /** Entries wanted; the kernel may round up (`cqe` says what it gave). */
  cqe: number;
  /** Completion vector, < `Context.numCompVectors`. */
  compVector?: number;
  /** Channel to signal when an armed CQ gets a completion. */
  channel?: CompletionChannel;
  /** Value completions carry back to identify this CQ (the kernel's `user_handle`). */
  userHandle?: bigint;
  /** Completion timestamps (IB_UVERBS_CQ_FLAGS_TIMESTAMP_COMPLETION), where the driver has them. */
  timestampCompletion?: boolean;
  /** Let the CQ overrun instead of erroring (IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN), where the driver allows it. */
  ignoreOverrun?: boolean;
}

export class CompletionQueue extends KernelObject {
  readonly context: Context;
  readonly handle: number;
  /** How the CQ was created. */
  readonly path: CallPath;
  #cqe: number;
  #driverData: Uint8Array | undefined;
  #rings: Ring[];

  private constructor(
    context: Context,
    outputs: Record<string, unknown>,
    path: CallPath,
    channel: CompletionChannel | undefined,
    driverData: Uint8Array | undefined,
    rings: Ring[],
  ) {
    super(context, ...(channel ? [channel] : []));
    this.context = context;
    this.handle = outputs.handle as number;
    this.#cqe = outputs.respCqe as number;
    this.path = path;
    this.#driverData = driverData;
    this.#rings = rings;
  }

  /** The driver's completion ring (rxe, siw), mapped while the CQ lives; empty for drivers without one. */
  get rings(): readonly Ring[] {
    return this.#rings;
  }

  /** Entries the kernel gave (it may round up what was asked). */
  get cqe(): number {
    return this.#cqe;
  }

  /** The driver's latest reply (UHW out of create or resize), for the datapath. */
  get driverData(): Uint8Array | undefined {
    return this.#driverData;
  }

  /** @internal use `Context.createCq()` */
  static create(context: Context, options: CompletionQueueOptions): CompletionQueue {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const { cqe, compVector = 0, channel, userHandle = 0n, timestampCompletion, ignoreOverrun } = options;
    if (!Number.isInteger(cqe) || cqe < 1) throw outOfRange('options.cqe', 'a positive integer', cqe);
    if (!Number.isInteger(compVector) || compVector < 0) throw outOfRange('options.compVector', '>= 0', compVector);
    if (channel !== undefined && channel.context !== context) {
      throw invalidArgType('options.channel', 'a CompletionChannel of this context', channel);
    }
    const flags =
      (timestampCompletion ? F.IB_UVERBS_CQ_FLAGS_TIMESTAMP_COMPLETION : 0) |
      (ignoreOverrun ? F.IB_UVERBS_CQ_FLAGS_IGNORE_OVERRUN : 0);
    const r = context.dispatch.invoke(
      UVERBS_METHOD_CQ_CREATE,
      {
        cqe,
        compVector,
        userHandle,
        ...(channel ? { compChannel: channel.fd } : {}),
        ...(flags ? { flags } : {}),
      },
      uhwFor(context.provider, 'createCq'),
    );
    const description = `CompletionQueue ${r.outputs.handle}`;
    let rings: Ring[];
    try {
      rings = context.mapRings('createCq', r.udataOut, description);
    } catch (error) {
      // nothing half-created: the kernel object goes too
      context.dispatch.invoke(UVERBS_METHOD_CQ_DESTROY, { handle: r.outputs.handle });
      throw error;
    }
    return new CompletionQueue(context, r.outputs, r.path, channel, r.udataOut, rings);
  }

  /**
   * IB_USER_VERBS_CMD_RESIZE_CQ: room for at least `cqe` entries (the
   * kernel may round up; `cqe` says what it gave). The driver's new reply
   * (rxe: the ring's new mapping) replaces `driverData`.
   */
  resize(cqe: number): void {
    this.assertOpen();
    if (!Number.isInteger(cqe) || cqe < 1) throw outOfRange('cqe', 'a positive integer', cqe);
    const r = this.context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_RESIZE_CQ,
      { cq_handle: this.handle, cqe },
      uhwFor(this.context.provider, 'resizeCq'),
    );
    this.#cqe = r.response?.cqe as number;
    if (r.udataOut.byteLength > 0) {
      // the driver moved the ring (rxe): map the new one, then let go of the old
      const rings = this.context.mapRings('resizeCq', r.udataOut, this.description);
      if (rings.length > 0) {
        for (const ring of this.#rings) ring.unmap();
        this.#rings = rings;
      }
      this.#driverData = r.udataOut;
    }
  }

  get description(): string {
    return `CompletionQueue ${this.handle}`;
  }

  protected destroy(): void {
    this.context.dispatch.invoke(UVERBS_METHOD_CQ_DESTROY, { handle: this.handle });
    this.released();
  }

  protected override released(): void {
    for (const ring of this.#rings) ring.unmap();
  }
}

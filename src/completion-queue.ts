/**
 * A completion queue: UVERBS_METHOD_CQ_CREATE (legacy CREATE_CQ where the
 * kernel lacks it), with the provider's driver data; the driver's reply
 * (rxe: where the ring is mapped) is kept for the datapath.
 */

import { UVERBS_METHOD_CQ_CREATE, UVERBS_METHOD_CQ_DESTROY } from './abi/methods.js';
import type { CompletionChannel } from './completion-channel.js';
import type { Context } from './context.js';
import { type CallPath, invalidArgType, outOfRange } from './errors.js';
import { KernelObject } from './kernel-object.js';
import { uhwFor } from './providers/index.js';

export interface CompletionQueueOptions {
  /** Entries wanted; the kernel may round up (`cqe` says what it gave). */
  cqe: number;
  /** Completion vector, < `Context.numCompVectors`. */
  compVector?: number;
  /** Channel to signal when an armed CQ gets a completion. */
  channel?: CompletionChannel;
  /** Value completions carry back to identify this CQ (the kernel's `user_handle`). */
  userHandle?: bigint;
}

export class CompletionQueue extends KernelObject {
  readonly context: Context;
  readonly handle: number;
  /** Entries the kernel gave. */
  readonly cqe: number;
  readonly path: CallPath;
  /** The driver's reply (UHW out), for the datapath. */
  readonly driverData: Uint8Array | undefined;

  private constructor(context: Context, outputs: Record<string, unknown>, path: CallPath, driverData?: Uint8Array) {
    super(context);
    this.context = context;
    this.handle = outputs.handle as number;
    this.cqe = outputs.respCqe as number;
    this.path = path;
    this.driverData = driverData;
  }

  /** @internal use `Context.createCq()` */
  static create(context: Context, options: CompletionQueueOptions): CompletionQueue {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const { cqe, compVector = 0, channel, userHandle = 0n } = options;
    if (!Number.isInteger(cqe) || cqe < 1) throw outOfRange('options.cqe', 'a positive integer', cqe);
    if (!Number.isInteger(compVector) || compVector < 0) throw outOfRange('options.compVector', '>= 0', compVector);
    if (channel !== undefined && channel.context !== context) {
      throw invalidArgType('options.channel', 'a CompletionChannel of this context', channel);
    }
    const r = context.dispatch.invoke(
      UVERBS_METHOD_CQ_CREATE,
      { cqe, compVector, userHandle, ...(channel ? { compChannel: channel.fd } : {}) },
      uhwFor(context.provider, 'createCq'),
    );
    return new CompletionQueue(context, r.outputs, r.path, r.udataOut);
  }

  get description(): string {
    return `CompletionQueue ${this.handle}`;
  }

  protected destroy(): void {
    this.context.dispatch.invoke(UVERBS_METHOD_CQ_DESTROY, { handle: this.handle });
  }
}

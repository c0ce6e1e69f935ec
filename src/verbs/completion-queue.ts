/**
 * A completion queue: UVERBS_METHOD_CQ_CREATE (where the kernel lacks it,
 * legacy CREATE_CQ, or the extended write-ex CREATE_CQ when flags are
 * asked for), with the provider's driver data; the driver's reply (rxe:
 * where the ring is mapped) is kept for the datapath. Resizing has no ioctl
 * method: the legacy RESIZE_CQ write serves every kernel.
 */

import { ib_uverbs_ex_create_cq_flags as F } from '../abi/constants.js';
import { uint8Range } from '../abi/layout.js';
import { UVERBS_METHOD_CQ_CREATE, UVERBS_METHOD_CQ_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import {
  type CallPath,
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  UverbsClosedError,
} from '../errors.js';
import { uhwFor } from '../providers/index.js';
import type { Ring } from '../transport/ring.js';
import { CompletionChannel } from './completion-channel.js';
import { Context } from './context.js';
import { KernelObject } from './kernel-object.js';
import { checkWaitOptions, type WaitOptions, WaitScope } from './waits.js';
import { COMPLETION_SIZE, type Completion, decodeCompletions } from './work-request.js';

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
  /** The channel armed completions are signalled on, if any. */
  readonly channel: CompletionChannel | undefined;
  /** What the kernel reports for this CQ in completion and async events. */
  readonly userHandle: bigint;
  #cqe: number;
  #driverData: Uint8Array | undefined;
  #rings: Ring[];
  /** Waits in progress, ended by close. */
  readonly #waits = new Set<WaitScope>();

  private constructor(
    context: Context,
    outputs: Record<string, unknown>,
    path: CallPath,
    channel: CompletionChannel | undefined,
    userHandle: bigint,
    driverData: Uint8Array | undefined,
    rings: Ring[],
  ) {
    super(context, ...(channel ? [channel] : []));
    this.context = context;
    this.handle = outputs.handle as number;
    this.#cqe = outputs.respCqe as number;
    this.path = path;
    this.channel = channel;
    this.userHandle = userHandle;
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
    KernelObject.checked(context, Context, 'context');
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const { cqe, compVector = 0, channel, userHandle = 0n, timestampCompletion, ignoreOverrun } = options;
    if (!Number.isInteger(cqe) || cqe < 1) throw outOfRange('options.cqe', 'a positive integer', cqe);
    if (!Number.isInteger(compVector) || compVector < 0) throw outOfRange('options.compVector', '>= 0', compVector);
    if (
      channel !== undefined &&
      KernelObject.checked(channel, CompletionChannel, 'options.channel').context !== context
    ) {
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
        // an optional argument left undefined is not sent
        compChannel: channel ? channel.fd : undefined,
        flags: flags ? flags : undefined,
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
    return new CompletionQueue(context, r.outputs, r.path, channel, userHandle, r.udataOut, rings);
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
      let rings: Ring[];
      try {
        rings = this.context.mapRings('resizeCq', r.udataOut, this.description);
      } catch (error) {
        // the kernel has resized and the old ring is dead; nothing may poll it again (a typed
        // "closed" from now on), and the CQ can only be closed: the kernel's resize cannot be undone
        for (const ring of this.#rings) ring.unmap();
        this.#rings = [];
        throw error;
      }
      if (rings.length > 0) {
        for (const ring of this.#rings) ring.unmap();
        this.#rings = rings;
      }
      this.#driverData = r.udataOut;
    }
  }

  /**
   * Copies up to `max` completions into `out` (each `COMPLETION_SIZE` bytes,
   * a `struct ib_uverbs_wc`) and returns how many: straight from the
   * driver's ring, no system call and no allocation. Memory the caller
   * owns, reused from poll to poll; `decodeCompletions` reads it.
   */
  poll(out: Uint8Array, max?: number): number {
    this.assertOpen();
    // the intrinsic length: an own `byteLength` on `out` cannot make room that is not there
    const range = uint8Range(out);
    if (range === undefined) throw invalidArgType('out', 'a Uint8Array', out);
    const fits = Math.floor(range.byteLength / COMPLETION_SIZE);
    const n = max === undefined ? fits : max; // only an absent max: null is not a count
    if (!Number.isInteger(n) || n < 0 || n > fits) throw outOfRange('max', `0..${fits} (what fits in out)`, n);
    return this.context.datapath(this, 'poll cq').pollCq(this, out, n);
  }

  /** Up to `max` completions as objects: the convenient path (it allocates). */
  pollCompletions(max = 16): Completion[] {
    if (!Number.isInteger(max) || max < 1) throw outOfRange('max', 'a positive integer', max);
    const out = new Uint8Array(max * COMPLETION_SIZE);
    return decodeCompletions(out, this.poll(out, max));
  }

  /**
   * IB_USER_VERBS_CMD_REQ_NOTIFY_CQ: the next completion (or the next
   * solicited one) signals the CQ's channel once. A driver that arms
   * through its mapped memory (siw: the CQ's `siw_cq_ctrl`) is armed there,
   * with no syscall (`Datapath.armCq`).
   */
  requestNotify(solicitedOnly = false): void {
    this.assertOpen();
    const datapath = this.context.provider?.datapath;
    if (datapath?.armCq !== undefined && this.#rings.length > 0) {
      datapath.armCq(this, solicitedOnly);
      return;
    }
    this.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_REQ_NOTIFY_CQ, {
      cq_handle: this.handle,
      solicited_only: solicitedOnly ? 1 : 0,
    });
  }

  /**
   * Waits for completions without spinning: polls; if the CQ is empty,
   * arms it, polls once more (a completion that landed between the first
   * poll and the arm would otherwise never be signalled), then awaits the
   * channel's event on Node's event loop. Resolves with how many
   * completions were copied into `out` (at least one; `max` at most).
   *
   * `options.timeout` (ms) rejects with `UverbsTimeoutError` (code
   * 'ETIMEDOUT'); `options.signal` rejects with the signal's reason (an
   * already-aborted one before anything is polled or armed). Closing the
   * CQ, its channel or its context rejects a pending wait with
   * `UverbsClosedError`. Once the wait settles, nothing of it stays armed:
   * no timer, no listener on the signal, and (when no other wait is
   * pending on the channel) no watch on the channel's fd, so a pending wait
   * never keeps the process alive after its CQ is gone.
   *
   * `out` belongs to the wait until it settles: a second wait whose `out`
   * overlaps the memory of a pending one (on any CQ) is refused with
   * ERR_INVALID_STATE, since both would copy completions into the same
   * bytes. Give each concurrent wait its own buffer.
   */
  wait(out: Uint8Array, options?: WaitOptions): Promise<number>;
  wait(out: Uint8Array, max?: number, options?: WaitOptions): Promise<number>;
  async wait(out: Uint8Array, maxOrOptions?: number | WaitOptions, maybeOptions?: WaitOptions): Promise<number> {
    const byOptions = typeof maxOrOptions === 'object' && maxOrOptions !== null;
    const options = checkWaitOptions(byOptions ? maxOrOptions : maybeOptions);
    const scope = new WaitScope(options, this.description, 'wait');
    try {
      this.assertOpen();
      const channel = this.channel;
      if (channel === undefined) {
        throw invalidArgValue('this', 'has no completion channel to wait on', this.description);
      }
      const range = uint8Range(out);
      if (range === undefined) throw invalidArgType('out', 'a Uint8Array', out);
      const fits = Math.floor(range.byteLength / COMPLETION_SIZE);
      const max = byOptions || maxOrOptions === undefined ? fits : maxOrOptions;
      if (!Number.isInteger(max) || max < 1 || max > fits) {
        throw outOfRange('max', `1..${fits} (what fits in out)`, max);
      }
      const release = claim(out, this.description);
      this.#waits.add(scope);
      try {
        for (;;) {
          let n = this.poll(out, max);
          if (n > 0) return n;
          this.requestNotify();
          n = this.poll(out, max);
          if (n > 0) return n;
          await channel.event(this, scope);
          if (this.closed) throw new UverbsClosedError(this.description);
        }
      } finally {
        this.#waits.delete(scope);
        release();
      }
    } finally {
      scope.dispose();
    }
  }

  /**
   * Completions as objects, as they come: `for await (const wc of cq.completions())`.
   * `batch` (1..65536, default 16) is how many one wait takes at most.
   * `options.signal` ends it (the loop throws the signal's reason). It ends when the CQ
   * was closed between two completions; a close while it waits throws `UverbsClosedError`.
   * Its arguments are checked at the call (ERR_OUT_OF_RANGE, ERR_INVALID_ARG_TYPE),
   * before the loop starts.
   */
  completions(batch = 16, options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<Completion> {
    if (typeof batch !== 'number') throw invalidArgType('batch', 'a number', batch);
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) {
      throw outOfRange('batch', `an integer from 1 to ${MAX_BATCH}`, batch);
    }
    const signal = checkWaitOptions(options).signal;
    return this.#completions(batch, signal);
  }

  async *#completions(batch: number, signal: AbortSignal | undefined): AsyncGenerator<Completion> {
    const out = new Uint8Array(batch * COMPLETION_SIZE);
    while (!this.closed) {
      const n = await this.wait(out, batch, signal === undefined ? {} : { signal });
      yield* decodeCompletions(out, n);
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
    // pending waits end first: their channel waiters go, and the channel's watch with the last of them
    for (const scope of [...this.#waits]) scope.fail(new UverbsClosedError(this.description));
    for (const ring of this.#rings) ring.unmap();
  }
}

/** The most completions one wait of `completions()` takes (its buffer: 3 MiB). */
const MAX_BATCH = 65536;

/** The byte ranges of output buffers that pending waits hold, by the memory they are in. */
const CLAIMED = new WeakMap<ArrayBufferLike, { start: number; end: number }[]>();

/** Marks `out`'s bytes as a pending wait's, or refuses (ERR_INVALID_STATE) if another pending wait has any of them. */
function claim(out: Uint8Array, owner: string): () => void {
  const { buffer, byteOffset, byteLength } = uint8Range(out) as NonNullable<ReturnType<typeof uint8Range>>;
  const range = { start: byteOffset, end: byteOffset + byteLength };
  const held = CLAIMED.get(buffer) ?? [];
  if (held.some((r) => r.start < range.end && range.start < r.end)) {
    throw invalidState(
      `${owner}.wait: "out" overlaps the output buffer of another pending wait (give each concurrent wait its own memory)`,
    );
  }
  held.push(range);
  CLAIMED.set(buffer, held);
  return () => {
    held.splice(held.indexOf(range), 1);
    if (held.length === 0) CLAIMED.delete(buffer);
  };
}

/**
 * The async event fd of a context: port up/down, QP/CQ/SRQ errors, SRQ
 * limit. UVERBS_METHOD_ASYNC_EVENT_ALLOC makes it where the kernel has the
 * method; an older kernel's legacy GET_CONTEXT returns one with the context,
 * and the context hands that one over instead. Events for the device (port
 * changes) go to the first async fd of a context only, so a context has one.
 *
 * Each read(2) returns one `ib_uverbs_async_event_desc` (uverbs_main.c,
 * ib_uverbs_event_read); the fd is blocking, so the library polls first and
 * never blocks without a timeout.
 */

import { POLLIN } from '../../ioctl/index.js';
import { ib_event_type } from '../abi/kernel-internal.js';
import { decode } from '../abi/layout.js';
import { UVERBS_METHOD_ASYNC_EVENT_ALLOC } from '../abi/methods.js';
import { ib_uverbs_async_event_desc } from '../abi/structs.js';
import { outOfRange, UverbsClosedError, UverbsError } from '../errors.js';
import { FdWaiters } from '../transport/fd-waiters.js';
import { UserMemory } from '../transport/memory.js';
import { type Context, sysOf } from './context.js';
import { KernelObject } from './kernel-object.js';
import { checkWaitOptions, type WaitOptions, WaitScope } from './waits.js';

export type AsyncEventType = keyof typeof ib_event_type;

export interface AsyncEvent {
  /** `enum ib_event_type` name, e.g. `IB_EVENT_PORT_ERR`; the raw number when this library does not know it. */
  readonly type: AsyncEventType | number;
  /**
   * What it is about: the port number for device events, else the
   * `userHandle` given when the QP, CQ or SRQ was created.
   */
  readonly element: bigint;
}

const NAMES = new Map<number, AsyncEventType>(
  Object.entries(ib_event_type).map(([name, value]) => [value as number, name as AsyncEventType]),
);

export class AsyncEventQueue extends KernelObject {
  readonly context: Context;
  readonly fd: number;
  /** One event descriptor and one `struct pollfd`, reused by every read. */
  readonly #buffer: UserMemory;
  /** One watch on the fd however many wait; every waiter wakes and re-reads (one of them gets the event). */
  readonly #waiters: FdWaiters;
  /** Waits in progress (with their timers and signal listeners). */
  readonly #waits = new Set<WaitScope>();

  private constructor(context: Context, fd: number) {
    super(context);
    this.context = context;
    this.fd = fd;
    this.#waiters = new FdWaiters(fd, this.description);
    this.#buffer = UserMemory.allocate(sysOf(context), ib_uverbs_async_event_desc.size + 8);
  }

  /** @internal use `Context.asyncEvents()` */
  static open(context: Context, legacyFd?: number): AsyncEventQueue {
    if (legacyFd !== undefined) return new AsyncEventQueue(context, legacyFd);
    const r = context.dispatch.invoke(UVERBS_METHOD_ASYNC_EVENT_ALLOC, {});
    return new AsyncEventQueue(context, r.outputs.fdHandle as number);
  }

  get description(): string {
    return `AsyncEventQueue fd ${this.fd}`;
  }

  /**
   * The next event, waiting up to `timeoutMs` (0: only what is already
   * queued); undefined when none came.
   */
  next(timeoutMs = 0): AsyncEvent | undefined {
    this.assertOpen();
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw outOfRange('timeoutMs', 'an integer >= 0', timeoutMs);
    const sys = sysOf(this.context);
    const size = ib_uverbs_async_event_desc.size;
    const pollfd = new DataView(this.#buffer.bytes.buffer, this.#buffer.bytes.byteOffset + size, 8);
    pollfd.setInt32(0, this.fd, true);
    pollfd.setInt16(4, POLLIN, true);
    pollfd.setInt16(6, 0, true);
    const ready = sys.poll(this.#buffer.address + BigInt(size), 1, timeoutMs);
    if (ready < 0) throw this.#error(-ready, 'poll');
    if (ready === 0) return undefined;
    const n = sys.read(this.fd, this.#buffer.address, size);
    if (n < 0) throw this.#error(-n, 'read');
    const desc = decode(ib_uverbs_async_event_desc, this.#buffer.bytes.subarray(0, size));
    return { type: NAMES.get(desc.event_type) ?? desc.event_type, element: desc.element };
  }

  /**
   * The next event, awaited on Node's event loop (no thread blocks, nothing
   * spins). Any number may wait at once: each event goes to one of them.
   * Closing the queue (or its context) rejects every wait with
   * `UverbsClosedError`. `options.timeout` (ms) rejects with
   * `UverbsTimeoutError` (code 'ETIMEDOUT'); `options.signal` rejects with
   * the signal's reason (an already-aborted one before anything is read or
   * armed). Once a wait settles nothing of it stays armed: no timer, no
   * listener, and no watch on the fd when no other wait is pending.
   */
  async wait(options?: WaitOptions): Promise<AsyncEvent> {
    const scope = new WaitScope(checkWaitOptions(options), this.description, 'wait');
    this.#waits.add(scope);
    try {
      for (;;) {
        const event = this.next(0);
        if (event !== undefined) return event;
        const status = await scope.step<number>((resolve) => this.#waiters.park(resolve));
        if (this.closed) throw new UverbsClosedError(this.description);
        if (status < 0) throw this.#error(-status, 'poll');
      }
    } finally {
      this.#waits.delete(scope);
      scope.dispose();
    }
  }

  /**
   * Events as they come: `for await (const e of ctx.asyncEvents())`; ends
   * (returns, throws nothing) when the queue is closed, itself or by its
   * context's `close()` (the default cascade), whether between two events
   * or while it waits. `ctx.close({ cascade: false })` leaves the queue, a
   * file of its own, open: close it too. Any other failure of the wait is
   * thrown.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<AsyncEvent> {
    while (!this.closed) {
      let event: AsyncEvent;
      try {
        event = await this.wait();
      } catch (error) {
        if (this.closed && error instanceof UverbsClosedError) return;
        throw error;
      }
      yield event;
    }
  }

  #error(errno: number, syscall: string): UverbsError {
    return new UverbsError({ errno, syscall, object: 'UVERBS_OBJECT_ASYNC_EVENT', method: syscall, path: 'ioctl' });
  }

  /** Stops watching before the fd goes; a failed close(2) still releases the fd. */
  protected destroy(): Error | undefined {
    this.released();
    const r = sysOf(this.context).close(this.fd);
    return r < 0 ? this.#error(-r, 'close') : undefined;
  }

  protected override released(): void {
    // waits in progress wake and find the queue closed
    this.#waiters.wakeAll();
    this.#buffer.free();
  }
}

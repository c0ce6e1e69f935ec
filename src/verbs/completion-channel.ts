/**
 * A completion channel: an fd the kernel signals when an armed CQ gets a
 * completion. Created by the legacy IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL
 * write (there is no ioctl for it); destroyed by closing the fd.
 *
 * Waiting happens on Node's event loop: while any CQ waits, the addon
 * watches the fd with a libuv poll handle; when it is readable, one
 * `ib_uverbs_comp_event_desc` is read and the CQs with that user handle
 * are woken (two CQs sharing a user handle both wake; waiting re-polls,
 * so a wake-up with nothing to poll costs one more round).
 */

import { decode } from '../abi/layout.js';
import { ib_uverbs_comp_event_desc } from '../abi/structs.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { UverbsClosedError, UverbsError } from '../errors.js';
import { UserMemory } from '../transport/memory.js';
import { watchReadable } from '../transport/sys.js';
import type { CompletionQueue } from './completion-queue.js';
import { Context, sysOf } from './context.js';
import { KernelObject } from './kernel-object.js';
import type { WaitScope } from './waits.js';

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class CompletionChannel extends KernelObject {
  readonly context: Context;
  readonly fd: number;
  /** User handles of CQs signalled while nobody waited on them. */
  readonly #pending = new Set<bigint>();
  readonly #waiters = new Map<bigint, Waiter[]>();
  #watch: { cancel(): void } | undefined;
  #buffer: UserMemory | undefined;

  private constructor(context: Context, fd: number) {
    super(context);
    this.context = context;
    this.fd = fd;
  }

  /** @internal use `Context.createCompletionChannel()` */
  static create(context: Context): CompletionChannel {
    KernelObject.checked(context, Context, 'context');
    const r = context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, {});
    return new CompletionChannel(context, r.response?.fd as number);
  }

  get description(): string {
    return `CompletionChannel fd ${this.fd}`;
  }

  /**
   * @internal resolves when the kernel signals `cq` (armed with
   * `requestNotify`) on this channel. Whatever ends `scope` first (its
   * timeout, its signal, the CQ closing) takes the waiter back, and the fd
   * is watched no longer once nobody waits.
   */
  event(cq: CompletionQueue, scope: WaitScope): Promise<void> {
    this.assertOpen();
    if (this.#pending.delete(cq.userHandle)) return Promise.resolve();
    return scope.step<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const list = this.#waiters.get(cq.userHandle) ?? [];
      list.push(waiter);
      this.#waiters.set(cq.userHandle, list);
      try {
        this.#arm();
      } catch (error) {
        this.#forget(cq.userHandle, waiter);
        throw error;
      }
      return () => this.#forget(cq.userHandle, waiter);
    });
  }

  /** Takes a waiter back; the last one gone stops the watch (nothing then holds the event loop). */
  #forget(handle: bigint, waiter: Waiter): void {
    const list = this.#waiters.get(handle);
    const i = list?.indexOf(waiter) ?? -1;
    if (list === undefined || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(handle);
    if (this.#waiters.size === 0) {
      this.#watch?.cancel();
      this.#watch = undefined;
    }
  }

  #arm(): void {
    if (this.#watch !== undefined || this.#waiters.size === 0) return;
    this.#watch = watchReadable(this.fd, this.description, (status) => this.#readable(status));
  }

  #readable(status: number): void {
    this.#watch = undefined;
    if (this.closed) return;
    try {
      this.#dispatchEvent(status);
    } catch (error) {
      // nothing may leave a waiter hanging: a failed read, allocation or re-arm ends every wait
      this.#settle((w) => w.reject(error as Error));
    }
  }

  /** Reads one event (or takes a failed poll's status), wakes the CQs it names and watches again. */
  #dispatchEvent(status: number): void {
    const size = ib_uverbs_comp_event_desc.size;
    this.#buffer ??= UserMemory.allocate(sysOf(this.context), size);
    const n = status < 0 ? status : sysOf(this.context).read(this.fd, this.#buffer.address, size);
    if (n < 0) {
      const error = new UverbsError({
        errno: -n,
        syscall: status < 0 ? 'poll' : 'read',
        object: this.description,
        method: 'completion event',
        path: 'write',
      });
      this.#settle((w) => w.reject(error));
      return;
    }
    const handle = decode(ib_uverbs_comp_event_desc, this.#buffer.bytes.subarray(0, size)).cq_handle;
    const waiting = this.#waiters.get(handle);
    if (waiting === undefined) this.#pending.add(handle);
    else {
      this.#waiters.delete(handle);
      for (const w of waiting) w.resolve();
    }
    this.#arm();
  }

  #settle(each: (w: Waiter) => void): void {
    const all = [...this.#waiters.values()].flat();
    this.#waiters.clear();
    for (const w of all) each(w);
  }

  /** Stops watching before the fd goes; a failed close(2) still releases the fd. */
  protected destroy(): Error | undefined {
    this.released();
    const r = sysOf(this.context).close(this.fd);
    if (r >= 0) return undefined;
    return new UverbsError({ errno: -r, syscall: 'close', object: this.description, method: 'close', path: 'write' });
  }

  protected override released(): void {
    this.#watch?.cancel();
    this.#watch = undefined;
    this.#buffer?.free();
    this.#settle((w) => w.reject(new UverbsClosedError(this.description)));
  }
}

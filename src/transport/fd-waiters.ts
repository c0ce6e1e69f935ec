/**
 * The waits parked on one fd until it is readable: the event fds
 * (`EventChannel`'s rdma_cm fd, `AsyncEventQueue`'s uverbs async fd) share
 * this. One readable-watch serves every parked wait: the first to park arms
 * it, the last to leave cancels it, so an fd nobody waits on holds neither
 * a watch nor the event loop. A watch fires once; it wakes every wait, and
 * each looks at what is queued before parking again.
 */

import { watchReadable } from './sys.js';

/** Arms a one-shot watch for readability; the callback gets 0 or a negative errno. */
export type WatchReadable = (fd: number, owner: string, callback: (status: number) => void) => { cancel(): void };

export class FdWaiters {
  readonly #fd: number;
  readonly #owner: string;
  readonly #watchReadable: WatchReadable;
  readonly #waiters = new Set<(status: number) => void>();
  #watch: { cancel(): void } | undefined;

  constructor(fd: number, owner: string, watch: WatchReadable = watchReadable) {
    this.#fd = fd;
    this.#owner = owner;
    this.#watchReadable = watch;
  }

  /** How many waits are parked. */
  get size(): number {
    return this.#waiters.size;
  }

  /**
   * Parks `resolve` until the fd is readable (0), the watch fails (a
   * negative errno) or `wakeAll`; returns what un-parks it without waking
   * it. Arming the shared watch may throw (the addon's error): then nothing
   * is parked.
   */
  park(resolve: (status: number) => void): () => void {
    this.#waiters.add(resolve);
    try {
      this.#watch ??= this.#watchReadable(this.#fd, this.#owner, (status) => this.#wake(status));
    } catch (error) {
      this.#waiters.delete(resolve);
      throw error;
    }
    return () => {
      this.#waiters.delete(resolve);
      if (this.#waiters.size === 0) {
        this.#watch?.cancel();
        this.#watch = undefined;
      }
    };
  }

  /**
   * Cancels the watch and wakes every parked wait with 0: for when what a
   * wait is parked for was taken off the fd by another reader (the watch
   * will not fire for it), and for close (each wait then finds its owner
   * closed).
   */
  wakeAll(): void {
    this.#watch?.cancel();
    this.#wake(0);
  }

  #wake(status: number): void {
    this.#watch = undefined;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const resolve of waiters) resolve(status);
  }
}

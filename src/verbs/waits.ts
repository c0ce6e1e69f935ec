/**
 * What every wait on the event loop shares (`CompletionQueue.wait`,
 * `AsyncEventQueue.wait`): a timeout, an AbortSignal, and settling exactly
 * once, with nothing left behind. A wait is a {@link WaitScope}: its timer
 * and its signal listener live as long as the wait, and each step it
 * awaits (one readiness of an fd) is registered with a cancel function, so
 * that whatever ends the wait (timeout, abort, the object closing) also
 * removes the step's waiter, and the fd watch goes once nobody waits.
 */

import { invalidArgType, outOfRange, UverbsTimeoutError } from '../errors.js';

export interface WaitOptions {
  /**
   * Milliseconds to wait at most (0 to 2147483647, 2^31 - 1: the longest
   * delay a Node timer keeps, about 24.8 days; 0: only what is there
   * already); then the wait rejects with `UverbsTimeoutError` (`code`
   * 'ETIMEDOUT'). More is refused (ERR_OUT_OF_RANGE). Absent: no limit.
   */
  readonly timeout?: number;
  /**
   * Aborting rejects the wait with `signal.reason`, as Node's own APIs do; a
   * signal already aborted rejects before anything is polled or armed.
   */
  readonly signal?: AbortSignal;
}

/** The largest delay setTimeout honours (larger ones fire at once): the most a wait's timeout may be. */
const MAX_TIMER = 2 ** 31 - 1;

/** Checks `options` (ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE), before anything happens. */
export function checkWaitOptions(options: unknown, name = 'options'): WaitOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw invalidArgType(name, 'an object', options);
  const { timeout, signal } = options as WaitOptions;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0 && timeout <= MAX_TIMER))) {
    throw outOfRange(`${name}.timeout`, `a number of milliseconds from 0 to ${MAX_TIMER}`, timeout);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType(`${name}.signal`, 'an AbortSignal', signal);
  }
  return { timeout, signal };
}

/**
 * One wait, from start to settling. Construct it first (it throws the
 * signal's reason if the signal is already aborted), await `step()` as
 * often as needed, and `dispose()` it in a `finally`.
 */
export class WaitScope {
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Why the wait is over, once it is (timeout, abort, close). */
  #error: unknown;
  #ended = false;
  /** Ends the step in progress: cancels its waiter and rejects it. */
  #endStep: ((error: unknown) => void) | undefined;

  constructor(options: WaitOptions, owner: string, method: string) {
    const { timeout, signal } = options;
    if (signal?.aborted) throw signal.reason;
    if (timeout !== undefined) {
      this.#timer = setTimeout(
        () => this.fail(new UverbsTimeoutError(owner, method, timeout)),
        timeout, // checkWaitOptions: at most MAX_TIMER
      );
    }
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () => this.fail(signal.reason);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /**
   * Awaits one step: `start(resolve, reject)` registers a waiter and
   * returns how to take it back. Rejects at once when the wait is over
   * already; when it ends during the step, the waiter is taken back first.
   */
  step<T>(start: (resolve: (value: T) => void, reject: (error: unknown) => void) => () => void): Promise<T> {
    if (this.#ended) return Promise.reject(this.#error);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = () => {
        settled = true;
        this.#endStep = undefined;
      };
      const cancel = start(
        (value) => {
          if (settled) return;
          finish();
          resolve(value);
        },
        (error) => {
          if (settled) return;
          finish();
          reject(error);
        },
      );
      if (settled) return;
      this.#endStep = (error) => {
        finish();
        cancel();
        reject(error);
      };
    });
  }

  /** Ends the wait with `error` (the first reason wins); the step in progress rejects with it. */
  fail(error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.dispose();
    this.#endStep?.(error);
  }

  /** Drops the timer and the signal listener; idempotent. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

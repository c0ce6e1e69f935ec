/**
 * Explicit, ordered lifetimes for everything the kernel holds.
 *
 * Each object knows its parent and its live children. `close()` closes the
 * children first, newest first, then destroys the object itself; a context
 * closing therefore tears down QPs before CQs before PDs, as the kernel
 * requires. Every object is `Disposable` (`using pd = ctx.allocPd()`).
 * After close, any use is a `UverbsClosedError` that never reaches the kernel.
 */

import { UverbsClosedError } from './errors.js';

export abstract class KernelObject implements Disposable {
  readonly #children = new Set<KernelObject>();
  readonly #parent: KernelObject | undefined;
  #closed = false;

  protected constructor(parent?: KernelObject) {
    this.#parent = parent;
    if (parent) parent.#children.add(this);
  }

  /** What error messages call this object (`ProtectionDomain 3`). */
  abstract get description(): string;

  get closed(): boolean {
    return this.#closed;
  }

  /** Live children, oldest first. */
  protected get children(): readonly KernelObject[] {
    return [...this.#children];
  }

  /** Throws a typed error, without a syscall, once this object or an ancestor is closed. */
  protected assertOpen(): void {
    if (this.#closed) throw new UverbsClosedError(this.description);
  }

  /** Releases the kernel object itself; called once, after every child is closed. */
  protected abstract destroy(): void;

  close(): void {
    if (this.#closed) return;
    for (const child of [...this.#children].reverse()) child.close();
    this.destroy();
    this.#closed = true;
    if (this.#parent) this.#parent.#children.delete(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** snake_case ABI keys to the camelCase the object model speaks; values (and `undefined`) kept as they are. */
export function camelize<T>(value: T): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = camelize(v);
  }
  return out;
}

/**
 * Explicit, ordered lifetimes for everything the kernel holds.
 *
 * An object depends on its parent and on whatever else it uses (a QP on its
 * CQs and SRQ, an MR on its PD). `close()` first closes everything that
 * depends on this object, newest first, then destroys the object itself:
 * closing a context tears down QPs before the CQs they use and MRs before
 * their PD, as the kernel requires (it refuses with EBUSY otherwise).
 * Every object is `Disposable` (`using pd = ctx.allocPd()`). After close,
 * any use is a `UverbsClosedError` that never reaches the kernel.
 *
 * `close({ cascade: false })` is the kernel's own rule instead: destroy this
 * object only. While something still uses it the kernel refuses (a PD with a
 * live MR, a CQ a QP completes into: EBUSY), the error is thrown and the
 * object stays open and usable.
 */

import { EBUSY, ENOENT } from '../errno.js';
import { invalidArgType, UverbsClosedError, UverbsError } from '../errors.js';

export abstract class KernelObject implements Disposable {
  /** Objects that must close before this one: children and users, in creation order. */
  readonly #dependents = new Set<KernelObject>();
  /** Objects this one depends on. */
  readonly #dependencies: KernelObject[] = [];
  #closed = false;

  /** `parent` and every object in `uses` close only after this one. */
  protected constructor(parent?: KernelObject, ...uses: KernelObject[]) {
    if (parent !== undefined) this.#dependOn(parent);
    for (const d of uses) if (d !== undefined) this.#dependOn(d);
  }

  #dependOn(d: KernelObject): void {
    if (this.#dependencies.includes(d)) return;
    this.#dependencies.push(d);
    d.#dependents.add(this);
  }

  /**
   * `value` as an open object of class `kind` that this library made, else
   * ERR_INVALID_ARG_TYPE, before any syscall: a look-alike's handle and
   * addresses would be a caller's numbers (a brand check, not a shape
   * check: only objects built by this constructor have its private fields).
   */
  static checked<T extends KernelObject>(
    value: unknown,
    kind: { readonly prototype: T; readonly name: string },
    name: string,
  ): T {
    const made =
      typeof value === 'object' &&
      value !== null &&
      #closed in value &&
      Object.prototype.isPrototypeOf.call(kind.prototype, value);
    if (!made || (value as KernelObject).#closed) throw invalidArgType(name, `an open ${kind.name}`, value);
    return value as T;
  }

  /** What error messages call this object (`ProtectionDomain 3`). */
  abstract get description(): string;

  get closed(): boolean {
    return this.#closed;
  }

  /** Live objects that depend on this one, oldest first. */
  protected get dependents(): readonly KernelObject[] {
    return [...this.#dependents];
  }

  /** Throws a typed error, without a syscall, once this object or an ancestor is closed. */
  protected assertOpen(): void {
    if (this.#closed) throw new UverbsClosedError(this.description);
  }

  /**
   * Releases the kernel object itself; called after every dependent is
   * closed. Throwing means the object still exists (the kernel refused,
   * e.g. EBUSY) and stays open. Returning an error means it is gone all the
   * same (close(2) releases an fd even when it reports an error): the
   * object is marked closed, then the error is thrown.
   *
   * A destroy can also fail after the kernel carried it out: uverbs
   * destroys the object and removes its handle before the method's handler
   * copies the response out (ib_uverbs_run_method: uobj_destroy, then the
   * handler), so a failed copy (EFAULT) or anything after it reports an
   * object that is gone. So on a kernel error other than EBUSY (a refusal
   * before anything happened) `close()` asks the kernel again with a second
   * call of `destroy()`: the handle's lookup failing with ENOENT means the
   * object is gone (it is closed, {@link released} runs, `close()` does not
   * throw, and what the lost response carried, the events reported, is
   * unknown); the second destroy succeeding means it was there and is gone
   * now; any other answer means it is still there: the first error is
   * thrown and the object stays open.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: most objects return nothing; an fd owner returns the error of a close(2) that released the fd anyway
  protected abstract destroy(): void | Error;

  /**
   * Whether destroying this object takes `dependent` down with it in the
   * kernel (closing a context's fd destroys everything made through it).
   * Such dependents are then closed without a syscall, their host memory
   * released by {@link released}; any other dependent stays open. A
   * takedown has two phases: {@link destroy} leaves the kernel holding
   * nothing of them (a context closes its fd and unmaps every ring of it,
   * the file's last references), and only then is memory released, so no
   * buffer is let go while a registration on it lives.
   */
  protected takesDown(_dependent: KernelObject): boolean {
    return false;
  }

  /** The kernel moved this object from one parent to another (an MR re-registered to another PD). */
  protected changeDependency(from: KernelObject, to: KernelObject): void {
    const i = this.#dependencies.indexOf(from);
    if (i < 0) throw new Error(`${this.description} does not depend on ${from.description}`);
    from.#dependents.delete(this);
    this.#dependencies[i] = to;
    to.#dependents.add(this);
  }

  /**
   * This object came to use `on` after it was made (a window a bind was
   * posted for uses the region it exposes): `on` closes only after it.
   */
  protected addDependency(on: KernelObject): void {
    if (this.#dependencies.includes(on)) return;
    this.#dependencies.push(on);
    on.#dependents.add(this);
  }

  /** Host-side cleanup for an object the kernel already destroyed along with its parent. */
  protected released(): void {}

  /**
   * Closes this object (see the class comment). A dependent this object
   * takes down (a context's PDs, CQs, QPs, ...) whose own close throws
   * does not stop it: the context's fd is closed all the same, which
   * destroys them in the kernel, every one of them is marked closed, and
   * then the first such failure is thrown (`closed` is true).
   */
  close(options: { cascade?: boolean } = {}): void {
    if (this.#closed) return;
    let failed: unknown;
    // (a copy, newest first, only when there is something to walk: most objects have no dependents)
    if ((options.cascade ?? true) && this.#dependents.size > 0) {
      for (const dependent of [...this.#dependents].reverse()) {
        try {
          dependent.close();
        } catch (error) {
          // one that is gone anyway (marked closed) or that this object's destroy takes down: go on
          if (!dependent.#closed && !this.takesDown(dependent)) throw error;
          failed ??= error;
        }
      }
    }
    let error: Error | undefined;
    try {
      error = this.destroy() ?? undefined;
    } catch (first) {
      if (!this.#goneAfter(first)) throw first;
    }
    this.#markClosed();
    error ??= failed as Error | undefined;
    if (this.#dependents.size === 0) {
      if (error) throw error;
      return;
    }
    for (const dependent of [...this.#dependents].reverse()) {
      if (this.takesDown(dependent)) dependent.#forget();
      else {
        dependent.#dependencies.splice(dependent.#dependencies.indexOf(this), 1);
        this.#dependents.delete(dependent);
      }
    }
    if (error) throw error;
  }

  /** After `destroy()` threw `first`: whether the kernel says the object is gone (see {@link destroy}). */
  #goneAfter(first: unknown): boolean {
    if (!(first instanceof UverbsError) || first.unsupported || first.errno === EBUSY) return false;
    if (first.syscall !== 'ioctl' && first.syscall !== 'write') return false;
    try {
      this.destroy();
      return true;
    } catch (second) {
      if (!(second instanceof UverbsError) || second.errno !== ENOENT) return false;
    }
    this.released();
    return true;
  }

  #markClosed(): void {
    this.#closed = true;
    for (const d of this.#dependencies) d.#dependents.delete(this);
  }

  /** The kernel destroyed this object with an ancestor: close it and its dependents, no syscalls. */
  #forget(): void {
    if (this.#closed) return;
    for (const dependent of [...this.#dependents].reverse()) dependent.#forget();
    this.released();
    this.#markClosed();
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

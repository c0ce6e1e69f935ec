/**
 * Memory the kernel may read or write: always mapped by the library itself.
 *
 * An address handed to the kernel (an ioctl attribute pointer, a write()
 * response pointer, an MR) is always one that a mapping of this library
 * returned, paired with the view over it; no number a caller passes is
 * ever turned into a pointer. A `UserMemory` stays mapped until its owner
 * frees it, so the kernel never writes into memory JS has let go; once
 * freed, every view over it is detached (length 0), and a view that escaped
 * the detach (a `transfer()`ed buffer) reads fresh zeros, never the bytes
 * of whatever is mapped next (src/transport/sys.ts, native/addon.c).
 */

import { outOfRange, UverbsClosedError } from '../errors.js';
import type { Mapping, Sys } from './sys.js';

export const PAGE_SIZE = 4096;

function pageRound(length: number): number {
  return Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
}

/** An anonymous, page-aligned, zero-filled mapping owned by the library. */
export class UserMemory {
  readonly address: bigint;
  readonly length: number;
  #mapping: Mapping | undefined;
  #bytes: Uint8Array | undefined;

  private constructor(mapping: Mapping) {
    this.#mapping = mapping;
    this.address = mapping.address;
    this.length = mapping.length;
    this.#bytes = new Uint8Array(mapping.buffer);
  }

  /** A failed mmap is a `UverbsError` (syscall 'mmap') with the kernel's errno. */
  static allocate(sys: Sys, length: number): UserMemory {
    if (!Number.isSafeInteger(length) || length <= 0) throw outOfRange('length', 'a positive integer', length);
    return new UserMemory(sys.mapAnonymous(pageRound(length)));
  }

  /** The whole mapping; throws once freed, and every view taken before then reads as length 0. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new UverbsClosedError('memory');
    return this.#bytes;
  }

  get freed(): boolean {
    return this.#bytes === undefined;
  }

  free(): void {
    const mapping = this.#mapping;
    if (mapping === undefined) return;
    this.#mapping = undefined;
    this.#bytes = undefined;
    mapping.unmap();
  }

  [Symbol.dispose](): void {
    this.free();
  }
}

/** A slice of a mapping: the address the kernel sees and the bytes JS sees, always together. */
export interface Region {
  readonly address: bigint;
  readonly bytes: Uint8Array;
}

/**
 * A per-context bump arena for command buffers, attribute payloads and
 * responses. `reset()` at the start of each call; everything taken stays
 * mapped until the next reset (the call is synchronous, so the kernel is
 * done with it by then). Never module-global: two contexts never share one.
 * Internal: a region is valid for the call that took it, and decoders copy
 * out of it, so no view of the arena ever reaches a caller.
 */
export class Scratch {
  readonly #sys: Sys;
  #regions: UserMemory[];
  #used = 0;

  constructor(sys: Sys, initial = 4 * PAGE_SIZE) {
    this.#sys = sys;
    this.#regions = [UserMemory.allocate(sys, initial)];
  }

  /** `length` zeroed bytes aligned to `align`. */
  take(length: number, align = 8): Region {
    let current = this.#regions[this.#regions.length - 1];
    if (current === undefined) throw new UverbsClosedError('scratch memory');
    let at = Math.ceil(this.#used / align) * align;
    if (at + length > current.length) {
      current = UserMemory.allocate(this.#sys, Math.max(current.length * 2, length));
      this.#regions.push(current);
      at = 0;
    }
    this.#used = at + length;
    const bytes = current.bytes.subarray(at, at + length);
    bytes.fill(0);
    return { address: current.address + BigInt(at), bytes };
  }

  /** Forgets everything taken; keeps only the largest mapping. */
  reset(): void {
    if (this.#regions.length > 1) {
      const largest = this.#regions.pop() as UserMemory;
      for (const r of this.#regions) r.free();
      this.#regions = [largest];
    }
    this.#used = 0;
  }

  free(): void {
    for (const r of this.#regions) r.free();
    this.#regions = [];
  }
}

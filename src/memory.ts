/**
 * Memory the kernel may read or write: always mapped by the library itself.
 *
 * An address handed to the kernel (an ioctl attribute pointer, a write()
 * response pointer, later an MR or a ring) is always one that `mmap`
 * returned to this module, paired with the view over it; no number a caller
 * passes is ever turned into a pointer. A `UserMemory` stays mapped until
 * its owner frees it, so the kernel never writes into memory JS has let go.
 */

import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, type Sys } from '../ioctl/index.js';
import { outOfRange, UverbsClosedError } from './errors.js';

export const PAGE_SIZE = 4096;

function pageRound(length: number): number {
  return Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
}

/** An anonymous, page-aligned, zero-filled mapping owned by the library. */
export class UserMemory {
  readonly address: bigint;
  readonly length: number;
  readonly #sys: Sys;
  #bytes: Uint8Array | undefined;

  private constructor(sys: Sys, address: bigint, length: number) {
    this.#sys = sys;
    this.address = address;
    this.length = length;
    this.#bytes = new Uint8Array(sys.view(address, length));
  }

  static allocate(sys: Sys, length: number): UserMemory {
    if (!Number.isSafeInteger(length) || length <= 0) throw outOfRange('length', 'a positive integer', length);
    const size = pageRound(length);
    const address = sys.mmap(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
    if (address < 0n) throw Object.assign(new Error(`mmap ${size} bytes failed`), { errno: Number(-address) });
    return new UserMemory(sys, address, size);
  }

  /** The whole mapping; throws once freed, so no view outlives it. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new UverbsClosedError('memory');
    return this.#bytes;
  }

  get freed(): boolean {
    return this.#bytes === undefined;
  }

  free(): void {
    if (this.#bytes === undefined) return;
    this.#bytes = undefined;
    this.#sys.munmap(this.address, this.length);
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

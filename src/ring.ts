/**
 * A driver ring mapped from the uverbs fd: the memory a software driver
 * and user space share for work requests and completions (rxe: every queue,
 * with a `rxe_queue_buf` header; siw: slot arrays with VALID flags).
 *
 * The provider says where each ring of an object is (offset and length in
 * the uverbs fd's mmap space, from the create response); the library maps
 * it MAP_SHARED, owns the mapping, and unmaps it only after the kernel
 * object is gone. A mapping keeps the uverbs file open in the kernel, so
 * rings never outlive their objects.
 */

import { MAP_SHARED, PROT_READ, PROT_WRITE, type Sys } from '../ioctl/index.js';
import { UverbsClosedError, UverbsError } from './errors.js';
import { PAGE_SIZE } from './memory.js';

/** Which queue a ring carries. */
export type RingName = 'cq' | 'sq' | 'rq' | 'srq';

/** Where a provider says a ring is. */
export interface RingSpec {
  readonly name: RingName;
  /** The mmap offset (rxe `mminfo.offset`, siw `*_key`). */
  readonly offset: bigint;
  /** Bytes; rounded up to whole pages when mapped. */
  readonly length: number;
}

export class Ring {
  readonly name: RingName;
  readonly address: bigint;
  readonly length: number;
  readonly #sys: Sys;
  #bytes: Uint8Array | undefined;

  private constructor(sys: Sys, name: RingName, address: bigint, length: number) {
    this.#sys = sys;
    this.name = name;
    this.address = address;
    this.length = length;
    this.#bytes = new Uint8Array(sys.view(address, length));
  }

  /** @internal maps one ring of `fd`; a failed mmap is the kernel's errno. */
  static map(sys: Sys, fd: number, spec: RingSpec, owner: string): Ring {
    const length = Math.ceil(spec.length / PAGE_SIZE) * PAGE_SIZE;
    const address = sys.mmap(length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, spec.offset);
    if (address < 0n) {
      throw new UverbsError({
        errno: Number(-address),
        syscall: 'mmap',
        object: owner,
        method: `${spec.name} ring`,
        path: 'ioctl',
      });
    }
    return new Ring(sys, spec.name, address, length);
  }

  /** The ring's bytes, shared with the driver; throws once unmapped. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new UverbsClosedError(`${this.name} ring`);
    return this.#bytes;
  }

  get mapped(): boolean {
    return this.#bytes !== undefined;
  }

  /** @internal */
  unmap(): void {
    if (this.#bytes === undefined) return;
    this.#bytes = undefined;
    this.#sys.munmap(this.address, this.length);
  }
}

/** Maps every ring in `specs`, all or none. */
export function mapRings(sys: Sys, fd: number, specs: readonly RingSpec[], owner: string): Ring[] {
  const rings: Ring[] = [];
  try {
    for (const spec of specs) rings.push(Ring.map(sys, fd, spec, owner));
  } catch (error) {
    for (const r of rings) r.unmap();
    throw error;
  }
  return rings;
}

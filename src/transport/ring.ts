/**
 * A driver ring mapped from the uverbs fd: the memory a software driver
 * and user space share for work requests and completions (rxe: every queue,
 * with a `rxe_queue_buf` header; siw: slot arrays with VALID flags).
 *
 * The provider says where each ring of an object is (offset and length in
 * the uverbs fd's mmap space, from the create response); the library maps
 * it MAP_SHARED, owns the mapping, and unmaps it only after the kernel
 * object is gone. A mapping keeps the uverbs file open in the kernel, so
 * rings never outlive their objects. Unmapping detaches the ring's
 * ArrayBuffer and replaces the memory under any buffer that escaped the
 * detach (a `transfer()`ed one) with zeros (src/transport/sys.ts, native/addon.c).
 */

import { EINVAL } from '../errno.js';
import { UverbsClosedError, UverbsError } from '../errors.js';
import { PAGE_SIZE } from './memory.js';
import { type NativeHandle, native } from './native.js';
import { nativeMapping, nativeSyscallError } from './sys.js';

/** Which queue a ring carries. */
export type RingName = 'cq' | 'sq' | 'rq' | 'srq';

/** Where a provider says a ring is. */
export interface RingSpec {
  readonly name: RingName;
  /** The mmap offset (rxe `mminfo.offset`, siw `*_key`). */
  readonly offset: bigint;
  /** Bytes; rounded up to whole pages when mapped. */
  readonly length: number;
  /**
   * `rxe`: the ring starts with a `struct rxe_queue_buf` header, which the
   * addon validates against the mapping and the native datapath drives;
   * `raw` (the default): bytes only.
   */
  readonly format?: 'rxe' | 'raw';
}

export class Ring {
  readonly name: RingName;
  readonly length: number;
  readonly format: 'rxe' | 'raw';
  #handle: NativeHandle | undefined;
  #bytes: Uint8Array | undefined;
  readonly #words: Uint32Array;

  private constructor(name: RingName, format: 'rxe' | 'raw', mapped: [NativeHandle, ArrayBuffer, bigint]) {
    const { handle, buffer } = nativeMapping(mapped);
    this.name = name;
    this.format = format;
    this.length = buffer.byteLength;
    this.#handle = handle;
    this.#bytes = new Uint8Array(buffer);
    this.#words = new Uint32Array(buffer, 0, Math.min(96, buffer.byteLength >>> 2));
  }

  /**
   * @internal the ring's first 384 bytes as u32s (an rxe header: the datapath reads the indices
   * without crossing into C); length 0 once unmapped, as the buffer is detached.
   */
  get words(): Uint32Array {
    return this.#words;
  }

  /** @internal maps one ring of `fd`; a failed mmap is the kernel's errno. */
  static map(fd: number, spec: RingSpec, owner: string): Ring {
    const length = Math.ceil(spec.length / PAGE_SIZE) * PAGE_SIZE;
    const format = spec.format ?? 'raw';
    const n = native();
    let mapped: [NativeHandle, ArrayBuffer, bigint];
    try {
      mapped = n.mapRing(fd, spec.offset, length, Ring.kind(spec.name, format));
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_UVERBS_RING') {
        // the driver's reply and the ring it mapped disagree: refuse it as the kernel refuses bad input
        const method = `${spec.name} ring (its header does not describe the mapping)`;
        throw new UverbsError({ errno: EINVAL, syscall: 'mmap', object: owner, method, path: 'mmap' });
      }
      throw nativeSyscallError(error, owner, `${spec.name} ring`);
    }
    return new Ring(spec.name, format, mapped);
  }

  /** @internal a ring in anonymous memory with an rxe header, for playing the driver's side in tests and benchmarks. */
  static synthetic(name: RingName, slots: number, log2ElemSize: number): Ring {
    return new Ring(name, 'rxe', native().allocRing(slots, log2ElemSize, Ring.kind(name, 'rxe')));
  }

  static kind(name: RingName, format: 'rxe' | 'raw'): number {
    const { kinds } = native().layout;
    if (format === 'raw') return kinds.raw;
    return name === 'cq' ? kinds.rxeCq : name === 'sq' ? kinds.rxeSq : kinds.rxeRq;
  }

  /**
   * The ring's bytes, shared with the driver; throws once unmapped (and the
   * ArrayBuffer behind any view taken earlier is detached: length 0).
   */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new UverbsClosedError(`${this.name} ring`);
    return this.#bytes;
  }

  get mapped(): boolean {
    return this.#handle !== undefined;
  }

  /** @internal the addon's handle, for the datapath; throws once unmapped. */
  get handle(): NativeHandle {
    if (this.#handle === undefined) throw new UverbsClosedError(`${this.name} ring`);
    return this.#handle;
  }

  /** @internal */
  unmap(): void {
    if (this.#handle === undefined) return;
    native().unmap(this.#handle);
    this.#handle = undefined;
    this.#bytes = undefined;
  }
}

/** Maps every ring in `specs`, all or none. */
export function mapRings(fd: number, specs: readonly RingSpec[], owner: string): Ring[] {
  const rings: Ring[] = [];
  try {
    for (const spec of specs) rings.push(Ring.map(fd, spec, owner));
  } catch (error) {
    for (const r of rings) r.unmap();
    throw error;
  }
  return rings;
}

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

import { types } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import { TYPED_ARRAY } from '../abi/layout.js';
import { invalidArgType, invalidArgValue, outOfRange, UverbsClosedError } from '../errors.js';
import { type Mapping, mapFile, type Pin, pinShared, type Sys } from './sys.js';

export const PAGE_SIZE = 4096;

function pageRound(length: number): number {
  return Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
}

/** An anonymous, page-aligned, zero-filled mapping owned by the library. */
export class UserMemory implements RegisteredMemory {
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

/** What an MR registers: the address the kernel sees, its length, and the view JS may have. */
export interface RegisteredMemory {
  readonly address: bigint;
  /** Bytes given to the kernel at REG_MR / REREG_MR. */
  readonly length: number;
  readonly bytes: Uint8Array;
  readonly freed: boolean;
  free(): void;
}

/** What the caller may register in place: a SharedArrayBuffer or a view over one. */
export type SharedMemorySource = SharedArrayBuffer | ArrayBufferView;

// the intrinsic getters, taken before any caller code runs: a caller cannot make a growable buffer look
// fixed, or a view cover other bytes than its own (own properties shadowing `byteLength` are not read)
const U8 = Uint8Array;
const growable = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'growable')?.get;
const intrinsic = (proto: object, name: string) =>
  Object.getOwnPropertyDescriptor(proto, name)?.get as (this: unknown) => unknown;
const VIEW = {
  typed: TYPED_ARRAY,
  data: {
    buffer: intrinsic(DataView.prototype, 'buffer'),
    offset: intrinsic(DataView.prototype, 'byteOffset'),
    length: intrinsic(DataView.prototype, 'byteLength'),
  },
};

const USE_INSTEAD = 'use a SharedArrayBuffer (or a view over one), or registerMemory(length) and its `bytes`';

/**
 * A caller's SharedArrayBuffer range, registered where it is. Held (a
 * strong reference in the addon) from before REG_MR until `free()`, which
 * the MR calls only after the kernel let go. Nothing here is ever detached
 * or unmapped: the memory is the caller's, and stays usable after free.
 *
 * Only shared memory: an ArrayBuffer (a Buffer, a typed array over one)
 * can be detached by anyone while the kernel writes into it (its
 * `transfer()` on Node >= 21 moves and frees the memory even when marked
 * untransferable; any addon's napi_detach_arraybuffer), and N-API cannot
 * prevent that. A SharedArrayBuffer is never detached and, unless
 * growable, never changes length. Refused on a Worker thread: when a
 * Worker ends, Node drops its references although the context's fd (and so
 * the registration) outlives it.
 *
 * The range is the view's bytes as the intrinsic `buffer`, `byteOffset`
 * and `byteLength` getters say, made a Uint8Array before the addon sees
 * it: its length is its byte length whatever the caller's element type
 * (a Float16Array, which Node 22's N-API cannot name, included).
 */
export class SharedMemory implements RegisteredMemory {
  readonly address: bigint;
  readonly length: number;
  #pin: Pin | undefined;
  #bytes: Uint8Array | undefined;

  private constructor(pin: Pin, range: Uint8Array) {
    this.#pin = pin;
    this.address = pin.address;
    this.length = pin.length;
    this.#bytes = range;
  }

  /**
   * `source`'s byte range as a Uint8Array over its SharedArrayBuffer, or a
   * typed error; nothing is held and no system call is made.
   */
  static check(source: unknown, name: string): Uint8Array {
    let buffer: unknown;
    let range: Uint8Array | undefined;
    if (types.isSharedArrayBuffer(source)) {
      buffer = source;
      range = new U8(source);
    } else if (types.isArrayBufferView(source)) {
      const get = types.isDataView(source) ? VIEW.data : VIEW.typed;
      buffer = get.buffer.call(source);
      if (types.isSharedArrayBuffer(buffer) && !growable?.call(buffer)) {
        range = new U8(buffer, get.offset.call(source) as number, get.length.call(source) as number);
      }
    } else if (types.isArrayBuffer(source)) {
      throw invalidArgType(
        name,
        `not an ArrayBuffer: it can be detached or transferred while the kernel writes into it; ${USE_INSTEAD}`,
        source,
      );
    } else {
      throw invalidArgType(name, 'a SharedArrayBuffer, or a TypedArray, DataView or Buffer over one', source);
    }
    if (!types.isSharedArrayBuffer(buffer)) {
      throw invalidArgType(
        name,
        `a view over a SharedArrayBuffer, not over an ArrayBuffer (it can be detached or transferred while the kernel writes into it; a Buffer is over one); ${USE_INSTEAD}`,
        source,
      );
    }
    if (growable?.call(buffer) || range === undefined) {
      throw invalidArgValue(
        name,
        'is over a growable SharedArrayBuffer, whose length can change under the registration',
        source,
      );
    }
    if (VIEW.typed.length.call(range) === 0)
      throw invalidArgValue(name, 'is empty: a registration needs at least one byte', source);
    if (!isMainThread) {
      throw invalidArgValue(
        name,
        'cannot be registered from a Worker thread: a Worker that ends lets go of the buffer while the registration lives',
        source,
      );
    }
    return range;
  }

  /** Checks `source` ({@link check}: typed errors, nothing held) and pins its byte range. */
  static pin(source: unknown, name: string): SharedMemory {
    const range = SharedMemory.check(source, name);
    const pin = pinShared(range);
    const { buffer, offset, length } = VIEW.typed;
    if (
      pin.length !== length.call(range) ||
      pin.byteOffset !== offset.call(range) ||
      pin.buffer !== buffer.call(range)
    ) {
      pin.unpin(); // the addon and JS disagree on the range: hold nothing, register nothing
      throw new Error(`pinShared: the addon pinned ${pin.length} bytes at ${pin.byteOffset} of another range`);
    }
    return new SharedMemory(pin, range);
  }

  /** A view over the registered range of the caller's buffer; throws once freed. */
  get bytes(): Uint8Array {
    if (this.#bytes === undefined) throw new UverbsClosedError('memory');
    return this.#bytes;
  }

  get freed(): boolean {
    return this.#pin === undefined;
  }

  free(): void {
    const pin = this.#pin;
    if (pin === undefined) return;
    this.#pin = undefined;
    this.#bytes = undefined;
    pin.unpin();
  }
}

/**
 * A regular file's bytes, mapped MAP_SHARED by the addon with the lifetime
 * of every other mapping (`free()` replaces it, the range stays reserved
 * until collected). JS never sees the mapping: the file can shrink under it
 * (then touching the missing pages is SIGBUS), so the bytes are read and
 * written through the file itself.
 */
export class FileMemory implements RegisteredMemory {
  readonly address: bigint;
  readonly length: number;
  /** Mapped writable: only then may the MR over it hold a right the kernel pins for writing. */
  readonly writable: boolean;
  #mapping: Mapping | undefined;

  private constructor(mapping: Mapping, length: number, writable: boolean) {
    this.#mapping = mapping;
    this.address = mapping.address;
    this.length = length;
    this.writable = writable;
  }

  static map(fd: number, offset: bigint, length: number, writable: boolean): FileMemory {
    return new FileMemory(mapFile(fd, offset, length, writable), length, writable);
  }

  get bytes(): Uint8Array {
    if (this.#mapping === undefined) throw new UverbsClosedError('memory');
    throw Object.assign(
      new Error('a file mapping has no view in JavaScript (the file can shrink under it); use node:fs on the file'),
      { code: 'ERR_UVERBS_NO_VIEW' },
    );
  }

  get freed(): boolean {
    return this.#mapping === undefined;
  }

  free(): void {
    const mapping = this.#mapping;
    if (mapping === undefined) return;
    this.#mapping = undefined;
    mapping.unmap();
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
  /** The current (last) region as the compiled encoders use it: bytes, a view, and its address as a number. */
  #bytes!: Uint8Array;
  #view!: DataView;
  #base = 0;

  constructor(sys: Sys, initial = 4 * PAGE_SIZE) {
    this.#sys = sys;
    this.#regions = [UserMemory.allocate(sys, initial)];
    this.#current();
  }

  #current(): void {
    const region = this.#regions[this.#regions.length - 1];
    if (region === undefined) throw new UverbsClosedError('scratch memory');
    this.#bytes = region.bytes;
    this.#view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength);
    // the library's own mappings: user-space addresses, well below 2^53
    this.#base = Number(region.address);
  }

  /** `length` zeroed bytes aligned to `align`. */
  take(length: number, align = 8): Region {
    const at = this.takeAt(length, align);
    return { address: BigInt(this.#base + at), bytes: this.#bytes.subarray(at, at + length) };
  }

  /**
   * @internal as {@link take}, for the compiled encoders (src/abi/compiled.ts): the offset of
   * `length` zeroed bytes in the current region ({@link bytes}, {@link view}, {@link base}),
   * read right after this call (a later take may move on to a new region).
   */
  takeAt(length: number, align = 8): number {
    if (this.#regions.length === 0) throw new UverbsClosedError('scratch memory');
    let at = Math.ceil(this.#used / align) * align;
    if (at + length > this.#bytes.byteLength) {
      this.#regions.push(UserMemory.allocate(this.#sys, Math.max(this.#bytes.byteLength * 2, length)));
      this.#current();
      at = 0;
    }
    this.#used = at + length;
    this.#bytes.fill(0, at, at + length);
    return at;
  }

  /** @internal the current region's bytes. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** @internal a DataView over the current region. */
  get view(): DataView {
    return this.#view;
  }

  /** @internal the current region's address, as a number. */
  get base(): number {
    return this.#base;
  }

  /** Forgets everything taken; keeps only the largest mapping. */
  reset(): void {
    if (this.#regions.length > 1) {
      const largest = this.#regions.pop() as UserMemory;
      for (const r of this.#regions) r.free();
      this.#regions = [largest];
      this.#current();
    }
    this.#used = 0;
  }

  free(): void {
    for (const r of this.#regions) r.free();
    this.#regions = [];
  }
}

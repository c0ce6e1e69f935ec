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
 *
 * ## Reading a ring from JavaScript: what V8 does with `Atomics` on a mapped, non-shared buffer
 *
 * The ring is an external ArrayBuffer, not a SharedArrayBuffer; the driver writes it from another
 * CPU. The queue protocol wants an acquire load of the driver's index and a release store of ours
 * (native/rxe_queue.h). Checked 2026-11-29, Node 20.20 (V8 11.3) and 22.23 (V8 12.4), x86-64:
 * - Allowed: `Atomics.load`/`store` take any integer typed array. ValidateIntegerTypedArray (ECMA-262
 *   §25.4.3.1) asks for an integer element type and an attached buffer, not a shared one; only
 *   `Atomics.wait` needs a SharedArrayBuffer. A detached view throws a TypeError (we check first).
 * - Not inlined, never a plain load: `node --allow-natives-syntax --print-opt-code --code-comments`
 *   on `f = (w) => Atomics.load(w, 32)` (and `Atomics.store(w, 64, v)`) after
 *   %PrepareFunctionForOptimization / %OptimizeFunctionOnNextCall shows TurboFan emitting
 *   `call … (AtomicsLoad)` / `call … (AtomicsStore)` on both versions: a call to the CSA builtin
 *   (src/builtins/builtins-sharedarraybuffer-gen.cc: AtomicLoad / AtomicStore with
 *   AtomicMemoryOrder::kSeqCst, the same for shared and non-shared buffers). An opaque effectful
 *   call: the compiler can neither hoist it out of a polling loop, merge two of them, nor move the
 *   slot reads that follow above it. Maglev is not in either build (Node 22 with `--maglev` says
 *   "Maglev is not enabled"); the interpreter and Sparkplug call the same builtin.
 * - x86-64 machine code of those builtins (`objdump -d -M intel` of Builtins_AtomicsLoad /
 *   Builtins_AtomicsStore in the node binary): the Int32/Uint32 load is `mov ecx,DWORD PTR [r8+rcx*1]`
 *   (a TSO load is an acquire load), the store `xchg DWORD PTR [rdx+r8*1],r10d` (seq-cst: stronger
 *   than release); no mfence.
 * - arm64 (read, not run): V8's src/compiler/backend/arm64/code-generator-arm64.cc,
 *   CodeGenerator::AssembleArchInstruction: kAtomicLoadWord32 → ASSEMBLE_ATOMIC_LOAD_INTEGER(Ldar,
 *   Register32), kAtomicStoreWord32 → ASSEMBLE_ATOMIC_STORE_INTEGER(Stlr, Register32): `ldar` /
 *   `stlr`, acquire / release as the C side's __atomic_load_n / __atomic_store_n compile to.
 * Decision: the CQ is read in JavaScript (src/providers/rxe-datapath.ts CompletionReader): one
 * `Atomics.load` of the producer, plain reads of the slots after it, one `Atomics.store` of the
 * consumer. Cost on the host: ~5 ns per load and ~9 ns per store (the builtin call; `xchg`), far
 * below the ~60 ns N-API crossing; large batches still go to the addon, whose memcpy wins there.
 * Not done: a zero-copy view of completions in the ring. The slots go back to the driver at the
 * consumer store, so such a view would need a second call to release them (a new contract for
 * poll/wait/completions) and would be a view of driver memory that a resize or close unmaps under
 * it; copying a completion costs ~2 ns against the ~15 ns the two index accesses cost per poll.
 */

import { rxe_queue_buf, rxe_recv_wqe, rxe_send_wqe } from '../abi/rxe.js';
import { ib_uverbs_wc } from '../abi/structs.js';
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
   * `siw`: `slots` siw elements (a CQ's followed by `struct siw_cq_ctrl`),
   * checked against the mapping, driven by native/siw_queue.h;
   * `raw` (the default): bytes only.
   */
  readonly format?: RingFormat;
  /** `siw`: the slot count the create response gave (`num_sqe`, `num_rqe`, `num_cqe`). */
  readonly slots?: number;
}

/** How the addon reads a ring. */
export type RingFormat = 'rxe' | 'siw' | 'raw';

export class Ring {
  readonly name: RingName;
  readonly length: number;
  readonly format: RingFormat;
  /**
   * @internal an rxe ring's `index_mask` and element size in 32-bit cells, read from the header
   * once at map time and checked as native/rxe_queue.h's rxe_queue_attach checks them (every
   * slot inside the mapping); 0 for a raw ring. Never re-read from shared memory.
   */
  readonly mask: number;
  /** @internal see `mask` */
  readonly slotCells: number;
  #handle: NativeHandle | undefined;
  #bytes: Uint8Array | undefined;
  readonly #words: Uint32Array;
  readonly #cells: Int32Array;
  readonly #slots: BigInt64Array;

  private constructor(name: RingName, format: RingFormat, mapped: [NativeHandle, ArrayBuffer, bigint]) {
    const { handle, buffer } = nativeMapping(mapped);
    this.name = name;
    this.format = format;
    this.length = buffer.byteLength;
    this.#handle = handle;
    this.#bytes = new Uint8Array(buffer);
    this.#words = new Uint32Array(buffer, 0, Math.min(96, buffer.byteLength >>> 2));
    this.#cells = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    this.#slots = new BigInt64Array(buffer, 0, buffer.byteLength >>> 3);
    const geometry = format === 'rxe' ? rxeGeometry(this.#words, buffer.byteLength, MIN_ELEMENT[name]) : RAW;
    if (geometry === undefined) {
      // the addon checked the same header a moment ago: only a driver rewriting it since gets here
      native().unmap(handle);
      throw new UverbsError({
        errno: EINVAL,
        syscall: 'mmap',
        object: `${name} ring`,
        method: `${name} ring (its header does not describe the mapping)`,
        path: 'mmap',
      });
    }
    this.mask = geometry.mask;
    this.slotCells = geometry.slotCells;
  }

  /**
   * @internal the ring's first 384 bytes as u32s (an rxe header: the datapath reads the indices
   * without crossing into C); length 0 once unmapped, as the buffer is detached.
   */
  get words(): Uint32Array {
    return this.#words;
  }

  /**
   * @internal the whole ring as 32-bit cells, for the JavaScript completion reader
   * (src/providers/rxe-datapath.ts); length 0 once unmapped or detached (`transfer()`).
   */
  get cells(): Int32Array {
    return this.#cells;
  }

  /** @internal the same memory as 64-bit words, for copying completions; length 0 once detached. */
  get slots(): BigInt64Array {
    return this.#slots;
  }

  /** @internal maps one ring of `fd`; a failed mmap is the kernel's errno. */
  static map(fd: number, spec: RingSpec, owner: string): Ring {
    const length = Math.ceil(spec.length / PAGE_SIZE) * PAGE_SIZE;
    const format = spec.format ?? 'raw';
    const n = native();
    let mapped: [NativeHandle, ArrayBuffer, bigint];
    try {
      mapped = n.mapRing(fd, spec.offset, length, Ring.kind(spec.name, format), spec.slots ?? 0);
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

  /** @internal a siw ring of `slots` elements in anonymous memory, for playing the driver's side in tests. */
  static syntheticSiw(name: RingName, slots: number): Ring {
    return new Ring(name, 'siw', native().allocSiwRing(slots, Ring.kind(name, 'siw')));
  }

  static kind(name: RingName, format: RingFormat): number {
    const { kinds } = native().layout;
    if (format === 'raw') return kinds.raw;
    if (format === 'siw') return name === 'cq' ? kinds.siwCq : name === 'sq' ? kinds.siwSq : kinds.siwRq;
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

const RAW = { mask: 0, slotCells: 0 } as const;

/** The smallest element each rxe ring must hold (native/addon.c min_element). */
const MIN_ELEMENT: Readonly<Record<RingName, number>> = {
  cq: ib_uverbs_wc.size,
  sq: rxe_send_wqe.size,
  rq: rxe_recv_wqe.size,
  srq: rxe_recv_wqe.size,
};

const HEADER = rxe_queue_buf.size;
const LOG2_ELEM = rxe_queue_buf.fields.log2_elem_size.offset / 4;
const INDEX_MASK = rxe_queue_buf.fields.index_mask.offset / 4;

/**
 * rxe_queue_attach's checks, on one read of the header: an element size of at least
 * `minElement` (at most 64 KiB), a power-of-two slot count, every slot inside `length`.
 */
function rxeGeometry(
  header: Uint32Array,
  length: number,
  minElement: number,
): { mask: number; slotCells: number } | undefined {
  if (length < HEADER || header.length * 4 < HEADER) return undefined;
  const log2 = header[LOG2_ELEM] as number;
  const mask = header[INDEX_MASK] as number;
  if (log2 > 16) return undefined;
  const element = 1 << log2; // log2 <= 16: a small integer, as are mask and slotCells (V8 keeps them untagged ints)
  if (element < minElement || element < 4) return undefined;
  if (mask === 0xffff_ffff || (mask & (mask + 1)) !== 0) return undefined;
  if (HEADER + (mask + 1) * element > length) return undefined;
  return { mask: mask | 0, slotCells: element >> 2 };
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

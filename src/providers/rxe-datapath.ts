/**
 * rxe's datapath: work requests become descriptors (u64 words in one
 * reusable array), the addon writes them into the rings with the queue
 * protocol's barriers (native/rxe_queue.h) and rings the doorbell; CQ
 * polling copies `struct ib_uverbs_wc` records into the caller's memory.
 */

import { decode, uint8Range } from '../abi/layout.js';
import { rxe_create_ah_resp, rxe_queue_buf } from '../abi/rxe.js';
import { ib_uverbs_wc } from '../abi/structs.js';
import { EINVAL, ENOMEM } from '../errno.js';
import { UverbsClosedError, UverbsDoorbellError, UverbsError } from '../errors.js';
import { native } from '../transport/native.js';
import type { Ring } from '../transport/ring.js';
import type { CompletionQueue } from '../verbs/completion-queue.js';
import type { QueuePair } from '../verbs/queue-pair.js';
import type { SharedReceiveQueue } from '../verbs/shared-receive-queue.js';
import type { ResolvedRecv, ResolvedSend, ResolvedSge } from '../verbs/work-request.js';
import type { Datapath } from './provider.js';

/** The ring named `name` of an object, or a closed-object error. */
function ringOf(rings: readonly Ring[], name: string, owner: string): Ring {
  const ring = rings.find((r) => r.name === name);
  if (ring === undefined) throw new UverbsClosedError(`${owner} ${name} ring`);
  return ring;
}

/** A refusal of the ring itself, with the errno rdma-core's providers give for it; nothing was posted. */
function refused(errno: number, owner: string, method: string): UverbsError {
  return new UverbsError({ errno, syscall: 'none', object: owner, method, path: 'ring' });
}

/** Send WRs as the addon takes them: descriptor words, and where multi-WR inline payloads are gathered. */
interface EncodedSend {
  readonly desc: BigUint64Array;
  readonly wrs: readonly ResolvedSend[];
  /** Total inline bytes when more than one WR carries some (gathered at each post); 0 otherwise. */
  readonly gathered: number;
}

export class RxeDatapath implements Datapath {
  #desc = new BigUint64Array(256);
  #inline = new Uint8Array(1024);

  #words(n: number): BigUint64Array {
    if (this.#desc.length < n) this.#desc = new BigUint64Array(Math.max(n, this.#desc.length * 2));
    return this.#desc;
  }

  postSend(qp: QueuePair, wrs: readonly ResolvedSend[]): void {
    this.#ringSend(qp, this.#encodeSend(wrs, 'scratch'));
  }

  prepareSend(qp: QueuePair, wrs: readonly ResolvedSend[]): (wrIds?: readonly bigint[]) => void {
    const encoded = this.#encodeSend(wrs, 'own');
    const { send: S, sgeWords } = native().layout;
    const setIds = wrIdSetter(
      encoded.desc,
      wrs.map((wr) => S.words + wr.sg.length * sgeWords),
      S.wrId,
      wrs.map((wr) => wr.wrId),
    );
    return (wrIds) => {
      setIds(wrIds);
      this.#ringSend(qp, encoded);
    };
  }

  postRecv(queue: QueuePair | SharedReceiveQueue, wrs: readonly ResolvedRecv[]): void {
    const d = this.#encodeRecv(wrs, this.#words(recvWords(wrs)));
    ringRecv(queue, d, wrs.length);
  }

  prepareRecv(
    queue: QueuePair | SharedReceiveQueue,
    wrs: readonly ResolvedRecv[],
  ): (wrIds?: readonly bigint[]) => void {
    const d = this.#encodeRecv(wrs, new BigUint64Array(recvWords(wrs)));
    const { recv: R, sgeWords } = native().layout;
    const setIds = wrIdSetter(
      d,
      wrs.map((wr) => R.words + wr.sg.length * sgeWords),
      R.wrId,
      wrs.map((wr) => wr.wrId),
    );
    return (wrIds) => {
      setIds(wrIds);
      ringRecv(queue, d, wrs.length);
    };
  }

  /**
   * Descriptor words for `wrs`, in the reused scratch array (posted at once) or an array of
   * their own (prepared); inline payloads are not read here (see #ringSend).
   */
  #encodeSend(wrs: readonly ResolvedSend[], into: 'scratch' | 'own'): EncodedSend {
    const { send: S, sgeWords } = native().layout;
    let words = 0;
    let inlineBytes = 0;
    let inlineWrs = 0;
    for (const wr of wrs) {
      words += S.words + wr.sg.length * sgeWords;
      if (wr.inline !== undefined) {
        inlineBytes += wr.inline.byteLength;
        inlineWrs++;
      }
    }
    const d = into === 'own' ? new BigUint64Array(words) : this.#words(words);
    // one WR's inline payload goes to the addon as is; several are gathered into one buffer, in order
    const gathered = wrs.length > 1 && inlineWrs > 0 ? inlineBytes : 0;
    let at = 0;
    let inlineAt = 0;
    for (const wr of wrs) {
      d.fill(0n, at, at + S.words);
      d[at + S.wrId] = wr.wrId;
      d[at + S.opcode] = BigInt(wr.opcode);
      d[at + S.flags] = BigInt(wr.flags);
      d[at + S.imm] = BigInt(wr.imm);
      d[at + S.remoteAddr] = wr.remoteAddr;
      d[at + S.rkey] = BigInt(wr.rkey);
      d[at + S.compareAdd] = wr.compareAdd;
      d[at + S.swap] = wr.swap;
      if (wr.flush !== undefined) {
        d[at + S.flush] = BigInt(wr.flush);
        d[at + S.flushLength] = BigInt(wr.flushLength ?? 0);
      }
      if (wr.invalidateRkey !== undefined) d[at + S.invalidateRkey] = BigInt(wr.invalidateRkey);
      if (wr.bind) {
        d[at + S.remoteAddr] = wr.bind.addr;
        d[at + S.rkey] = BigInt(wr.bind.rkey);
        d[at + S.mwLength] = BigInt(wr.bind.length);
        d[at + S.mwMrLkey] = BigInt(wr.bind.mrLkey);
        d[at + S.mwMwRkey] = BigInt(wr.bind.mwRkey);
        d[at + S.mwAccess] = BigInt(wr.bind.access);
      }
      if (wr.ud) {
        d[at + S.udQpn] = BigInt(wr.ud.remoteQpn);
        d[at + S.udQkey] = BigInt(wr.ud.remoteQkey);
        d[at + S.udAhNum] = BigInt(decode(rxe_create_ah_resp, wr.ud.ah.driverData).ah_num);
      }
      if (wr.inline !== undefined) {
        d[at + S.inline] = 1n;
        if (gathered > 0) {
          d[at + S.inlineOffset] = BigInt(inlineAt);
          inlineAt += wr.inline.byteLength;
        }
        d[at + S.inlineLength] = BigInt(wr.inline.byteLength);
      }
      d[at + S.numSge] = BigInt(wr.sg.length);
      at = putSges(d, at + S.words, wr.sg);
    }
    return { desc: d, wrs, gathered };
  }

  /** Gathers the inline payloads as they are now, writes the WQEs and rings the doorbell. */
  #ringSend(qp: QueuePair, { desc, wrs, gathered }: EncodedSend): void {
    let inline: Uint8Array | null = null;
    if (gathered > 0) {
      if (this.#inline.byteLength < gathered) this.#inline = new Uint8Array(gathered * 2);
      inline = this.#inline;
      let at = 0;
      for (const wr of wrs) {
        if (wr.inline === undefined) continue;
        inline.set(wr.inline, at);
        at += wr.inline.byteLength;
      }
    } else if (wrs.length === 1) {
      inline = wrs[0]?.inline ?? null;
    }
    const sq = ringOf(qp.rings, 'sq', qp.description);
    const r = native().postSend(sq.handle, desc, wrs.length, inline, qp.pd.context.fd, qp.handle);
    const doorbell = r >>> 24;
    check(r & 0xff_ffff, wrs.length, qp.description, 'post send');
    // posted (in the ring, whatever the doorbell said): each window a BIND_MW binds has its new key from now on
    for (const wr of wrs) wr.bind?.posted(qp);
    if (doorbell !== 0) {
      // the requests ARE posted: an error that says so, never one that reads as "nothing happened"
      throw new UverbsDoorbellError(
        {
          errno: doorbell,
          syscall: 'write',
          object: qp.description,
          method: 'IB_USER_VERBS_CMD_POST_SEND (doorbell)',
          path: 'write',
        },
        wrs.length,
      );
    }
  }

  #encodeRecv(wrs: readonly ResolvedRecv[], d: BigUint64Array): BigUint64Array {
    const R = native().layout.recv;
    let at = 0;
    for (const wr of wrs) {
      d[at + R.wrId] = wr.wrId;
      d[at + R.numSge] = BigInt(wr.sg.length);
      at = putSges(d, at + R.words, wr.sg);
    }
    return d;
  }

  pollCq(cq: CompletionQueue, out: Uint8Array, max: number): number {
    const ring = cq.rings[0] ?? ringOf(cq.rings, 'cq', cq.description);
    return this.#completions.poll(ring, out, max, cq.description);
  }

  readonly #completions = new CompletionReader();
}

const PRODUCER = rxe_queue_buf.fields.producer_index.offset >> 2;
const CONSUMER = rxe_queue_buf.fields.consumer_index.offset >> 2;
const COMPLETION_SIZE = ib_uverbs_wc.size;
const CQE_WORDS = COMPLETION_SIZE >> 3;
const DATA64 = rxe_queue_buf.size >> 3;
/**
 * More completions than this, both waiting and asked for, go through the addon: past the crossing
 * (~60 ns on the host) its memcpy outruns six word copies per completion (each access also checks
 * for a detached buffer once any ArrayBuffer in the process has been detached, as unmapping a ring
 * does). Measured in CPU time per completion, the reader alone, each way (Node 20, x86-64): 8
 * waiting 6.6 ns JS / 8.8 ns C, 12: 6.0 / 6.1, 16: 5.8 / 5.0, 24: 5.4 / 3.6.
 */
export const POLL_IN_C_ABOVE = 12;
/** Caller buffers whose views a reader keeps. */
const VIEWS = 4;

/**
 * Reads completions from an rxe CQ ring in JavaScript, without crossing into C: native/rxe_queue.h's
 * rxe_poll_cq, step for step. The consumer index (ours) is a plain load; the producer index is read
 * with `Atomics.load` (at least acquire: V8 runs it as a seq-cst load, `mov` on x86-64, `ldar` on
 * arm64; the evidence is in src/transport/ring.ts); each `ib_uverbs_wc` is copied as six 64-bit
 * words; one `Atomics.store` of the consumer index (seq-cst, so at least release: `xchg` / `stlr`)
 * hands the slots back to the driver. Both indices are masked with the mask checked at map time
 * (Ring.mask), so no index the driver writes can move a read outside the ring; the typed arrays
 * bound-check besides. A detached ring (unmapped, resized away, `transfer()`ed) is
 * `UverbsClosedError` before anything is read.
 *
 * The addon takes a poll when more than `inCAbove` completions are both waiting and asked for, or
 * when `out` does not start on an 8-byte boundary (the six-word copy needs one); its result is the
 * same, byte for byte (test/datapath-reader.test.ts).
 */
export class CompletionReader {
  readonly #outs: (Uint8Array | undefined)[] = new Array(VIEWS).fill(undefined);
  readonly #views: BigInt64Array[] = new Array(VIEWS).fill(new BigInt64Array(0));
  #next = 0;
  readonly #inC: number;

  /** `inCAbove`: how many completions, waiting and asked for, send a poll to the addon (tests: Infinity). */
  constructor(inCAbove = POLL_IN_C_ABOVE) {
    this.#inC = inCAbove;
  }

  poll(ring: Ring, out: Uint8Array, max: number, owner: string): number {
    const r = ring.cells;
    // detached (unmapped, resized away, or transfer()ed): never read what the memory holds now
    if (r.length === 0) throw new UverbsClosedError(`${owner} cq ring`);
    const mask = ring.mask;
    let cons = (r[CONSUMER] as number) & mask; // our own index: only this process writes it
    const prod = Atomics.load(r, PRODUCER) & mask;
    if (cons === prod || max <= 0) return 0;
    // a long run of completions: the addon's memcpy, once the crossing is paid for (POLL_IN_C_ABOVE)
    const above = this.#inC;
    if (max > above && ((prod - cons) & mask) > above) return native().pollCq(ring.handle, out, max);
    const o = this.#view(out, max);
    if (o === undefined) return native().pollCq(ring.handle, out, max);
    const q = ring.slots;
    const slot = ring.slotCells >> 1;
    let n = 0;
    let at = 0;
    do {
      const f = DATA64 + cons * slot;
      // one ib_uverbs_wc, 48 bytes, as six 64-bit words, unrolled: optimised V8 code moves them
      // as raw words (no BigInt is made); the loop in C would be a memcpy
      o[at] = q[f] as bigint;
      o[at + 1] = q[f + 1] as bigint;
      o[at + 2] = q[f + 2] as bigint;
      o[at + 3] = q[f + 3] as bigint;
      o[at + 4] = q[f + 4] as bigint;
      o[at + 5] = q[f + 5] as bigint;
      at += CQE_WORDS;
      cons = (cons + 1) & mask;
      n++;
    } while (n < max && cons !== prod);
    Atomics.store(r, CONSUMER, cons);
    return n;
  }

  /**
   * `out` as 64-bit words with room for `max` completions, or undefined when it cannot be one. The
   * last few buffers' views are kept (a send CQ and a receive CQ polled in turn, each with its own
   * buffer, make no view per poll); a view that no longer covers `max` completions (a detached or
   * shrunk buffer) is made again or refused.
   */
  #view(out: Uint8Array, max: number): BigInt64Array | undefined {
    const need = max * CQE_WORDS;
    const outs = this.#outs;
    for (let i = 0; i < VIEWS; i++) {
      if (outs[i] === out) {
        const o = this.#views[i] as BigInt64Array;
        if (o.length >= need) return o;
        break;
      }
    }
    // the intrinsic getters: the view covers `out`'s own bytes whatever properties it shadows
    const range = uint8Range(out);
    if (range === undefined || (range.byteOffset & 7) !== 0 || range.byteLength < max * COMPLETION_SIZE) {
      return undefined;
    }
    const o = new BigInt64Array(range.buffer, range.byteOffset, range.byteLength >>> 3);
    const i = this.#next;
    this.#next = (i + 1) % VIEWS;
    outs[i] = out;
    this.#views[i] = o;
    return o;
  }
}

/**
 * Writes one post's wrIds into prepared descriptors (`sizes`: each work request's words, `at`:
 * the wrId's word in one), or puts the prepared ones back when a post gives none; a post that
 * gives none after one that gave none writes nothing.
 */
export function wrIdSetter(
  desc: BigUint64Array,
  sizes: readonly number[],
  at: number,
  prepared: readonly bigint[],
): (wrIds?: readonly bigint[]) => void {
  const slots: number[] = [];
  let word = 0;
  for (const size of sizes) {
    slots.push(word + at);
    word += size;
  }
  let changed = false;
  return (wrIds) => {
    if (wrIds === undefined) {
      if (!changed) return;
      for (let i = 0; i < slots.length; i++) desc[slots[i] as number] = prepared[i] as bigint;
      changed = false;
      return;
    }
    for (let i = 0; i < slots.length; i++) desc[slots[i] as number] = wrIds[i] as bigint;
    changed = true;
  };
}

export function recvWords(wrs: readonly ResolvedRecv[]): number {
  const { recv, sgeWords } = native().layout;
  let words = 0;
  for (const wr of wrs) words += recv.words + wr.sg.length * sgeWords;
  return words;
}

function ringRecv(queue: QueuePair | SharedReceiveQueue, d: BigUint64Array, count: number): void {
  const ring = queue.rings.find((r) => r.name === 'rq' || r.name === 'srq');
  // a QP on an SRQ has no receive ring of its own: its receives go to the SRQ
  if (ring === undefined) throw refused(EINVAL, queue.description, 'post recv (a QP on an SRQ: post to the SRQ)');
  check(native().postRecv(ring.handle, d, count), count, queue.description, 'post recv');
}

export function putSges(d: BigUint64Array, at: number, sg: readonly ResolvedSge[]): number {
  for (const s of sg) {
    d[at++] = s.addr;
    d[at++] = BigInt(s.length) | (BigInt(s.lkey) << 32n);
  }
  return at;
}

/** Turns the addon's `posted + status << 16` into nothing or an error. */
function check(result: number, count: number, owner: string, method: string): void {
  const posted = result & 0xffff;
  const status = (result >>> 16) & 0xff;
  if (posted === count) return;
  if (status === native().layout.statusFull) throw refused(ENOMEM, owner, method);
  // the library sized every descriptor against the QP's limits: the slot is smaller than the kernel granted
  throw refused(EINVAL, owner, `${method} (a work request does not fit the ring's slot)`);
}

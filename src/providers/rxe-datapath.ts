/**
 * rxe's datapath: work requests become descriptors (u64 words in one
 * reusable array), the addon writes them into the rings with the queue
 * protocol's barriers (native/rxe_queue.h) and rings the doorbell; CQ
 * polling copies `struct ib_uverbs_wc` records into the caller's memory.
 */

import { decode } from '../abi/layout.js';
import { rxe_create_ah_resp, rxe_queue_buf } from '../abi/rxe.js';
import type { CompletionQueue } from '../completion-queue.js';
import { ENOMEM } from '../errno.js';
import { UverbsError } from '../errors.js';
import { native } from '../native.js';
import type { QueuePair } from '../queue-pair.js';
import type { Ring } from '../ring.js';
import type { SharedReceiveQueue } from '../shared-receive-queue.js';
import type { ResolvedSend, ResolvedSge } from '../work-request.js';
import type { Datapath } from './provider.js';

/** The ring named `name` of an object, or a closed-object error. */
function ringOf(rings: readonly Ring[], name: string, owner: string): Ring {
  const ring = rings.find((r) => r.name === name);
  if (ring === undefined) throw new Error(`${owner} has no ${name} ring`);
  return ring;
}

function full(owner: string, method: string): UverbsError {
  return new UverbsError({ errno: ENOMEM, syscall: 'none', object: owner, method, path: 'ring' });
}

export class RxeDatapath implements Datapath {
  #desc = new BigUint64Array(256);
  #inline = new Uint8Array(1024);

  #words(n: number): BigUint64Array {
    if (this.#desc.length < n) this.#desc = new BigUint64Array(Math.max(n, this.#desc.length * 2));
    return this.#desc;
  }

  postSend(qp: QueuePair, wrs: readonly ResolvedSend[]): void {
    const n = native();
    const S = n.layout.send;
    let words = 0;
    let inlineBytes = 0;
    for (const wr of wrs) {
      words += S.words + wr.sg.length * n.layout.sgeWords;
      inlineBytes += wr.inline?.byteLength ?? 0;
    }
    const d = this.#words(words);
    // one WR's inline payload is passed as is; several are gathered into one buffer
    const single = wrs.length === 1 ? wrs[0]?.inline : undefined;
    let inline: Uint8Array | null = single ?? null;
    if (single === undefined && inlineBytes > 0) {
      if (this.#inline.byteLength < inlineBytes) this.#inline = new Uint8Array(inlineBytes * 2);
      inline = this.#inline;
    }
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
      if (wr.ud) {
        d[at + S.udQpn] = BigInt(wr.ud.remoteQpn);
        d[at + S.udQkey] = BigInt(wr.ud.remoteQkey);
        d[at + S.udAhNum] = BigInt(decode(rxe_create_ah_resp, wr.ud.ah.driverData).ah_num);
      }
      if (wr.inline !== undefined) {
        d[at + S.inline] = 1n;
        if (single === undefined) {
          (inline as Uint8Array).set(wr.inline, inlineAt);
          d[at + S.inlineOffset] = BigInt(inlineAt);
          inlineAt += wr.inline.byteLength;
        }
        d[at + S.inlineLength] = BigInt(wr.inline.byteLength);
      }
      d[at + S.numSge] = BigInt(wr.sg.length);
      at = putSges(d, at + S.words, wr.sg);
    }
    const sq = ringOf(qp.rings, 'sq', qp.description);
    const r = n.postSend(sq.handle, d, wrs.length, inline, qp.pd.context.fd, qp.handle);
    if (r < 0) {
      throw new UverbsError({
        errno: -r,
        syscall: 'write',
        object: qp.description,
        method: 'IB_USER_VERBS_CMD_POST_SEND',
        path: 'write',
      });
    }
    check(r, wrs.length, qp.description, 'post send');
  }

  postRecv(queue: QueuePair | SharedReceiveQueue, wrs: readonly { wrId: bigint; sg: readonly ResolvedSge[] }[]): void {
    const n = native();
    const R = n.layout.recv;
    let words = 0;
    for (const wr of wrs) words += R.words + wr.sg.length * n.layout.sgeWords;
    const d = this.#words(words);
    let at = 0;
    for (const wr of wrs) {
      d[at + R.wrId] = wr.wrId;
      d[at + R.numSge] = BigInt(wr.sg.length);
      at = putSges(d, at + R.words, wr.sg);
    }
    const ring = queue.rings.find((r) => r.name === 'rq' || r.name === 'srq');
    if (ring === undefined)
      throw new Error(`${queue.description} has no receive ring (a QP on an SRQ receives through it)`);
    check(n.postRecv(ring.handle, d, wrs.length), wrs.length, queue.description, 'post recv');
  }

  pollCq(cq: CompletionQueue, out: Uint8Array, max: number): number {
    const ring = cq.rings[0] ?? ringOf(cq.rings, 'cq', cq.description);
    // An empty CQ never crosses into C: producer == consumer, read straight from the header. A
    // stale producer only delays a completion to the next poll; anything else (completions, a
    // detached view after unmap) goes to the addon, which loads the producer with acquire.
    const words = ring.words;
    if (words[PRODUCER] === words[CONSUMER] && words.length > 0) return 0;
    return native().pollCq(ring.handle, out, max);
  }
}

const PRODUCER = rxe_queue_buf.fields.producer_index.offset / 4;
const CONSUMER = rxe_queue_buf.fields.consumer_index.offset / 4;

function putSges(d: BigUint64Array, at: number, sg: readonly ResolvedSge[]): number {
  for (const s of sg) {
    d[at++] = s.addr;
    d[at++] = BigInt(s.length) | (BigInt(s.lkey) << 32n);
  }
  return at;
}

/** Turns the addon's `posted + status << 16` into nothing or an error. */
function check(result: number, count: number, owner: string, method: string): void {
  const posted = result & 0xffff;
  const status = result >>> 16;
  if (posted === count) return;
  if (status === native().layout.statusFull) throw full(owner, method);
  // the library sized every descriptor against the QP's limits; the slot was smaller than the kernel granted
  throw new Error(`${owner}: a work request does not fit the ring's slot (the driver granted less than it reported)`);
}

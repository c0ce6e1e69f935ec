/**
 * siw's datapath: the same descriptors as rxe's (u64 words in one reusable array), written by the
 * addon into siw's slot rings (native/siw_queue.h: each slot's VALID flag stored last, with a
 * release barrier), then the doorbell; CQ polling turns each `struct siw_cqe` into a
 * `struct ib_uverbs_wc` in the caller's memory and hands the slot back; `armCq` arms the CQ
 * through its mapped `siw_cq_ctrl` word, with no syscall.
 *
 * What siw takes from user space (drivers/infiniband/sw/siw/siw_qp.c siw_activate_tx_from_sq,
 * siw_qp_tx.c siw_qp_prepare_tx, rdma-core providers/siw/siw.c): SEND, SEND_WITH_INV,
 * RDMA_WRITE and RDMA_READ (one SGE; no fence); inline data only with SEND and RDMA_WRITE. Every
 * other opcode is `UverbsUnsupportedError` (EOPNOTSUPP) before anything is written, with the
 * kernel's reason in `method` ({@link SIW_UNSUPPORTED}).
 */

import { ib_uverbs_wr_opcode as O } from '../abi/constants.js';
import { ib_send_flags as F } from '../abi/kernel-internal.js';
import { EINVAL, ENOMEM, EOPNOTSUPP } from '../errno.js';
import {
  invalidArgValue,
  UverbsClosedError,
  UverbsDoorbellError,
  UverbsError,
  UverbsUnsupportedError,
} from '../errors.js';
import { native } from '../transport/native.js';
import type { Ring } from '../transport/ring.js';
import type { CompletionQueue } from '../verbs/completion-queue.js';
import type { QueuePair } from '../verbs/queue-pair.js';
import type { SharedReceiveQueue } from '../verbs/shared-receive-queue.js';
import type { ResolvedRecv, ResolvedSend, SendOpcode } from '../verbs/work-request.js';
import type { Datapath } from './provider.js';
import { putSges, recvWords, wrIdSetter } from './rxe-datapath.js';

/** The send opcodes siw has a user SQE for. */
export const SIW_SEND_OPCODES: readonly SendOpcode[] = ['SEND', 'SEND_WITH_INV', 'RDMA_WRITE', 'RDMA_READ'];

/** Why siw takes none of the other send opcodes, from the kernel's source. */
export const SIW_UNSUPPORTED: Readonly<
  Record<Exclude<SendOpcode, 'SEND' | 'SEND_WITH_INV' | 'RDMA_WRITE' | 'RDMA_READ'>, string>
> = {
  SEND_WITH_IMM: 'siw carries no immediate data (siw_qp_tx.c transmits no SIW_OP_SEND_WITH_IMM; libsiw refuses it)',
  RDMA_WRITE_WITH_IMM: 'siw carries no immediate data (siw-abi.h has no opcode for it)',
  ATOMIC_CMP_AND_SWP: 'siw has no atomics (siw-abi.h: SIW_OP_COMP_AND_SWAP "Unsupported")',
  ATOMIC_FETCH_AND_ADD: 'siw has no atomics (siw-abi.h: SIW_OP_FETCH_AND_ADD "Unsupported")',
  ATOMIC_WRITE: 'siw has no atomics (siw-abi.h has no opcode for ATOMIC_WRITE)',
  FLUSH: 'siw has no FLUSH (siw-abi.h has no opcode for it)',
  BIND_MW: 'siw has no memory windows (siw-abi.h has no bind opcode; ALLOC_MW is EOPNOTSUPP)',
  LOCAL_INV: 'siw invalidates for in-kernel clients only (siw-abi.h: SIW_OP_INVAL_STAG)',
};

/** The same opcodes by number (work-request.ts's SEND_OPCODES, which this module cannot import: it imports the providers). */
const NUMBERS: Readonly<Record<keyof typeof SIW_UNSUPPORTED, number>> = {
  SEND_WITH_IMM: O.IB_UVERBS_WR_SEND_WITH_IMM,
  RDMA_WRITE_WITH_IMM: O.IB_UVERBS_WR_RDMA_WRITE_WITH_IMM,
  ATOMIC_CMP_AND_SWP: O.IB_UVERBS_WR_ATOMIC_CMP_AND_SWP,
  ATOMIC_FETCH_AND_ADD: O.IB_UVERBS_WR_ATOMIC_FETCH_AND_ADD,
  ATOMIC_WRITE: O.IB_UVERBS_WR_ATOMIC_WRITE,
  FLUSH: O.IB_UVERBS_WR_FLUSH,
  BIND_MW: O.IB_UVERBS_WR_BIND_MW,
  LOCAL_INV: O.IB_UVERBS_WR_LOCAL_INV,
};
const REASON = new Map<number, [string, string]>(
  Object.entries(SIW_UNSUPPORTED).map(([name, why]) => [NUMBERS[name as keyof typeof SIW_UNSUPPORTED], [name, why]]),
);

/** The ring named `name` of an object, or a closed-object error. */
function ringOf(rings: readonly Ring[], name: string, owner: string): Ring {
  const ring = rings.find((r) => r.name === name);
  if (ring === undefined) throw new UverbsClosedError(`${owner} ${name} ring`);
  return ring;
}

function unsupported(owner: string, method: string): UverbsUnsupportedError {
  return new UverbsUnsupportedError({ errno: EOPNOTSUPP, syscall: 'none', object: owner, method, path: 'ring' });
}

/** Refuses, before anything is written, what siw cannot do with a user SQE. */
function checkSends(wrs: readonly ResolvedSend[], owner: string): void {
  for (let i = 0; i < wrs.length; i++) {
    const wr = wrs[i] as ResolvedSend;
    const no = REASON.get(wr.opcode);
    if (no !== undefined) throw unsupported(owner, `post send ${no[0]} (${no[1]})`);
    if (wr.opcode === O.IB_UVERBS_WR_RDMA_READ) {
      if (wr.sg.length !== 1) {
        throw invalidArgValue(
          `wrs[${i}].sg`,
          'must be one SGE: an RDMA_READ on siw reads into one buffer',
          wr.sg.length,
        );
      }
      if ((wr.flags & F.IB_SEND_FENCE) !== 0) {
        throw unsupported(owner, 'post send RDMA_READ with fence (siw cannot fence a READ: siw_activate_tx_from_sq)');
      }
    }
    if (wr.inline !== undefined && wr.opcode === O.IB_UVERBS_WR_SEND_WITH_INV) {
      throw unsupported(owner, 'post send SEND_WITH_INV inline (siw takes inline data with SEND and RDMA_WRITE only)');
    }
  }
}

/** Send WRs as the addon takes them. */
interface EncodedSend {
  readonly desc: BigUint64Array;
  readonly wrs: readonly ResolvedSend[];
  readonly gathered: number;
}

export class SiwDatapath implements Datapath {
  #desc = new BigUint64Array(256);
  #inline = new Uint8Array(1024);

  #words(n: number): BigUint64Array {
    if (this.#desc.length < n) this.#desc = new BigUint64Array(Math.max(n, this.#desc.length * 2));
    return this.#desc;
  }

  postSend(qp: QueuePair, wrs: readonly ResolvedSend[]): void {
    checkSends(wrs, qp.description);
    this.#ringSend(qp, this.#encodeSend(qp, wrs, 'scratch'));
  }

  prepareSend(qp: QueuePair, wrs: readonly ResolvedSend[]): (wrIds?: readonly bigint[]) => void {
    checkSends(wrs, qp.description);
    const encoded = this.#encodeSend(qp, wrs, 'own');
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
    ringRecv(queue, encodeRecv(wrs, this.#words(recvWords(wrs))), wrs.length);
  }

  prepareRecv(
    queue: QueuePair | SharedReceiveQueue,
    wrs: readonly ResolvedRecv[],
  ): (wrIds?: readonly bigint[]) => void {
    const d = encodeRecv(wrs, new BigUint64Array(recvWords(wrs)));
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

  pollCq(cq: CompletionQueue, out: Uint8Array, max: number): number {
    const ring = cq.rings[0] ?? ringOf(cq.rings, 'cq', cq.description);
    return native().siwPollCq(ring.handle, out, max);
  }

  /** Arms the CQ through its mapped `siw_cq_ctrl` (libsiw's siw_notify_cq): no REQ_NOTIFY_CQ write. */
  armCq(cq: CompletionQueue, solicitedOnly: boolean): void {
    const ring = cq.rings[0] ?? ringOf(cq.rings, 'cq', cq.description);
    native().siwArmCq(ring.handle, solicitedOnly);
  }

  #encodeSend(qp: QueuePair, wrs: readonly ResolvedSend[], into: 'scratch' | 'own'): EncodedSend {
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
    const gathered = wrs.length > 1 && inlineWrs > 0 ? inlineBytes : 0;
    // siw marks a user QP's SQEs signalled only when they say so (siw_verbs.c applies sq_sig_all to kernel QPs)
    const all = qp.sqSigAll ? F.IB_SEND_SIGNALED : 0;
    let at = 0;
    let inlineAt = 0;
    for (const wr of wrs) {
      d.fill(0n, at, at + S.words);
      d[at + S.wrId] = wr.wrId;
      d[at + S.opcode] = BigInt(wr.opcode);
      d[at + S.flags] = BigInt(wr.flags | all);
      d[at + S.remoteAddr] = wr.remoteAddr;
      d[at + S.rkey] = BigInt(wr.rkey);
      if (wr.invalidateRkey !== undefined) d[at + S.invalidateRkey] = BigInt(wr.invalidateRkey);
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
    const r = native().siwPostSend(sq.handle, desc, wrs.length, inline, qp.pd.context.fd, qp.handle);
    const doorbell = r >>> 24;
    check(r & 0xff_ffff, wrs.length, qp.description, 'post send');
    if (doorbell !== 0) {
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
}

function encodeRecv(wrs: readonly ResolvedRecv[], d: BigUint64Array): BigUint64Array {
  const R = native().layout.recv;
  let at = 0;
  for (const wr of wrs) {
    d[at + R.wrId] = wr.wrId;
    d[at + R.numSge] = BigInt(wr.sg.length);
    at = putSges(d, at + R.words, wr.sg);
  }
  return d;
}

function ringRecv(queue: QueuePair | SharedReceiveQueue, d: BigUint64Array, count: number): void {
  const ring = queue.rings.find((r) => r.name === 'rq' || r.name === 'srq');
  if (ring === undefined) {
    throw new UverbsError({
      errno: EINVAL,
      syscall: 'none',
      object: queue.description,
      method: 'post recv (a QP on an SRQ: post to the SRQ)',
      path: 'ring',
    });
  }
  check(native().siwPostRecv(ring.handle, d, count), count, queue.description, 'post recv');
}

/** Turns the addon's `posted + status << 16` into nothing or an error (nothing was posted). */
function check(result: number, count: number, owner: string, method: string): void {
  const posted = result & 0xffff;
  const status = (result >>> 16) & 0xff;
  if (posted === count) return;
  const layout = native().layout;
  const error = (errno: number, m: string) =>
    new UverbsError({ errno, syscall: 'none', object: owner, method: m, path: 'ring' });
  if (status === layout.statusFull) throw error(ENOMEM, method);
  if (status === layout.statusUnsupported) throw unsupported(owner, `${method} (siw has no user SQE for it)`);
  throw error(EINVAL, `${method} (a work request does not fit the ring's slot)`);
}

/**
 * A queue pair (RC, UC, UD): created through UVERBS_METHOD_QP_CREATE,
 * moved through its state machine with the legacy MODIFY_QP write (the
 * attribute mask is computed from the attributes given), read back with
 * QUERY_QP, destroyed through UVERBS_METHOD_QP_DESTROY.
 */

import { ib_uverbs_qp_type } from '../abi/constants.js';
import { ib_mtu, ib_qp_state, ib_send_flags, ib_qp_attr_mask as M } from '../abi/kernel-internal.js';
import { UVERBS_METHOD_QP_CREATE, UVERBS_METHOD_QP_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { type CallPath, invalidArgType, invalidArgValue } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import type { Datapath } from '../providers/provider.js';
import type { Ring } from '../transport/ring.js';
import { type AddressVector, addressFields } from './address-vector.js';
import { CompletionQueue } from './completion-queue.js';
import type { Context } from './context.js';
import { camelize, KernelObject } from './kernel-object.js';
import { type AccessFlags, accessBits } from './memory-region.js';
import { ProtectionDomain } from './protection-domain.js';
import { SharedReceiveQueue } from './shared-receive-queue.js';
import {
  PreparedWork,
  type RecvWr,
  type ResolvedRecv,
  type ResolvedSend,
  resolveEach,
  resolveRecv,
  resolveSend,
  type SendLimits,
  type SendWr,
} from './work-request.js';

export type { AddressVector };
export type QpType = 'RC' | 'UC' | 'UD';
export type QpState = 'RESET' | 'INIT' | 'RTR' | 'RTS' | 'SQD' | 'SQE' | 'ERR';
export type Mtu = 256 | 512 | 1024 | 2048 | 4096;

const TYPES: Record<QpType, number> = {
  RC: ib_uverbs_qp_type.IB_UVERBS_QPT_RC,
  UC: ib_uverbs_qp_type.IB_UVERBS_QPT_UC,
  UD: ib_uverbs_qp_type.IB_UVERBS_QPT_UD,
};
const STATES: Record<QpState, number> = {
  RESET: ib_qp_state.IB_QPS_RESET,
  INIT: ib_qp_state.IB_QPS_INIT,
  RTR: ib_qp_state.IB_QPS_RTR,
  RTS: ib_qp_state.IB_QPS_RTS,
  SQD: ib_qp_state.IB_QPS_SQD,
  SQE: ib_qp_state.IB_QPS_SQE,
  ERR: ib_qp_state.IB_QPS_ERR,
};
const MTUS: Record<Mtu, number> = {
  256: ib_mtu.IB_MTU_256,
  512: ib_mtu.IB_MTU_512,
  1024: ib_mtu.IB_MTU_1024,
  2048: ib_mtu.IB_MTU_2048,
  4096: ib_mtu.IB_MTU_4096,
};

/** The `ib_send_flags` bits a send work request's booleans stand for. */
const SEND_FLAGS: SendLimits['flags'] = {
  fence: ib_send_flags.IB_SEND_FENCE,
  signaled: ib_send_flags.IB_SEND_SIGNALED,
  solicited: ib_send_flags.IB_SEND_SOLICITED,
  inline: ib_send_flags.IB_SEND_INLINE,
};

export interface QpCapabilities {
  maxSendWr: number;
  maxRecvWr: number;
  maxSendSge: number;
  maxRecvSge: number;
  maxInlineData?: number;
}

export interface QueuePairOptions {
  type: QpType;
  sendCq: CompletionQueue;
  recvCq: CompletionQueue;
  /** Receive from this SRQ instead of the QP's own receive queue. */
  srq?: SharedReceiveQueue;
  cap: QpCapabilities;
  /** Signal every send (IB_UVERBS_QP_CREATE_SQ_SIG_ALL). */
  sqSigAll?: boolean;
  userHandle?: bigint;
}

/** What a MODIFY_QP sets; each attribute given adds its bit to the attribute mask. */
export interface QpAttributes {
  state?: QpState;
  pkeyIndex?: number;
  port?: number;
  qkey?: number;
  access?: AccessFlags;
  pathMtu?: Mtu;
  destQpn?: number;
  rqPsn?: number;
  sqPsn?: number;
  maxRdAtomic?: number;
  maxDestRdAtomic?: number;
  minRnrTimer?: number;
  timeout?: number;
  retryCnt?: number;
  rnrRetry?: number;
  av?: AddressVector;
}

/** The peer of a connected (RC, UC) QP: what ibv_rc_pingpong-style exchanges carry. */
export interface RemoteQp {
  qpNum: number;
  /** The peer's first send PSN: our receive PSN. */
  psn: number;
  /** The peer's GID (RoCE: its IP address as a GID). */
  gid: Uint8Array;
}

export interface ConnectOptions {
  port?: number;
  /** Our GID index (RoCE v2 over IPv4 on rxe: the IPv4-mapped entry). */
  sgidIndex: number;
  /** Our first send PSN (default 0). */
  psn?: number;
  pathMtu?: Mtu;
  /** What the peer may do to our memory through this QP (default: remote write, read and atomics). */
  access?: AccessFlags;
  hopLimit?: number;
}

export class QueuePair extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly type: QpType;
  readonly handle: number;
  /** The QP number peers address. */
  readonly qpNum: number;
  /** What the kernel granted. */
  readonly cap: Readonly<QpCapabilities>;
  readonly path: CallPath;
  readonly driverData: Uint8Array | undefined;
  /** The driver's work-queue rings (rxe, siw), mapped while the object lives. */
  readonly rings: readonly Ring[];

  private constructor(
    pd: ProtectionDomain,
    options: QueuePairOptions,
    outputs: Record<string, unknown>,
    path: CallPath,
    driverData: Uint8Array | undefined,
    rings: Ring[],
  ) {
    super(pd, options.sendCq, options.recvCq, ...(options.srq ? [options.srq] : []));
    this.pd = pd;
    this.type = options.type;
    this.handle = outputs.handle as number;
    this.qpNum = outputs.respQpNum as number;
    this.cap = camelize(outputs.respCap) as QpCapabilities;
    this.path = path;
    this.driverData = driverData;
    this.rings = rings;
  }

  /** @internal use `ProtectionDomain.createQp()` */
  static create(pd: ProtectionDomain, options: QueuePairOptions): QueuePair {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const type = TYPES[options.type];
    if (type === undefined) throw invalidArgValue('options.type', "must be 'RC', 'UC' or 'UD'", options.type);
    const context: Context = KernelObject.checked(pd, ProtectionDomain, 'pd').context;
    for (const key of ['sendCq', 'recvCq'] as const) {
      if (KernelObject.checked(options[key], CompletionQueue, `options.${key}`).context !== context)
        throw invalidArgType(`options.${key}`, 'a CompletionQueue of this context', options[key]);
    }
    if (
      options.srq !== undefined &&
      KernelObject.checked(options.srq, SharedReceiveQueue, 'options.srq').pd.context !== context
    ) {
      throw invalidArgType('options.srq', 'a SharedReceiveQueue of this context', options.srq);
    }
    const c = options.cap;
    const r = context.dispatch.invoke(
      UVERBS_METHOD_QP_CREATE,
      {
        pdHandle: pd.handle,
        sendCqHandle: options.sendCq.handle,
        recvCqHandle: options.recvCq.handle,
        ...(options.srq ? { srqHandle: options.srq.handle } : {}),
        userHandle: options.userHandle ?? 0n,
        cap: {
          max_send_wr: c.maxSendWr,
          max_recv_wr: c.maxRecvWr,
          max_send_sge: c.maxSendSge,
          max_recv_sge: c.maxRecvSge,
          max_inline_data: c.maxInlineData ?? 0,
        },
        type,
        ...(options.sqSigAll ? { flags: 1 << 12 } : {}),
      },
      uhwFor(context.provider, 'createQp'),
    );
    const rings = QueuePair.#mapOrDestroy(context, r.outputs.handle as number, r.udataOut, options.srq !== undefined);
    return new QueuePair(pd, options, r.outputs, r.path, r.udataOut, rings);
  }

  get description(): string {
    return `QueuePair ${this.qpNum}`;
  }

  /** MODIFY_QP with exactly the attributes given; throws the kernel's errno for an illegal transition. */
  modify(attributes: QpAttributes): void {
    this.assertOpen();
    const a = attributes;
    let mask = 0;
    const req: Record<string, unknown> = { qp_handle: this.handle };
    const set = (bit: number, fields: Record<string, unknown>) => {
      mask |= bit;
      Object.assign(req, fields);
    };
    if (a.state !== undefined) {
      const state = STATES[a.state];
      if (state === undefined) throw invalidArgValue('attributes.state', 'must be a QP state name', a.state);
      set(M.IB_QP_STATE, { qp_state: state });
    }
    if (a.pkeyIndex !== undefined) set(M.IB_QP_PKEY_INDEX, { pkey_index: a.pkeyIndex });
    if (a.port !== undefined) set(M.IB_QP_PORT, { port_num: a.port });
    if (a.qkey !== undefined) set(M.IB_QP_QKEY, { qkey: a.qkey });
    if (a.access !== undefined) set(M.IB_QP_ACCESS_FLAGS, { qp_access_flags: accessBits(a.access) });
    if (a.pathMtu !== undefined) {
      const mtu = MTUS[a.pathMtu];
      if (mtu === undefined)
        throw invalidArgValue('attributes.pathMtu', 'must be 256, 512, 1024, 2048 or 4096', a.pathMtu);
      set(M.IB_QP_PATH_MTU, { path_mtu: mtu });
    }
    if (a.destQpn !== undefined) set(M.IB_QP_DEST_QPN, { dest_qp_num: a.destQpn });
    if (a.rqPsn !== undefined) set(M.IB_QP_RQ_PSN, { rq_psn: a.rqPsn });
    if (a.sqPsn !== undefined) set(M.IB_QP_SQ_PSN, { sq_psn: a.sqPsn });
    if (a.maxRdAtomic !== undefined) set(M.IB_QP_MAX_QP_RD_ATOMIC, { max_rd_atomic: a.maxRdAtomic });
    if (a.maxDestRdAtomic !== undefined) set(M.IB_QP_MAX_DEST_RD_ATOMIC, { max_dest_rd_atomic: a.maxDestRdAtomic });
    if (a.minRnrTimer !== undefined) set(M.IB_QP_MIN_RNR_TIMER, { min_rnr_timer: a.minRnrTimer });
    if (a.timeout !== undefined) set(M.IB_QP_TIMEOUT, { timeout: a.timeout });
    if (a.retryCnt !== undefined) set(M.IB_QP_RETRY_CNT, { retry_cnt: a.retryCnt });
    if (a.rnrRetry !== undefined) set(M.IB_QP_RNR_RETRY, { rnr_retry: a.rnrRetry });
    if (a.av !== undefined) {
      // ib_uverbs_qp_dest spells the global route flat
      const { grh, ...rest } = addressFields(a.av, 'attributes.av');
      set(M.IB_QP_AV, { dest: { ...grh, ...rest } });
    }
    if (mask === 0) throw invalidArgValue('attributes', 'must set at least one attribute', attributes);
    req.attr_mask = mask;
    this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_MODIFY_QP, req as never);
  }

  /**
   * RESET -> INIT -> RTR -> RTS to a peer, for RC and UC, with the usual
   * attributes (P_Key index 0, RC: one outstanding read or atomic each way,
   * timeout 14, 7 retries, 7 RNR retries). Each step is one MODIFY_QP; an
   * illegal one fails with the kernel's errno and leaves the QP where it was.
   */
  connect(remote: RemoteQp, options: ConnectOptions): void {
    if (this.type === 'UD') throw invalidArgValue('this', 'is a UD QP: it has no peer to connect to', this.description);
    if (typeof remote !== 'object' || remote === null)
      throw invalidArgType('remote', 'an { qpNum, psn, gid } object', remote);
    const port = options.port ?? 1;
    const rc = this.type === 'RC';
    const access = options.access ?? { localWrite: true, remoteWrite: true, remoteRead: rc, remoteAtomic: rc };
    this.modify({ state: 'INIT', pkeyIndex: 0, port, access });
    this.modify({
      state: 'RTR',
      pathMtu: options.pathMtu ?? 1024,
      destQpn: remote.qpNum,
      rqPsn: remote.psn,
      av: { dgid: remote.gid, sgidIndex: options.sgidIndex, hopLimit: options.hopLimit ?? 64, port },
      ...(rc ? { maxDestRdAtomic: 1, minRnrTimer: 12 } : {}),
    });
    this.modify({
      state: 'RTS',
      sqPsn: options.psn ?? 0,
      ...(rc ? { timeout: 14, retryCnt: 7, rnrRetry: 7, maxRdAtomic: 1 } : {}),
    });
  }

  /** QUERY_QP, camelCased; `state` is the name of the QP's current state. */
  query(): Record<string, unknown> & { state: QpState } {
    this.assertOpen();
    const r = this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_QUERY_QP, {
      qp_handle: this.handle,
      attr_mask: 0x1fffff,
    });
    const out = camelize(r.response) as Record<string, unknown>;
    const state = (Object.keys(STATES) as QpState[]).find((k) => STATES[k] === out.qpState) as QpState;
    return { ...out, state };
  }

  /**
   * Posts send work requests, all or none: each is checked first (opcode
   * allowed on this transport, SGEs inside open regions of this PD, inline
   * size within what the kernel granted), then the driver's datapath writes
   * them and rings the doorbell. ENOMEM when the send queue has too little
   * room (nothing posted); `UverbsUnsupportedError` for a driver whose
   * datapath the library does not have.
   */
  postSend(wrs: SendWr | readonly SendWr[]): void {
    this.assertOpen();
    const datapath = this.pd.context.datapath(this, 'post send');
    datapath.postSend(this, this.#resolveSends(wrs));
  }

  /**
   * Checks and encodes send work requests once, for posting many times:
   * `prepared.post()` writes the same requests as `postSend(wrs)` would,
   * without checking or encoding them again (see {@link PreparedWork} for
   * what each post still checks).
   */
  prepareSend(wrs: SendWr | readonly SendWr[]): PreparedWork {
    this.assertOpen();
    const datapath = this.pd.context.datapath(this, 'post send');
    const resolved = this.#resolveSends(wrs);
    const post = datapath.prepareSend?.(this, resolved) ?? (() => datapath.postSend(this, resolved));
    return new PreparedWork(() => this.assertOpen(), this.pd, resolved, post);
  }

  /** Posts receive work requests to the QP's own receive queue, all or none (ENOMEM when it is full). */
  postRecv(wrs: RecvWr | readonly RecvWr[]): void {
    this.assertOpen();
    this.#receiveDatapath().postRecv(this, this.#resolveRecvs(wrs));
  }

  /** `postRecv`, checked and encoded once: see {@link prepareSend}. */
  prepareRecv(wrs: RecvWr | readonly RecvWr[]): PreparedWork {
    this.assertOpen();
    const datapath = this.#receiveDatapath();
    const resolved = this.#resolveRecvs(wrs);
    const post = datapath.prepareRecv?.(this, resolved) ?? (() => datapath.postRecv(this, resolved));
    return new PreparedWork(() => this.assertOpen(), this.pd, resolved, post);
  }

  #resolveSends(wrs: SendWr | readonly SendWr[]): ResolvedSend[] {
    const limits: SendLimits = {
      type: this.type,
      pd: this.pd,
      maxSge: this.cap.maxSendSge,
      maxInline: this.cap.maxInlineData ?? 0,
      flags: SEND_FLAGS,
      owner: this.description,
      capabilities: () => this.pd.context.capabilities(),
    };
    return resolveEach(wrs, (wr, name) => resolveSend(wr, name, limits));
  }

  #resolveRecvs(wrs: RecvWr | readonly RecvWr[]): ResolvedRecv[] {
    return resolveEach(wrs, (wr, name) => resolveRecv(wr, name, this.pd, this.cap.maxRecvSge));
  }

  #receiveDatapath(): Datapath {
    if (!this.rings.some((r) => r.name === 'rq') && this.pd.context.provider?.datapath !== undefined) {
      throw invalidArgValue('this', 'receives through its SRQ: post to the SRQ', this.description);
    }
    return this.pd.context.datapath(this, 'post recv');
  }

  /** Maps the object's rings; if that fails, destroys the kernel object too (nothing half-created). */
  static #mapOrDestroy(context: Context, handle: number, driverData: Uint8Array | undefined, onSrq: boolean): Ring[] {
    try {
      // a QP on an SRQ receives through the SRQ's ring; what the driver says of its own RQ then means
      // nothing (siw reports num_rqe and a zero key, which is another object's offset)
      return context.mapRings('createQp', driverData, `QueuePair ${handle}`, onSrq ? ['rq'] : []);
    } catch (error) {
      context.dispatch.invoke(UVERBS_METHOD_QP_DESTROY, { handle });
      throw error;
    }
  }

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_QP_DESTROY, { handle: this.handle });
    this.released();
  }

  protected override released(): void {
    for (const ring of this.rings) ring.unmap();
  }
}

/**
 * A queue pair (RC, UC, UD): created through UVERBS_METHOD_QP_CREATE,
 * moved through its state machine with the legacy MODIFY_QP write (the
 * attribute mask is computed from the attributes given), read back with
 * QUERY_QP, destroyed through UVERBS_METHOD_QP_DESTROY. A UD QP joins and
 * leaves multicast groups with the ATTACH_MCAST / DETACH_MCAST writes.
 *
 * The QP keeps the state of every transition it made: a post its state
 * cannot take is refused before anything reaches the ring (the IB spec's
 * rule, and rxe's: rxe_post_send refuses a send below RTS, but only at
 * the doorbell, after the work request is already in the ring).
 */

import { ib_uverbs_qp_type } from '../abi/constants.js';
import { ib_mtu, ib_qp_state, ib_send_flags, ib_qp_attr_mask as M } from '../abi/kernel-internal.js';
import { bytesLength, type Decoded } from '../abi/layout.js';
import { UVERBS_METHOD_QP_CREATE, UVERBS_METHOD_QP_DESTROY } from '../abi/methods.js';
import type { ib_uverbs_qp_cap, ib_uverbs_query_qp_resp } from '../abi/structs.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { EINVAL } from '../errno.js';
import { type CallPath, checkPort, invalidArgType, invalidArgValue, outOfRange, UverbsError } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import type { Datapath } from '../providers/provider.js';
import type { Ring } from '../transport/ring.js';
import { type AddressVector, addressFields } from './address-vector.js';
import { CompletionQueue } from './completion-queue.js';
import type { Context } from './context.js';
import { KernelObject } from './kernel-object.js';
import { type AccessFlags, accessBits, accessFlags } from './memory-region.js';
import { ProtectionDomain } from './protection-domain.js';
import { SharedReceiveQueue } from './shared-receive-queue.js';
import {
  own,
  PreparedWork,
  type RecvWr,
  type ResolvedRecv,
  type ResolvedSend,
  resolveEach,
  resolveRecv,
  resolveSends,
  type SendLimits,
  type SendWr,
  withWrIds,
} from './work-request.js';

export type { AddressVector };
export type QpType = 'RC' | 'UC' | 'UD';
export type QpState = 'RESET' | 'INIT' | 'RTR' | 'RTS' | 'SQD' | 'SQE' | 'ERR';
export type Mtu = 256 | 512 | 1024 | 2048 | 4096;
/** The transitions `connect()` and `activate()` take, each one MODIFY_QP. */
export type QpStep = 'INIT' | 'RTR' | 'RTS';

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

/** The name of a number the kernel reported, from one of the tables above. */
function nameOf<K extends string | number>(table: Record<K, number>, value: unknown): K | undefined {
  return (Object.keys(table) as K[]).find((k) => table[k] === value);
}

/**
 * Whether `value` is an MTU in bytes that `connect()`'s and `modify()`'s
 * `pathMtu` take (256, 512, 1024, 2048, 4096): narrows `queryPort()`'s
 * `activeMtu`, which is the kernel's code where it names no such size.
 */
export function isMtu(value: unknown): value is Mtu {
  return typeof value === 'number' && Object.hasOwn(MTUS, value);
}

/** The MTU in bytes for the `ib_mtu` the kernel reported; undefined for 0 (none set yet). */
function mtuOf(value: number): Mtu | undefined {
  const name = nameOf(MTUS, value);
  return name === undefined ? undefined : (Number(name) as Mtu);
}

/**
 * The states that take a post, by the IB spec's table of verbs per QP
 * state: RESET takes neither a send nor a receive, INIT and RTR take
 * receives only; SQE and ERR take both (they complete flushed). rxe says
 * the same (rxe_verbs.c: rxe_post_send EINVAL below RTS, rxe_post_recv
 * below INIT), but for a user QP only at the doorbell, after the work
 * request is in the ring, where the kernel later finds and runs it.
 */
const POSTABLE: Record<'send' | 'recv', ReadonlySet<QpState>> = {
  send: new Set<QpState>(['RTS', 'SQD', 'SQE', 'ERR']),
  recv: new Set<QpState>(['INIT', 'RTR', 'RTS', 'SQD', 'SQE', 'ERR']),
};

/** The most outstanding RDMA reads and atomics `connect()` asks for by default, each way. */
const RD_ATOMIC_DEFAULT_CAP = 16;

/** The `ib_send_flags` bits a send work request's booleans stand for. */
const SEND_FLAGS: SendLimits['flags'] = {
  fence: ib_send_flags.IB_SEND_FENCE,
  signaled: ib_send_flags.IB_SEND_SIGNALED,
  solicited: ib_send_flags.IB_SEND_SOLICITED,
  inline: ib_send_flags.IB_SEND_INLINE,
};

/**
 * A post, `connect()` or `activate()` the QP's state cannot take, refused
 * before any syscall and before anything reached the ring: nothing was
 * posted and nothing will be. `code` is 'EINVAL' (what the kernel says of
 * such a post), `syscall` 'none', `state` the QP's state: the library's
 * record of its own transitions, confirmed with QUERY_QP wherever the
 * device could have moved the QP since (to ERR, on an error).
 */
export class UverbsQpStateError extends UverbsError {
  readonly state: QpState;

  constructor(owner: string, method: string, state: QpState, needs: string, path: CallPath) {
    super({ errno: EINVAL, syscall: 'none', object: owner, method, path });
    this.state = state;
    this.message = `${owner}.${method} EINVAL: the QP is in ${state}; ${needs}`;
  }

  override get name(): string {
    return 'UverbsQpStateError';
  }
}

/**
 * A step of `connect()` or `activate()` the kernel refused. `step` is the
 * transition (INIT, RTR, RTS); `errno`, `code`, `syscall`, `object`,
 * `method` and `path` are the kernel's answer to its MODIFY_QP, which is
 * also the `cause`. `state` is where the QP was left: where it started
 * (RESET or INIT) when the first step was refused, since a refused
 * MODIFY_QP changes nothing; after a later step, RESET (the library moved
 * it back there, a transition every state may take, discarding any posted
 * receives), or, should that fail too, what QUERY_QP says (undefined if
 * that failed as well).
 */
export class UverbsTransitionError extends UverbsError {
  readonly step: QpStep;
  readonly state: QpState | undefined;
  override readonly cause: UverbsError;

  constructor(owner: string, call: string, step: QpStep, cause: UverbsError, state: QpState | undefined) {
    super({ errno: cause.errno, syscall: cause.syscall, object: cause.object, method: cause.method, path: cause.path });
    this.step = step;
    this.state = state;
    this.cause = cause;
    const left = state === 'RESET' ? 'moved back to RESET' : `left in ${state ?? 'a state QUERY_QP could not tell'}`;
    this.message = `${owner}.${call}: the kernel refused ${step} (${cause.method} ${cause.code}, ${cause.path}); the QP was ${left}`;
  }

  override get name(): string {
    return 'UverbsTransitionError';
  }

  override get unsupported(): boolean {
    return this.cause.unsupported;
  }
}

export interface QpCapabilities {
  maxSendWr: number;
  maxRecvWr: number;
  maxSendSge: number;
  maxRecvSge: number;
  maxInlineData?: number;
}

/** The kernel's `ib_uverbs_qp_cap` as the object model names it (what `camelize` gives, field by field). */
function capabilities(cap: Decoded<typeof ib_uverbs_qp_cap> | undefined): QpCapabilities | undefined {
  if (cap === undefined) return undefined;
  return {
    maxSendWr: cap.max_send_wr,
    maxRecvWr: cap.max_recv_wr,
    maxSendSge: cap.max_send_sge,
    maxRecvSge: cap.max_recv_sge,
    maxInlineData: cap.max_inline_data,
  };
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
  /** What a peer may do through this QP (no localWrite rule here: see {@link AccessFlags}). */
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

/** An address vector as QUERY_QP reports it (`ib_uverbs_qp_dest`): every field, by the names `AddressVector` uses. */
export interface QpAddressVector extends Required<AddressVector> {
  dlid: number;
  srcPathBits: number;
  staticRate: number;
  /** Whether the global route (GRH: dgid, sgidIndex, hopLimit, trafficClass, flowLabel) is set. */
  isGlobal: boolean;
}

/**
 * What QUERY_QP reports (`ib_uverbs_query_qp_resp`), by the names `modify()`
 * and `connect()` take: enums as names, the MTU in bytes. The path
 * migration state (APM) is not reported.
 */
export interface QpInfo {
  state: QpState;
  /** The path MTU in bytes; undefined until one was set (the kernel reports 0). */
  pathMtu: Mtu | undefined;
  qkey: number;
  rqPsn: number;
  sqPsn: number;
  destQpn: number;
  access: Required<AccessFlags>;
  pkeyIndex: number;
  altPkeyIndex: number;
  /** In SQD: whether the send queue is still draining. */
  sqDraining: boolean;
  maxRdAtomic: number;
  maxDestRdAtomic: number;
  minRnrTimer: number;
  port: number;
  timeout: number;
  retryCnt: number;
  rnrRetry: number;
  altPort: number;
  altTimeout: number;
  sqSigAll: boolean;
  cap: Required<QpCapabilities>;
  /** The primary path. */
  av: QpAddressVector;
  /** The alternate path (APM). */
  altAv: QpAddressVector;
}

/** The peer of a connected (RC, UC) QP: what ibv_rc_pingpong-style exchanges carry. */
export interface RemoteQp {
  /** The peer's QP number (24 bits). */
  qpNum: number;
  /** The peer's first send PSN (24 bits): our receive PSN. */
  psn: number;
  /** The peer's GID, 16 bytes (RoCE: its IP address as a GID). */
  gid: Uint8Array;
}

/**
 * `connect()`'s parameters, each with libibverbs' meaning (`ibv_qp_attr`)
 * and a fixed default; each is range-checked before any syscall
 * (ERR_OUT_OF_RANGE). The RC-only ones are refused on a UC QP
 * (ERR_INVALID_ARG_VALUE): UC has no acknowledgements, retries or reads.
 * Should the kernel refuse the RTR or RTS step, `connect()` moves the QP
 * back to RESET, which discards the receives posted in INIT; a refused
 * INIT step leaves the QP, and its receives, where they were.
 */
/**
 * What `connect()` takes for each option left out (documented one by one
 * on {@link ConnectOptions}); `maxRdAtomic` / `maxDestRdAtomic` default to
 * the device's `max_qp_init_rd_atom` / `max_qp_rd_atom`, at most 16.
 */
export const CONNECT_DEFAULTS = Object.freeze({
  port: 1,
  pkeyIndex: 0,
  psn: 0,
  pathMtu: 1024,
  hopLimit: 64,
  trafficClass: 0,
  flowLabel: 0,
  sl: 0,
  timeout: 14,
  retryCnt: 7,
  rnrRetry: 7,
  minRnrTimer: 12,
} as const);
const D = CONNECT_DEFAULTS;

export interface ConnectOptions {
  /** Our GID index, 0..255 (RoCE v2 over IPv4 on rxe: the IPv4-mapped entry). Required. */
  sgidIndex: number;
  /** The port, 1..255 (default 1). */
  port?: number;
  /** The P_Key index, 0..65535 (default 0). */
  pkeyIndex?: number;
  /** Our first send PSN, 24 bits (default 0). */
  psn?: number;
  /**
   * The path MTU in bytes (default 1024, as ibv_rc_pingpong: every
   * Ethernet of 1500 bytes carries it). Both ends must use the same; the
   * most a port carries is its active MTU (`queryPort`).
   */
  pathMtu?: Mtu;
  /** What the peer may do through this QP (default: remote write; RC adds remote read and atomics; and local write). */
  access?: AccessFlags;
  /**
   * The GRH hop limit, 0..255 (default 64). On RoCE the kernel replaces it
   * with its route's hop limit, the IP TTL (ib_resolve_eth_dmac): `query()`
   * shows what it took (64 on rxe in the test VMs, whatever was asked).
   */
  hopLimit?: number;
  /** The GRH traffic class (RoCE v2: the IP DSCP and ECN bits), 0..255 (default 0). */
  trafficClass?: number;
  /** The GRH flow label, 20 bits (default 0). */
  flowLabel?: number;
  /** The service level, 0..15 (default 0); rxe keeps none (`query()` reports 0). */
  sl?: number;
  /** RC: the local ACK timeout, 4.096 µs × 2^timeout; 0..31, 0 waits forever (default 14: about 67 ms). */
  timeout?: number;
  /** RC: how many times a request is retransmitted after a timeout before it fails, 0..7 (default 7). */
  retryCnt?: number;
  /**
   * RC: how many times a request the peer answers "receiver not ready"
   * (RNR NAK: no receive posted) is retried, 0..7; 7 retries forever
   * (default 7, as ibv_rc_pingpong and perftest, so a peer that posts its
   * receives late is waited for). With 7, a SEND to a peer that never
   * posts a receive never completes, and the QP's later sends wait behind
   * it; give 0..6 for a bounded wait that fails with IB_WC_RNR_RETRY_EXC_ERR.
   */
  rnrRetry?: number;
  /**
   * RC: how long the peer is told to wait before retrying after our RNR
   * NAK, as `ibv_qp_attr.min_rnr_timer` encodes it: 0..31, 0 is 655.36 ms,
   * 1 is 0.01 ms up to 31, 491.52 ms (default 12: 0.64 ms).
   */
  minRnrTimer?: number;
  /**
   * RC: how many RDMA reads and atomics this QP may have outstanding as the
   * initiator, 0..255 (default: the device's `max_qp_init_rd_atom`, at most
   * 16). More than the peer's `maxDestRdAtomic` is never useful.
   */
  maxRdAtomic?: number;
  /**
   * RC: how many RDMA reads and atomics from the peer this QP serves at
   * once (responder resources), 0..255 (default: the device's
   * `max_qp_rd_atom`, at most 16). The kernel may round both up (rxe: to a
   * power of two); `query()` says what it took.
   */
  maxDestRdAtomic?: number;
}

/** The options of `connect()` only an RC QP takes. */
const RC_ONLY = ['timeout', 'retryCnt', 'rnrRetry', 'minRnrTimer', 'maxRdAtomic', 'maxDestRdAtomic'] as const;

/** `activate()`'s parameters, for a UD QP. */
export interface ActivateOptions {
  /** The Q_Key (32 bits): a datagram to this QP must carry it. Required. */
  qkey: number;
  /** The port, 1..255 (default 1). */
  port?: number;
  /** The P_Key index, 0..65535 (default 0). */
  pkeyIndex?: number;
  /** Our first send PSN, 24 bits (default 0). */
  psn?: number;
}

/** An integer option in [min, max], or its default (none: required); ERR_OUT_OF_RANGE otherwise. */
function intOption(name: string, value: unknown, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer >= ${min} and <= ${max}`, value);
  }
  return value;
}

/** Whether a GID is a multicast address, as the kernel decides (rdma_is_multicast_addr: ff00::/8, or IPv4-mapped 224.0.0.0/4). */
function isMulticast(gid: Uint8Array): boolean {
  if (gid[0] === 0xff) return true;
  const v4mapped = gid.subarray(0, 10).every((b) => b === 0) && gid[10] === 0xff && gid[11] === 0xff;
  return v4mapped && ((gid[12] ?? 0) & 0xf0) === 0xe0;
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
  /**
   * @internal created with `sqSigAll`: siw's datapath then marks every SQE signalled itself (siw
   * applies the QP's signal-all only to kernel QPs' work requests, siw_verbs.c siw_post_send).
   */
  readonly sqSigAll: boolean;
  /**
   * The state of the library's record: what the last MODIFY_QP moved the
   * QP to, or QUERY_QP last said; undefined after a MODIFY_QP the kernel
   * refused (asked again before it matters).
   */
  #state: QpState | undefined = 'RESET';
  /** The multicast groups this QP is attached to, by `gid/lid`. */
  readonly #groups = new Map<string, { gid: Uint8Array; lid: number }>();

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
    this.cap = capabilities(outputs.respCap as Decoded<typeof ib_uverbs_qp_cap> | undefined) as QpCapabilities;
    this.path = path;
    this.driverData = driverData;
    this.rings = rings;
    this.sqSigAll = options.sqSigAll === true;
  }

  /** @internal use `ProtectionDomain.createQp()` */
  static create(pd: ProtectionDomain, options: QueuePairOptions): QueuePair {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const type = own(TYPES, options.type);
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
        // an optional argument left undefined is not sent (no spread of a temporary object per call)
        srqHandle: options.srq === undefined ? undefined : options.srq.handle,
        userHandle: options.userHandle ?? 0n,
        cap: {
          max_send_wr: c.maxSendWr,
          max_recv_wr: c.maxRecvWr,
          max_send_sge: c.maxSendSge,
          max_recv_sge: c.maxRecvSge,
          max_inline_data: c.maxInlineData ?? 0,
        },
        type,
        flags: options.sqSigAll ? 1 << 12 : undefined,
      },
      uhwFor(context.provider, 'createQp'),
    );
    const rings = QueuePair.#mapOrDestroy(context, r.outputs.handle as number, r.udataOut, options.srq !== undefined);
    return new QueuePair(pd, options, r.outputs, r.path, r.udataOut, rings);
  }

  get description(): string {
    return `QueuePair ${this.qpNum}`;
  }

  /**
   * MODIFY_QP with exactly the attributes given; throws the kernel's errno
   * for an illegal transition. The QP records the state it moved to (what
   * its posts are checked against).
   */
  modify(attributes: QpAttributes): void {
    this.assertOpen();
    const request = this.#request(attributes);
    try {
      this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_MODIFY_QP, request as never);
    } catch (error) {
      // the kernel refused: the record no longer vouches for the state (QUERY_QP before it is relied on)
      if (attributes.state !== undefined) this.#state = undefined;
      throw error;
    }
    if (attributes.state !== undefined) this.#state = attributes.state;
  }

  /**
   * @internal MODIFY_QP with a request the connection manager built from
   * the kernel's own INIT_QP_ATTR answer (`ib_uverbs_modify_qp` fields,
   * snake_case, `attr_mask` included), recording the state it moves to
   * exactly as `modify()` does.
   */
  modifyFromKernel(request: Record<string, unknown>, state: QpState | undefined): void {
    this.assertOpen();
    try {
      this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_MODIFY_QP, {
        ...request,
        qp_handle: this.handle,
      } as never);
    } catch (error) {
      if (state !== undefined) this.#state = undefined;
      throw error;
    }
    if (state !== undefined) this.#state = state;
  }

  /** @internal the state the library's record holds; undefined when it does not vouch for one. */
  get recordedState(): QpState | undefined {
    return this.#state;
  }

  /**
   * @internal the kernel moved the QP itself (the iWARP connection manager
   * takes it to RTS when the connection is made): record it.
   */
  recordKernelState(state: QpState): void {
    this.#state = state;
  }

  /** The MODIFY_QP request for `attributes`, checked (no syscall). */
  #request(attributes: QpAttributes): Record<string, unknown> {
    if (typeof attributes !== 'object' || attributes === null) {
      throw invalidArgType('attributes', 'an object', attributes);
    }
    const a = attributes;
    let mask = 0;
    const req: Record<string, unknown> = { qp_handle: this.handle };
    const set = (bit: number, fields: Record<string, unknown>) => {
      mask |= bit;
      Object.assign(req, fields);
    };
    if (a.state !== undefined) {
      const state = own(STATES, a.state);
      if (state === undefined) throw invalidArgValue('attributes.state', 'must be a QP state name', a.state);
      set(M.IB_QP_STATE, { qp_state: state });
    }
    if (a.pkeyIndex !== undefined) set(M.IB_QP_PKEY_INDEX, { pkey_index: a.pkeyIndex });
    if (a.port !== undefined) set(M.IB_QP_PORT, { port_num: a.port });
    if (a.qkey !== undefined) set(M.IB_QP_QKEY, { qkey: a.qkey });
    if (a.access !== undefined) set(M.IB_QP_ACCESS_FLAGS, { qp_access_flags: accessBits(a.access, 'qp') });
    if (a.pathMtu !== undefined) {
      const mtu = typeof a.pathMtu === 'number' ? own(MTUS, a.pathMtu) : undefined;
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
    return req;
  }

  /**
   * Connects an RC or UC QP to its peer: RESET (or INIT) -> INIT -> RTR ->
   * RTS, one MODIFY_QP each, with the parameters of {@link ConnectOptions}
   * (their defaults are written there). Every argument is checked before
   * any syscall. All or none: if the kernel refuses a step, a
   * {@link UverbsTransitionError} names the step, the kernel's errno and the
   * state the QP was left in. A refused first step (INIT) changed nothing:
   * the QP stays where it was, RESET or INIT, and receives posted in INIT
   * stay posted. A refused later step (RTR, RTS) moves the QP back to
   * RESET, which discards the receives posted in INIT. A QP not in RESET or
   * INIT is refused first ({@link UverbsQpStateError}, no syscall). For the
   * defaults of `maxRdAtomic` and `maxDestRdAtomic` the device is queried
   * (one QUERY_DEVICE) when they are not given.
   */
  connect(remote: RemoteQp, options: ConnectOptions): void {
    this.assertOpen();
    if (this.type === 'UD') {
      throw invalidArgValue('this', 'is a UD QP: it has no peer to connect to (activate() it)', this.description);
    }
    if (typeof remote !== 'object' || remote === null) {
      throw invalidArgType('remote', 'an { qpNum, psn, gid } object', remote);
    }
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const o = options;
    const rc = this.type === 'RC';
    if (!rc) {
      for (const key of RC_ONLY) {
        if (o[key] !== undefined) {
          throw invalidArgValue(
            `options.${key}`,
            'is for RC QPs only (UC has no acknowledgements, retries or reads)',
            o[key],
          );
        }
      }
    }
    const destQpn = intOption('remote.qpNum', remote.qpNum, 0, 0xffffff);
    const rqPsn = intOption('remote.psn', remote.psn, 0, 0xffffff);
    // read once, its length by the intrinsic getter: what is checked here is what RTR sends
    const gid = remote.gid;
    if (bytesLength(gid) !== 16) throw invalidArgType('remote.gid', 'a 16-byte Uint8Array', gid);
    const port = o.port ?? D.port;
    checkPort('options.port', port);
    const sgidIndex = intOption('options.sgidIndex', o.sgidIndex, 0, 255);
    const pkeyIndex = intOption('options.pkeyIndex', o.pkeyIndex, 0, 0xffff, D.pkeyIndex);
    const sqPsn = intOption('options.psn', o.psn, 0, 0xffffff, D.psn);
    const pathMtu = o.pathMtu ?? D.pathMtu;
    if (typeof pathMtu !== 'number' || own(MTUS, pathMtu) === undefined) {
      throw invalidArgValue('options.pathMtu', 'must be 256, 512, 1024, 2048 or 4096', o.pathMtu);
    }
    const av: AddressVector = {
      dgid: gid,
      sgidIndex,
      hopLimit: intOption('options.hopLimit', o.hopLimit, 0, 255, D.hopLimit),
      trafficClass: intOption('options.trafficClass', o.trafficClass, 0, 255, D.trafficClass),
      flowLabel: intOption('options.flowLabel', o.flowLabel, 0, 0xfffff, D.flowLabel),
      sl: intOption('options.sl', o.sl, 0, 15, D.sl),
      port,
    };
    const timeout = intOption('options.timeout', o.timeout, 0, 31, D.timeout);
    const retryCnt = intOption('options.retryCnt', o.retryCnt, 0, 7, D.retryCnt);
    const rnrRetry = intOption('options.rnrRetry', o.rnrRetry, 0, 7, D.rnrRetry);
    const minRnrTimer = intOption('options.minRnrTimer', o.minRnrTimer, 0, 31, D.minRnrTimer);
    const maxRdAtomic = intOption('options.maxRdAtomic', o.maxRdAtomic, 0, 255, -1);
    const maxDestRdAtomic = intOption('options.maxDestRdAtomic', o.maxDestRdAtomic, 0, 255, -1);
    const access = o.access ?? { localWrite: true, remoteWrite: true, remoteRead: rc, remoteAtomic: rc };
    accessBits(access, 'qp');

    const start = this.#assertWalkable('connect');
    const depths = rc && (maxRdAtomic < 0 || maxDestRdAtomic < 0) ? this.#atomicDepths() : undefined;
    this.#walk('connect', start, [
      ['INIT', { state: 'INIT', pkeyIndex, port, access }],
      [
        'RTR',
        {
          state: 'RTR',
          pathMtu,
          destQpn,
          rqPsn,
          av,
          ...(rc
            ? { maxDestRdAtomic: maxDestRdAtomic < 0 ? (depths?.responder ?? 1) : maxDestRdAtomic, minRnrTimer }
            : {}),
        },
      ],
      [
        'RTS',
        {
          state: 'RTS',
          sqPsn,
          ...(rc
            ? { timeout, retryCnt, rnrRetry, maxRdAtomic: maxRdAtomic < 0 ? (depths?.initiator ?? 1) : maxRdAtomic }
            : {}),
        },
      ],
    ]);
  }

  /**
   * Makes a UD QP ready to send and receive datagrams: RESET (or INIT) ->
   * INIT (P_Key index, port, Q_Key) -> RTR -> RTS (send PSN), one MODIFY_QP
   * each; checked and all or none as {@link connect} is.
   */
  activate(options: ActivateOptions): void {
    this.assertOpen();
    if (this.type !== 'UD') {
      throw invalidArgValue('this', `is an ${this.type} QP: activate() is for UD (connect() it)`, this.description);
    }
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const qkey = intOption('options.qkey', options.qkey, 0, 0xffff_ffff);
    const port = options.port ?? 1;
    checkPort('options.port', port);
    const pkeyIndex = intOption('options.pkeyIndex', options.pkeyIndex, 0, 0xffff, 0);
    const sqPsn = intOption('options.psn', options.psn, 0, 0xffffff, 0);
    const start = this.#assertWalkable('activate');
    this.#walk('activate', start, [
      ['INIT', { state: 'INIT', pkeyIndex, port, qkey }],
      ['RTR', { state: 'RTR' }],
      ['RTS', { state: 'RTS', sqPsn }],
    ]);
  }

  /** connect() and activate() start from RESET or INIT; anything else is refused before any syscall. Returns the state. */
  #assertWalkable(call: string): QpState {
    const state = this.#state ?? this.query().state;
    if (state !== 'RESET' && state !== 'INIT') {
      throw new UverbsQpStateError(
        this.description,
        call,
        state,
        `${call}() starts from RESET or INIT (modify({ state: 'RESET' }) first); nothing was changed`,
        'write',
      );
    }
    return state;
  }

  /**
   * The steps in order, from `start`; the first the kernel refuses is thrown
   * as a UverbsTransitionError. A refused first step changed nothing (a
   * MODIFY_QP the kernel refuses leaves the QP as it was), so the QP stays
   * in `start` (INIT keeps the receives posted there); a refused later step
   * sends the QP back to RESET, which discards them.
   */
  #walk(call: string, start: QpState, steps: readonly (readonly [QpStep, QpAttributes])[]): void {
    for (const [, attributes] of steps) this.#request(attributes); // every step checked before the first syscall
    for (const [i, [step, attributes]] of steps.entries()) {
      try {
        this.modify(attributes);
      } catch (error) {
        if (!(error instanceof UverbsError)) throw error;
        throw new UverbsTransitionError(this.description, call, step, error, i === 0 ? start : this.#backToReset());
      }
    }
  }

  /** RESET is a transition every state may take (ib_modify_qp_is_ok); if even it fails, what QUERY_QP says. */
  #backToReset(): QpState | undefined {
    try {
      this.modify({ state: 'RESET' });
      return 'RESET';
    } catch {
      try {
        return this.query().state;
      } catch {
        return undefined;
      }
    }
  }

  /** The device's RDMA read/atomic depths (initiator, responder), capped for connect()'s defaults. */
  #atomicDepths(): { initiator: number; responder: number } {
    const r = this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_EX_CMD_QUERY_DEVICE, {});
    const base = r.response?.base as { max_qp_init_rd_atom: number; max_qp_rd_atom: number };
    return {
      initiator: Math.min(base.max_qp_init_rd_atom, RD_ATOMIC_DEFAULT_CAP),
      responder: Math.min(base.max_qp_rd_atom, RD_ATOMIC_DEFAULT_CAP),
    };
  }

  /** QUERY_QP, by the names `modify()` and `connect()` take (see {@link QpInfo}); the QP's state record follows it. */
  query(): QpInfo {
    this.assertOpen();
    const r = this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_QUERY_QP, {
      qp_handle: this.handle,
      attr_mask: 0x1fffff,
    });
    const q = r.response as QueryQpResponse;
    const state = nameOf(STATES, q.qp_state) as QpState;
    this.#state = state;
    return {
      state,
      pathMtu: mtuOf(q.path_mtu),
      qkey: q.qkey,
      rqPsn: q.rq_psn,
      sqPsn: q.sq_psn,
      destQpn: q.dest_qp_num,
      access: accessFlags(q.qp_access_flags),
      pkeyIndex: q.pkey_index,
      altPkeyIndex: q.alt_pkey_index,
      sqDraining: q.sq_draining !== 0,
      maxRdAtomic: q.max_rd_atomic,
      maxDestRdAtomic: q.max_dest_rd_atomic,
      minRnrTimer: q.min_rnr_timer,
      port: q.port_num,
      timeout: q.timeout,
      retryCnt: q.retry_cnt,
      rnrRetry: q.rnr_retry,
      altPort: q.alt_port_num,
      altTimeout: q.alt_timeout,
      sqSigAll: q.sq_sig_all !== 0,
      cap: {
        maxSendWr: q.max_send_wr,
        maxRecvWr: q.max_recv_wr,
        maxSendSge: q.max_send_sge,
        maxRecvSge: q.max_recv_sge,
        maxInlineData: q.max_inline_data,
      },
      av: addressVectorOf(q.dest),
      altAv: addressVectorOf(q.alt_dest),
    };
  }

  /**
   * Joins the multicast group `gid` (16 bytes; ff00::/8, or an IPv4-mapped
   * multicast address on RoCE) with multicast LID `lid` (0 on RoCE): the
   * QP then receives datagrams sent to the group. UD QPs only; checked
   * before any syscall. Attaching twice is one attachment (the kernel keeps
   * a list). `close()` detaches every group first: the kernel refuses to
   * destroy a QP still attached (EBUSY).
   */
  attachMulticast(gid: Uint8Array, lid = 0): void {
    this.assertOpen();
    const request = this.#multicast(gid, lid);
    this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_ATTACH_MCAST, request);
    this.#groups.set(groupKey(request.gid, lid), { gid: request.gid, lid });
  }

  /** Leaves a group {@link attachMulticast} joined; one this QP is not in is the kernel's EINVAL. */
  detachMulticast(gid: Uint8Array, lid = 0): void {
    this.assertOpen();
    const request = this.#multicast(gid, lid);
    this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_DETACH_MCAST, request);
    this.#groups.delete(groupKey(request.gid, lid));
  }

  #multicast(gid: Uint8Array, lid: number): { gid: Uint8Array; qp_handle: number; mlid: number } {
    if (this.type !== 'UD') {
      throw invalidArgValue('this', `is an ${this.type} QP: only a UD QP joins multicast groups`, this.description);
    }
    if (bytesLength(gid) !== 16) throw invalidArgType('gid', 'a 16-byte Uint8Array', gid);
    if (!isMulticast(gid)) {
      throw invalidArgValue('gid', 'must be a multicast GID (ff00::/8, or IPv4-mapped 224.0.0.0/4)', gid);
    }
    const mlid = intOption('lid', lid, 0, 0xffff, 0);
    return { gid: gid.slice(), qp_handle: this.handle, mlid };
  }

  /**
   * Posts send work requests, all or none: each is checked first (opcode
   * allowed on this transport, SGEs inside open regions of this PD, inline
   * size within what the kernel granted), then the QP's state (a send
   * needs RTS, SQD, SQE or ERR: {@link UverbsQpStateError} otherwise, with
   * nothing written), then the driver's datapath writes them and rings the
   * doorbell. ENOMEM when the send queue has too little room (nothing
   * posted); `UverbsUnsupportedError` for a driver whose datapath the
   * library does not have. A batch binds a window at most once
   * (ERR_INVALID_ARG_VALUE otherwise).
   *
   * One error does not mean "nothing happened": `UverbsDoorbellError`
   * (`posted`: every request of the call) says the requests are in the ring
   * but the doorbell write failed (after retrying EINTR and EAGAIN); they
   * run at the next doorbell (the next post), and the windows they bind
   * have their new keys. Do not post them again.
   */
  postSend(wrs: SendWr | readonly SendWr[]): void {
    this.assertOpen();
    const datapath = this.pd.context.datapath(this, 'post send');
    const resolved = this.#resolveSends(wrs);
    this.#assertPostable('send');
    datapath.postSend(this, resolved);
  }

  /**
   * Checks and encodes send work requests once, for posting many times:
   * `prepared.post()` writes the same requests as `postSend(wrs)` would,
   * without checking or encoding them again (see {@link PreparedWork} for
   * what each post still checks; the QP's state is one).
   */
  prepareSend(wrs: SendWr | readonly SendWr[]): PreparedWork {
    this.assertOpen();
    const datapath = this.pd.context.datapath(this, 'post send');
    const resolved = this.#resolveSends(wrs);
    const post = datapath.prepareSend?.(this, resolved) ?? ((ids) => datapath.postSend(this, withWrIds(resolved, ids)));
    return new PreparedWork(() => this.#assertPostable('send'), this.pd, resolved, post);
  }

  /**
   * Posts receive work requests to the QP's own receive queue, all or none
   * (ENOMEM when it is full); a QP in RESET takes none
   * ({@link UverbsQpStateError}, nothing written).
   */
  postRecv(wrs: RecvWr | readonly RecvWr[]): void {
    this.assertOpen();
    const datapath = this.#receiveDatapath();
    const resolved = this.#resolveRecvs(wrs);
    this.#assertPostable('recv');
    datapath.postRecv(this, resolved);
  }

  /** `postRecv`, checked and encoded once: see {@link prepareSend}. */
  prepareRecv(wrs: RecvWr | readonly RecvWr[]): PreparedWork {
    this.assertOpen();
    const datapath = this.#receiveDatapath();
    const resolved = this.#resolveRecvs(wrs);
    const post = datapath.prepareRecv?.(this, resolved) ?? ((ids) => datapath.postRecv(this, withWrIds(resolved, ids)));
    return new PreparedWork(() => this.#assertPostable('recv'), this.pd, resolved, post);
  }

  /**
   * Refuses, before anything reaches the ring, a post the QP's state cannot
   * take. The record is enough to accept: the device moves a QP only to
   * states that take posts (ERR, SQE). To refuse, it is enough only in
   * RESET, which nothing but a MODIFY_QP leaves; from INIT or RTR (or an
   * unknown record) the device may have moved the QP to ERR since, so
   * QUERY_QP decides.
   */
  #assertPostable(kind: 'send' | 'recv'): void {
    this.assertOpen();
    const accepts = POSTABLE[kind];
    if (this.#state !== undefined && accepts.has(this.#state)) return;
    const state = this.#state === 'RESET' ? 'RESET' : this.query().state;
    if (accepts.has(state)) return;
    const needs = kind === 'send' ? 'a send needs RTS, SQD, SQE or ERR' : 'a receive needs INIT or later';
    throw new UverbsQpStateError(this.description, `post ${kind}`, state, `${needs}; nothing was posted`, 'ring');
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
    return resolveSends(wrs, limits);
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
    // a user's destroy of a QP still in a multicast group is the kernel's EBUSY (uverbs_free_qp): leave them first
    for (const [key, { gid, lid }] of this.#groups) {
      this.pd.context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_DETACH_MCAST, {
        gid,
        qp_handle: this.handle,
        mlid: lid,
      });
      this.#groups.delete(key);
    }
    this.pd.context.dispatch.invoke(UVERBS_METHOD_QP_DESTROY, { handle: this.handle });
    this.released();
  }

  protected override released(): void {
    for (const ring of this.rings) ring.unmap();
  }
}

/** QUERY_QP's response as decoded: every scalar a number, the two paths nested. */
type QueryQpResponse = Record<
  Exclude<keyof typeof ib_uverbs_query_qp_resp.fields, 'dest' | 'alt_dest' | 'reserved'>,
  number
> &
  Record<'dest' | 'alt_dest', Record<string, unknown>>;

function groupKey(gid: Uint8Array, lid: number): string {
  return `${Buffer.from(gid).toString('hex')}/${lid}`;
}

/** `ib_uverbs_qp_dest` as QUERY_QP fills it, by the names `AddressVector` uses. */
function addressVectorOf(d: Record<string, unknown>): QpAddressVector {
  return {
    dgid: d.dgid as Uint8Array,
    sgidIndex: d.sgid_index as number,
    hopLimit: d.hop_limit as number,
    trafficClass: d.traffic_class as number,
    flowLabel: d.flow_label as number,
    sl: d.sl as number,
    port: d.port_num as number,
    dlid: d.dlid as number,
    srcPathBits: d.src_path_bits as number,
    staticRate: d.static_rate as number,
    isGlobal: d.is_global !== 0,
  };
}

/**
 * An rdma_cm connection ID (librdmacm's `rdma_cm_id`, the kernel's
 * `ucma_context`): made by CREATE_ID in an {@link EventChannel}, or by the
 * kernel for each connect request a listening ID receives.
 *
 * Commands are synchronous write(2)s; what they start (address and route
 * resolution, connection establishment, disconnection) finishes with an
 * event, awaited on Node's event loop: `await id.event('ESTABLISHED')`,
 * `await id.next()`, or `for await (const e of id)`.
 *
 * Queue pairs are this library's own ({@link QueuePair}, created through a
 * {@link Context} on the device the ID is bound to): the ID moves them
 * through INIT / RTR / RTS with the attributes the kernel's connection
 * manager computes (RDMA_USER_CM_CMD_INIT_QP_ATTR, then MODIFY_QP), as
 * librdmacm does. On iWARP (siw) the kernel itself moves the QP to RTS
 * when the connection is made; the library moves it to INIT only.
 */

import { ib_qp_state } from '../abi/kernel-internal.js';
import type { Decoded } from '../abi/layout.js';
import {
  address_families,
  CM_COMMANDS,
  type ib_uverbs_qp_attr,
  rdma_cm_event_type,
  type rdma_ucm_conn_param,
  rdma_ucm_port_space,
  rdma_user_cm_query,
} from '../abi/rdma-cm.js';
import type { ib_uverbs_ah_attr } from '../abi/structs.js';
import { EPROTO } from '../errno.js';
import {
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  UverbsClosedError,
  UverbsError,
} from '../errors.js';
import { UserMemory } from '../transport/memory.js';
import { KernelObject } from '../verbs/kernel-object.js';
import { QueuePair } from '../verbs/queue-pair.js';
import { checkWaitOptions, type WaitOptions, WaitScope } from '../verbs/waits.js';
import { type CmAddress, type CmSocketAddress, decodeAddress, encodeAddress, storageFields } from './address.js';
import { channelAccess, EventChannel } from './event-channel.js';

/** The port space of an ID: `'TCP'` for reliable connected QPs (RC), `'UDP'` for datagram QPs (UD). */
export type PortSpace = 'TCP' | 'UDP';

/** An rdma_cm event type, `enum rdma_cm_event_type` without its `RDMA_CM_EVENT_` prefix. */
export type CmEventType = keyof typeof rdma_cm_event_type extends `RDMA_CM_EVENT_${infer T}` ? T : never;

/** What `CREATE_ID` takes. */
export interface ConnectionIdOptions {
  /** Default `'TCP'`. */
  portSpace?: PortSpace;
}

/** The connection parameters an event carries (`struct rdma_ucm_conn_param`). */
export interface CmConnectionParameters {
  /** The peer's QP number. */
  readonly qpNum: number;
  /** RDMA reads/atomics the peer accepts from us (already seen from our side). */
  readonly responderResources: number;
  /** RDMA reads/atomics we may have outstanding to the peer. */
  readonly initiatorDepth: number;
  readonly flowControl: number;
  readonly retryCount: number;
  readonly rnrRetryCount: number;
  readonly srq: boolean;
}

/** The datagram parameters an event of a UDP ID carries (`struct rdma_ucm_ud_param`). */
export interface CmDatagramParameters {
  readonly qpNum: number;
  readonly qkey: number;
  /** The address vector to reach the peer (`ib_uverbs_ah_attr`). */
  readonly dgid: Uint8Array;
  readonly sgidIndex: number;
  readonly hopLimit: number;
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly dlid: number;
  readonly sl: number;
  readonly isGlobal: boolean;
  readonly port: number;
}

/** One event of RDMA_USER_CM_CMD_GET_EVENT. */
export interface CmEvent {
  /** The event type; the raw number for one this library does not know. */
  readonly type: CmEventType | number;
  /**
   * The kernel's status: 0, a negative errno (`ADDR_ERROR` -19 ENODEV,
   * `UNREACHABLE` -110 ETIMEDOUT ...), or for `REJECTED` the connection
   * manager's reject reason (IB CM: 28 consumer reject, 8 invalid service
   * ID; iWARP: -ECONNREFUSED).
   */
  readonly status: number;
  /** The ID it is about; for `CONNECT_REQUEST` the new ID of the incoming connection. */
  readonly id: ConnectionId;
  /** `CONNECT_REQUEST` only: the listening ID that received it. */
  readonly listener?: ConnectionId;
  /** The private data the peer sent (up to 256 bytes; a copy). */
  readonly privateData: Uint8Array;
  /** Connected (TCP port space) IDs: the connection parameters. */
  readonly connection?: CmConnectionParameters;
  /** Datagram (UDP port space) IDs: the peer's QP and address vector. */
  readonly datagram?: CmDatagramParameters;
  /** `USER` events (`writeEvent`): the 64-bit argument written. */
  readonly arg?: bigint;
}

/** Parameters `connect()` and `accept()` share. */
export interface CmConnectionOptions {
  /**
   * The QP to connect: this library's, of the ID's device, RC for a TCP ID
   * (UD for a UDP one), in RESET or INIT; the ID moves it to INIT itself.
   */
  qp: QueuePair;
  /** Up to 56 bytes with connect (IB CM REQ), 196 with accept (REP); default none. */
  privateData?: Uint8Array;
  /** Outstanding RDMA reads/atomics the peer may send us (0-255); default the device's `maxQpRdAtom` (accept: at most what the peer asked). */
  responderResources?: number;
  /** Outstanding RDMA reads/atomics we may send (0-255); default the device's `maxQpInitRdAtom` (accept: at most what the peer offered). */
  initiatorDepth?: number;
  /** Transport retries (0-7); default 7. */
  retryCount?: number;
  /** RNR retries (0-7, 7: forever); default 7. */
  rnrRetryCount?: number;
}

/** What `query()` reports (RDMA_USER_CM_QUERY_ADDR). */
export interface CmAddressInfo {
  readonly source: CmSocketAddress | undefined;
  readonly destination: CmSocketAddress | undefined;
  /** The bound device's node GUID (network order, as `ibv_devinfo` prints it), 0n before it is bound to one. */
  readonly nodeGuid: bigint;
  /** The device's index in the kernel (`rdma dev`'s number). */
  readonly deviceIndex: number;
  readonly port: number;
  readonly pkey: number;
}

/** `setOption()`'s options (RDMA_OPTION_ID_*). */
export type CmOption = 'TOS' | 'REUSEADDR' | 'AFONLY' | 'ACK_TIMEOUT';

/**
 * `event(type)` got a different event first: `event` holds it (it is
 * consumed). `code` 'ERR_UVERBS_CM_EVENT'.
 */
export class UverbsCmEventError extends Error {
  readonly code = 'ERR_UVERBS_CM_EVENT';
  /** What was awaited. */
  readonly expected: CmEventType;
  /** What came instead. */
  readonly event: CmEvent;
  constructor(owner: string, expected: CmEventType, event: CmEvent) {
    super(
      `${owner}: expected ${expected}, got ${typeof event.type === 'number' ? `event ${event.type}` : event.type} (status ${event.status})`,
    );
    this.expected = expected;
    this.event = event;
  }
  override get name(): string {
    return 'UverbsCmEventError';
  }
}

/** @internal a decoded `rdma_ucm_event_resp`. */
export interface RawEvent {
  uid: bigint;
  id: number;
  event: number;
  status: number;
  param: {
    conn: Record<string, number | Uint8Array>;
    ud: Record<string, number | Uint8Array | Record<string, unknown>>;
    arg32: number[];
  };
}

const PORT_SPACES: Record<PortSpace, number> = {
  TCP: rdma_ucm_port_space.RDMA_PS_TCP,
  UDP: rdma_ucm_port_space.RDMA_PS_UDP,
};
/** IB_UVERBS_QPT_RC / _UD (ib_user_ioctl_verbs.h). */
const QP_TYPES: Record<PortSpace, number> = { TCP: 2, UDP: 4 };
const QP_TYPE_NAMES: Record<PortSpace, 'RC' | 'UD'> = { TCP: 'RC', UDP: 'UD' };
const EVENT_NAMES = new Map<number, CmEventType>(
  Object.entries(rdma_cm_event_type).map(([k, v]) => [v as number, k.slice('RDMA_CM_EVENT_'.length) as CmEventType]),
);
const E = rdma_cm_event_type;
/** MODIFY_QP (legacy write) takes attribute bits up to IB_QP_DEST_QPN (uverbs_cmd.c: more is EOPNOTSUPP). */
const LEGACY_QP_ATTR_MASK = (1 << 21) - 1;
const OPTIONS: Record<CmOption, { name: number; bytes: 1 | 4 }> = {
  TOS: { name: 0, bytes: 1 },
  REUSEADDR: { name: 1, bytes: 4 },
  AFONLY: { name: 2, bytes: 4 },
  ACK_TIMEOUT: { name: 3, bytes: 1 },
};

function u8Option(name: string, value: unknown, fallback: number, max = 255): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw outOfRange(name, `an integer from 0 to ${max}`, value);
  }
  return value;
}

function privateData(name: string, value: unknown, max: number): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (!(value instanceof Uint8Array)) throw invalidArgType(name, 'a Uint8Array', value);
  if (value.byteLength > max) throw outOfRange(`${name}.byteLength`, `at most ${max}`, value.byteLength);
  return new Uint8Array(value);
}

function timeoutMs(options: unknown, fallback: number): number {
  if (options === undefined) return fallback;
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const t = (options as { timeoutMs?: unknown }).timeoutMs;
  if (t === undefined) return fallback;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 0x7fffffff) {
    throw outOfRange('options.timeoutMs', 'an integer from 1 to 2147483647', t);
  }
  return t;
}

/** @internal CREATE_ID in `channel` (use `EventChannel.createId()`). */
export function createId(channel: EventChannel, options: ConnectionIdOptions): ConnectionId {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const portSpace = options.portSpace ?? 'TCP';
  if (!Object.hasOwn(PORT_SPACES, portSpace))
    throw invalidArgValue('options.portSpace', "must be 'TCP' or 'UDP'", portSpace);
  const a = channelAccess(channel);
  const uid = a.nextUid();
  const r = a.call(
    CM_COMMANDS.RDMA_USER_CM_CMD_CREATE_ID,
    { uid, ps: PORT_SPACES[portSpace], qp_type: QP_TYPES[portSpace] },
    channel.description,
  ) as { id: number };
  return ConnectionId.made(channel, portSpace, r.id, uid);
}

export class ConnectionId extends KernelObject {
  /** The channel it lives in (changes with `migrate()`). */
  #channel: EventChannel;
  readonly portSpace: PortSpace;
  /** The kernel's id of it (unique in the kernel while it lives). */
  readonly handle: number;
  #uid: bigint | undefined;
  #qp: QueuePair | undefined;
  /** A connect request's parameters (the new ID of an incoming connection), for accept's defaults. */
  #request: CmConnectionParameters | undefined;
  readonly #queue: CmEvent[] = [];
  /** Multicast groups joined, by address: the kernel's id and the uid of the membership. */
  readonly #groups = new Map<string, { id: number; uid: bigint }>();
  readonly #waits = new Set<WaitScope>();

  private constructor(channel: EventChannel, portSpace: PortSpace, handle: number, uid: bigint | undefined) {
    super(channel);
    this.#channel = channel;
    this.portSpace = portSpace;
    this.handle = handle;
    this.#uid = uid;
    channelAccess(channel).register(this, uid, handle);
  }

  /** @internal */
  static made(channel: EventChannel, portSpace: PortSpace, handle: number, uid: bigint | undefined): ConnectionId {
    return new ConnectionId(channel, portSpace, handle, uid);
  }

  get description(): string {
    return `ConnectionId ${this.handle}`;
  }

  /** The channel whose fd carries its commands and events. */
  get channel(): EventChannel {
    return this.#channel;
  }

  /** The QP `connect()` / `accept()` was given, until the ID closes. */
  get qp(): QueuePair | undefined {
    return this.#qp;
  }

  #call(command: (typeof CM_COMMANDS)[keyof typeof CM_COMMANDS], request: Record<string, unknown>) {
    this.assertOpen();
    return channelAccess(this.#channel).call(command, request, this.description);
  }

  /** Binds to a local address and port (RDMA_USER_CM_CMD_BIND); port 0: the kernel picks one. */
  bind(address: CmAddress): void {
    const { storage, size } = encodeAddress(address, 'address');
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_BIND, { id: this.handle, addr_size: size, addr: storageFields(storage) });
  }

  /**
   * Starts resolving `destination` to a device and GID
   * (RDMA_USER_CM_CMD_RESOLVE_ADDR); ends with `ADDR_RESOLVED` or
   * `ADDR_ERROR`. `options.source` binds first where the ID is unbound;
   * `options.timeoutMs` (default 2000) bounds the resolution.
   */
  resolveAddress(destination: CmAddress, options?: { source?: CmAddress; timeoutMs?: number }): void {
    const dst = encodeAddress(destination, 'destination');
    const src = options?.source === undefined ? undefined : encodeAddress(options.source, 'options.source');
    const timeout = timeoutMs(options, 2000);
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_RESOLVE_ADDR, {
      id: this.handle,
      timeout_ms: timeout,
      src_size: src?.size ?? 0,
      dst_size: dst.size,
      ...(src ? { src_addr: storageFields(src.storage) } : {}),
      dst_addr: storageFields(dst.storage),
    });
  }

  /** Starts resolving the route (RDMA_USER_CM_CMD_RESOLVE_ROUTE); ends with `ROUTE_RESOLVED` or `ROUTE_ERROR`. */
  resolveRoute(options?: { timeoutMs?: number }): void {
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_RESOLVE_ROUTE, { id: this.handle, timeout_ms: timeoutMs(options, 2000) });
  }

  /**
   * Listens for connect requests (RDMA_USER_CM_CMD_LISTEN); each arrives
   * as a `CONNECT_REQUEST` event whose `id` is a new ID to `accept()` or
   * `reject()`. `backlog` 0 (the default): the kernel's maximum.
   */
  listen(backlog = 0): void {
    if (!Number.isInteger(backlog) || backlog < 0 || backlog > 0x7fffffff) {
      throw outOfRange('backlog', 'an integer from 0 to 2147483647', backlog);
    }
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_LISTEN, { id: this.handle, backlog });
  }

  /** The bound addresses and device (RDMA_USER_CM_CMD_QUERY, RDMA_USER_CM_QUERY_ADDR). */
  query(): CmAddressInfo {
    const r = this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_QUERY, {
      id: this.handle,
      option: rdma_user_cm_query.RDMA_USER_CM_QUERY_ADDR,
    }) as {
      node_guid: bigint;
      port_num: number;
      pkey: number;
      src_addr: { ss_family: number; __data: Uint8Array };
      dst_addr: { ss_family: number; __data: Uint8Array };
      ibdev_index: number;
    };
    const storage = (s: { ss_family: number; __data: Uint8Array }) => {
      const b = new Uint8Array(128);
      b[0] = s.ss_family & 0xff;
      b[1] = s.ss_family >> 8;
      b.set(s.__data, 2);
      return b;
    };
    return {
      source: decodeAddress(storage(r.src_addr)),
      destination: decodeAddress(storage(r.dst_addr)),
      nodeGuid: r.node_guid,
      deviceIndex: r.ibdev_index,
      port: r.port_num,
      pkey: r.pkey,
    };
  }

  /**
   * The source GID the connection manager uses for this ID, as sysfs prints
   * GIDs (`0000:0000:0000:0000:0000:ffff:0a00:020f`): on RoCE the IPv4-mapped
   * address, on iWARP the one made of the MAC (RDMA_USER_CM_CMD_QUERY,
   * RDMA_USER_CM_QUERY_GID: ucma_query_gid answers a `struct sockaddr_ib`
   * whose `sib_addr` is the GID).
   */
  sourceGid(): string {
    const r = this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_QUERY, {
      id: this.handle,
      option: rdma_user_cm_query.RDMA_USER_CM_QUERY_GID,
    }) as { src_addr: { ss_family: number; __data: Uint8Array } };
    if (r.src_addr.ss_family !== address_families.AF_IB) {
      throw new UverbsError({
        errno: EPROTO,
        syscall: 'write',
        object: this.description,
        method: 'RDMA_USER_CM_CMD_QUERY',
        path: 'write',
        detail: `QUERY_GID answered address family ${r.src_addr.ss_family}, not AF_IB (${address_families.AF_IB})`,
      });
    }
    // struct sockaddr_ib after sib_family: sib_pkey (2), sib_flowinfo (4), then sib_addr (16)
    const gid = r.src_addr.__data.subarray(6, 22);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2)
      groups.push((((gid[i] as number) << 8) | (gid[i + 1] as number)).toString(16).padStart(4, '0'));
    return groups.join(':');
  }

  /**
   * The QP attributes the connection manager computes for moving a QP of
   * this ID to `state` (RDMA_USER_CM_CMD_INIT_QP_ATTR): the kernel's
   * `ib_uverbs_qp_attr`, `qp_attr_mask` naming the attributes it set.
   */
  qpAttributes(state: 'INIT' | 'RTR' | 'RTS'): Decoded<typeof ib_uverbs_qp_attr> {
    const value = { INIT: ib_qp_state.IB_QPS_INIT, RTR: ib_qp_state.IB_QPS_RTR, RTS: ib_qp_state.IB_QPS_RTS }[state];
    if (value === undefined) throw invalidArgValue('state', "must be 'INIT', 'RTR' or 'RTS'", state);
    return this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_INIT_QP_ATTR, {
      id: this.handle,
      qp_state: value,
    }) as Decoded<typeof ib_uverbs_qp_attr>;
  }

  /**
   * Moves `qp` to `state` with exactly the attributes `qpAttributes(state)`
   * reports (one INIT_QP_ATTR, one MODIFY_QP), as librdmacm does.
   */
  transitionQp(qp: QueuePair, state: 'INIT' | 'RTR' | 'RTS'): void {
    KernelObject.checked(qp, QueuePair, 'qp');
    const a = this.qpAttributes(state);
    const dest = (ah: Decoded<typeof ib_uverbs_qp_attr>['ah_attr']) => ({
      dgid: ah.grh.dgid,
      flow_label: ah.grh.flow_label,
      dlid: ah.dlid,
      sgid_index: ah.grh.sgid_index,
      hop_limit: ah.grh.hop_limit,
      traffic_class: ah.grh.traffic_class,
      sl: ah.sl,
      src_path_bits: ah.src_path_bits,
      static_rate: ah.static_rate,
      is_global: ah.is_global,
      port_num: ah.port_num,
    });
    const mask = a.qp_attr_mask & LEGACY_QP_ATTR_MASK;
    qp.modifyFromKernel(
      {
        dest: dest(a.ah_attr),
        alt_dest: dest(a.alt_ah_attr),
        attr_mask: mask,
        qkey: a.qkey,
        rq_psn: a.rq_psn,
        sq_psn: a.sq_psn,
        dest_qp_num: a.dest_qp_num,
        qp_access_flags: a.qp_access_flags,
        pkey_index: a.pkey_index,
        alt_pkey_index: a.alt_pkey_index,
        qp_state: a.qp_state,
        cur_qp_state: a.cur_qp_state,
        path_mtu: a.path_mtu,
        path_mig_state: a.path_mig_state,
        en_sqd_async_notify: a.en_sqd_async_notify,
        max_rd_atomic: a.max_rd_atomic,
        max_dest_rd_atomic: a.max_dest_rd_atomic,
        min_rnr_timer: a.min_rnr_timer,
        port_num: a.port_num,
        timeout: a.timeout,
        retry_cnt: a.retry_cnt,
        rnr_retry: a.rnr_retry,
        alt_port_num: a.alt_port_num,
        alt_timeout: a.alt_timeout,
      },
      (mask & 1) !== 0 ? state : undefined,
    );
  }

  /** The QP checked for this ID (before any syscall), the parameters resolved. */
  #connection(options: CmConnectionOptions, call: 'connect' | 'accept'): Resolved {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const qp = KernelObject.checked(options.qp, QueuePair, 'options.qp');
    if (qp.type !== QP_TYPE_NAMES[this.portSpace]) {
      throw invalidArgValue(
        'options.qp',
        `must be a ${QP_TYPE_NAMES[this.portSpace]} QP for a ${this.portSpace} ID`,
        qp.type,
      );
    }
    const device = qp.pd.context.queryDevice();
    const request = this.#request;
    const responder = Math.min(device.maxQpRdAtom, request?.responderResources ?? 255, 255);
    const initiator = Math.min(device.maxQpInitRdAtom, request?.initiatorDepth ?? 255, 255);
    return {
      qp,
      iwarp: qp.pd.context.device.nodeType.startsWith('4'),
      data: privateData('options.privateData', options.privateData, call === 'connect' ? 56 : 196),
      responderResources: u8Option('options.responderResources', options.responderResources, responder),
      initiatorDepth: u8Option('options.initiatorDepth', options.initiatorDepth, initiator),
      retryCount: u8Option('options.retryCount', options.retryCount, 7, 7),
      rnrRetryCount: u8Option('options.rnrRetryCount', options.rnrRetryCount, 7, 7),
    };
  }

  #connParam(c: Resolved) {
    return {
      qp_num: c.qp.qpNum,
      private_data: c.data,
      private_data_len: c.data.byteLength,
      responder_resources: c.responderResources,
      initiator_depth: c.initiatorDepth,
      retry_count: c.retryCount,
      rnr_retry_count: c.rnrRetryCount,
      valid: 1,
    };
  }

  /**
   * INIT through the connection manager, for a QP still in RESET; a UD QP
   * then on to RTR and RTS (send PSN 0) at once, as librdmacm does: a
   * datagram QP needs no peer to be ready.
   */
  #toInit(qp: QueuePair): void {
    // the library's record first: siw on 6.1 reports RESET to every QUERY_QP (its query_qp sets no state)
    const state = qp.recordedState ?? qp.query().state;
    if (state === 'RESET') {
      this.transitionQp(qp, 'INIT');
      if (qp.type === 'UD') {
        qp.modify({ state: 'RTR' });
        qp.modify({ state: 'RTS', sqPsn: 0 });
      }
    } else if (qp.type === 'UD' && state === 'RTS') {
      // a datagram QP readied before: nothing to do
    } else if (state !== 'INIT')
      throw invalidState(`${qp.description} is in ${state}; connect() and accept() take a QP in RESET or INIT`);
  }

  /**
   * Connects to the resolved destination (RDMA_USER_CM_CMD_CONNECT) with
   * `options.qp`, which it first moves to INIT. The outcome is an event:
   * `ESTABLISHED` (the QP then in RTS: on RoCE the library takes it
   * through INIT again, with the remote access the connection grants, RTR
   * and RTS when the kernel reports the peer's answer, and confirms with
   * ACCEPT, as librdmacm does), `REJECTED`, `UNREACHABLE` or
   * `CONNECT_ERROR`. Arguments are checked before any syscall. Should the
   * kernel refuse the CONNECT itself, the error is thrown and the QP stays
   * in INIT (a UD QP in RTS), ready for another try.
   */
  connect(options: CmConnectionOptions): void {
    this.assertOpen();
    const c = this.#connection(options, 'connect');
    this.#toInit(c.qp);
    this.#qp = c.qp;
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_CONNECT, { id: this.handle, conn_param: this.#connParam(c) });
  }

  /**
   * Accepts the connect request this ID was made for
   * (RDMA_USER_CM_CMD_ACCEPT) with `options.qp`: moves the QP to INIT, and
   * on RoCE on to RTR and RTS with the connection manager's attributes
   * (on iWARP the kernel does so itself), then accepts. `ESTABLISHED`
   * follows once the peer confirms. Should the kernel refuse the ACCEPT,
   * the QP is moved to ERR (as librdmacm does) and the error thrown; a QP
   * not in RESET or INIT is refused first (ERR_INVALID_STATE, no syscall).
   */
  accept(options: CmConnectionOptions): void {
    this.assertOpen();
    const c = this.#connection(options, 'accept');
    this.#toInit(c.qp);
    if (!c.iwarp && c.qp.type !== 'UD') {
      this.transitionQp(c.qp, 'RTR');
      this.transitionQp(c.qp, 'RTS');
    }
    const uid = this.#uid ?? channelAccess(this.#channel).nextUid();
    try {
      this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_ACCEPT, { uid, id: this.handle, conn_param: this.#connParam(c) });
    } catch (error) {
      // as librdmacm does: a QP readied for a connection that was refused goes to ERR
      try {
        c.qp.modify({ state: 'ERR' });
      } catch {
        // it was never readied further than the kernel allowed: nothing to flush
      }
      throw error;
    }
    this.#qp = c.qp;
    if (this.#uid === undefined) {
      this.#uid = uid;
      channelAccess(this.#channel).setUid(this, uid);
    }
  }

  /** Rejects the connect request this ID was made for (RDMA_USER_CM_CMD_REJECT), with up to 148 bytes of private data. */
  reject(data?: Uint8Array): void {
    const bytes = privateData('data', data, 148);
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_REJECT, {
      id: this.handle,
      private_data_len: bytes.byteLength,
      private_data: bytes,
    });
  }

  /**
   * Disconnects (RDMA_USER_CM_CMD_DISCONNECT); both sides then get
   * `DISCONNECTED`. On RoCE the QP is moved to ERR first (its work
   * flushes), as librdmacm does.
   */
  disconnect(): void {
    this.assertOpen();
    const qp = this.#qp;
    if (qp !== undefined && !qp.closed && !qp.pd.context.device.nodeType.startsWith('4')) qp.modify({ state: 'ERR' });
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_DISCONNECT, { id: this.handle });
  }

  /**
   * Sets an ID option (RDMA_USER_CM_CMD_SET_OPTION, level RDMA_OPTION_ID):
   * `'TOS'` (0-255), `'REUSEADDR'` / `'AFONLY'` (booleans),
   * `'ACK_TIMEOUT'` (0-31). The value goes to the kernel from library
   * memory.
   */
  setOption(option: CmOption, value: number | boolean): void {
    const o = Object.hasOwn(OPTIONS, option) ? OPTIONS[option] : undefined;
    if (o === undefined)
      throw invalidArgValue('option', "must be 'TOS', 'REUSEADDR', 'AFONLY' or 'ACK_TIMEOUT'", option);
    const n = typeof value === 'boolean' ? Number(value) : value;
    u8Option('value', n, 0, o.bytes === 1 ? 255 : 1);
    this.assertOpen();
    const memory = UserMemory.allocate(channelAccess(this.#channel).sys, 8);
    try {
      new DataView(memory.bytes.buffer, memory.bytes.byteOffset, 8).setUint32(0, n as number, true);
      this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_SET_OPTION, {
        optval: memory.address,
        id: this.handle,
        level: 0,
        optname: o.name,
        optlen: o.bytes,
      });
    } finally {
      memory.free();
    }
  }

  /**
   * Joins the multicast group `group` (RDMA_USER_CM_CMD_JOIN_MCAST; a UDP
   * ID bound to a device, e.g. by `resolveAddress()` to the group's
   * address). `MULTICAST_JOIN` follows, its `datagram` holding the group's
   * GID (`dgid`) and qkey: attach a UD QP with `qp.attachMulticast(dgid)`
   * to receive, send to it with that address vector. `sendOnly`: a
   * send-only full member. A group joined twice is refused before any
   * syscall.
   */
  joinMulticast(group: CmAddress, options: { sendOnly?: boolean } = {}): void {
    const { storage, size } = encodeAddress(group, 'group');
    const key = groupKey(storage);
    if (this.#groups.has(key)) throw invalidState(`${this.description} has joined ${group.address} already`);
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    this.assertOpen();
    const a = channelAccess(this.#channel);
    const uid = a.nextUid();
    const r = this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_JOIN_MCAST, {
      uid,
      id: this.handle,
      addr_size: size,
      join_flags: options.sendOnly ? 1 : 0,
      addr: storageFields(storage),
    }) as { id: number };
    this.#groups.set(key, { id: r.id, uid });
    a.setUid(this, uid);
  }

  /**
   * Leaves a group `joinMulticast()` joined (RDMA_USER_CM_CMD_LEAVE_MCAST);
   * a group not joined is refused before any syscall. Detach a QP from it
   * first (`qp.detachMulticast`).
   */
  leaveMulticast(group: CmAddress): void {
    const { storage } = encodeAddress(group, 'group');
    const key = groupKey(storage);
    const joined = this.#groups.get(key);
    if (joined === undefined) throw invalidState(`${this.description} has not joined ${group.address}`);
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_LEAVE_MCAST, { id: joined.id });
    this.#groups.delete(key);
  }

  /**
   * Queues a `USER` event for this ID on its own channel
   * (RDMA_USER_CM_CMD_WRITE_CM_EVENT, Linux 7.x): wakes whoever awaits the
   * ID's events, with `arg` in the event. A kernel without the command
   * answers `UverbsUnsupportedError`.
   */
  writeEvent(options: { status?: number; arg?: bigint } = {}): void {
    const status = options.status ?? 0;
    if (!Number.isInteger(status) || status < -0x80000000 || status > 0x7fffffff) {
      throw outOfRange('options.status', 'a 32-bit integer', status);
    }
    this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_WRITE_CM_EVENT, {
      id: this.handle,
      event: rdma_cm_event_type.RDMA_CM_EVENT_USER,
      status: status >>> 0,
      param: { arg: options.arg ?? 0n },
    });
  }

  /**
   * Moves this ID to another channel (RDMA_USER_CM_CMD_MIGRATE_ID, written
   * on the new channel's fd): its commands and events go through `to`
   * from then on, its queued events with it.
   */
  migrate(to: EventChannel): void {
    this.assertOpen();
    KernelObject.checked(to, EventChannel, 'to');
    if (to === this.#channel) return;
    channelAccess(to).call(
      CM_COMMANDS.RDMA_USER_CM_CMD_MIGRATE_ID,
      { id: this.handle, fd: this.#channel.fd },
      this.description,
    );
    const from = channelAccess(this.#channel);
    from.forget(this);
    this.changeDependency(this.#channel, to);
    this.#channel = to;
    channelAccess(to).register(this, this.#uid, this.handle);
    // waits in progress watch the old fd: wake them, and each round watches the new one
    if (this.#waits.size > 0) from.wakeAll();
  }

  /**
   * The next event of this ID, awaited on the event loop (no thread
   * blocks, nothing spins). `options.timeout` rejects with
   * `UverbsTimeoutError`, `options.signal` with its reason; closing the ID
   * or its channel rejects with `UverbsClosedError`.
   */
  async next(options?: WaitOptions): Promise<CmEvent> {
    const scope = new WaitScope(checkWaitOptions(options), this.description, 'next');
    this.#waits.add(scope);
    try {
      for (;;) {
        this.assertOpen();
        const queued = this.#queue.shift();
        if (queued !== undefined) return queued;
        const a = channelAccess(this.#channel);
        a.pump();
        const event = this.#queue.shift();
        if (event !== undefined) return event;
        const status = await scope.step<number>((resolve) => a.waitReadable(resolve));
        if (this.closed) throw new UverbsClosedError(this.description);
        if (status < 0) {
          throw new UverbsError({
            errno: -status,
            syscall: 'poll',
            object: this.description,
            method: 'next',
            path: 'write',
          });
        }
      }
    } finally {
      this.#waits.delete(scope);
      scope.dispose();
    }
  }

  /**
   * The next event, which must be `type`: any other rejects with
   * {@link UverbsCmEventError} holding it (`await id.event('ESTABLISHED')`).
   */
  async event(type: CmEventType, options?: WaitOptions): Promise<CmEvent> {
    if (!EVENT_NAMES_SET.has(type)) throw invalidArgValue('type', 'must be an rdma_cm event type name', type);
    const event = await this.next(options);
    if (event.type !== type) throw new UverbsCmEventError(this.description, type, event);
    return event;
  }

  /** Events as they come; ends when the ID (or its channel) closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<CmEvent> {
    while (!this.closed) {
      let event: CmEvent;
      try {
        event = await this.next();
      } catch (error) {
        if (this.closed && error instanceof UverbsClosedError) return;
        throw error;
      }
      yield event;
    }
  }

  /** @internal an event the channel read for this ID. */
  deliver(raw: RawEvent): void {
    if (this.closed) return;
    let type = raw.event;
    let status = raw.status | 0;
    let made: ConnectionId | undefined;
    const conn = raw.param.conn as unknown as Decoded<typeof rdma_ucm_conn_param>;
    const connection: CmConnectionParameters = {
      qpNum: conn.qp_num,
      responderResources: conn.responder_resources,
      initiatorDepth: conn.initiator_depth,
      flowControl: conn.flow_control,
      retryCount: conn.retry_count,
      rnrRetryCount: conn.rnr_retry_count,
      srq: conn.srq !== 0,
    };
    if (type === E.RDMA_CM_EVENT_CONNECT_REQUEST) {
      made = new ConnectionId(this.#channel, this.portSpace, raw.id, undefined);
      made.#request = connection;
    } else if (type === E.RDMA_CM_EVENT_CONNECT_RESPONSE && this.#qp !== undefined) {
      // the active side's half of establishment: INIT again, RTR, RTS, then ACCEPT confirms (the IB
      // CM's RTU). INIT again, as librdmacm does: the QP went to INIT before CONNECT, when the ID had
      // no IB CM ID yet and the kernel's INIT attributes granted no remote access; now they grant
      // what the REP's responder resources allow (remote write, and read and atomics with them)
      try {
        this.transitionQp(this.#qp, 'INIT');
        this.transitionQp(this.#qp, 'RTR');
        this.transitionQp(this.#qp, 'RTS');
        this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_ACCEPT, { id: this.handle });
        type = E.RDMA_CM_EVENT_ESTABLISHED;
      } catch (error) {
        type = E.RDMA_CM_EVENT_CONNECT_ERROR;
        status = error instanceof UverbsError ? -error.errno : -22;
        this.#qpToError();
      }
    } else if (type === E.RDMA_CM_EVENT_ESTABLISHED && this.#qp !== undefined && !this.#qp.closed) {
      // iWARP: the kernel's CM moved the QP to RTS (siw_accept / siw_connect); RoCE: it is there already
      this.#qp.recordKernelState('RTS');
    } else if (type === E.RDMA_CM_EVENT_REJECTED) {
      this.#qpToError();
    }
    const datagram = this.portSpace === 'UDP' ? udParameters(raw.param.ud) : undefined;
    const dataLength = datagram ? (raw.param.ud.private_data_len as number) : conn.private_data_len;
    const dataSource = datagram ? (raw.param.ud.private_data as Uint8Array) : conn.private_data;
    const event: CmEvent = {
      type: EVENT_NAMES.get(type) ?? type,
      status,
      id: made ?? this,
      ...(made ? { listener: this } : {}),
      privateData: dataSource.slice(0, dataLength),
      ...(datagram ? { datagram } : { connection }),
      ...(type === E.RDMA_CM_EVENT_USER
        ? { arg: BigInt(raw.param.arg32[0] ?? 0) | (BigInt(raw.param.arg32[1] ?? 0) << 32n) }
        : {}),
    };
    this.#queue.push(event);
  }

  #qpToError(): void {
    const qp = this.#qp;
    if (qp === undefined || qp.closed) return;
    try {
      qp.modify({ state: 'ERR' });
    } catch {
      // already in ERR or gone: nothing to flush
    }
  }

  /**
   * DESTROY_ID. The kernel drops the ID's queued events; a QP given to it
   * stays as it is (the library's QP is the caller's to close). IDs of
   * connect requests still queued here, never seen by the caller, are
   * destroyed too.
   */
  protected destroy(): void {
    const a = channelAccess(this.#channel);
    a.call(CM_COMMANDS.RDMA_USER_CM_CMD_DESTROY_ID, { id: this.handle }, this.description);
    a.forget(this);
    this.released();
    for (const e of this.#queue.splice(0)) if (e.listener === this && !e.id.closed) e.id.close();
  }

  protected override released(): void {
    this.#qp = undefined;
    for (const scope of [...this.#waits]) scope.fail(new UverbsClosedError(this.description));
  }
}

/** A group's identity: the sockaddr's bytes without the port. */
function groupKey(storage: Uint8Array): string {
  const copy = storage.slice();
  copy[2] = 0;
  copy[3] = 0;
  return Buffer.from(copy).toString('hex');
}

interface Resolved {
  qp: QueuePair;
  iwarp: boolean;
  data: Uint8Array;
  responderResources: number;
  initiatorDepth: number;
  retryCount: number;
  rnrRetryCount: number;
}

const EVENT_NAMES_SET = new Set<string>(EVENT_NAMES.values());

function udParameters(ud: RawEvent['param']['ud']): CmDatagramParameters {
  const ah = ud.ah_attr as unknown as Decoded<typeof ib_uverbs_ah_attr>;
  return {
    qpNum: ud.qp_num as number,
    qkey: ud.qkey as number,
    dgid: new Uint8Array(ah.grh.dgid),
    sgidIndex: ah.grh.sgid_index,
    hopLimit: ah.grh.hop_limit,
    trafficClass: ah.grh.traffic_class,
    flowLabel: ah.grh.flow_label,
    dlid: ah.dlid,
    sl: ah.sl,
    isGlobal: ah.is_global !== 0,
    port: ah.port_num,
  };
}

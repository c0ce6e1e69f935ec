/**
 * Feature-level detection: the questions a user asks ("can I make a UD
 * QP here? an XRC SRQ? an on-demand-paging MR?"), each answered by making
 * the real thing through this library's own verbs and destroying it, or by
 * the kernel's own refusal of the call that would make it, with the
 * sentence saying how the answer was known.
 *
 * `supported` is `true`, `false` or `'unknown'`: `false` only where the
 * kernel said no (the errno is in `errno`), a looped-back work request
 * failed (its status in `completion`), or the device's own report says it
 * lacks the thing (`object` is then QUERY_DEVICE); `'unknown'` where this library could not tell (it has no verb for
 * the object, or the call needed a privilege, or the kernel's answer was
 * not one of its "unsupported" spellings). Compare with `=== true` /
 * `=== false`: `'unknown'` is neither.
 *
 * Nothing is left behind, and what was made is destroyed, not left to the
 * close: each feature is asked on a context of its own; every object made
 * through the library's verbs is made with `using` (disposed newest first,
 * also when a step throws), and each one made by a raw call (the raw packet
 * QP, the XRC domain, the REG_MR ioctl's MR) is destroyed by its own raw
 * destroy before its parents go (test/features.test.ts counts creates less
 * destroys on the fake kernel at each context's close). Only where a
 * destroy itself fails is the context's fd closed first, which destroys
 * whatever the kernel still holds for it.
 */

import { constants } from 'node:fs';
import {
  ib_uverbs_device_cap_flags as CAP,
  ib_uverbs_ex_write_cmds,
  ib_uverbs_qp_type,
  ib_uverbs_write_cmds,
  ib_uverbs_odp_general_cap_bits as ODP,
  ib_uverbs_odp_transport_cap_bits as ODP_T,
  rdma_user_ioctl_defines,
} from '../abi/constants.js';
import { layout, u16, u32, u64 } from '../abi/layout.js';
import {
  UVERBS_METHOD_MR_DESTROY,
  UVERBS_METHOD_QP_CREATE,
  UVERBS_METHOD_QP_DESTROY,
  UVERBS_METHOD_QUERY_MR,
  UVERBS_METHOD_QUERY_PORT_SPEED,
  UVERBS_METHOD_REG_MR,
} from '../abi/methods.js';
import type { WriteCommand } from '../abi/write-commands.js';
import { EventChannel, RDMA_CM_PATH } from '../cm/event-channel.js';
import { EACCES, EPERM, errnoName } from '../errno.js';
import { invalidArgType, invalidArgValue, UverbsError, UverbsUnsupportedError } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import { UserMemory } from '../transport/memory.js';
import { libcSys, type Sys } from '../transport/sys.js';
import { Context, sysOf } from '../verbs/context.js';
import type { DeviceInfo } from '../verbs/device.js';
import type { AccessFlags, MemoryRegion } from '../verbs/memory-region.js';
import type { ProtectionDomain } from '../verbs/protection-domain.js';
import type { SendWr } from '../verbs/work-request.js';
import { IDENTITY_ONLY } from './known-methods.js';
import { deviceArg, methodProbe, writeHas, writeProbe } from './probe.js';

/** Every feature `features()` answers, by its stable name. */
export const FEATURE_NAMES = [
  'QP_RC',
  'QP_UC',
  'QP_UD',
  'QP_XRC',
  'QP_RAW_PACKET',
  'SRQ',
  'XRC_SRQ',
  'MW_TYPE_1',
  'MW_TYPE_2',
  'ODP',
  'FLUSH',
  'ATOMIC_WRITE',
  'CQ_FLAGS',
  'CQ_MODERATION',
  'COMP_CHANNEL',
  'PORT_SPEED_QUERY',
  'REG_MR_IOCTL',
  'DM',
  'COUNTERS',
  'FLOWS',
  'RDMA_CM',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];

/** `true`: shown to work (made and destroyed, a work request completed, an rdma_cm_id made, or the device's own report, as `how` says); `false`: the kernel or device said no; `'unknown'`: could not tell. */
export type FeatureSupport = true | false | 'unknown';

export interface FeatureAnswer {
  name: FeatureName;
  supported: FeatureSupport;
  /** How it was known: what was made, or which call answered what. */
  how: string;
  /** The kernel's answer that decided it (`EOPNOTSUPP`), where a call was refused. */
  errno?: string;
  /** The object, method or command whose answer decided it. */
  object?: string;
  /** The work completion status that decided it, where a looped-back work request did (`IB_WC_REM_ACCESS_ERR`). */
  completion?: string;
  /** What more the answer found: the ODP operations, the CQ flags accepted, ... */
  detail?: string[];
}

export interface FeatureOptions {
  /** Only these features (default: all of {@link FEATURE_NAMES}, in that order). */
  only?: readonly FeatureName[];
  /** @internal the libc to use (tests inject a fake kernel) */
  sys?: Sys;
}

/** The kernel's spellings of "this device or kernel has no such thing" (README: three spellings by age and layer). */
const UNSUPPORTED = new Set(['EOPNOTSUPP', 'EPROTONOSUPPORT', 'ENOSYS']);

/** The answer a refused call gives: no on an "unsupported" errno, unknown on a privilege or any other errno. */
function refused(name: FeatureName, error: unknown, what: string): FeatureAnswer {
  if (!(error instanceof UverbsError)) throw error;
  const object = error.method;
  if (error instanceof UverbsUnsupportedError || UNSUPPORTED.has(error.code)) {
    return { name, supported: false, how: `${what}: ${object} answered ${error.code}`, errno: error.code, object };
  }
  if (error.errno === EPERM || error.errno === EACCES) {
    return {
      name,
      supported: 'unknown',
      how: `${what}: ${object} answered ${error.code} (needs a privilege this process lacks)`,
      errno: error.code,
      object,
    };
  }
  return {
    name,
    supported: 'unknown',
    how: `${what}: ${object} answered ${error.code}, which is not one of the kernel's "unsupported" answers`,
    errno: error.code,
    object,
  };
}

const VERB: Record<string, string> = { created: 'create', registered: 'register', allocated: 'allocate' };

/** `make()` ran (everything it made is disposed by its own `using`): yes; a kernel refusal: {@link refused}. */
function attempt(name: FeatureName, what: string, object: string, make: () => string[] | undefined): FeatureAnswer {
  try {
    const detail = make();
    return { name, supported: true, how: `${what}, and destroyed it`, object, ...(detail ? { detail } : {}) };
  } catch (error) {
    return refused(
      name,
      error,
      `tried to ${what.replace(/^(created|registered|allocated)/, (w) => VERB[w] as string)}`,
    );
  }
}

const QP_CAP = { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };

function qpType(ctx: Context, type: 'RC' | 'UC' | 'UD'): FeatureAnswer {
  return attempt(`QP_${type}`, `created a ${type} QP`, 'UVERBS_METHOD_QP_CREATE', () => {
    using pd = ctx.allocPd();
    using cq = ctx.createCq({ cqe: 2 });
    using _qp = pd.createQp({ type, sendCq: cq, recvCq: cq, cap: QP_CAP });
    return undefined;
  });
}

/** A raw packet QP: the library has no verb for it, so QP_CREATE is sent with its type and destroyed if made. */
function rawPacket(ctx: Context): FeatureAnswer {
  return attempt('QP_RAW_PACKET', 'created a raw packet QP', 'UVERBS_METHOD_QP_CREATE', () => {
    using pd = ctx.allocPd();
    using cq = ctx.createCq({ cqe: 2 });
    const r = ctx.dispatch.invoke(
      UVERBS_METHOD_QP_CREATE,
      {
        pdHandle: pd.handle,
        sendCqHandle: cq.handle,
        recvCqHandle: cq.handle,
        userHandle: 0n,
        cap: { max_send_wr: 1, max_recv_wr: 1, max_send_sge: 1, max_recv_sge: 1, max_inline_data: 0 },
        type: ib_uverbs_qp_type.IB_UVERBS_QPT_RAW_PACKET,
      },
      uhwFor(ctx.provider, 'createQp'),
    );
    try {
      ctx.dispatch.invoke(UVERBS_METHOD_QP_DESTROY, { handle: r.outputs.handle });
    } catch (error) {
      // the PD and CQ cannot go under the QP: the fd goes first (their disposal is then nothing to do)
      ctx.close({ cascade: false });
      throw error;
    }
    return undefined;
  });
}

/** `struct ib_uverbs_open_xrcd` and friends (rdma/ib_user_verbs.h): commands the library has no verbs for. */
const VERBS_H = 'rdma/ib_user_verbs.h';
const open_xrcd = layout('ib_uverbs_open_xrcd', VERBS_H, 16, { response: u64(0), fd: u32(8), oflags: u32(12) });
const open_xrcd_resp = layout('ib_uverbs_open_xrcd_resp', VERBS_H, 4, { xrcd_handle: u32(0) });
const close_xrcd = layout('ib_uverbs_close_xrcd', VERBS_H, 4, { xrcd_handle: u32(0) });
const ex_modify_cq = layout('ib_uverbs_ex_modify_cq', VERBS_H, 16, {
  cq_handle: u32(0),
  attr_mask: u32(4),
  cq_count: u16(8),
  cq_period: u16(10),
  reserved: u32(12),
});

function command(
  name: keyof typeof ib_uverbs_write_cmds | keyof typeof ib_uverbs_ex_write_cmds,
  objectName: string,
  request: WriteCommand['request'],
  response?: WriteCommand['request'],
): WriteCommand {
  const extended = name in ib_uverbs_ex_write_cmds;
  return Object.freeze({
    name,
    objectName,
    command: extended
      ? ib_uverbs_ex_write_cmds[name as keyof typeof ib_uverbs_ex_write_cmds]
      : ib_uverbs_write_cmds[name as keyof typeof ib_uverbs_write_cmds],
    extended,
    request,
    requestSize: request.size,
    response,
    responseSize: response?.size ?? 0,
    udata: !extended && response !== undefined,
  });
}

const OPEN_XRCD = command('IB_USER_VERBS_CMD_OPEN_XRCD', 'UVERBS_OBJECT_XRCD', open_xrcd, open_xrcd_resp);
const CLOSE_XRCD = command('IB_USER_VERBS_CMD_CLOSE_XRCD', 'UVERBS_OBJECT_XRCD', close_xrcd);
const MODIFY_CQ = command('IB_USER_VERBS_EX_CMD_MODIFY_CQ', 'UVERBS_OBJECT_CQ', ex_modify_cq);

/**
 * XRC: both an XRC QP and an XRC SRQ live in an XRC domain, so OPEN_XRCD
 * (a new domain: fd -1, O_CREAT) answers both. Where the kernel opens one,
 * it is closed again, and the answer is unknown: the library cannot make
 * XRC QPs or SRQs to say more.
 */
function xrc(ctx: Context): FeatureAnswer[] {
  const object = OPEN_XRCD.name;
  let how: string;
  let supported: FeatureSupport;
  let errno: string | undefined;
  let handle: number | undefined;
  try {
    const r = ctx.dispatch.write(OPEN_XRCD, { fd: 0xffff_ffff, oflags: constants.O_CREAT });
    handle = r.response?.xrcd_handle as number;
  } catch (error) {
    const a = refused('QP_XRC', error, 'tried to open an XRC domain (which XRC QPs and XRC SRQs need)');
    ({ supported, how, errno } = a);
  }
  if (handle !== undefined) {
    supported = 'unknown';
    try {
      ctx.dispatch.write(CLOSE_XRCD, { xrcd_handle: handle });
      how = 'opened and closed an XRC domain; this library has no verbs to make XRC QPs or SRQs in it';
    } catch (error) {
      if (!(error instanceof UverbsError)) throw error;
      errno = error.code;
      how = `opened an XRC domain, but ${CLOSE_XRCD.name} answered ${error.code} (the context's close let go of it); this library has no verbs to make XRC QPs or SRQs in it`;
    }
  }
  return (['QP_XRC', 'XRC_SRQ'] as const).map((name) => ({
    name,
    supported,
    how,
    object,
    ...(errno ? { errno } : {}),
  }));
}

function srq(ctx: Context): FeatureAnswer {
  return attempt('SRQ', 'created an SRQ', 'UVERBS_METHOD_SRQ_CREATE', () => {
    using pd = ctx.allocPd();
    using _srq = pd.createSrq({ maxWr: 2, maxSge: 1 });
    return undefined;
  });
}

function mw(ctx: Context, type: 1 | 2): FeatureAnswer {
  return attempt(`MW_TYPE_${type}`, `allocated a type ${type} MW`, 'IB_USER_VERBS_CMD_ALLOC_MW', () => {
    using pd = ctx.allocPd();
    using _mw = pd.allocMw(type);
    return undefined;
  });
}

/** Names of the bits of `value` set in `table`. */
function bitNames(table: Record<string, number>, value: number, prefix: RegExp): string[] {
  return Object.entries(table)
    .filter(([, bit]) => (value & bit) !== 0)
    .map(([n]) => n.replace(prefix, ''));
}

/** ODP: the device's ODP caps, checked by registering an on-demand MR where they say so; `detail` lists the operations per transport. */
function odp(ctx: Context): FeatureAnswer {
  const caps = ctx.queryDevice().odpCaps;
  const general = caps?.generalCaps ?? 0n;
  if ((general & BigInt(ODP.IB_UVERBS_ODP_SUPPORT)) === 0n) {
    return {
      name: 'ODP',
      supported: false,
      how:
        caps === undefined
          ? 'QUERY_DEVICE reports no odp_caps (the kernel predates them)'
          : 'QUERY_DEVICE odp_caps.general_caps lacks IB_UVERBS_ODP_SUPPORT',
      object: 'IB_USER_VERBS_EX_CMD_QUERY_DEVICE',
    };
  }
  const t = caps?.perTransportCaps ?? { rcOdpCaps: 0, ucOdpCaps: 0, udOdpCaps: 0 };
  const detail = [
    ...(general & BigInt(ODP.IB_UVERBS_ODP_SUPPORT_IMPLICIT) ? ['implicit'] : []),
    ...(
      [
        ['RC', t.rcOdpCaps],
        ['UC', t.ucOdpCaps],
        ['UD', t.udOdpCaps],
      ] as const
    )
      .filter(([, bits]) => bits !== 0)
      .map(([qp, bits]) => `${qp}: ${bitNames(ODP_T, bits, /^IB_UVERBS_ODP_SUPPORT_/).join(' ')}`),
  ];
  return attempt('ODP', 'registered an on-demand-paging MR (odp_caps say ODP)', 'UVERBS_METHOD_REG_MR', () => {
    using pd = ctx.allocPd();
    using _mr = pd.registerMemory(4096, { localWrite: true, onDemand: true });
    return detail;
  });
}

/** A device capability bit by name, from QUERY_DEVICE. */
function hasCap(ctx: Context, bit: keyof typeof CAP): boolean {
  return (ctx.queryDevice().deviceCapFlags & (CAP[bit] as bigint)) !== 0n;
}

/** Every right a peer may use: what the FLUSH and ATOMIC_WRITE loopbacks grant (the responder checks the QP's and the MR's). */
const PEER: AccessFlags = {
  localWrite: true,
  remoteWrite: true,
  remoteRead: true,
  remoteAtomic: true,
  flushGlobal: true,
};

/**
 * FLUSH and ATOMIC_WRITE: the device's capability bits; where they say
 * yes, checked by doing it: on rxe (the library's datapath) one such work
 * request over a looped-back RC pair into an MR a peer may flush, after a
 * control RDMA WRITE on the same pair (yes when it completes, and for
 * ATOMIC_WRITE when the 8 bytes arrived; no when it fails after the
 * control succeeded; unknown when the control failed or the loopback
 * could not be set up: that is not the operation's answer); elsewhere
 * by registering an MR with IB_UVERBS_ACCESS_FLUSH_GLOBAL (FLUSH), or not
 * at all (ATOMIC_WRITE: the device's report is the answer, and `how` says so).
 */
function flushOrAtomicWrite(ctx: Context, name: 'FLUSH' | 'ATOMIC_WRITE'): FeatureAnswer {
  const flush = name === 'FLUSH';
  const bits = flush
    ? (['IB_UVERBS_DEVICE_FLUSH_GLOBAL', 'IB_UVERBS_DEVICE_FLUSH_PERSISTENT'] as const)
    : (['IB_UVERBS_DEVICE_ATOMIC_WRITE'] as const);
  const set = bits.filter((b) => hasCap(ctx, b));
  const device = 'IB_USER_VERBS_EX_CMD_QUERY_DEVICE';
  if (set.length === 0) {
    return { name, supported: false, how: `QUERY_DEVICE capability flags lack ${bits.join(' and ')}`, object: device };
  }
  const detail = set.map((b) => b.replace(/^IB_UVERBS_DEVICE_/, ''));
  if (!hasDatapath(ctx)) {
    if (!flush) {
      return {
        name,
        supported: true,
        how: 'QUERY_DEVICE capability flags have IB_UVERBS_DEVICE_ATOMIC_WRITE (the device’s own report: no datapath here to post one)',
        object: device,
        detail,
      };
    }
    return attempt(
      name,
      'registered an MR with IB_UVERBS_ACCESS_FLUSH_GLOBAL (the capability flags say FLUSH)',
      'UVERBS_METHOD_REG_MR',
      () => {
        using pd = ctx.allocPd();
        using _mr = pd.registerMemory(4096, { localWrite: true, flushGlobal: true });
        return detail;
      },
    );
  }
  const opcode = flush ? 'FLUSH' : 'ATOMIC_WRITE';
  let statuses: string[] | undefined;
  let controlLanded = false;
  let arrived = flush;
  try {
    using pd = ctx.allocPd();
    using target = pd.registerMemory(4096, PEER);
    // the control: an RDMA WRITE into a write-registered MR first, so a loopback that does not work here
    // (no link, no route) is told apart from a device that refuses the operation
    using control = pd.registerMemory(4096, { localWrite: true, remoteWrite: true });
    const remote = { addr: target.address, rkey: target.rkey };
    statuses = loopback(
      pd,
      (source) => [
        {
          opcode: 'RDMA_WRITE',
          sg: [{ mr: source, length: 8 }],
          remote: { addr: control.address, rkey: control.rkey },
        },
        flush
          ? { opcode: 'FLUSH', remote, flush: { type: 'global', level: 'mr' } }
          : { opcode: 'ATOMIC_WRITE', remote, data: PATTERN },
      ],
      PEER,
    );
    controlLanded = landed(control.bytes);
    arrived = flush || landed(target.bytes);
  } catch (error) {
    // the loopback's own objects (PD, MRs, CQ, QPs, GID, connect) or the posting: not the operation's answer
    return {
      name,
      supported: 'unknown',
      how: `the capability flags say ${opcode}; the loopback to test it could not be set up (${(error as Error).message})`,
      object: error instanceof UverbsError ? error.method : device,
      ...(error instanceof UverbsError ? { errno: error.code } : {}),
      detail,
    };
  }
  const [controlStatus, status] = statuses ?? [];
  if (statuses === undefined || controlStatus !== 'IB_WC_SUCCESS' || !controlLanded) {
    return {
      name,
      supported: 'unknown',
      how:
        statuses === undefined
          ? `the capability flags say ${opcode}, but the looped-back work requests did not complete`
          : `the capability flags say ${opcode}, but the control RDMA WRITE before it completed with ${controlStatus}${controlLanded ? '' : ' and its bytes did not arrive'}: the loopback does not work here, so it could not tell`,
      object: device,
      ...(controlStatus ? { completion: controlStatus } : {}),
      detail,
    };
  }
  if (status === 'IB_WC_SUCCESS' && arrived) {
    return {
      name,
      supported: true,
      how: `posted ${flush ? 'a FLUSH (global, whole MR)' : 'an ATOMIC_WRITE'} over a looped-back RC pair after a control RDMA WRITE: it completed${flush ? '' : ' and the 8 bytes arrived'} (the capability flags say ${opcode})`,
      object: device,
      completion: status,
      detail,
    };
  }
  return {
    name,
    supported: false,
    how: `the capability flags say ${opcode}, but a looped-back ${opcode} completed with ${status}${arrived ? '' : ' and the bytes did not arrive'} (a control RDMA WRITE before it succeeded)`,
    object: device,
    ...(status ? { completion: status } : {}),
    detail,
  };
}

/** CQ create flags: each flag the library knows, on a CQ of its own; `detail` lists the accepted ones. */
function cqFlags(ctx: Context): FeatureAnswer {
  const accepted: string[] = [];
  const answers: FeatureAnswer[] = [];
  for (const flag of ['timestampCompletion', 'ignoreOverrun'] as const) {
    const a = attempt('CQ_FLAGS', `created a CQ with ${flag}`, 'UVERBS_METHOD_CQ_CREATE', () => {
      using _cq = ctx.createCq({ cqe: 2, [flag]: true });
      return undefined;
    });
    if (a.supported === true) accepted.push(flag);
    answers.push(a);
  }
  if (accepted.length > 0) {
    return {
      name: 'CQ_FLAGS',
      supported: true,
      how: `created a CQ with each of ${accepted.join(', ')}, and destroyed it`,
      object: 'UVERBS_METHOD_CQ_CREATE',
      detail: accepted,
    };
  }
  // every flag refused: the first answer that could not tell, else no, with each flag's answer
  const unknown = answers.find((a) => a.supported === 'unknown');
  if (unknown) return unknown;
  const first = answers[0] as FeatureAnswer;
  return {
    ...first,
    how: `tried to create a CQ with each of timestampCompletion, ignoreOverrun: ${answers.map((a) => a.errno).join(', ')} from ${first.object}`,
  };
}

function cqModeration(ctx: Context): FeatureAnswer {
  const caps = ctx.queryDevice().cqModCaps;
  return attempt('CQ_MODERATION', 'created a CQ and set its moderation (count 1, period 1 µs)', MODIFY_CQ.name, () => {
    using cq = ctx.createCq({ cqe: 2 });
    // IB_CQ_MODERATE (1): the one attribute MODIFY_CQ changes
    ctx.dispatch.write(MODIFY_CQ, { cq_handle: cq.handle, attr_mask: 1, cq_count: 1, cq_period: 1 });
    return caps ? [`max count ${caps.maxCqCount}`, `max period ${caps.maxCqPeriod} µs`] : undefined;
  });
}

function compChannel(ctx: Context): FeatureAnswer {
  return attempt(
    'COMP_CHANNEL',
    'created a completion channel and a CQ signalling it',
    'IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL',
    () => {
      using channel = ctx.createCompletionChannel();
      using _cq = ctx.createCq({ cqe: 2, channel });
      return undefined;
    },
  );
}

function portSpeed(ctx: Context): FeatureAnswer {
  try {
    const r = ctx.dispatch.invoke(UVERBS_METHOD_QUERY_PORT_SPEED, { portNum: 1 });
    return {
      name: 'PORT_SPEED_QUERY',
      supported: true,
      how: `UVERBS_METHOD_QUERY_PORT_SPEED of port 1 answered ${String(r.outputs.resp)}`,
      object: 'UVERBS_METHOD_QUERY_PORT_SPEED',
    };
  } catch (error) {
    return refused('PORT_SPEED_QUERY', error, 'asked port 1 its speed');
  }
}

/** What the loopback checks write: 8 recognisable bytes. */
const PATTERN = Uint8Array.of(0x75, 0x76, 0x65, 0x72, 0x62, 0x73, 0x21, 0x0a);

/**
 * Posts the work requests `build` makes (each signaled, from a fresh
 * 4 KiB MR holding {@link PATTERN}) on one of two RC QPs of `pd` connected
 * to each other through the port's RoCE v2 IPv4 GID, with `access` granted
 * to the peer: the completions' statuses in order, or undefined when they
 * did not all come within `ms`. Everything it makes is destroyed before it
 * returns.
 */
function loopback(
  pd: ProtectionDomain,
  build: (source: MemoryRegion) => SendWr[],
  access?: AccessFlags,
  ms = 3000,
): string[] | undefined {
  const ctx = pd.context;
  const cap = { maxSendWr: 4, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };
  using cq = ctx.createCq({ cqe: 8 });
  using a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  using b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  const { gid, index } = ctx.findGid({ type: 'RoCEv2', family: 'ipv4' });
  a.connect({ qpNum: b.qpNum, psn: 200, gid }, { sgidIndex: index, psn: 100, ...(access ? { access } : {}) });
  b.connect({ qpNum: a.qpNum, psn: 100, gid }, { sgidIndex: index, psn: 200, ...(access ? { access } : {}) });
  using source = pd.registerMemory(4096, { localWrite: true });
  source.bytes.set(PATTERN);
  const wrs = build(source).map((wr, i) => ({ ...wr, wrId: BigInt(i), signaled: true }));
  a.postSend(wrs);
  const statuses: string[] = [];
  const until = Date.now() + ms;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (statuses.length < wrs.length && Date.now() < until) {
    const got = cq.pollCompletions(wrs.length);
    for (const c of got) statuses[Number(c.wrId)] = String(c.status);
    if (got.length === 0) Atomics.wait(nap, 0, 0, 1);
  }
  return statuses.filter((x) => x !== undefined).length === wrs.length ? statuses : undefined;
}

/** Whether `bytes` starts with {@link PATTERN}. */
function landed(bytes: Uint8Array, at = 0): boolean {
  return PATTERN.every((b, i) => bytes[at + i] === b);
}

/**
 * Whether the library can post over a looped-back pair of this context's device: a datapath for
 * its driver, and RC QPs connected by hand (rxe). iWARP (siw) has a datapath, but its QPs reach
 * RTS only through the connection manager, which the probe does not use.
 */
function hasDatapath(ctx: Context): boolean {
  return ctx.provider?.datapath !== undefined && !ctx.device.nodeType.startsWith('4');
}

/**
 * The ioctl REG_MR route (Linux 7.x), and whether an MR made through it is
 * usable: registered through the ioctl whatever the provider's route; then,
 * where the library has a datapath for the driver (rxe), an RDMA WRITE into
 * it over a looped-back RC pair decides (completed with the bytes in place:
 * yes; refused: no); elsewhere QUERY_MR's report of the iova and length the
 * kernel recorded is all there is (as registered: yes; else unknown: Linux
 * 7.2's handler records none, and only a driver that checks accesses
 * against them, like rxe, is hurt; README, "A kernel bug this found").
 */
function regMrIoctl(ctx: Context): FeatureAnswer {
  const name = 'REG_MR_IOCTL';
  const object = 'UVERBS_METHOD_REG_MR';
  const length = 4096;
  const memory = UserMemory.allocate(sysOf(ctx), length);
  /** The MR's handle while the kernel holds it. */
  let registered: number | undefined;
  let pd: ProtectionDomain | undefined;
  try {
    pd = ctx.allocPd();
    // remote read and write (and local write, which they need): the loopback writes into it
    const r = ctx.dispatch.ioctlOnce(
      UVERBS_METHOD_REG_MR,
      { pdHandle: pd.handle, addr: memory.address, length, iova: memory.address, accessFlags: 1 | 2 | 4 },
      uhwFor(ctx.provider, 'regMr'),
    );
    if (r.errno !== 0) {
      const code = errnoName(r.errno);
      return {
        name,
        supported: UNSUPPORTED.has(code) ? false : 'unknown',
        how: `UVERBS_METHOD_REG_MR answered ${code}${UNSUPPORTED.has(code) ? '' : ' (not an "unsupported" answer)'}`,
        errno: code,
        object,
      };
    }
    registered = r.outputs.handle as number;
    const q = ctx.dispatch.invoke(UVERBS_METHOD_QUERY_MR, { handle: registered, iova: true }).outputs;
    const iova = q.iova as bigint | undefined;
    const recorded = iova === memory.address && q.length === BigInt(length);
    const asked = `iova 0x${memory.address.toString(16)}, length ${length}`;
    const report = recorded
      ? `QUERY_MR reports the ${asked} it was registered with`
      : `QUERY_MR reports iova 0x${iova?.toString(16) ?? '?'}, length ${String(q.length)} (registered with ${asked})`;
    // on rxe: an RDMA WRITE into a region registered the provider's way (the control: the loopback works),
    // then one into the ioctl's region
    let statuses: string[] | undefined;
    let control: MemoryRegion | undefined;
    let tested = hasDatapath(ctx);
    if (tested) {
      try {
        control = pd.registerMemory(4096, { localWrite: true, remoteWrite: true });
        const rkey = r.outputs.rkey as number;
        statuses = loopback(pd, (source) => [
          {
            opcode: 'RDMA_WRITE',
            sg: [{ mr: source, length: 8 }],
            remote: { addr: control?.address ?? 0n, rkey: control?.rkey ?? 0 },
          },
          { opcode: 'RDMA_WRITE', sg: [{ mr: source, length: 8 }], remote: { addr: memory.address, rkey } },
        ]);
        tested = statuses !== undefined && statuses[0] === 'IB_WC_SUCCESS' && landed(control.bytes);
      } catch {
        tested = false; // no RoCE v2 GID, or the pair would not connect: QUERY_MR's report is all there is
      } finally {
        control?.close();
      }
    }
    ctx.dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle: registered });
    registered = undefined;
    const detail = [report];
    const status = statuses?.[1];
    if (tested && status === 'IB_WC_SUCCESS' && landed(memory.bytes)) {
      return {
        name,
        supported: true,
        how: 'registered an MR through the REG_MR ioctl, RDMA-wrote into it over a looped-back RC pair (the bytes arrived), and destroyed it',
        object,
        completion: status,
        detail,
      };
    }
    if (tested) {
      return {
        name,
        supported: false,
        how: `registered an MR through the REG_MR ioctl, but an RDMA WRITE into it completed with ${status}${status === 'IB_WC_SUCCESS' ? ' and the bytes did not arrive' : ''} (the same write into an MR registered by the provider's route succeeded): the MR is unusable`,
        object,
        ...(status ? { completion: status } : {}),
        detail,
      };
    }
    return {
      name,
      supported: recorded ? true : 'unknown',
      how: recorded
        ? `registered an MR through the REG_MR ioctl (${report}; no work request was posted), and destroyed it`
        : `registered an MR through the REG_MR ioctl, but ${report}; whether this driver checks accesses against them was not tested (${hasDatapath(ctx) ? 'the loopback RDMA WRITE did not work' : 'no datapath for this driver here'})`,
      object: recorded ? object : 'UVERBS_METHOD_QUERY_MR',
      detail,
    };
  } catch (error) {
    return refused(name, error, 'tried the REG_MR ioctl');
  } finally {
    try {
      // a registration left over (a step threw): destroyed; where even that fails, the PD cannot be
      // destroyed under it (EBUSY), so the fd is closed first (cascade: false), which lets go of both
      if (registered !== undefined) {
        try {
          ctx.dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle: registered });
          registered = undefined;
        } catch {
          // left to the close
        }
      }
      if (registered !== undefined) ctx.close({ cascade: false });
      else pd?.close();
    } finally {
      memory.free();
    }
  }
}

/** The raw answer of the kernel to a command it must refuse (probe.ts's rules), on this context's fd. */
function refusal(ctx: Context, bytes: Uint8Array, write: boolean): number {
  const sys = sysOf(ctx);
  const buffer = UserMemory.allocate(sys, 4096);
  try {
    buffer.bytes.set(bytes);
    const r = write
      ? sys.write(ctx.fd, buffer.address, bytes.byteLength)
      : sys.ioctl(ctx.fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, buffer.address);
    return r < 0 ? -r : 0;
  } finally {
    buffer.free();
  }
}

/**
 * An object this library has no verbs for (DM, counters, flows): no where
 * the kernel does not route its creating command for this device (the
 * probe's refusal, which runs no handler), unknown where it does.
 */
function noVerbs(ctx: Context, name: FeatureName, method: string): FeatureAnswer {
  let has: number;
  let errno: number;
  if (method.startsWith('IB_USER_VERBS_EX_CMD_')) {
    const index = ib_uverbs_ex_write_cmds[method as keyof typeof ib_uverbs_ex_write_cmds];
    has = writeHas(true);
    errno = refusal(ctx, writeProbe(index, true), true);
  } else {
    const spec = IDENTITY_ONLY.find((m) => m.name === method);
    if (spec === undefined || ctx.driverId === undefined) {
      return {
        name,
        supported: 'unknown',
        how: `the driver id of this device is not known (a kernel without the ioctl framework, or it would not say), so no probe of ${method} could be built; this library has no verbs to make one`,
        object: method,
      };
    }
    const p = methodProbe(spec, ctx.driverId);
    has = p.has;
    errno = refusal(ctx, p.bytes, false);
  }
  const code = errnoName(errno);
  if (errno !== has && UNSUPPORTED.has(code)) {
    return {
      name,
      supported: false,
      how: `${method} is not there for this device (${code})`,
      errno: code,
      object: method,
    };
  }
  return {
    name,
    supported: 'unknown',
    how:
      errno === has
        ? `the kernel has ${method} for this device (${code} to a command refused before its handler); this library has no verbs to make one`
        : `${method} answered ${code} to the probe, which is neither "has it" nor "lacks it"`,
    errno: code,
    object: method,
  };
}

/**
 * RDMA_CM: an rdma_cm_id made through the connection manager's node
 * (`/dev/infiniband/rdma_cm`, the kernel's rdma_ucm) with this library's
 * client, and destroyed. Kept apart from the device checks: an ID is tied
 * to a device only once an address is bound to it, which needs an address
 * this check does not have.
 */
export function rdmaCmFeature(node = RDMA_CM_PATH): FeatureAnswer {
  const no = (error: unknown, what: string): FeatureAnswer => {
    if (!(error instanceof UverbsError)) throw error;
    const code = errnoName(error.errno);
    const gone = code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO';
    const refused = error instanceof UverbsUnsupportedError;
    return {
      name: 'RDMA_CM',
      supported: gone || refused ? false : 'unknown',
      how: gone ? `${node}: ${code} (rdma_ucm is not loaded)` : `${what} answered ${code}`,
      errno: code,
      object: node,
    };
  };
  let channel: EventChannel;
  try {
    channel = EventChannel.open({ path: node });
  } catch (error) {
    return no(error, `opening ${node}`);
  }
  try {
    channel.createId().close();
    return {
      name: 'RDMA_CM',
      supported: true,
      how: `made an rdma_cm_id (RDMA_PS_TCP) through ${node} and destroyed it`,
      object: node,
    };
  } catch (error) {
    return no(error, error instanceof UverbsError ? (error.method ?? 'RDMA_USER_CM_CMD_CREATE_ID') : '');
  } finally {
    try {
      channel.close();
    } catch {
      // closing the fd is the kernel's teardown of whatever is left; the answer above stands
    }
  }
}

type Check = (ctx: Context) => FeatureAnswer | FeatureAnswer[];

/** Each check and the features it answers, in FEATURE_NAMES order. */
const CHECKS: [readonly FeatureName[], Check][] = [
  [['QP_RC'], (c) => qpType(c, 'RC')],
  [['QP_UC'], (c) => qpType(c, 'UC')],
  [['QP_UD'], (c) => qpType(c, 'UD')],
  [['QP_XRC', 'XRC_SRQ'], xrc],
  [['QP_RAW_PACKET'], rawPacket],
  [['SRQ'], srq],
  [['MW_TYPE_1'], (c) => mw(c, 1)],
  [['MW_TYPE_2'], (c) => mw(c, 2)],
  [['ODP'], odp],
  [['FLUSH'], (c) => flushOrAtomicWrite(c, 'FLUSH')],
  [['ATOMIC_WRITE'], (c) => flushOrAtomicWrite(c, 'ATOMIC_WRITE')],
  [['CQ_FLAGS'], cqFlags],
  [['CQ_MODERATION'], cqModeration],
  [['COMP_CHANNEL'], compChannel],
  [['PORT_SPEED_QUERY'], portSpeed],
  [['REG_MR_IOCTL'], regMrIoctl],
  [['DM'], (c) => noVerbs(c, 'DM', 'UVERBS_METHOD_DM_ALLOC')],
  [['COUNTERS'], (c) => noVerbs(c, 'COUNTERS', 'UVERBS_METHOD_COUNTERS_CREATE')],
  [['FLOWS'], (c) => noVerbs(c, 'FLOWS', 'IB_USER_VERBS_EX_CMD_CREATE_FLOW')],
];

/**
 * Asks `device` (ib name, uverbs node or `DeviceInfo`; default: the first
 * device) each feature of {@link FEATURE_NAMES} by making and destroying
 * real objects, one context per feature; see the module comment for what
 * each answer means. Throws only for a device that cannot be opened (a
 * name that names none: ENODEV listing the devices there are) or a bad
 * argument; a feature the kernel refuses is an answer, not an error.
 */
export function features(device?: string | DeviceInfo, options: FeatureOptions = {}): FeatureAnswer[] {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const only = options.only ?? FEATURE_NAMES;
  for (const n of only) {
    if (!FEATURE_NAMES.includes(n)) throw invalidArgValue('options.only', `names an unknown feature: ${n}`, n);
  }
  const info = deviceArg(device);
  const sys = options.sys ?? libcSys();
  const out: FeatureAnswer[] = [];
  for (const [names, check] of CHECKS) {
    if (!names.some((n) => only.includes(n))) continue;
    let answers: FeatureAnswer | FeatureAnswer[];
    {
      using ctx = Context.open(info, { sys });
      answers = check(ctx);
    }
    for (const a of [answers].flat()) if (only.includes(a.name)) out.push(a);
  }
  if (only.includes('RDMA_CM')) out.push(rdmaCmFeature());
  return out.sort((a, b) => FEATURE_NAMES.indexOf(a.name) - FEATURE_NAMES.indexOf(b.name));
}

/**
 * Object lifetime: cycles of every object (PD, MR, comp channel, CQ, SRQ,
 * QPs, MW, AH) made and closed through the library; the kernel's own
 * refusals to destroy what is in use (EBUSY: a PD with a live MR, a CQ a QP
 * completes into) leaving both objects usable; closing an SRQ taking its QP
 * down; use after close a typed error that never reaches the kernel.
 */

import { EBUSY } from '../errno.js';
import { UverbsClosedError } from '../errors.js';
import type { TraceEvent } from '../transport/dispatch.js';
import { Context } from '../verbs/context.js';
import { count, newPart, type PartResult } from './report.js';
import { fdCount } from './resources.js';
import { expectErrno, expectThat, ifSupported } from './scenario.js';

const CAP = { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 };

export interface LifetimeOptions {
  /** Create/close cycles at most. */
  readonly cycles: number;
  /** Wall-clock budget of the cycles, ms. */
  readonly budgetMs: number;
  /** Opens a context on the device, with `trace` (default `Context.open(device)`; a test's fake kernel). */
  readonly open?: (trace?: (e: TraceEvent) => void) => Context;
}

/**
 * One of every object this device has, on a fresh context; closing the
 * context closes them all. What the device does not have (an SRQ where
 * QUERY_DEVICE says max_srq 0, or an unsupported answer) is counted under
 * `unsupported <what>`.
 */
export function everyObject(part: PartResult, ctx: Context): void {
  const pd = ctx.allocPd();
  pd.registerMemory(4096, { localWrite: true });
  const channel = ctx.createCompletionChannel();
  const cq = ctx.createCq({ cqe: 8, channel });
  const srq = hasSrq(ctx)
    ? ifSupported(part, 'SRQ', () => pd.createSrq({ maxWr: 8, maxSge: 1 }))
    : void count(part, 'unsupported SRQ');
  pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
  ifSupported(part, 'UD QP', () =>
    pd.createQp(
      srq ? { type: 'UD', sendCq: cq, recvCq: cq, srq, cap: CAP } : { type: 'UD', sendCq: cq, recvCq: cq, cap: CAP },
    ),
  );
  ifSupported(part, 'MW type 1', () => pd.allocMw(1));
  ifSupported(part, 'AH', () => {
    const { gid, index } = ctx.findGid({ type: 'RoCEv2', family: 'ipv4' });
    return pd.createAh({ dgid: gid, sgidIndex: index, port: 1 });
  });
}

/** Whether the device has SRQs (QUERY_DEVICE's max_srq is not 0). */
function hasSrq(ctx: Context): boolean {
  return ctx.queryDevice().maxSrq > 0;
}

/** Closing an SRQ takes its QP down; skipped, with the reason, on a device without SRQs. */
export function srqStep(part: PartResult, open: (trace?: (e: TraceEvent) => void) => Context): void {
  using ctx = open();
  if (!hasSrq(ctx)) {
    part.notes.push('SRQ step skipped: the device has no SRQs (QUERY_DEVICE max_srq 0)');
    count(part, 'unsupported SRQ');
    return;
  }
  const pd = ctx.allocPd();
  const srq = pd.createSrq({ maxWr: 16, maxSge: 1 });
  const cq = ctx.createCq({ cqe: 16 });
  const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, srq, cap: CAP });
  expectErrno(part, 'SRQ close with a QP on it', 0, () => srq.close());
  expectThat(part, 'closing the SRQ takes its QP down', qp.closed, 'qp.closed is false');
}

export function lifetimeCheck(device: string, options: LifetimeOptions): PartResult {
  const part = newPart('lifetime');
  const open = options.open ?? ((trace?: (e: TraceEvent) => void) => Context.open(device, trace ? { trace } : {}));
  const deadline = Date.now() + options.budgetMs;
  let cycles = 0;
  const fds = fdCount();
  while (cycles < options.cycles && Date.now() < deadline) {
    const probe = newPart('lifetime');
    {
      using ctx = open();
      everyObject(cycles === 0 ? part : probe, ctx);
    }
    cycles++;
    // each cycle: closing the context gave back its fd and its objects' (comp channel) fds
    const now = fdCount();
    expectThat(part, `lifetime cycle ${cycles}: no fd left open`, now === fds, `${now - fds} more than before`);
  }
  count(part, 'cycles', cycles);

  {
    using ctx = open();
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4096, { localWrite: true });
    expectErrno(part, 'PD_DESTROY of a PD with a live MR', EBUSY, () => pd.close({ cascade: false }));
    expectThat(
      part,
      'the PD and its MR survive the refusal',
      !pd.closed && !mr.closed,
      `pd.closed ${pd.closed}, mr.closed ${mr.closed}`,
    );
    expectErrno(part, 'a second MR on that PD', 0, () => pd.registerMemory(4096).close());
    expectErrno(part, 'MR close', 0, () => mr.close());
    expectErrno(part, 'PD close once it has no MR', 0, () => pd.close({ cascade: false }));
  }
  {
    using ctx = open();
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 8 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
    expectErrno(part, 'CQ_DESTROY of a CQ a QP uses', EBUSY, () => cq.close({ cascade: false }));
    expectThat(part, 'the CQ survives the refusal', !cq.closed, 'cq.closed is true');
    expectErrno(part, 'another QP on that CQ', 0, () =>
      pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP }).close(),
    );
    expectErrno(part, 'QP close', 0, () => qp.close());
    expectErrno(part, 'CQ close once no QP uses it', 0, () => cq.close({ cascade: false }));
  }
  srqStep(part, open);
  {
    const trace: TraceEvent[] = [];
    const ctx = open((e) => trace.push(e));
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 8 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
    pd.close();
    expectThat(part, 'closing a PD closes its QP', qp.closed, 'qp.closed is false');
    const before = trace.length;
    const closed = (what: string, fn: () => unknown) => {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expectThat(part, `use after close: ${what}`, error instanceof UverbsClosedError, `got ${String(error)}`);
    };
    closed('pd.registerMemory', () => pd.registerMemory(4096));
    closed('qp.modify', () => qp.modify({ state: 'INIT' }));
    closed('qp.query', () => qp.query());
    ctx.close();
    closed('cq.resize', () => cq.resize(16));
    closed('ctx.queryPort', () => ctx.queryPort(1));
    closed('ctx.allocPd', () => ctx.allocPd());
    // the CQ's own destroy, by ctx.close(): nothing else reached the kernel
    expectThat(
      part,
      'use after close sends nothing',
      trace.length === before + 1,
      `${trace.length - before} calls made`,
    );
  }
  return part;
}

/**
 * Exhaustion at the device's own limits (as QUERY_DEVICE reports them): a
 * CQ of max_cqe entries, a QP of max_qp_wr send WRs and an SRQ of
 * max_srq_wr WRs are made; one more each is refused by the driver (rxe_cq_chk_attr,
 * rxe_qp_chk_cap, rxe_srq_chk_init; siw_create_cq/qp/srq: EINVAL) as a
 * typed error, with nothing created (the `rdma res` counts are unchanged
 * after the refusals).
 */

import { EINVAL } from '../errno.js';
import { Context } from '../verbs/context.js';
import { newPart, type PartResult } from './report.js';
import { type ResourceReader, sameCounts, showCounts } from './resources.js';
import { expectErrno, expectThat } from './scenario.js';

const ONE = { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };

export function exhaustionCheck(device: string, resources: ResourceReader | undefined): PartResult {
  const part = newPart('exhaustion');
  using ctx = Context.open(device);
  const attrs = ctx.queryDevice();
  const pd = ctx.allocPd();
  const cq = ctx.createCq({ cqe: 1 });
  const before = resources?.();
  expectErrno(part, `CQ of max_cqe (${attrs.maxCqe}) entries`, 0, () => ctx.createCq({ cqe: attrs.maxCqe }).close());
  expectErrno(part, `CQ of max_cqe + 1 (${attrs.maxCqe + 1}) entries`, EINVAL, () =>
    ctx.createCq({ cqe: attrs.maxCqe + 1 }).close(),
  );
  const qp = (maxSendWr: number) => () =>
    pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: { ...ONE, maxSendWr } }).close();
  expectErrno(part, `QP of max_qp_wr (${attrs.maxQpWr}) send WRs`, 0, qp(attrs.maxQpWr));
  expectErrno(part, `QP of max_qp_wr + 1 (${attrs.maxQpWr + 1}) send WRs`, EINVAL, qp(attrs.maxQpWr + 1));
  const srq = (maxWr: number) => () => pd.createSrq({ maxWr, maxSge: 1 }).close();
  expectErrno(part, `SRQ of max_srq_wr (${attrs.maxSrqWr}) WRs`, 0, srq(attrs.maxSrqWr));
  expectErrno(part, `SRQ of max_srq_wr + 1 (${attrs.maxSrqWr + 1}) WRs`, EINVAL, srq(attrs.maxSrqWr + 1));
  if (resources && before) {
    const after = resources();
    expectThat(
      part,
      'the refusals created nothing (rdma res)',
      sameCounts(before, after),
      `before ${showCounts(before)}, after ${showCounts(after)}`,
    );
  }
  return part;
}

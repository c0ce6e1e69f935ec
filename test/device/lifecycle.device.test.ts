/**
 * AH, MW, SRQ on a real device, and 200 create/destroy cycles of every
 * object with the fd count and `rdma res show` back at their baseline.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/abi/layout.js';
import { rxe_create_ah_resp } from '../../src/abi/rxe.js';
import { Context } from '../../src/context.js';
import { UverbsUnsupportedError } from '../../src/errors.js';
import { TEST_DEVICE, VM_KERNEL } from './support.js';

const CAP = { maxSendWr: 8, maxRecvWr: 8, maxSendSge: 1, maxRecvSge: 1 };

/** Runs `fn`; a driver that does not implement it skips the test with the kernel's answer. */
function orSkip(test: { skip: (note?: string) => void }, what: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof UverbsUnsupportedError)) throw error;
    const reason = `${TEST_DEVICE} on ${VM_KERNEL}: ${what} answers ${error.code}`;
    process.stderr.write(`skipped: ${reason}\n`);
    test.skip(reason);
  }
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** `rdma res show` per device: counts of pd, cq, qp, cm_id, mr, ctx. */
function resources(): string {
  return execFileSync('rdma', ['res', 'show'], { encoding: 'utf8' }).trim();
}

describe.runIf(TEST_DEVICE)(`AH, MW, SRQ and lifecycles on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const iwarp = name.startsWith('siw');
  // RoCE v2's IPv4-mapped GID is index 1 on rxe; an iWARP device has one GID, index 0
  const gidIndex = iwarp ? 0 : 1;

  it('an address handle to our own GID', (test) => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    orSkip(test, 'CREATE_AH', () => {
      const { gid } = ctx.queryGid(1, gidIndex);
      const ah = pd.createAh({ dgid: gid, sgidIndex: gidIndex, hopLimit: 64, port: 1 });
      expect(ah.handle).toBeGreaterThanOrEqual(0);
      if (name.startsWith('rxe')) expect(decode(rxe_create_ah_resp, ah.driverData).ah_num).toBeGreaterThan(0);
      ah.close();
    });
  });

  it.for([1, 2] as const)('a type %i memory window', (type, test) => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    orSkip(test, `ALLOC_MW type ${type}`, () => {
      const mw = pd.allocMw(type);
      expect(mw.rkey).toBeGreaterThan(0);
      mw.close();
    });
  });

  it('an SRQ: create, set its limit, query, a QP that receives from it', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const srq = pd.createSrq({ maxWr: 16, maxSge: 1 });
    expect(srq.maxWr).toBeGreaterThanOrEqual(16);
    srq.modify({ limit: 4 });
    expect(srq.query().limit).toBe(4);
    const cq = ctx.createCq({ cqe: 16 });
    const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, srq, cap: CAP });
    expect(qp.qpNum).toBeGreaterThan(0);
    // closing the SRQ first takes the QP that uses it down with it
    srq.close();
    expect(qp.closed).toBe(true);
  });

  it('siw refuses UD QPs (iWARP is RC only)', (test) => {
    if (!iwarp) return test.skip('rxe has UD QPs; this checks the iWARP driver');
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const cq = ctx.createCq({ cqe: 8 });
    expect(() => pd.createQp({ type: 'UD', sendCq: cq, recvCq: cq, cap: CAP })).toThrow(
      expect.objectContaining({ code: 'EOPNOTSUPP', unsupported: true }),
    );
  });

  it('200 cycles of every object leave fds and `rdma res show` as they were', { timeout: 600_000 }, () => {
    const fds = fdCount();
    const before = resources();
    for (let i = 0; i < 200; i++) {
      using ctx = Context.open(name);
      const pd = ctx.allocPd();
      pd.registerMemory(4096, { localWrite: true });
      const channel = ctx.createCompletionChannel();
      const cq = ctx.createCq({ cqe: 8, channel });
      const srq = pd.createSrq({ maxWr: 8, maxSge: 1 });
      pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap: CAP });
      // iWARP has only RC QPs (siw answers EOPNOTSUPP for UD), no MWs and no AHs
      pd.createQp({ type: iwarp ? 'RC' : 'UD', sendCq: cq, recvCq: cq, srq, cap: CAP });
      if (!iwarp) {
        pd.allocMw(1);
        pd.createAh({ dgid: ctx.queryGid(1, 1).gid, sgidIndex: 1, port: 1 });
      }
    }
    expect(fdCount()).toBe(fds);
    expect(resources()).toBe(before);
  });
});

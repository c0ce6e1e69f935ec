/**
 * DESIGN §Reliability 2, the child: creates objects on one device until it
 * is killed (a PD, a 4 KiB MR, a CQ and an RC QP per round, all kept), and
 * says "ready" on stdout once the first round is done.
 *
 *   node create-forever.mjs IBDEV
 */

import { Context } from '../../../dist/src/index.js';

const ctx = Context.open(process.argv[2]);
const cap = { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 };
for (let round = 1; ; round++) {
  const pd = ctx.allocPd();
  pd.registerMemory(4096, { localWrite: true });
  const cq = ctx.createCq({ cqe: 4 });
  pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  if (round === 1) process.stdout.write('ready\n');
}

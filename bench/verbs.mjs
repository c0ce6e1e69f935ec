// The JS side of `npm run bench`: bench/verbs-c.c's operations through this
// library, same device, same counts, same JSON lines.
//   node bench/verbs.mjs DEV GIDX ITERS [WARMUP [OP]]
// WARMUP: untimed rounds of each operation before its timed ones (default 0, as the C side).
// OP: only that operation (pd, mr4k, mr4kshared, cq, qp, send4k, send64inline), as `npm run bench --
// --profile` runs it. Each line also gives the timed part's bounds, `from` and `to`, in
// process.hrtime nanoseconds (the clock of a --cpu-prof profile's samples).
import { Context } from '../dist/src/index.js';

const [dev, gidArg, itersArg] = process.argv.slice(2);
const gidx = Number(gidArg);
const iters = Number(itersArg);
const warmup = Number(process.argv[5] ?? 0);
const only = process.argv[6];
const now = () => process.hrtime.bigint();
/** Runs `once` WARMUP times untimed, then ITERS times timed; reports the latter. */
function measure(op, once) {
  if (only !== undefined && op !== only) return;
  for (let i = 0; i < warmup; i++) once();
  const from = now();
  for (let i = 0; i < iters; i++) once();
  const to = now();
  process.stdout.write(
    `${JSON.stringify({ op, n: iters, ns: Number(to - from), from: Number(from), to: Number(to) })}\n`,
  );
}

const ctx = Context.open(dev);
const pd = ctx.allocPd();
const cq = ctx.createCq({ cqe: 256 });
const cap = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 64 };

measure('pd', () => ctx.allocPd().close());
measure('mr4k', () => pd.registerMemory(4096, { localWrite: true }).close());
// bench/verbs-c.c registers one buffer it made once; the same here, with memory the caller owns
const shared = new Uint8Array(new SharedArrayBuffer(65536), 0, 4096);
measure('mr4kshared', () => pd.registerMemory(shared, { localWrite: true }).close());
measure('cq', () => ctx.createCq({ cqe: 64 }).close());
measure('qp', () => pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap }).close());

const mr = pd.registerMemory(65536, { localWrite: true, remoteWrite: true });
mr.bytes.fill(1);
const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
const b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
const { gid } = ctx.queryGid(1, gidx);
const access = { localWrite: true, remoteWrite: true };
a.connect({ qpNum: b.qpNum, psn: 0, gid }, { sgidIndex: gidx, access });
b.connect({ qpNum: a.qpNum, psn: 0, gid }, { sgidIndex: gidx, access });
const out = new Uint8Array(2 * 48);
const status = new DataView(out.buffer);
const recv = { wrId: 1n, sg: [{ mr, offset: 32768, length: 4096 }] };
const sends = [
  ['send4k', { wrId: 2n, opcode: 'SEND', signaled: true, sg: [{ mr, length: 4096 }] }],
  ['send64inline', { wrId: 2n, opcode: 'SEND', signaled: true, inline: mr.bytes.subarray(0, 64) }],
];
for (const [op, send] of sends) {
  measure(op, () => {
    b.postRecv(recv);
    a.postSend(send);
    for (let got = 0; got < 2; ) {
      const n = cq.poll(out, 2);
      for (let j = 0; j < n; j++)
        if (status.getUint32(j * 48 + 8, true) !== 0)
          throw new Error(`completion status ${status.getUint32(j * 48 + 8, true)}`);
      got += n;
    }
  });
}
ctx.close();

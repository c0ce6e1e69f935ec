/**
 * The soak (DESIGN §Reliability; `npm run soak`, not part of CI): for
 * `--minutes` on one device, round after round of create / post / poll /
 * destroy: a PD, two 64 KiB MRs, a CQ on a completion channel, two RC QPs
 * connected to each other; 32 receives and 32 SENDs (4 KiB, every 8th
 * signaled) plus an RDMA WRITE, awaited on the event loop and checked byte
 * for byte; then everything closed in order. Every 16th round the context
 * is closed and reopened too.
 *
 * Prints RSS (after a forced GC), fd count, VmPin and the device's
 * `rdma res show` line at the start (after one warm-up round), once a
 * minute, and at the end; exits 1 if the fd count, VmPin or the rdma
 * resources differ from the start, if the JS heap in use grew by more than
 * 2 MiB, or RSS by more than `--rss-slack` MiB (default 16), from the first
 * minute's sample to the end. The first minute is the JIT and the heap
 * finding their size, not a leak (start-to-end is printed too); after it,
 * RSS moves in steps of a few MiB either way as malloc and V8 take and give
 * back whole chunks, which is what the slack is for. The mapping count
 * (VMAs) is printed: a ring or region left mapped would show there.
 * Run with node --expose-gc.
 *
 *   node --expose-gc scripts/soak.mjs [--device rxe0] [--minutes 10] [--rss-slack 16] [--json]
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Context, decodeCompletions } from '../dist/src/index.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: process.env.UVERBS_TEST_DEVICE ?? 'rxe0' },
    minutes: { type: 'string', default: '10' },
    'rss-slack': { type: 'string', default: '16' },
    json: { type: 'boolean', default: false },
  },
});
const device = values.device;
const minutes = Number(values.minutes);
const slackMiB = Number(values['rss-slack']);
if (!(minutes > 0) || !(slackMiB >= 0)) {
  process.stderr.write('soak: --minutes must be > 0 and --rss-slack >= 0\n');
  process.exit(2);
}
if (typeof globalThis.gc !== 'function') {
  process.stderr.write('soak: run with node --expose-gc (RSS is read after a full GC)\n');
  process.exit(2);
}

const SGID = 1; // RoCE v2, IPv4-mapped (rxe)
const SENDS = 32;
const SIZE = 4096;
const ALL = { localWrite: true, remoteWrite: true };

function sample(rounds, elapsedS) {
  globalThis.gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const res = execFileSync('rdma', ['res', 'show'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.includes(` ${device}: `))
    ?.replace(/^\d+: \S+ /, '')
    .trim();
  const mem = process.memoryUsage();
  const mib = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
  return {
    rounds,
    elapsedS: Math.round(elapsedS),
    rssMiB: mib(mem.rss),
    heapMiB: mib(mem.heapUsed),
    externalMiB: mib(mem.external),
    maps: readFileSync('/proc/self/maps', 'utf8').trimEnd().split('\n').length,
    fds: readdirSync('/proc/self/fd').length,
    vmPinKiB: Number(/^VmPin:\s+(\d+) kB$/m.exec(status)?.[1]),
    res,
  };
}

function say(what, s) {
  if (values.json) process.stdout.write(`${JSON.stringify({ what, ...s })}\n`);
  else {
    process.stdout.write(
      `soak ${what.padEnd(5)} ${String(s.elapsedS).padStart(4)} s  rounds ${String(s.rounds).padStart(6)}  ` +
        `rss ${s.rssMiB.toFixed(1)} MiB (heap ${s.heapMiB.toFixed(1)}, external ${s.externalMiB.toFixed(1)})  VMAs ${s.maps}  fds ${s.fds}  VmPin ${s.vmPinKiB} kB  rdma res: ${s.res}\n`,
    );
  }
}

/** One round on `ctx`: everything made, used, checked and closed. */
async function round(ctx, n) {
  const pd = ctx.allocPd();
  const channel = ctx.createCompletionChannel();
  const cq = ctx.createCq({ cqe: 128, channel });
  const cap = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1 };
  const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  const b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  const { gid } = ctx.queryGid(1, SGID);
  a.connect({ qpNum: b.qpNum, psn: n & 0xffff, gid }, { sgidIndex: SGID, psn: (n + 1) & 0xffff });
  b.connect({ qpNum: a.qpNum, psn: (n + 1) & 0xffff, gid }, { sgidIndex: SGID, psn: n & 0xffff });
  const ma = pd.registerMemory(16 * SIZE, ALL);
  const mb = pd.registerMemory(16 * SIZE, ALL);
  for (let i = 0; i < ma.bytes.length; i++) ma.bytes[i] = (n + i) & 0xff;

  b.postRecv(
    Array.from({ length: SENDS }, (_, i) => ({
      wrId: BigInt(i),
      sg: [{ mr: mb, offset: (i % 16) * SIZE, length: SIZE }],
    })),
  );
  a.postSend(
    Array.from({ length: SENDS }, (_, i) => ({
      wrId: BigInt(i),
      opcode: 'SEND',
      signaled: i % 8 === 7,
      sg: [{ mr: ma, offset: (i % 16) * SIZE, length: SIZE }],
    })),
  );
  const want = SENDS + SENDS / 8;
  const out = new Uint8Array(64 * 48);
  let got = 0;
  while (got < want) {
    const k = await cq.wait(out, 64);
    for (const wc of decodeCompletions(out, k)) {
      if (wc.status !== 'IB_WC_SUCCESS') throw new Error(`round ${n}: completion ${wc.wrId} ${wc.status}`);
    }
    got += k;
  }
  if (Buffer.compare(ma.bytes, mb.bytes) !== 0) throw new Error(`round ${n}: the receiver's bytes differ`);
  a.postSend({
    wrId: 99n,
    opcode: 'RDMA_WRITE',
    signaled: true,
    sg: [{ mr: ma, length: 64 }],
    remote: { addr: mb.address + 64n, rkey: mb.rkey },
  });
  if ((await cq.wait(out, 1)) !== 1) throw new Error(`round ${n}: no RDMA WRITE completion`);
  // in order: QPs, then what they used
  for (const o of [a, b, cq, channel, ma, mb, pd]) o.close();
}

const start = Date.now();
const end = start + minutes * 60_000;
let ctx = Context.open(device);
let rounds = 0;
await round(ctx, rounds++); // warm-up: the first loads and compiles are not growth
const first = sample(rounds, 0);
say('start', first);
let nextReport = start + 60_000;
let settled; // the first minute's sample
while (Date.now() < end) {
  await round(ctx, rounds++);
  if (rounds % 16 === 0) {
    ctx.close();
    ctx = Context.open(device);
  }
  if (Date.now() >= nextReport) {
    const s = sample(rounds, (Date.now() - start) / 1000);
    settled ??= s;
    say('at', s);
    nextReport += 60_000;
  }
}
ctx.close();
ctx = Context.open(device); // the start was sampled with one context open
const last = sample(rounds, (Date.now() - start) / 1000);
ctx.close();
say('end', last);
const signed = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
const grew = last.rssMiB - first.rssMiB;
const grewSettled = last.rssMiB - (settled ?? first).rssMiB;
const problems = [
  last.fds !== first.fds && `fds ${first.fds} -> ${last.fds}`,
  last.vmPinKiB !== first.vmPinKiB && `VmPin ${first.vmPinKiB} -> ${last.vmPinKiB} kB`,
  last.res !== first.res && `rdma res "${first.res}" -> "${last.res}"`,
  grewSettled > slackMiB && `RSS grew ${grewSettled.toFixed(1)} MiB after the first minute (slack ${slackMiB})`,
  last.heapMiB - (settled ?? first).heapMiB > 2 &&
    `the JS heap grew ${(last.heapMiB - (settled ?? first).heapMiB).toFixed(1)} MiB after the first minute`,
].filter(Boolean);
const rss = `RSS ${signed(grew)} MiB from the start, ${signed(grewSettled)} MiB after the first minute`;
process.stdout.write(
  problems.length
    ? `soak: FAILED after ${rounds} rounds: ${problems.join('; ')} (${rss})\n`
    : `soak: flat after ${rounds} rounds in ${last.elapsedS} s (${rss}; fds, VmPin, rdma res unchanged)\n`,
);
process.exit(problems.length ? 1 : 0);

// Our side of `npm run bench`'s perftest comparisons: the same exchanges as ib_send_lat,
// ib_send_bw and ib_write_bw, through this library, one process per side on one device,
// so that the two pairs run the same shape side by side.
//
//   node bench/perf.mjs lat|send_bw|write_bw --size S --iters N [--warmup W] --port P [SERVER]
//
// lat:      ping-pong of SENDs (inline when they fit), both sides busy-polling; the client
//           prints the one-way latency, RTT / 2: the average (perftest's t_avg) and the
//           median (its t_typical).
// send_bw:  the client streams SENDs (tx depth 128, batches of 16, every 64th signaled); the
//           server keeps its receive queue full; the client prints the message rate.
// write_bw: the client streams RDMA WRITEs into the server's region; same depth and signaling.
// Work requests are prepared once (`prepareSend` / `prepareRecv`) and posted many times.
// --warmup W: W untimed iterations (messages) first, on both sides, so that the timed ones
// run JIT-compiled code; perftest has no JIT and no warm-up, so W = 0 is the like-for-like run.
// The rates are perftest's MsgRate (millions of messages per second). The address exchange
// is one JSON line each way over TCP; it is ours on both sides, not perftest's.
// Prints one JSON line: { mode, size, iters, warmup, usec, typical } (lat) or { ..., mpps },
// and the timed part's bounds, `from` and `to`, in process.hrtime nanoseconds (the clock of a
// --cpu-prof profile's samples; `npm run bench -- --profile` reads them).

import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Context } from '../dist/src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string', default: '2' },
    iters: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '0' },
    port: { type: 'string', default: '18600' },
    device: { type: 'string', default: 'rxe0' },
    gid: { type: 'string', default: '1' },
  },
});
const [mode, server] = positionals;
if (!['lat', 'send_bw', 'write_bw'].includes(mode)) throw new Error(`perf.mjs: no mode ${mode}`);
const size = Number(values.size);
const iters = Number(values.iters);
const warmup = Number(values.warmup);
const gidx = Number(values.gid);
const TX_DEPTH = 128;
const RX_DEPTH = 512;
const SIGNAL_EVERY = 64;
const INLINE = 236; // perftest's default for the latency tests
const WC = 48;

const ctx = Context.open(values.device);
const pd = ctx.allocPd();
const cq = ctx.createCq({ cqe: 2 * RX_DEPTH });
const inline = mode === 'lat' && size <= INLINE;
const cap = {
  maxSendWr: TX_DEPTH,
  maxRecvWr: RX_DEPTH,
  maxSendSge: 1,
  maxRecvSge: 1,
  maxInlineData: inline ? INLINE : 0,
};
const qp = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
const access = { localWrite: true, remoteWrite: true };
const mr = pd.registerMemory(Math.max(size, 64) * 2, access);
const { gid } = ctx.queryGid(1, gidx);
const psn = Math.floor(Math.random() * 0xffffff);
const me = { qpn: qp.qpNum, psn, gid: Buffer.from(gid).toString('hex'), addr: mr.address.toString(), rkey: mr.rkey };

/** One JSON line each way; returns the peer's line and the socket. */
async function exchange() {
  let socket;
  if (server === undefined) {
    const listener = createServer();
    listener.listen(Number(values.port));
    [socket] = await once(listener, 'connection');
    listener.close();
  } else {
    socket = createConnection(Number(values.port), server);
    await once(socket, 'connect');
  }
  socket.write(`${JSON.stringify(me)}\n`);
  let text = '';
  while (!text.includes('\n')) text += (await once(socket, 'data'))[0];
  return { peer: JSON.parse(text), socket };
}

const { peer, socket } = await exchange();
qp.connect(
  { qpNum: peer.qpn, psn: peer.psn, gid: Uint8Array.from(Buffer.from(peer.gid, 'hex')) },
  { sgidIndex: gidx, psn, access },
);
// both QPs in RTS before anyone sends: one byte each way
socket.write('r');
await once(socket, 'data');

const out = new Uint8Array(64 * WC);
const status = new DataView(out.buffer);
/** Receive completions seen so far. */
let received = 0;
/** Polls once; throws on a failed completion; counts receives; returns how many completions. */
function pollOnce(max) {
  const n = cq.poll(out, max);
  for (let j = 0; j < n; j++) {
    if (status.getUint32(j * WC + 8, true) !== 0)
      throw new Error(`completion status ${status.getUint32(j * WC + 8, true)}`);
    if (status.getUint32(j * WC + 12, true) & 0x80) received++; // IB_WC_RECV and up have bit 7
  }
  return n;
}
/** Busy-polls until `want` more receives have arrived (send completions are reaped on the way). */
function awaitRecvs(want) {
  const goal = received + want;
  while (received < goal) pollOnce(64);
}

/** Streams are whole runs of SIGNAL_EVERY messages: the count both sides agree on. */
const whole = (n) => Math.ceil(n / SIGNAL_EVERY) * SIGNAL_EVERY;
const recvWr = { sg: [{ mr, offset: size, length: Math.max(size, 1) }] };
let result;
/** The timed part's bounds (hrtime). */
let from = 0n;
let to = 0n;
if (mode === 'lat') {
  const send = qp.prepareSend(
    inline
      ? { opcode: 'SEND', signaled: true, inline: mr.bytes.subarray(0, size) }
      : { opcode: 'SEND', signaled: true, sg: [{ mr, length: size }] },
  );
  const recv = qp.prepareRecv(recvWr);
  const rtt = new Float64Array(iters);
  recv.post();
  for (let i = -warmup; i < iters; i++) {
    if (i === 0) from = process.hrtime.bigint();
    const t = performance.now();
    if (server !== undefined) {
      send.post();
      awaitRecvs(1); // the reply
      recv.post();
    } else {
      awaitRecvs(1); // the ping
      recv.post();
      send.post();
    }
    if (i >= 0) rtt[i] = performance.now() - t;
  }
  to = process.hrtime.bigint();
  let sum = 0;
  for (const x of rtt) sum += x;
  const sorted = rtt.slice().sort();
  result = { usec: (sum / iters / 2) * 1000, typical: (sorted[Math.floor(iters / 2)] / 2) * 1000 };
} else if (server === undefined) {
  // the passive side: send_bw keeps receives posted until every message arrived; write_bw waits
  if (mode === 'send_bw') {
    const CHUNK = 32;
    const refill = qp.prepareRecv(Array.from({ length: CHUNK }, () => recvWr));
    for (let i = 0; i < RX_DEPTH / CHUNK; i++) refill.post();
    const total = whole(warmup) + whole(iters);
    let posted = RX_DEPTH;
    while (received < total) {
      pollOnce(64);
      // receives consumed and not yet replaced: received - (posted - RX_DEPTH)
      for (; received - (posted - RX_DEPTH) >= CHUNK && posted < total; posted += CHUNK) refill.post();
    }
  }
} else {
  // the active side: batches of 16 prepared once; every 4th batch ends with a signaled WR
  const BATCH = 16;
  const wr =
    mode === 'send_bw'
      ? { opcode: 'SEND', sg: [{ mr, length: size }] }
      : { opcode: 'RDMA_WRITE', sg: [{ mr, length: size }], remote: { addr: BigInt(peer.addr), rkey: peer.rkey } };
  const signaled = { ...wr, signaled: true };
  const plain = qp.prepareSend(Array.from({ length: BATCH }, () => wr));
  const last = qp.prepareSend(Array.from({ length: BATCH }, (_, i) => (i === BATCH - 1 ? signaled : wr)));
  /** Streams `count` messages (a multiple of 64) and waits for the last completion. */
  const stream = (count) => {
    let posted = 0;
    let done = 0;
    while (done < count) {
      if (posted < count && posted + BATCH - done <= TX_DEPTH) {
        posted += BATCH;
        (posted % SIGNAL_EVERY === 0 ? last : plain).post();
      } else {
        done += pollOnce(64) * SIGNAL_EVERY;
      }
    }
  };
  stream(whole(warmup));
  from = process.hrtime.bigint();
  const t = performance.now();
  stream(whole(iters));
  result = { mpps: whole(iters) / ((performance.now() - t) * 1000) };
  to = process.hrtime.bigint();
}
socket.end('d');
await once(socket, 'close');
if (server !== undefined)
  process.stdout.write(
    `${JSON.stringify({ mode, size, iters, warmup, ...result, from: Number(from), to: Number(to) })}\n`,
  );
ctx.close();

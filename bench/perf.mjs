// Our side of `npm run bench`'s perftest comparisons: the same exchanges as ib_send_lat,
// ib_send_bw and ib_write_bw, through this library, one process per side on one device,
// so that the two pairs run the same shape side by side.
//
//   node bench/perf.mjs lat|send_bw|write_bw --size S --iters N --port P [SERVER]
//
// lat:      ping-pong of SENDs (inline when they fit), both sides busy-polling; the client
//           prints the one-way latency, RTT / 2, averaged as perftest's t_avg is.
// send_bw:  the client streams SENDs (tx depth 128, every 64th signaled); the server keeps
//           its receive queue full; the client prints the message rate.
// write_bw: the client streams RDMA WRITEs into the server's region; same depth and signaling.
// The rates are perftest's MsgRate (millions of messages per second). The address exchange
// is one JSON line each way over TCP; it is ours on both sides, not perftest's.
// Prints one JSON line: { mode, size, iters, usec } (lat) or { mode, size, iters, mpps }.

import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { Context } from '../dist/src/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    size: { type: 'string', default: '2' },
    iters: { type: 'string', default: '1000' },
    port: { type: 'string', default: '18600' },
    device: { type: 'string', default: 'rxe0' },
    gid: { type: 'string', default: '1' },
  },
});
const [mode, server] = positionals;
if (!['lat', 'send_bw', 'write_bw'].includes(mode)) throw new Error(`perf.mjs: no mode ${mode}`);
const size = Number(values.size);
const iters = Number(values.iters);
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
/** Busy-polls until `want` completions; returns how many receives among them. */
function poll(want) {
  let got = 0;
  let recvs = 0;
  while (got < want) {
    const n = cq.poll(out, Math.min(64, want - got));
    for (let j = 0; j < n; j++) {
      if (status.getUint32(j * WC + 8, true) !== 0)
        throw new Error(`completion status ${status.getUint32(j * WC + 8, true)}`);
      if (status.getUint32(j * WC + 12, true) & 0x80) recvs++; // IB_WC_RECV and up have bit 7
    }
    got += n;
  }
  return recvs;
}

const recv = { sg: [{ mr, offset: size, length: Math.max(size, 1) }] };
const now = () => process.hrtime.bigint();
let result;
if (mode === 'lat') {
  const send = inline
    ? { opcode: 'SEND', signaled: true, inline: mr.bytes.subarray(0, size) }
    : { opcode: 'SEND', signaled: true, sg: [{ mr, length: size }] };
  qp.postRecv(recv);
  const t = now();
  for (let i = 0; i < iters; i++) {
    if (server !== undefined) {
      qp.postSend(send);
      poll(2); // our send and the reply
      qp.postRecv(recv);
    } else {
      poll(1); // the ping
      qp.postRecv(recv);
      qp.postSend(send);
      poll(1);
    }
  }
  result = { usec: Number(now() - t) / 1000 / iters / 2 };
} else if (server === undefined) {
  // the passive side: send_bw keeps receives posted until every message arrived; write_bw waits
  if (mode === 'send_bw') {
    qp.postRecv(Array.from({ length: RX_DEPTH }, () => recv));
    for (let arrived = 0; arrived < iters; ) {
      const n = poll(Math.min(32, iters - arrived));
      if (iters - arrived > RX_DEPTH) qp.postRecv(Array.from({ length: n }, () => recv));
      arrived += n;
    }
  }
} else {
  const wr =
    mode === 'send_bw'
      ? { opcode: 'SEND', sg: [{ mr, length: size }] }
      : { opcode: 'RDMA_WRITE', sg: [{ mr, length: size }], remote: { addr: BigInt(peer.addr), rkey: peer.rkey } };
  const signaled = { ...wr, signaled: true };
  const batch = [];
  let posted = 0;
  let done = 0;
  const t = now();
  while (posted < iters) {
    batch.length = 0;
    while (batch.length < 16 && posted + batch.length < iters && posted + batch.length - done < TX_DEPTH) {
      const k = posted + batch.length + 1;
      batch.push(k % SIGNAL_EVERY === 0 || k === iters ? signaled : wr);
    }
    if (batch.length > 0) {
      qp.postSend(batch);
      posted += batch.length;
    }
    if (posted - done >= TX_DEPTH || posted === iters) {
      const n = cq.poll(out, 64);
      for (let j = 0; j < n; j++) {
        if (status.getUint32(j * WC + 8, true) !== 0)
          throw new Error(`completion status ${status.getUint32(j * WC + 8, true)}`);
        done = Math.min(posted, done + SIGNAL_EVERY);
      }
      if (posted === iters && done < iters) {
        while (done < iters) {
          const m = cq.poll(out, 64);
          done = m > 0 ? Math.min(iters, done + m * SIGNAL_EVERY) : done;
        }
      }
    }
  }
  result = { mpps: iters / (Number(now() - t) / 1000) };
}
socket.end('d');
await once(socket, 'close');
if (server !== undefined) process.stdout.write(`${JSON.stringify({ mode, size, iters, ...result })}\n`);
ctx.close();

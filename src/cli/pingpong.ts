/**
 * `uverbs pingpong`: an RC ping-pong over this library's datapath that
 * speaks ibv_rc_pingpong's out-of-band exchange, so either side can be
 * rdma-core's tool.
 *
 * The exchange (facts from rdma-core's libibverbs/examples/rc_pingpong.c):
 * over TCP, each side sends "LID:QPN:PSN:GID" as `%04x:%06x:%06x:` plus the
 * GID's 16 bytes in hex, NUL-terminated (52 bytes). The client writes first,
 * reads the server's, then writes "done\0"; the server reads the client's,
 * moves its QP to RTS, then answers and waits for "done". Path: MTU 1024 by
 * default, hop limit 1, min RNR timer 12, timeout 14, 7 retries. Each side
 * keeps rx-depth receives posted and sends again once its previous send has
 * completed and a message has arrived; the client sends first.
 *
 * With `--cm` the QPs are connected through rdma_cm instead (the TCP
 * exchange is gone), as librdmacm's rdma_server / rdma_client examples do
 * (facts from rdma-core's librdmacm/examples/rdma_{server,client}.c): port
 * 7471, one exchange of 16 bytes (inline where the QP takes it), each side
 * posting its receive before connect / accept; the client sends first and
 * then awaits the answer, the server answers what it received; both then
 * disconnect.
 */

import { once } from 'node:events';
import { createServer, isIP, type Socket, connect as tcpConnect } from 'node:net';
import { parseArgs } from 'node:util';
import { ib_wc_status } from '../abi/kernel-internal.js';
import { ib_uverbs_wc } from '../abi/structs.js';
import { boundDevice } from '../cm/bound-device.js';
import type { ConnectionId } from '../cm/connection-id.js';
import { EventChannel } from '../cm/event-channel.js';
import { Context } from '../verbs/context.js';
import { listDevices } from '../verbs/device.js';
import type { Mtu } from '../verbs/queue-pair.js';
import { COMPLETION_SIZE, type RecvWr, type SendWr } from '../verbs/work-request.js';
import { json } from './output.js';
import { UsageError } from './usage.js';

export const PINGPONG_HELP = `Usage: uverbs pingpong [options] [SERVER]

An RC ping-pong through this library's datapath, wire-compatible with
rdma-core's ibv_rc_pingpong: run one side as the server (no SERVER) and the
other as the client, either of them ibv_rc_pingpong. With --cm, connected
through rdma_cm and wire-compatible with librdmacm's rdma_server /
rdma_client examples instead: 'uverbs pingpong --cm' with
'rdma_client -s ADDR', 'uverbs pingpong --cm ADDR' with 'rdma_server'
(one exchange of 16 bytes by default, as they do).

Options:
  -p, --port TCPPORT     TCP port of the address exchange (default 18515)
  -d, --ib-dev DEV       device (default: the first)
  -i, --ib-port PORT     device port (default 1)
  -g, --gid-idx N        local GID index (default on RoCE: the port's RoCE v2
                         IPv4 GID, found in the GID table; on IB: none)
  -s, --size BYTES       message size (default 4096)
  -m, --mtu MTU          path MTU: 256, 512, 1024, 2048 or 4096 (default 1024)
  -r, --rx-depth N       receives kept posted (default 500)
  -n, --iters N          exchanges (default 1000)
  -e, --events           sleep on the completion channel instead of polling
      --cm               connect through rdma_cm (port 7471, -s 16, -n 1 by
                         default; the device is the one rdma_cm binds: -d,
                         -i and -g do not apply)
      --bind ADDR        --cm server: the address to listen on (default 0.0.0.0)
      --json             the result as JSON ({"schema": 1, ...}) on stdout
  -h, --help             this help`;

const RECV_WRID = 1;
const SEND_WRID = 2;
/** sizeof "0000:000000:000000:00000000000000000000000000000000" in rc_pingpong.c: the text and its NUL. */
const MSG_SIZE = '0000:000000:000000:'.length + 32 + 1;
const DONE = Buffer.from('done\0');
/** What the peer may do through the QP: connect()'s own default for RC, given at INIT too. */
const CONNECT_ACCESS = { localWrite: true, remoteWrite: true, remoteRead: true, remoteAtomic: true };

interface Dest {
  lid: number;
  qpn: number;
  psn: number;
  gid: Uint8Array;
}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`uverbs pingpong: ${name} must be an integer ${min}..${max}, not '${value}'`);
  return n;
}

export function encodeDest(d: Dest): Buffer {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const text = `${hex(d.lid, 4)}:${hex(d.qpn, 6)}:${hex(d.psn, 6)}:${Buffer.from(d.gid).toString('hex')}`;
  return Buffer.concat([Buffer.from(text, 'latin1'), Buffer.alloc(1)]);
}

export function decodeDest(msg: Buffer): Dest {
  const text = msg.toString('latin1').replace(/\0.*$/s, '');
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,6}):([0-9a-f]{1,6}):([0-9a-f]{32})$/i.exec(text);
  if (m === null) throw new Error(`uverbs pingpong: the peer sent a malformed address '${text}'`);
  return {
    lid: Number.parseInt(m[1] as string, 16),
    qpn: Number.parseInt(m[2] as string, 16),
    psn: Number.parseInt(m[3] as string, 16),
    gid: Uint8Array.from(Buffer.from(m[4] as string, 'hex')),
  };
}

/** Reads exactly `n` bytes (TCP delivers in whatever pieces it likes). */
async function readExactly(socket: Socket, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = socket.read(Math.min(n - have, socket.readableLength || n - have)) as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      have += chunk.length;
      continue;
    }
    if (socket.readableEnded) break;
    await Promise.race([
      once(socket, 'readable'),
      once(socket, 'end'),
      once(socket, 'error').then(([e]) => Promise.reject(e)),
    ]);
  }
  if (have < n) throw new Error(`uverbs pingpong: the peer closed the exchange after ${have} of ${n} bytes`);
  return Buffer.concat(chunks);
}

function gidText(gid: Uint8Array): string {
  const b = Buffer.from(gid);
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return `::ffff:${[...b.subarray(12)].join('.')}`;
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export async function pingpongCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      port: { type: 'string', short: 'p' },
      'ib-dev': { type: 'string', short: 'd' },
      'ib-port': { type: 'string', short: 'i' },
      'gid-idx': { type: 'string', short: 'g' },
      size: { type: 'string', short: 's' },
      mtu: { type: 'string', short: 'm' },
      'rx-depth': { type: 'string', short: 'r' },
      iters: { type: 'string', short: 'n' },
      events: { type: 'boolean', short: 'e', default: false },
      cm: { type: 'boolean', default: false },
      bind: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${PINGPONG_HELP}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`uverbs pingpong: one SERVER at most\n\n${PINGPONG_HELP}`);
  const server = positionals[0];
  const cm = values.cm;
  if (!cm && values.bind !== undefined) throw new UsageError('uverbs pingpong: --bind is for --cm only');
  if (cm && (values['ib-dev'] ?? values['ib-port'] ?? values['gid-idx']) !== undefined)
    throw new UsageError('uverbs pingpong: with --cm rdma_cm picks the device: -d, -i and -g do not apply');
  for (const [option, value] of [
    ['SERVER', server],
    ['--bind', values.bind],
  ] as const)
    if (cm && value !== undefined && isIP(value) === 0)
      throw new UsageError(`uverbs pingpong: ${option} '${value}' is not an IPv4 or IPv6 address`);
  const tcpPort = integer('--port', values.port, cm ? 7471 : 18515, 1, 65535);
  const ibPort = integer('--ib-port', values['ib-port'], 1, 1, 255);
  const gidIdx = integer('--gid-idx', values['gid-idx'], -1, 0, 0xffff);
  const size = integer('--size', values.size, cm ? 16 : 4096, 1, 1 << 30);
  const mtu = integer('--mtu', values.mtu, 1024, 256, 4096);
  if (![256, 512, 1024, 2048, 4096].includes(mtu))
    throw new UsageError(`uverbs pingpong: --mtu must be 256, 512, 1024, 2048 or 4096`);
  const rxDepth = integer('--rx-depth', values['rx-depth'], 500, 2, 16384);
  const iters = integer('--iters', values.iters, cm ? 1 : 1000, 1, 2 ** 31 - 1);
  // --cm: the ID first (the client's resolved, the server's a connect request): it names the device
  const link = cm ? await cmLink(server, values.bind ?? '0.0.0.0', tcpPort) : undefined;
  // closed last (after the context): the kernel destroys the IDs in it
  using _link = { [Symbol.dispose]: () => link?.channel.close() };
  const device = link ? boundDevice(link.id) : (values['ib-dev'] ?? listDevices()[0]?.name);
  if (device === undefined) {
    process.stderr.write('uverbs pingpong: no uverbs devices\n');
    return 1;
  }
  const say = (line: string) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);

  using ctx = Context.open(device);
  const port = ctx.queryPort(ibPort);
  // RoCE needs a GID: unless -g names one, the port's RoCE v2 GID over IPv4, from the GID table
  // (--cm: the connection manager picks the GID)
  const sgid = link
    ? undefined
    : gidIdx >= 0
      ? ctx.queryGid(ibPort, gidIdx)
      : port.linkLayer === 'Ethernet'
        ? ctx.findGid({ port: ibPort, type: 'RoCEv2', family: 'ipv4' })
        : undefined;
  const pd = ctx.allocPd();
  const channel = values.events ? ctx.createCompletionChannel() : undefined;
  const cq = ctx.createCq({ cqe: rxDepth + 1, ...(channel ? { channel } : {}) });
  const qp = pd.createQp({
    type: 'RC',
    sendCq: cq,
    recvCq: cq,
    cap: { maxSendWr: 1, maxRecvWr: rxDepth, maxSendSge: 1, maxRecvSge: 1 },
  });
  const mr = pd.registerMemory(size, { localWrite: true });
  const inline = (qp.cap.maxInlineData ?? 0) >= size;
  const send: SendWr = inline
    ? { wrId: BigInt(SEND_WRID), opcode: 'SEND', signaled: true, inline: mr.bytes.subarray(0, size) }
    : { wrId: BigInt(SEND_WRID), opcode: 'SEND', signaled: true, sg: [{ mr, length: size }] };
  const recv: RecvWr = { wrId: BigInt(RECV_WRID), sg: [{ mr, length: size }] };
  const ping = qp.prepareSend(send); // checked and encoded once, posted every iteration
  // INIT before the first receives, as ibv_rc_pingpong does: a QP in RESET takes no receive
  // (--cm: with the connection manager's attributes, as librdmacm does)
  if (link) link.id.transitionQp(qp, 'INIT');
  else qp.modify({ state: 'INIT', pkeyIndex: 0, port: ibPort, access: CONNECT_ACCESS });
  // receives are posted as rc_pingpong does, rx-depth minus what is still posted, but from work
  // prepared once, in runs of 1, 2, 4, ... receives: n takes one post per bit set in n, and the
  // loop's refills (a cold process's first iterations included) check and encode nothing again
  const runs = Array.from({ length: Math.floor(Math.log2(rxDepth)) + 1 }, (_, bit) =>
    qp.prepareRecv(Array.from({ length: 2 ** bit }, () => recv)),
  );
  const postRecvs = (n: number) => {
    for (let bit = 0; 2 ** bit <= n; bit++) if (n & (2 ** bit)) runs[bit]?.post();
    return n;
  };
  let routs = postRecvs(rxDepth);

  const local: Dest = {
    lid: port.lid,
    qpn: qp.qpNum,
    psn: Math.floor(Math.random() * 0x1000000),
    gid: sgid?.gid ?? new Uint8Array(16),
  };
  const show = (d: Dest) =>
    `LID 0x${d.lid.toString(16).padStart(4, '0')}, QPN 0x${d.qpn.toString(16).padStart(6, '0')}, PSN 0x${d.psn.toString(16).padStart(6, '0')}, GID ${gidText(d.gid)}`;
  if (!link) say(`  local address:  ${show(local)}`);
  const connectQp = (remote: Dest) =>
    qp.connect(
      { qpNum: remote.qpn, psn: remote.psn, gid: remote.gid },
      {
        port: ibPort,
        sgidIndex: sgid?.index ?? 0,
        psn: local.psn,
        pathMtu: mtu as Mtu,
        hopLimit: 1,
        access: CONNECT_ACCESS,
      },
    );

  let remote: Dest;
  if (link) {
    if (server !== undefined) link.id.connect({ qp });
    else link.id.accept({ qp });
    await link.id.event('ESTABLISHED', { timeout: 15_000 });
    const attrs = qp.query();
    remote = { lid: 0, qpn: attrs.destQpn, psn: attrs.rqPsn, gid: attrs.av.dgid };
    local.psn = attrs.sqPsn;
    say(`  local address:  ${show(local)}`);
  } else if (server !== undefined) {
    const socket = tcpConnect({ host: server, port: tcpPort });
    await once(socket, 'connect');
    socket.write(encodeDest(local));
    remote = decodeDest(await readExactly(socket, MSG_SIZE));
    socket.end(DONE);
    connectQp(remote);
  } else {
    const listener = createServer();
    listener.listen(tcpPort);
    await once(listener, 'listening');
    const [socket] = (await once(listener, 'connection')) as [Socket];
    listener.close();
    remote = decodeDest(await readExactly(socket, MSG_SIZE));
    connectQp(remote);
    socket.write(encodeDest(local));
    await readExactly(socket, DONE.length);
    socket.end();
  }
  say(`  remote address: ${show(remote)}`);

  // the loop reads wr_id and status straight from the poll buffer: no object per completion
  const out = new Uint8Array(2 * COMPLETION_SIZE);
  const view = new DataView(out.buffer);
  const WR_ID = ib_uverbs_wc.fields.wr_id.offset;
  const STATUS = ib_uverbs_wc.fields.status.offset;
  let pending = RECV_WRID;
  let scnt = 0;
  let rcnt = 0;
  const start = process.hrtime.bigint();
  if (server !== undefined) {
    ping.post();
    pending |= SEND_WRID;
  }
  while (rcnt < iters || scnt < iters) {
    const n = values.events ? await cq.wait(out, 2) : cq.poll(out, 2);
    for (let i = 0; i < n; i++) {
      const base = i * COMPLETION_SIZE;
      const status = view.getUint32(base + STATUS, true);
      // a wr_id as a Number, from its two halves: no BigInt made per completion
      const wrId = view.getUint32(base + WR_ID, true) + view.getUint32(base + WR_ID + 4, true) * 2 ** 32;
      if (status !== ib_wc_status.IB_WC_SUCCESS) {
        const name = Object.entries(ib_wc_status).find(([, v]) => v === status)?.[0] ?? String(status);
        throw new Error(
          `uverbs pingpong: completion of wr_id ${wrId} failed: ${name} (after ${scnt} sends, ${rcnt} receives)`,
        );
      }
      if (wrId === SEND_WRID) scnt++;
      else if (wrId === RECV_WRID) {
        if (--routs <= 1) routs += postRecvs(rxDepth - routs);
        rcnt++;
      } else throw new Error(`uverbs pingpong: completion for unknown wr_id ${wrId}`);
      pending &= ~wrId;
      if (scnt < iters && pending === 0) {
        ping.post();
        pending = RECV_WRID | SEND_WRID;
      }
    }
  }
  const usec = Number(process.hrtime.bigint() - start) / 1000;
  link?.id.disconnect();
  const bytes = size * iters * 2;
  if (values.json) {
    process.stdout.write(
      json({
        schema: 1,
        role: server === undefined ? 'server' : 'client',
        device,
        size,
        iters,
        inline,
        events: values.events,
        cm,
        seconds: usec / 1e6,
        usecPerIter: usec / iters,
        mbitPerSec: (bytes * 8) / usec,
        local,
        remote,
      }),
    );
  } else {
    say(`${bytes} bytes in ${(usec / 1e6).toFixed(2)} seconds = ${((bytes * 8) / usec).toFixed(2)} Mbit/sec`);
    say(`${iters} iters in ${(usec / 1e6).toFixed(2)} seconds = ${(usec / iters).toFixed(2)} usec/iter`);
  }
  return 0;
}

/** An rdma_cm ID for --cm, and its channel (closed, with the ID, when the run ends). */
interface CmLink {
  readonly id: ConnectionId;
  readonly channel: EventChannel;
}

/** The client's ID with address and route resolved, or the server's from the first connect request. */
async function cmLink(server: string | undefined, bind: string, port: number): Promise<CmLink> {
  const channel = EventChannel.open();
  const wait = { timeout: 15_000 };
  try {
    let id: ConnectionId;
    if (server !== undefined) {
      id = channel.createId();
      id.resolveAddress({ address: server, port });
      await id.event('ADDR_RESOLVED', wait);
      id.resolveRoute();
      await id.event('ROUTE_RESOLVED', wait);
    } else {
      const listener = channel.createId();
      listener.bind({ address: bind, port });
      listener.listen();
      id = (await listener.event('CONNECT_REQUEST')).id;
    }
    return { id, channel };
  } catch (error) {
    channel.close();
    throw error;
  }
}

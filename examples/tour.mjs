// A program written from the README and the API reference alone (issue 14):
// two RC QPs on one device: on RoCE (rxe) connected by hand with non-default
// parameters that are read back through qp.query(), on iWARP (siw, whose QPs
// reach RTS only that way) through rdma_cm; a SharedArrayBuffer of the caller's
// registered in place, RDMA-written into and read back; a type 2 memory
// window bound over it and used through its rkey; a SEND with invalidate
// that revokes that rkey.
//
//   node examples/tour.mjs [device] [address]   (rxe0 in `uverbs vm`; siw0 in `uverbs vm --devs siw`)
//
// address: iWARP only, the device's IPv4 address (default: this machine's first non-loopback one).
//
// Each step prints one JSON line: { step, ok: true, ... }, or
// { step, skipped: reason } when the kernel has no such feature (its
// UverbsUnsupportedError), or { step, ok: false, error } and exit status 1.
import { networkInterfaces } from 'node:os';
import { Context, EventChannel, findDevice, UverbsUnsupportedError } from 'uverbs';

const device = process.argv[2] ?? 'rxe0';
// node_type 4 (RNIC): an iWARP device
const iwarp = findDevice(device)?.nodeType.startsWith('4') === true;
let failed = false;
const report = (step, fields) => console.log(JSON.stringify({ step, ...fields }, (_, v) => (typeof v === 'bigint' ? `${v}` : v)));

/** Runs one step; an unsupported feature skips it (and the ones that need it), anything else fails. */
async function step(name, body) {
  try {
    report(name, { ok: true, ...((await body()) ?? {}) });
    return true;
  } catch (error) {
    if (error instanceof UverbsUnsupportedError) report(name, { skipped: error.message });
    else {
      failed = true;
      report(name, { ok: false, error: String(error?.stack ?? error) });
    }
    return false;
  }
}

/** The next `count` completions on `cq`, waited for (never longer than 10 s). */
async function completions(cq, count) {
  const got = [];
  for await (const wc of cq.completions(16, { signal: AbortSignal.timeout(10_000) })) {
    got.push(wc);
    if (got.length === count) break;
  }
  return got;
}

function expectSuccess(list, ...opcodes) {
  const seen = list.map((wc) => `${wc.status} ${wc.opcode}`);
  const want = opcodes.map((op) => `IB_WC_SUCCESS ${op}`);
  if (seen.sort().join() !== want.sort().join()) throw new Error(`completions ${seen.join(', ')}; expected ${want.join(', ')}`);
}

/**
 * iWARP: a listener on the device's own IPv4 address, a client that resolves it and connects
 * with `a`, the request accepted with `b`; the kernel moves both QPs to RTS.
 */
async function connectThroughCm(channel, a, b) {
  const ipv4 = Object.values(networkInterfaces()).flat().find((i) => i.family === 'IPv4' && !i.internal);
  const address = process.argv[3] ?? ipv4?.address;
  if (address === undefined) throw new Error('no IPv4 address to listen on: give the device\'s as the second argument');
  const wait = { timeout: 10_000 };
  const server = channel.createId();
  server.bind({ address, port: 0 });
  server.listen();
  const port = server.query().source.port;
  const client = channel.createId();
  client.resolveAddress({ address, port });
  await client.event('ADDR_RESOLVED', wait);
  client.resolveRoute();
  await client.event('ROUTE_RESOLVED', wait);
  client.connect({ qp: a });
  const request = await server.event('CONNECT_REQUEST', wait);
  request.id.accept({ qp: b });
  await Promise.all([client.event('ESTABLISHED', wait), request.id.event('ESTABLISHED', wait)]);
  return { via: 'rdma_cm', address, port };
}

const ctx = Context.open(device);
// the connection manager's IDs (iWARP): closing the channel destroys them
const channel = iwarp ? EventChannel.open() : undefined;
try {
  const pd = ctx.allocPd();
  const cq = ctx.createCq({ cqe: 64, channel: ctx.createCompletionChannel() });
  const cap = { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 1, maxRecvSge: 1 };
  const a = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
  const b = pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });

  // 1. RoCE: connect by hand with parameters other than the defaults, and read them back.
  //    iWARP: connect through rdma_cm.
  const params = {
    timeout: 17,
    retryCnt: 5,
    rnrRetry: 6,
    minRnrTimer: 14,
    maxRdAtomic: 4,
    maxDestRdAtomic: 4,
    pathMtu: 512,
    trafficClass: 32,
    flowLabel: 0x1234,
  };
  const connected = await step('connect', () => {
    if (channel !== undefined) return connectThroughCm(channel, a, b);
    const gid = ctx.findGid({ type: 'RoCEv2', family: 'ipv4' });
    a.connect({ qpNum: b.qpNum, psn: 200, gid: gid.gid }, { sgidIndex: gid.index, psn: 100, ...params });
    b.connect({ qpNum: a.qpNum, psn: 100, gid: gid.gid }, { sgidIndex: gid.index, psn: 200, ...params });
    const info = a.query();
    const back = Object.fromEntries(Object.keys(params).map((k) => [k, k in info ? info[k] : info.av?.[k]]));
    for (const [k, v] of Object.entries(params)) {
      if (back[k] !== v) throw new Error(`query().${k} is ${back[k]}, connect() set ${v}`);
    }
    return { state: info.state, set: params, readBack: back };
  });
  if (!connected) process.exit(1);

  // 2. The caller's own SharedArrayBuffer, registered in place: a writes into it, then reads it back.
  const shared = new SharedArrayBuffer(8192);
  const local = pd.registerMemory(8192, { localWrite: true });
  let target;
  const registered = await step('register SharedArrayBuffer', () => {
    target = pd.registerMemory(shared, { localWrite: true, remoteWrite: true, remoteRead: true, mwBind: true });
    return { length: target.bytes.byteLength, same: target.bytes.buffer === shared };
  });
  if (registered) {
    await step('RDMA WRITE into it, RDMA READ it back', async () => {
      const message = new TextEncoder().encode('written by RDMA WRITE into a SharedArrayBuffer');
      local.bytes.set(message, 0);
      a.postSend({ wrId: 1n, opcode: 'RDMA_WRITE', signaled: true, sg: [{ mr: local, offset: 0, length: message.length }],
        remote: { addr: target.address, rkey: target.rkey } });
      expectSuccess(await completions(cq, 1), 'IB_WC_RDMA_WRITE');
      const landed = new TextDecoder().decode(new Uint8Array(shared, 0, message.length));
      if (landed !== new TextDecoder().decode(message)) throw new Error(`the buffer holds ${JSON.stringify(landed)}`);
      a.postSend({ wrId: 2n, opcode: 'RDMA_READ', signaled: true, sg: [{ mr: local, offset: 4096, length: message.length }],
        remote: { addr: target.address, rkey: target.rkey } });
      expectSuccess(await completions(cq, 1), 'IB_WC_RDMA_READ');
      const read = new TextDecoder().decode(local.bytes.subarray(4096, 4096 + message.length));
      if (read !== landed) throw new Error(`RDMA READ brought back ${JSON.stringify(read)}`);
      return { landed, read };
    });

    // 3. A type 2 window over the buffer's second page: bound by b, used by a through its rkey.
    let mw;
    const bound = await step('bind a type 2 memory window', async () => {
      mw = pd.allocMw(2);
      b.postSend({ wrId: 3n, opcode: 'BIND_MW', signaled: true,
        bind: { mw, mr: target, offset: 4096, length: 4096, access: { remoteWrite: true, remoteRead: true }, key: 0x5a } });
      expectSuccess(await completions(cq, 1), 'IB_WC_BIND_MW');
      return { rkey: mw.rkey };
    });
    if (bound) {
      await step('RDMA WRITE through the window', async () => {
        local.bytes.set(new TextEncoder().encode('through the window'), 0);
        a.postSend({ wrId: 4n, opcode: 'RDMA_WRITE', signaled: true, sg: [{ mr: local, offset: 0, length: 18 }],
          remote: { addr: target.address + 4096n, rkey: mw.rkey } });
        expectSuccess(await completions(cq, 1), 'IB_WC_RDMA_WRITE');
        const landed = new TextDecoder().decode(new Uint8Array(shared, 4096, 18));
        if (landed !== 'through the window') throw new Error(`the window's page holds ${JSON.stringify(landed)}`);
        return { landed };
      });

      // 4. SEND with invalidate: a revokes the window's rkey at b; b's receive says which rkey went.
      await step('SEND with invalidate', async () => {
        const rkey = mw.rkey;
        b.postRecv({ wrId: 5n, sg: [{ mr: local, offset: 6144, length: 64 }] });
        a.postSend({ wrId: 6n, opcode: 'SEND_WITH_INV', signaled: true, invalidateRkey: rkey, sg: [{ mr: local, offset: 0, length: 18 }] });
        const list = await completions(cq, 2);
        expectSuccess(list, 'IB_WC_SEND', 'IB_WC_RECV');
        const recv = list.find((wc) => wc.opcode === 'IB_WC_RECV');
        if (recv.invalidatedRkey !== rkey) throw new Error(`the receive reports invalidated rkey ${recv.invalidatedRkey}, expected ${rkey}`);
        // the revoked rkey no longer opens the memory: a's next write through it fails at b
        a.postSend({ wrId: 7n, opcode: 'RDMA_WRITE', signaled: true, sg: [{ mr: local, offset: 0, length: 18 }],
          remote: { addr: target.address + 4096n, rkey } });
        const [after] = await completions(cq, 1);
        if (after.status !== 'IB_WC_REM_ACCESS_ERR') throw new Error(`a write through the revoked rkey completed with ${after.status}`);
        return { invalidatedRkey: recv.invalidatedRkey, writeAfter: after.status };
      });
    }
  }
} finally {
  channel?.close();
  ctx.close();
}
process.exitCode = failed ? 1 : 0;

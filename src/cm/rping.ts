/**
 * librdmacm's `rping` protocol over this library's rdma_cm client and
 * datapath, so either side can be rdma-core's `rping`.
 *
 * The protocol (facts from rdma-core's librdmacm/examples/rping.c): an RC
 * connection through rdma_cm (port 7174 by default; connect parameters
 * responder resources 1, initiator depth 1, retry 7, RNR retry 7), a QP of
 * 16 send and 2 receive work requests on one CQ of 32 entries. Each side
 * keeps one 16-byte receive posted; a message is `struct rping_rdma_info`:
 * the buffer's address (u64), rkey (u32) and size (u32), big-endian. Per
 * ping the client
 *   1. fills its source buffer with `rdma-ping-N: ` and letters from `A`
 *      to `z` (starting one later each ping, wrapping), NUL-terminated,
 *      and SENDs its address;
 *   2. waits for the server's go-ahead (a 16-byte SEND), then SENDs its
 *      sink buffer's address;
 *   3. waits for the second go-ahead, compares the sink with the source
 *      (`-V`) and prints `ping data: ...` (`-v`).
 * The server RDMA READs the source into its buffer, prints `server ping
 * data: ...` (`-v`), answers the go-ahead, RDMA WRITEs `strlen + 1` bytes
 * to the sink, and answers again. The client pings `count` times (0: no
 * end) and disconnects; the server pings until the client disconnects.
 */

import { getSystemErrorMap } from 'node:util';
import { ib_wc_status } from '../abi/kernel-internal.js';
import { UverbsError } from '../errors.js';
import type { CompletionQueue } from '../verbs/completion-queue.js';
import { Context } from '../verbs/context.js';
import type { MemoryRegion } from '../verbs/memory-region.js';
import type { QueuePair } from '../verbs/queue-pair.js';
import { COMPLETION_SIZE, type Completion, decodeCompletions } from '../verbs/work-request.js';
import { boundDevice } from './bound-device.js';
import { type CmEvent, type ConnectionId, UverbsCmEventError } from './connection-id.js';
import { EventChannel } from './event-channel.js';

/** rping's default port (`cb->port = htobe16(7174)`). */
export const RPING_PORT = 7174;
/** rping's default ping size (`cb->size = 64`). */
export const RPING_DEFAULT_SIZE = 64;
/**
 * The smallest size rping takes: `sizeof(stringify(INT_MAX)) +
 * sizeof(RPING_MSG_FMT)`, where INT_MAX is left unexpanded ("INT_MAX", 8)
 * and "rdma-ping-%d: " is 15: 23, as `rping -S 1` says.
 */
export const RPING_MIN_SIZE = 23;
/** The largest: `RPING_BUFSIZE - 1` (65535; rping's message says 65536). */
export const RPING_MAX_SIZE = 64 * 1024 - 1;
/** `sizeof(struct rping_rdma_info)`. */
export const RPING_INFO_SIZE = 16;
const SQ_DEPTH = 16;
const WAIT = { timeout: 15_000 };

export interface RpingOptions {
  /** `'server'` (`-s`) or `'client'` (`-c`). */
  readonly role: 'server' | 'client';
  /** Client: the server's address (`-a`); server: the address to listen on (default `0.0.0.0`). */
  readonly address?: string;
  /** Default 7174. */
  readonly port?: number;
  /** Pings (`-C`); 0 or absent: until the client stops. A server with a count checks it got exactly that many. */
  readonly count?: number;
  /** Ping size, RPING_MIN_SIZE to RPING_MAX_SIZE (`-S`); default 64. */
  readonly size?: number;
  /** Client: compare each ping's echo with what it sent (`-V`); server: check each ping is rping's pattern. */
  readonly validate?: boolean;
  /** Each ping's line as rping prints it with `-v` (`ping data: ...`, `server ping data: ...`). */
  readonly onPing?: (line: string) => void;
  /** What rping prints on stderr along the way (`server DISCONNECT EVENT...`). */
  readonly onNotice?: (line: string) => void;
  /** Stops the run (rejects with the reason). */
  readonly signal?: AbortSignal;
}

export interface RpingResult {
  readonly role: 'server' | 'client';
  /** The device rdma_cm bound the connection to. */
  readonly device: string;
  /** Pings completed. */
  readonly pings: number;
  readonly size: number;
  /** Whether each ping was validated. */
  readonly validated: boolean;
  readonly seconds: number;
}

/**
 * An rping run that failed: `message` is what rping would print
 * (`cma event RDMA_CM_EVENT_REJECTED, error 8`, `data mismatch!`),
 * `pings` how many completed first. `code` 'ERR_UVERBS_RPING'.
 */
export class UverbsRpingError extends Error {
  readonly code = 'ERR_UVERBS_RPING';
  readonly pings: number;
  constructor(message: string, pings: number, options?: { cause?: unknown }) {
    super(message, options);
    this.pings = pings;
  }
  override get name(): string {
    return 'UverbsRpingError';
  }
}

/**
 * The bytes rping's client sends in ping `ping` of `size` bytes: the text
 * `rdma-ping-<ping>: `, then letters from `A` + (ping mod 58) upwards,
 * wrapping from `z` (122) to `A` (65), the last byte NUL.
 */
export function rpingPayload(ping: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  const head = new TextEncoder().encode(`rdma-ping-${ping}: `).subarray(0, size - 1);
  out.set(head);
  let c = 65 + (ping % 58);
  for (let i = head.length; i < size; i++) {
    out[i] = c;
    c = c === 122 ? 65 : c + 1;
  }
  out[size - 1] = 0;
  return out;
}

/** The C string at the start of `bytes` (up to its NUL), as printf's `%s` prints it. */
function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.subarray(0, end < 0 ? bytes.length : end)).toString('latin1');
}

/** An rping failure from a CM event: rping's own words. */
function cmEventError(e: unknown, pings: number): unknown {
  if (e instanceof UverbsCmEventError) {
    const type = typeof e.event.type === 'number' ? String(e.event.type) : `RDMA_CM_EVENT_${e.event.type}`;
    return new UverbsRpingError(`cma event ${type}, error ${e.event.status}`, pings, { cause: e });
  }
  return e;
}

/** The verbs of one connection, and the completions that arrived but were not yet asked for. */
class Link {
  readonly ctx: Context;
  readonly cq: CompletionQueue;
  readonly qp: QueuePair;
  readonly recv: MemoryRegion;
  readonly send: MemoryRegion;
  readonly rdma: MemoryRegion;
  readonly start: MemoryRegion | undefined;
  readonly #out = new Uint8Array(4 * COMPLETION_SIZE);
  readonly #pending: Completion[] = [];
  /** Set when the connection ends: waits for completions stop. */
  readonly #ended = new AbortController();
  #endEvent: CmEvent | undefined;

  /** Whether successful SEND completions are kept for `completion('IB_WC_SEND')` (the client's), or dropped (the server never asks). */
  readonly #keepSends: boolean;

  constructor(device: string, size: number, client: boolean) {
    this.#keepSends = client;
    this.ctx = Context.open(device);
    try {
      const pd = this.ctx.allocPd();
      const channel = this.ctx.createCompletionChannel();
      this.cq = this.ctx.createCq({ cqe: SQ_DEPTH * 2, channel });
      this.qp = pd.createQp({
        type: 'RC',
        sendCq: this.cq,
        recvCq: this.cq,
        cap: { maxSendWr: SQ_DEPTH, maxRecvWr: 2, maxSendSge: 1, maxRecvSge: 1 },
      });
      this.recv = pd.registerMemory(RPING_INFO_SIZE, { localWrite: true });
      this.send = pd.registerMemory(RPING_INFO_SIZE, {});
      const remote = { localWrite: true, remoteRead: true, remoteWrite: true };
      this.rdma = pd.registerMemory(size, remote);
      this.start = client ? pd.registerMemory(size, remote) : undefined;
    } catch (error) {
      this.ctx.close();
      throw error;
    }
  }

  postRecv(): void {
    this.qp.postRecv({ wrId: 1n, sg: [{ mr: this.recv, length: RPING_INFO_SIZE }] });
  }

  /** SENDs `struct rping_rdma_info` naming `mr` (the server's go-ahead: 16 zero bytes). */
  sendInfo(mr: MemoryRegion | undefined, size: number): void {
    const view = new DataView(this.send.bytes.buffer, this.send.bytes.byteOffset, RPING_INFO_SIZE);
    view.setBigUint64(0, mr ? mr.address : 0n);
    view.setUint32(8, mr ? mr.rkey : 0);
    view.setUint32(12, mr ? size : 0);
    this.qp.postSend({ wrId: 2n, opcode: 'SEND', signaled: true, sg: [{ mr: this.send, length: RPING_INFO_SIZE }] });
  }

  /** Watches `id` for the event that ends the connection (normally DISCONNECTED). */
  watch(id: ConnectionId): void {
    id.next({ signal: this.#ended.signal }).then(
      (event) => {
        this.#endEvent = event;
        this.#ended.abort(new Error('connection ended'));
      },
      // the channel closed (an abort): the run's waits end too
      () => this.#ended.abort(new Error('channel closed')),
    );
  }

  get endEvent(): CmEvent | undefined {
    return this.#endEvent;
  }

  /**
   * The next completion of `opcode`, each failed completion an error; the
   * others that come first are kept for later asks. Undefined when the
   * connection ended first.
   */
  async completion(opcode: string, pings: number): Promise<Completion | undefined> {
    for (;;) {
      const i = this.#pending.findIndex((c) => c.status !== 'IB_WC_SUCCESS' || c.opcode === opcode);
      if (i >= 0) {
        const c = this.#pending.splice(i, 1)[0] as Completion;
        if (c.status === 'IB_WC_WR_FLUSH_ERR' && (await this.#endsSoon())) return undefined;
        if (c.status !== 'IB_WC_SUCCESS') {
          // rping prints the status as a number (its %d): IB_WC_REM_INV_REQ_ERR is 9
          const status = typeof c.status === 'number' ? c.status : (ib_wc_status as Record<string, number>)[c.status];
          throw new UverbsRpingError(`cq completion failed status ${status ?? c.status}`, pings);
        }
        return c;
      }
      if (this.#ended.signal.aborted) return undefined;
      let n: number;
      try {
        n = await this.cq.wait(this.#out, 4, { signal: this.#ended.signal });
      } catch (error) {
        if (this.#ended.signal.aborted) {
          // what completed before the end still counts
          n = this.cq.poll(this.#out, 4);
          if (n === 0) return undefined;
        } else throw error;
      }
      for (const c of decodeCompletions(this.#out, n))
        if (this.#keepSends || c.status !== 'IB_WC_SUCCESS' || c.opcode !== 'IB_WC_SEND') this.#pending.push(c);
    }
  }

  /**
   * A flushed completion: the QP went to ERR, as it does when the peer
   * disconnects (iWARP: before the DISCONNECTED event comes). True when the
   * connection's end follows within the wait, as rping too takes a flush
   * for the end's herald.
   */
  async #endsSoon(): Promise<boolean> {
    if (!this.#ended.signal.aborted) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, WAIT.timeout);
        this.#ended.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      clearTimeout(timer);
    }
    return this.#endEvent !== undefined;
  }

  /** Stops the watch; closes every verbs object. */
  close(): void {
    if (!this.#ended.signal.aborted) this.#ended.abort(new Error('closed'));
    this.ctx.close();
  }
}

/** Parameters checked before anything is opened; a bad one is a RangeError / TypeError. */
function checked(options: RpingOptions) {
  const { role, port = RPING_PORT, count = 0, size = RPING_DEFAULT_SIZE } = options;
  if (role !== 'server' && role !== 'client') throw new TypeError(`rping: role must be 'server' or 'client'`);
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`rping: port ${port} is not 0..65535`);
  if (!Number.isInteger(count) || count < 0 || count > 0x7fffffff)
    throw new RangeError(`rping: Invalid count ${count}`);
  if (!Number.isInteger(size) || size < RPING_MIN_SIZE || size > RPING_MAX_SIZE)
    throw new RangeError(`rping: Invalid size ${size} (valid range is ${RPING_MIN_SIZE} to ${RPING_MAX_SIZE})`);
  if (role === 'client' && options.address === undefined) throw new TypeError('rping: a client needs an address');
  return { role, port, count, size, address: options.address ?? '0.0.0.0', validate: options.validate === true };
}

/**
 * Runs one side of rping. Resolves when the run ended well: the client
 * after `count` pings (each validated with `validate`) and its disconnect;
 * the server when the client disconnected between two pings (after
 * exactly `count` of them, when given). Anything else rejects with
 * {@link UverbsRpingError} (or the library's error that stopped it).
 */
export async function rping(options: RpingOptions): Promise<RpingResult> {
  const o = checked(options);
  const channel = EventChannel.open();
  const begin = process.hrtime.bigint();
  let link: Link | undefined;
  let pings = 0;
  const seconds = () => Number(process.hrtime.bigint() - begin) / 1e9;
  const abort = () => channel.close();
  options.signal?.throwIfAborted();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    if (o.role === 'client') {
      const id = channel.createId();
      try {
        id.resolveAddress({ address: o.address, port: o.port }, { timeoutMs: 2000 });
        await id.event('ADDR_RESOLVED', WAIT);
        id.resolveRoute({ timeoutMs: 2000 });
        await id.event('ROUTE_RESOLVED', WAIT);
      } catch (error) {
        throw cmEventError(error, 0);
      }
      const device = boundDevice(id);
      link = new Link(device, o.size, true);
      id.transitionQp(link.qp, 'INIT');
      link.postRecv();
      try {
        id.connect({ qp: link.qp, responderResources: 1, initiatorDepth: 1, retryCount: 7, rnrRetryCount: 7 });
      } catch (error) {
        if (error instanceof UverbsError)
          throw new UverbsRpingError(`rdma_connect: ${perrorText(error.errno)}`, 0, { cause: error });
        throw error;
      }
      try {
        await id.event('ESTABLISHED', WAIT);
      } catch (error) {
        throw cmEventError(error, 0);
      }
      link.watch(id);
      const start = link.start as MemoryRegion;
      for (; o.count === 0 || pings < o.count; pings++) {
        const expected = rpingPayload(pings, o.size);
        start.bytes.set(expected);
        for (const mr of [start, link.rdma]) {
          link.sendInfo(mr, o.size);
          const sent = await link.completion('IB_WC_SEND', pings);
          const got = sent && (await link.completion('IB_WC_RECV', pings));
          if (got === undefined) throw ended(link, pings);
          if (got.byteLen !== RPING_INFO_SIZE)
            throw new UverbsRpingError(`Received bogus data, size ${got.byteLen}`, pings);
          link.postRecv();
        }
        const echo = link.rdma.bytes.subarray(0, o.size);
        if (o.validate && Buffer.compare(echo, start.bytes.subarray(0, o.size)) !== 0)
          throw new UverbsRpingError('data mismatch!', pings);
        options.onPing?.(`ping data: ${cString(echo)}`);
      }
      id.disconnect();
      return { role: 'client', device, pings, size: o.size, validated: o.validate, seconds: seconds() };
    }

    const listener = channel.createId();
    listener.bind({ address: o.address, port: o.port });
    listener.listen(3);
    const request = await listener.event('CONNECT_REQUEST');
    const conn = request.id;
    const device = boundDevice(conn);
    link = new Link(device, o.size, false);
    conn.transitionQp(link.qp, 'INIT');
    link.postRecv();
    conn.accept({ qp: link.qp });
    try {
      await conn.event('ESTABLISHED', WAIT);
    } catch (error) {
      throw cmEventError(error, 0);
    }
    link.watch(conn);
    for (;;) {
      // the client's source buffer, or its disconnect between two pings
      const source = await link.completion('IB_WC_RECV', pings);
      if (source === undefined) break;
      if (source.byteLen !== RPING_INFO_SIZE)
        throw new UverbsRpingError(`Received bogus data, size ${source.byteLen}`, pings);
      const info = new DataView(link.recv.bytes.buffer, link.recv.bytes.byteOffset, RPING_INFO_SIZE);
      let remote = { addr: info.getBigUint64(0), rkey: info.getUint32(8) };
      const length = info.getUint32(12);
      link.postRecv();
      if (length > o.size)
        throw new UverbsRpingError(`the client's size ${length} is more than this server's ${o.size}`, pings);
      link.qp.postSend({ wrId: 3n, opcode: 'RDMA_READ', signaled: true, remote, sg: [{ mr: link.rdma, length }] });
      if ((await link.completion('IB_WC_RDMA_READ', pings)) === undefined) throw ended(link, pings);
      const data = link.rdma.bytes.subarray(0, length);
      if (o.validate && Buffer.compare(data, rpingPayload(pings, length)) !== 0)
        throw new UverbsRpingError(`ping ${pings} is not rping's data: ${cString(data)}`, pings);
      options.onPing?.(`server ping data: ${cString(data)}`);
      link.sendInfo(undefined, 0);
      const sink = await link.completion('IB_WC_RECV', pings);
      if (sink === undefined) throw ended(link, pings);
      if (sink.byteLen !== RPING_INFO_SIZE)
        throw new UverbsRpingError(`Received bogus data, size ${sink.byteLen}`, pings);
      remote = { addr: info.getBigUint64(0), rkey: info.getUint32(8) };
      link.postRecv();
      const echo = cString(data).length + 1;
      link.qp.postSend({
        wrId: 4n,
        opcode: 'RDMA_WRITE',
        signaled: true,
        remote,
        sg: [{ mr: link.rdma, length: Math.min(echo, o.size) }],
      });
      if ((await link.completion('IB_WC_RDMA_WRITE', pings)) === undefined) throw ended(link, pings);
      link.sendInfo(undefined, 0);
      pings++;
    }
    const end = link.endEvent;
    if (end?.type !== 'DISCONNECTED') throw ended(link, pings);
    options.onNotice?.('server DISCONNECT EVENT...');
    try {
      conn.disconnect(); // answers the client's DREQ, as rping's server does
    } catch {
      // the client's ID is gone already: nothing to answer
    }
    if (o.count !== 0 && pings !== o.count)
      throw new UverbsRpingError(`the client disconnected after ${pings} of ${o.count} pings`, pings);
    return { role: 'server', device, pings, size: o.size, validated: o.validate, seconds: seconds() };
  } finally {
    options.signal?.removeEventListener('abort', abort);
    link?.close();
    channel.close();
    options.signal?.throwIfAborted();
  }
}

/** The connection ended in the middle of a ping: what ended it. */
function ended(link: Link, pings: number): UverbsRpingError {
  const e = link.endEvent;
  const what =
    e === undefined
      ? 'the connection ended'
      : `cma event RDMA_CM_EVENT_${typeof e.type === 'number' ? e.type : e.type}, error ${e.status}`;
  return new UverbsRpingError(`${what} in the middle of ping ${pings}`, pings);
}

/**
 * @internal What perror(3) prints after the colon, as rping's
 * `perror("rdma_connect")` does: `Connection refused`. The text is libuv's
 * (Node's system error map), capitalised: glibc's for the refusal, not for
 * every errno.
 */
export function perrorText(errno: number): string {
  const text = getSystemErrorMap().get(-errno)?.[1];
  return text ? text[0]?.toUpperCase() + text.slice(1) : `errno ${errno}`;
}

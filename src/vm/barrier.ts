/**
 * A barrier for the two commands of `uverbs vm --nodes 2`: each node calls
 * {@link barrier} with the same name, and both return once both have
 * reached it (a server listening before its client connects).
 *
 * Over TCP on the first wire: node 0 listens on its address
 * (UVERBS_NODE_ADDR) at {@link BARRIER_PORT} and accepts until a peer
 * names the barrier; node 1 connects to its peer (UVERBS_PEER_ADDR),
 * retrying while nobody listens there yet, sends `uverbs-barrier NAME\n`,
 * and waits for node 0's `ok NAME\n`. A peer that reached a different name
 * is an {@link BarrierMismatchError} on both sides; a peer that does not
 * come within the timeout is a {@link BarrierTimeoutError}. Barriers are
 * met one at a time, in the same order on both nodes.
 */

import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { invalidArgValue } from '../errors.js';

/** The TCP port node 0 listens on for barriers (on the wire, never on the host). */
export const BARRIER_PORT = 7470;

/** Seconds a barrier waits for the peer unless told otherwise. */
export const BARRIER_TIMEOUT = 120;

/** Between two connection attempts of node 1 while node 0 is not listening yet. */
const RETRY_MS = 100;

/** A barrier name is one line of text: what the wire carries between the nodes. */
const NAME = /^[\x21-\x7e]{1,200}$/;

export interface BarrierOptions {
  /** This node, 0 (listens) or 1 (connects); default: $UVERBS_NODE. */
  node?: number;
  /** Node 0's address: where node 0 listens and node 1 connects; default: node 0's address from the environment. */
  address?: string;
  /** Default: {@link BARRIER_PORT}. */
  port?: number;
  /** Seconds to wait for the peer; default: {@link BARRIER_TIMEOUT}. */
  timeout?: number;
}

export interface BarrierResult {
  name: string;
  node: number;
  /** Seconds this node waited for the peer. */
  seconds: number;
}

/** The peer did not reach the barrier in time. */
export class BarrierTimeoutError extends Error {
  readonly code = 'ERR_UVERBS_BARRIER_TIMEOUT';
  readonly barrier: string;
  readonly node: number;
  readonly timeout: number;

  constructor(barrier: string, node: number, timeout: number) {
    super(`barrier ${barrier}: node${1 - node} did not come within ${timeout}s (node${node})`);
    this.barrier = barrier;
    this.node = node;
    this.timeout = timeout;
  }

  override get name(): string {
    return 'BarrierTimeoutError';
  }
}

/** The peer reached a barrier of another name: the two commands are out of step. */
export class BarrierMismatchError extends Error {
  readonly code = 'ERR_UVERBS_BARRIER_MISMATCH';
  readonly barrier: string;
  readonly peerBarrier: string;
  readonly node: number;

  constructor(barrier: string, peerBarrier: string, node: number) {
    super(`barrier ${barrier}: node${1 - node} is at barrier ${peerBarrier} (node${node})`);
    this.barrier = barrier;
    this.peerBarrier = peerBarrier;
    this.node = node;
  }

  override get name(): string {
    return 'BarrierMismatchError';
  }
}

/**
 * Waits until the other node reaches the barrier `name`. Bad arguments (a
 * name that is not 1-200 printable ASCII characters without spaces, a node
 * other than 0 or 1, no address, a bad port or timeout) throw
 * ERR_INVALID_ARG_VALUE before any socket is made.
 */
export async function barrier(name: string, options: BarrierOptions = {}): Promise<BarrierResult> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalidArgValue('name', 'must be 1-200 printable ASCII characters without spaces', name);
  }
  const node = options.node ?? envNode();
  if (node !== 0 && node !== 1) throw invalidArgValue('node', 'must be 0 or 1 (or $UVERBS_NODE must be)', node);
  const address =
    options.address ?? (node === 0 ? process.env.UVERBS_NODE_ADDR : process.env.UVERBS_PEER_ADDR) ?? undefined;
  if (typeof address !== 'string' || address === '') {
    throw invalidArgValue(
      'address',
      'must be given, or $UVERBS_NODE_ADDR / $UVERBS_PEER_ADDR set (uverbs vm --nodes 2)',
      address,
    );
  }
  const port = options.port ?? BARRIER_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalidArgValue('port', 'must be 1..65535', port);
  const timeout = options.timeout ?? BARRIER_TIMEOUT;
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 2_147_483) {
    throw invalidArgValue('timeout', 'must be a positive number of seconds', timeout);
  }
  const started = Date.now();
  const deadline = started + timeout * 1000;
  if (node === 0) await serve(name, address, port, deadline, timeout);
  else await meet(name, address, port, deadline, timeout);
  return { name, node, seconds: (Date.now() - started) / 1000 };
}

function envNode(): number | undefined {
  const v = process.env.UVERBS_NODE;
  return v === '0' ? 0 : v === '1' ? 1 : undefined;
}

/** Reads one line (up to 512 bytes) from `socket`; undefined when it closes first. */
function readLine(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const done = (line: string | undefined) => {
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(line);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const at = text.indexOf('\n');
      if (at >= 0) done(text.slice(0, at));
      else if (text.length > 512) done(undefined);
    };
    const onClose = () => done(undefined);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Node 0: listen until node 1 names a barrier; answer it. */
function serve(name: string, address: string, port: number, deadline: number, timeout: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const server = createServer();
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      server.close();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new BarrierTimeoutError(name, 0, timeout)),
      Math.max(deadline - Date.now(), 0),
    );
    server.on('connection', (socket) => {
      socket.on('error', () => {});
      void readLine(socket).then((line) => {
        const peer = /^uverbs-barrier (\S+)$/.exec(line ?? '')?.[1];
        // not a barrier request (nothing, or a stranger): this one is dropped, the barrier keeps waiting
        if (peer === undefined || settled) return void socket.destroy();
        if (peer !== name) {
          socket.end(`mismatch ${name}\n`);
          return finish(new BarrierMismatchError(name, peer, 0));
        }
        socket.end(`ok ${name}\n`, () => finish());
      });
    });
    server.once('error', (error) => finish(error));
    server.listen({ host: address, port, exclusive: true });
  });
}

/** Node 1: connect to node 0 (again, while it does not listen yet), name the barrier, wait for its answer. */
async function meet(name: string, address: string, port: number, deadline: number, timeout: number): Promise<void> {
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new BarrierTimeoutError(name, 1, timeout);
    const answer = await ask(name, address, port, left);
    if (answer === `ok ${name}`) return;
    const peer = /^mismatch (\S+)$/.exec(answer ?? '')?.[1];
    if (peer !== undefined) throw new BarrierMismatchError(name, peer, 1);
    // refused, unreachable, or closed without an answer: node 0 is not at a barrier yet
    await new Promise((r) => setTimeout(r, Math.min(RETRY_MS, Math.max(deadline - Date.now(), 0))));
  }
}

/** One attempt: the answer line, or undefined when there was none (no listener, closed, time up). */
function ask(name: string, address: string, port: number, left: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: address, port });
    const timer = setTimeout(() => socket.destroy(), left);
    socket.on('error', () => {});
    socket.once('connect', () => socket.write(`uverbs-barrier ${name}\n`));
    void readLine(socket).then((line) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    });
  });
}

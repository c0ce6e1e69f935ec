/**
 * Plumbing for the `nodes` project: test files that run inside both guests
 * of `uverbs vm --nodes 2` (scripts/node-tests), each test taking its role
 * from UVERBS_NODE and meeting the other node through the barrier
 * (src/vm/barrier.ts). Both nodes register the same tests in the same
 * order, so their barriers pair up one by one.
 */

import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { barrier } from '../../src/vm/barrier.js';

/** This node: 0 or 1 (undefined outside a --nodes guest). */
export const NODE = process.env.UVERBS_NODE === '0' ? 0 : process.env.UVERBS_NODE === '1' ? 1 : undefined;

/** Seconds a test's barrier waits for the other node (the other node may be running a slow step). */
export const MEET_TIMEOUT = 90;

/** Waits for the other node at barrier `name` (see src/vm/barrier.ts). */
export async function meet(name: string): Promise<void> {
  await barrier(name, { timeout: MEET_TIMEOUT });
}

/** Node `node`'s address on the wire of RDMA link `link` (rxe0, siw0), from the environment --nodes sets. */
export function addressOf(link: string, node: 0 | 1): string {
  const key = `UVERBS_${node === NODE ? 'NODE' : 'PEER'}_ADDR_${link.toUpperCase()}`;
  const value = process.env[key];
  if (!value) throw new Error(`${key} is not set: run inside uverbs vm --nodes 2 --devs rxe,siw`);
  return value;
}

export interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A started program: its end, and a way to stop it (SIGKILL) if it is still running. */
export interface Started {
  done: Promise<Finished>;
  kill(): void;
}

/** Starts `argv`, killed after `seconds`; its output is collected. */
export function start(argv: readonly string[], seconds: number): Started {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000);
  const done = new Promise<Finished>((resolve) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ status: null, signal: null, stdout, stderr: `${stderr}${e.message}` });
    });
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

/** Runs `argv` to its end (at most `seconds`). */
export function run(argv: readonly string[], seconds: number): Promise<Finished> {
  return start(argv, seconds).done;
}

/**
 * Polls `rdma res show cm_id` until a listening ID bound to `address:port`
 * is there, on `link` (rdma_cm bound it to the device that address routes
 * to); throws after `seconds` or when `server` ends first.
 */
export async function listening(link: string, address: string, port: number, server: Started, seconds = 30) {
  let ended = false;
  void server.done.then(() => {
    ended = true;
  });
  const until = Date.now() + seconds * 1000;
  let last = '';
  for (;;) {
    const res = await run(['rdma', 'res', 'show', 'cm_id'], 10);
    last = res.stdout;
    const line = last
      .split('\n')
      .find((l) => / state LISTEN /.test(l) && ` ${l} `.includes(` src-addr ${address}:${port} `));
    if (line) {
      if (!line.includes(`link ${link}/`))
        throw new Error(`the listener on ${address}:${port} is not on ${link}: ${line}`);
      return;
    }
    if (ended)
      throw new Error(`the server ended before it listened on ${address}:${port}\n${(await server.done).stderr}`);
    if (Date.now() > until) throw new Error(`nothing listens on ${address}:${port} after ${seconds}s:\n${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Whether this library has a datapath for `link` (as test/device/support.ts's
 * libraryDatapath answers it), asked in a child process of the built
 * library (dist/): importing the library's sources here would cost each
 * guest some 25 s of transforming under TCG.
 */
export function libraryDatapath(link: string): boolean {
  const context = fileURLToPath(new URL('../../dist/src/verbs/context.js', import.meta.url));
  const script = `import { Context } from ${JSON.stringify(context)};
const ctx = Context.open(${JSON.stringify(link)});
process.stdout.write(String(ctx.provider?.datapath !== undefined));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 || !/^(true|false)$/.test(r.stdout)) {
    throw new Error(`cannot tell whether the library has a datapath for ${link}: ${r.stderr || r.error?.message}`);
  }
  return r.stdout === 'true';
}

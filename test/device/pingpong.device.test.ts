/**
 * `uverbs pingpong` against rdma-core's ibv_rc_pingpong inside one guest,
 * in both roles: the address exchange is byte-compatible and the RC
 * traffic completes, 1000 iterations of 4 KiB. Registered only where the
 * library has a datapath for the device (rxe): an iWARP device (siw) also
 * connects its QPs through the connection manager, which pingpong does not.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { handConnected, TEST_DEVICE, VM_KERNEL } from './support.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const name = TEST_DEVICE as string;
const ITERS = '1000';
const SIZE = '4096';
const GID = '1'; // RoCE v2, IPv4-mapped

interface Run {
  status: number | null;
  out: string;
}

function start(command: string, args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const done = once(child, 'exit').then(([status]) => ({ status: status as number | null, out }));
  return { child, done };
}

/** Waits until something listens on TCP `port` (the server side is up). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim() !== '') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}`);
}

const ours = (port: number, server?: string): [string, string[]] => [
  process.execPath,
  [CLI, 'pingpong', '-d', name, '-g', GID, '-n', ITERS, '-s', SIZE, '-p', String(port), ...(server ? [server] : [])],
];
const theirs = (port: number, server?: string): [string, string[]] => [
  'ibv_rc_pingpong',
  ['-d', name, '-g', GID, '-n', ITERS, '-s', SIZE, '-p', String(port), ...(server ? [server] : [])],
];

function usecPerIter(run: Run): number {
  const m = /(\d+) iters in [\d.]+ seconds = ([\d.]+) usec\/iter/.exec(run.out);
  expect(m?.[1], run.out).toBe(ITERS);
  return Number(m?.[2]);
}

// ibv_rc_pingpong exchanges QPNs and GIDs and connects by hand: RoCE (rxe); siw's QPs reach RTS only through the CM
const datapath = handConnected();

// without a datapath nothing is registered (the `if` below): there is nothing the kernel refused to skip on
describe.runIf(datapath)(`uverbs pingpong on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const cases = [
    { title: 'uverbs server, ibv_rc_pingpong client', server: ours, client: theirs, port: 18601 },
    { title: 'ibv_rc_pingpong server, uverbs client', server: theirs, client: ours, port: 18602 },
  ];
  for (const { title, server, client, port } of cases)
    if (datapath)
      it(`${title}: 1000 x 4 KiB both ways`, async () => {
        const s = start(...server(port));
        await listening(port);
        const c = start(...client(port, '127.0.0.1'));
        const [sr, cr] = await Promise.all([s.done, c.done]);
        expect(sr.status, sr.out).toBe(0);
        expect(cr.status, cr.out).toBe(0);
        // each side saw the other's address: the QPNs cross
        const qpn = (run: Run, which: string) =>
          new RegExp(`${which} address:\\s+LID 0x[0-9a-f]+, QPN (0x[0-9a-f]+)`).exec(run.out)?.[1];
        expect(qpn(sr, 'local')).toBe(qpn(cr, 'remote'));
        expect(qpn(cr, 'local')).toBe(qpn(sr, 'remote'));
        const [su, cu] = [usecPerIter(sr), usecPerIter(cr)];
        process.stderr.write(`pingpong ${name} ${VM_KERNEL}: server ${su} usec/iter, client ${cu} usec/iter\n`);
      }, 180_000);
});

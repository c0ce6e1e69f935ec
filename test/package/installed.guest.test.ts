/**
 * The installed package against a real device, inside `uverbs vm` after
 * pack.test.ts made the project on the host: that project's own
 * `node_modules/.bin/uverbs pingpong` (its datapath is the prebuilt addon
 * in the tarball; nothing was built at install) against rdma-core's
 * ibv_rc_pingpong, in both roles, and the README's plain-JS programs run as
 * written from the project under Node 20 and Node 22. One kernel is
 * enough: what is tested is the package, not the kernel (scripts/test runs
 * it on the first kernel given).
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleFile, FIRST_PROGRAM_PRINTS, INSTALLED, NODE22, PREBUILD, PROJECT, readmeBlocks } from './support.js';

const DEVICE = process.env.UVERBS_TEST_DEVICE ?? 'rxe0';
const KERNEL = process.env.UVERBS_VM_KERNEL;
const ITERS = '1000';
const GID = '1'; // RoCE v2, IPv4-mapped
const UVERBS = join(PROJECT, 'node_modules', '.bin', 'uverbs');

interface Run {
  status: number | null;
  stdout: string;
  out: string;
}

function start(command: string, args: string[]): { child: ChildProcess; done: Promise<Run>; exited: () => boolean } {
  // killed after a minute: a hang is a failure here, not a wait for the test's timeout
  const child = spawn(command, args, { cwd: PROJECT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  let stdout = '';
  let out = '';
  let exited = false;
  child.stdout?.on('data', (d) => {
    stdout += d;
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const done = once(child, 'exit').then(([status]) => {
    exited = true;
    return { status: status as number | null, stdout, out };
  });
  return { child, done, exited: () => exited };
}

/** Waits until something listens on TCP `port`; fails at once if the server exits first. */
async function listening(port: number, server: ReturnType<typeof start>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (server.exited()) throw new Error(`the server exited before listening: ${(await server.done).out}`);
    if (execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim() !== '') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}`);
}

const args = (port: number, server?: string) => [
  '-d',
  DEVICE,
  '-g',
  GID,
  '-n',
  ITERS,
  '-p',
  String(port),
  ...(server ? [server] : []),
];

describe(`the installed package on ${DEVICE} (kernel ${KERNEL})`, () => {
  it('the project installed by the pack test is there, with the prebuild and without a build', () => {
    expect(existsSync(UVERBS), `${UVERBS} is missing: test/package/pack.test.ts makes it on the host first`).toBe(true);
    expect(existsSync(join(INSTALLED, PREBUILD))).toBe(true);
    expect(existsSync(join(INSTALLED, 'build'))).toBe(false);
  });

  const cases = [
    { title: "the project's uverbs serves, ibv_rc_pingpong connects", ours: 'server', port: 18611 },
    { title: "ibv_rc_pingpong serves, the project's uverbs connects", ours: 'client', port: 18612 },
  ] as const;
  for (const { title, ours, port } of cases)
    it(`${title}: ${ITERS} x 4 KiB`, async () => {
      const server =
        ours === 'server' ? start(UVERBS, ['pingpong', ...args(port)]) : start('ibv_rc_pingpong', args(port));
      let client: ReturnType<typeof start> | undefined;
      try {
        await listening(port, server);
        client =
          ours === 'client'
            ? start(UVERBS, ['pingpong', ...args(port, '127.0.0.1')])
            : start('ibv_rc_pingpong', args(port, '127.0.0.1'));
        const c = await client.done;
        // a client that failed leaves the server waiting for a peer: end it rather than wait
        if (c.status !== 0) server.child.kill();
        const s = await server.done;
        expect(c.status, c.out).toBe(0);
        expect(s.status, s.out).toBe(0);
        for (const r of [s, c]) expect(r.out).toMatch(new RegExp(`${ITERS} iters in [\\d.]+ seconds`));
      } finally {
        for (const p of [server, client]) if (p !== undefined && !p.exited()) p.child.kill();
      }
    });

  it("the README's plain-JS programs run as written from the project, on Node 20 and Node 22", async () => {
    const examples = readmeBlocks('js');
    expect(examples.length).toBeGreaterThan(0);
    for (const node of [process.execPath, NODE22])
      for (let i = 0; i < examples.length; i++) {
        const r = await start(node, [exampleFile(i), DEVICE]).done;
        expect(r.status, `${node} ${exampleFile(i)}: ${r.out}`).toBe(0);
        if (i === 0) expect(r.stdout.trim().split('\n').at(-1)).toBe(FIRST_PROGRAM_PRINTS);
      }
  });
});

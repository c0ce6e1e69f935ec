/**
 * `uverbs pingpong --cm` against librdmacm's rdma_server / rdma_client
 * between the two guests of `uverbs vm --nodes 2 --devs rxe,siw`, in both
 * roles, over rxe0 and over siw0 (each on a wire of its own): the server on
 * node0, the client on node1, one 16-byte exchange (rdma_server's and
 * rdma_client's only one), both ending 0.
 */

import { describe, expect, it } from 'vitest';
import { addressOf, listening, meet, NODE, run, start } from './support.js';

/** Seconds either side may take (TCG, two guests on two host CPUs). */
const SECONDS = 60;

interface Row {
  title: string;
  server: (address: string, port: number) => string[];
  client: (address: string, port: number) => string[];
  /** What the client's (index 1) or server's (0) side prints when it is ours, and theirs. */
  ours: 'server' | 'client';
  port: number;
}

const ROWS: Row[] = [
  {
    title: 'uverbs pingpong --cm (server) on node0, rdma_client on node1',
    server: (a, p) => ['uverbs', 'pingpong', '--cm', '--bind', a, '-p', String(p)],
    client: (a, p) => ['rdma_client', '-s', a, '-p', String(p)],
    ours: 'server',
    port: 7471,
  },
  {
    title: 'rdma_server on node0, uverbs pingpong --cm (client) on node1',
    server: (a, p) => ['rdma_server', '-s', a, '-p', String(p)],
    client: (a, p) => ['uverbs', 'pingpong', '--cm', '-p', String(p), a],
    ours: 'client',
    port: 7472,
  },
];

/** Each side checks what it ran: ours prints pingpong's summary, theirs `rdma_server: end 0` / `rdma_client: end 0`. */
function checkSide(side: 'server' | 'client', row: Row, r: { status: number | null; stdout: string; stderr: string }) {
  expect(r.status, `${side}: ${r.stdout}${r.stderr}`).toBe(0);
  if (row.ours === side) {
    expect(r.stdout).toMatch(/32 bytes in [\d.]+ seconds/);
    expect(r.stdout).toMatch(/1 iters in/);
  } else {
    expect(r.stdout).toContain(`rdma_${side}: end 0`);
  }
}

describe.runIf(NODE !== undefined)('pingpong --cm between two guests', () => {
  describe.each(['rxe0', 'siw0'])('over %s', (link) => {
    it.each(ROWS)(
      '$title: one 16-byte exchange, both end 0',
      async (row) => {
        const tag = `pp-${link}-${row.port}`;
        const address = addressOf(link, 0);
        if (NODE === 0) {
          const s = start(row.server(address, row.port), SECONDS + 30);
          try {
            await listening(link, address, row.port, s);
            await meet(`${tag}:listening`);
            const r = await s.done;
            process.stderr.write(`node0 ${link} ${row.title}: ${r.stdout.trim().split('\n').join(' | ')}\n`);
            checkSide('server', row, r);
          } finally {
            s.kill();
            await meet(`${tag}:done`);
          }
        } else {
          await meet(`${tag}:listening`);
          try {
            const r = await run(row.client(address, row.port), SECONDS);
            process.stderr.write(`node1 ${link} ${row.title}: ${r.stdout.trim().split('\n').join(' | ')}\n`);
            checkSide('client', row, r);
          } finally {
            await meet(`${tag}:done`);
          }
        }
      },
      3 * SECONDS * 1000,
    );
  });
});

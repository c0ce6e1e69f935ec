/**
 * rping between the two guests of `uverbs vm --nodes 2 --devs rxe,siw`:
 * the server on node0, the client on node1, `-v -C 100`, over rxe0 and
 * over siw0 (each on a wire of its own: rdma_cm picks the device by the
 * address, src/vm/nodes.ts), with every `ping data:` line of both sides
 * checked against rping's pattern. Rows are table-driven: librdmacm's
 * rping against itself, and `uverbs rping` in either role against it,
 * over both devices (the library has a datapath for each; see rows()).
 */

import { describe, expect, it } from 'vitest';
import { addressOf, libraryDatapath, listening, meet, NODE, run, start } from './support.js';

const COUNT = 100;
/** rping's default -S. */
const SIZE = 64;
/** Seconds either side may take for the 100 pings (TCG, two guests on two host CPUs). */
const PING_SECONDS = 90;

/**
 * What rping's `-v` prints for ping number `i` with `size`-byte buffers:
 * `rdma-ping-I: ` followed by letters from 'A' + (i mod 58) on, each the
 * next character, `z` wrapping to `A`, up to size - 1 characters.
 */
export function rpingData(i: number, size = SIZE): string {
  let text = `rdma-ping-${i}: `.slice(0, size - 1);
  for (let c = 65 + (i % 58); text.length < size - 1; c = c === 122 ? 65 : c + 1) text += String.fromCharCode(c);
  return text;
}

const TOOLS = {
  rping: ['rping'],
  'uverbs rping': ['uverbs', 'rping'],
} as const;
type Tool = keyof typeof TOOLS;

interface Row {
  server: Tool;
  client: Tool;
}

/**
 * The scenarios on each link: rping against itself (proving the wire), then
 * `uverbs rping` in each role against rping. The `uverbs rping` rows need
 * the library's datapath for the device (rxe; siw once its datapath
 * exists): they are registered only where it has one, on both nodes alike
 * (same kernel, same devices), so the barriers still pair up.
 */
const ROWS_RPING: Row[] = [{ server: 'rping', client: 'rping' }];
const ROWS_UVERBS: Row[] = [
  { server: 'rping', client: 'uverbs rping' },
  { server: 'uverbs rping', client: 'rping' },
];

const LINKS = ['rxe0', 'siw0'] as const;

/** Every row, on every link: rxe and siw both have a library datapath (a lost one fails its test, not hides rows). */
function rows(): (Row & { port: number })[] {
  const list = NODE === undefined ? [] : [...ROWS_RPING, ...ROWS_UVERBS];
  return list.map((r, i) => ({ ...r, port: 7200 + i }));
}

function pingLines(stdout: string, prefix: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

const expected = Array.from({ length: COUNT }, (_, i) => rpingData(i));

describe.runIf(NODE !== undefined)('rping between two guests', () => {
  it('the library has a datapath for rxe0 and for siw0 (the uverbs rows need it)', () => {
    for (const link of LINKS) expect(libraryDatapath(link), link).toBe(true);
  });

  it('rpingData is the pattern rping prints', () => {
    expect(rpingData(0)).toBe(
      'rdma-ping-0: ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyzABCDEFGHI'.slice(0, 63),
    );
    expect(rpingData(57).slice(14, 17)).toBe('zAB');
    expect(rpingData(58).slice(14, 15)).toBe('A');
  });

  describe.each(LINKS)('over %s', (link) => {
    it.each(rows())(
      '$server -s on node0, $client -c on node1: 100 pings, every data line checked',
      async ({ server, client, port }) => {
        const tag = `${link}-${server}-${client}`.replaceAll(' ', '_');
        const address = addressOf(link, 0);
        const args = ['-a', address, '-p', String(port), '-v', '-C', String(COUNT)];
        if (NODE === 0) {
          const s = start([...TOOLS[server], '-s', ...args], PING_SECONDS + 60);
          try {
            await listening(link, address, port, s);
            await meet(`${tag}:listening`);
            const r = await s.done;
            expect(r.status, r.stderr).toBe(0);
            expect(pingLines(r.stdout, 'server ping data: ')).toEqual(expected);
          } finally {
            s.kill();
            await meet(`${tag}:done`);
          }
        } else {
          await meet(`${tag}:listening`);
          try {
            const r = await run([...TOOLS[client], '-c', ...args], PING_SECONDS);
            expect(r.status, r.stderr).toBe(0);
            expect(pingLines(r.stdout, 'ping data: ')).toEqual(expected);
          } finally {
            await meet(`${tag}:done`);
          }
        }
      },
      3 * PING_SECONDS * 1000,
    );
  });
});

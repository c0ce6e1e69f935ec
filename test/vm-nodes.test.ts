/**
 * `uverbs vm --nodes 2`: the QEMU command lines of the two guests (their
 * wires are unix sockets between the two QEMUs and nothing else: no
 * multicast, no host address), the guests' addresses, links and
 * environment, the barrier (met, out of time, out of step), the status of a
 * run from both nodes' statuses, the usage mistakes caught before anything
 * boots, and one boot of two guests that meet over each wire, one of
 * which then crashes: the other is stopped.
 */

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BarrierMismatchError, BarrierTimeoutError, barrier } from '../src/vm/barrier.js';
import { linksFile, nodeEnv, nodeNics, nodeWires, wiresFile } from '../src/vm/nodes.js';
import { qemuArgs } from '../src/vm/qemu.js';
import { nodesStatus, nodesStatusLine, prefixLines, VM_EXIT } from '../src/vm/run.js';
import { alive, CLI, HAS_QEMU, uverbs, uverbsIn, waitFor } from './vm-cli.js';

/** The QEMUs on this machine with a wire of --nodes (their command lines name uverbs-wire-*). */
function wireQemus(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'latin1').includes('uverbs-wire-');
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** QEMU's option-list parsing: `,` separates, `,,` is a literal comma; `key=value` pairs, the first bare word keyed ''. */
function options(text: string): Map<string, string> {
  const parts = text.split(/,(?!,)/).map((p) => p.replaceAll(',,', ','));
  return new Map(
    parts.map((p, i) => {
      const at = p.indexOf('=');
      return at < 0 ? [i === 0 ? '' : p, i === 0 ? p : 'on'] : [p.slice(0, at), p.slice(at + 1)];
    }),
  );
}

function nodeArgs(dir: string, node: number): string[] {
  return qemuArgs({
    kernel: '/cache/vmlinux',
    initrd: '/cache/initrd.cpio',
    run: `/tmp/uverbs-vm-${node}`,
    shares: [],
    memory: '2G',
    smp: 2,
    wires: nodeNics(dir, nodeWires(['rxe', 'siw']), node),
  });
}

const flagValues = (args: string[], flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [options(a)] : []));

/** A TCP port nobody listens on right now (the kernel picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('the two guests of --nodes 2', () => {
  const dir = '/tmp/uverbs-wire-abc123';
  const args = [nodeArgs(dir, 0), nodeArgs(dir, 1)];

  it('wires are unix datagram sockets between the two QEMUs: no multicast, no host address', () => {
    for (const a of args) {
      const text = a.join(' ');
      expect(text).not.toMatch(/mcast/);
      // no IP address at all on either command line (127.0.0.1 would be the most it may use; it uses none)
      expect(text).not.toMatch(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/);
      const netdevs = flagValues(a, '-netdev');
      expect(netdevs.map((n) => n.get(''))).toEqual(['user', 'dgram', 'dgram']);
      expect(netdevs[0]?.get('restrict')).toBe('on');
      for (const n of netdevs.slice(1)) {
        expect([...n.keys()].sort()).toEqual(['', 'id', 'local.path', 'local.type', 'remote.path', 'remote.type']);
        expect(n.get('local.type')).toBe('unix');
        expect(n.get('remote.type')).toBe('unix');
        expect(n.get('local.path')?.startsWith(`${dir}/`)).toBe(true);
        expect(n.get('remote.path')?.startsWith(`${dir}/`)).toBe(true);
      }
    }
  });

  it("each node's end of a wire is the other's far end, and every wire NIC has a MAC of its own", () => {
    const [n0, n1] = args.map((a) => flagValues(a, '-netdev').slice(1));
    for (const w of [0, 1]) {
      expect(n0?.[w]?.get('local.path')).toBe(n1?.[w]?.get('remote.path'));
      expect(n1?.[w]?.get('local.path')).toBe(n0?.[w]?.get('remote.path'));
      expect(n0?.[w]?.get('local.path')).not.toBe(n1?.[w]?.get('local.path'));
    }
    const macs = args.flatMap((a) =>
      flagValues(a, '-device')
        .filter((d) => d.get('') === 'virtio-net-pci' && d.has('mac'))
        .map((d) => d.get('mac')),
    );
    expect(macs).toHaveLength(4);
    expect(new Set(macs).size).toBe(4);
  });

  it('rxe0 and siw0 each sit on a wire of their own, with the addresses the command is told', () => {
    const wires = nodeWires(['rxe', 'siw']);
    const [mac0rxe, mac0siw] = nodeNics(dir, wires, 0).map((n) => n.mac);
    expect(linksFile(wires, 0)).toBe(`rxe0 rxe ${mac0rxe}\nsiw0 siw ${mac0siw}\n`);
    expect(wiresFile(wires, 0)).toBe(`${mac0rxe} 10.11.0.1/24\n${mac0siw} 10.12.0.1/24\n`);
    expect(wiresFile(wires, 1)).toMatch(/ 10\.11\.0\.2\/24\n.* 10\.12\.0\.2\/24\n$/);
    expect(nodeEnv(wires, 1)).toEqual({
      UVERBS_NODE: '1',
      UVERBS_NODES: '2',
      UVERBS_NODE_ADDR: '10.11.0.2',
      UVERBS_PEER_ADDR: '10.11.0.1',
      UVERBS_NODE_ADDR_RXE0: '10.11.0.2',
      UVERBS_PEER_ADDR_RXE0: '10.11.0.1',
      UVERBS_NODE_ADDR_SIW0: '10.12.0.2',
      UVERBS_PEER_ADDR_SIW0: '10.12.0.1',
    });
    // no RDMA device: one plain wire, no links
    expect(linksFile(nodeWires([]), 0)).toBe('');
    expect(wiresFile(nodeWires([]), 1)).toMatch(/ 10\.11\.0\.2\/24\n$/);
  });

  it('a wire socket path longer than a unix socket allows is refused before anything boots', () => {
    expect(() => nodeNics(`/tmp/${'x'.repeat(120)}`, nodeWires(['rxe']), 0)).toThrow(/longer than a unix socket/);
  });
});

describe('the status of a two-node run', () => {
  it('is 0 only when both nodes exited 0, else the first non-zero one, and the line names both', () => {
    expect(
      nodesStatus([
        { node: 0, status: 0 },
        { node: 1, status: 0 },
      ]),
    ).toBe(0);
    expect(
      nodesStatus([
        { node: 0, status: 0 },
        { node: 1, status: 3 },
      ]),
    ).toBe(3);
    expect(
      nodesStatus([
        { node: 1, status: 4 },
        { node: 0, status: VM_EXIT.TIMEOUT },
      ]),
    ).toBe(VM_EXIT.TIMEOUT);
    expect(
      nodesStatusLine([
        { node: 0, status: 1 },
        { node: 1, status: VM_EXIT.GUEST_FAILED, failure: 'stopped: node0 failed: x\nmore' },
      ]),
    ).toBe(`node0: exit 1; node1: exit ${VM_EXIT.GUEST_FAILED} (stopped: node0 failed: x)`);
  });

  it("each node's output lines carry its prefix, a line split across writes (or a character) stays whole", () => {
    let out = '';
    const sink = {
      write: (s: string) => {
        out += s;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    const p = prefixLines('[node1] ', sink);
    p.write(Buffer.from('one\ntw'));
    p.write(Buffer.from([0x6f, 0xc3]));
    p.write(Buffer.from([0xa9, 0x0a, 0x6c, 0x61, 0x73, 0x74]));
    p.flush();
    expect(out).toBe('[node1] one\n[node1] twoé\n[node1] last\n');
  });
});

describe('the barrier', () => {
  it('both nodes return once both reached it, whichever comes first', async () => {
    const port = await freePort();
    const address = '127.0.0.1';
    // node1 first: it retries until node0 listens
    const one = barrier('first', { node: 1, address, port, timeout: 10 });
    await new Promise((r) => setTimeout(r, 300));
    const zero = barrier('first', { node: 0, address, port, timeout: 10 });
    const [r0, r1] = await Promise.all([zero, one]);
    expect(r0).toMatchObject({ name: 'first', node: 0 });
    expect(r1).toMatchObject({ name: 'first', node: 1 });
    expect(r1.seconds).toBeGreaterThanOrEqual(0.25);
    // then node0 first, on the same port again
    const zero2 = barrier('second', { node: 0, address, port, timeout: 10 });
    await new Promise((r) => setTimeout(r, 200));
    const [s0, s1] = await Promise.all([zero2, barrier('second', { node: 1, address, port, timeout: 10 })]);
    expect(s0.seconds).toBeGreaterThanOrEqual(0.15);
    expect(s1.node).toBe(1);
  });

  it('a peer that does not come is a typed timeout, on either side, after the time given', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const e1 = await barrier('lonely', { node: 1, address: '127.0.0.1', port, timeout: 0.5 }).catch((e) => e);
    expect(e1).toBeInstanceOf(BarrierTimeoutError);
    expect(e1).toMatchObject({ code: 'ERR_UVERBS_BARRIER_TIMEOUT', barrier: 'lonely', node: 1, timeout: 0.5 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(Date.now() - t0).toBeLessThan(3000);
    const e0 = await barrier('lonely', { node: 0, address: '127.0.0.1', port, timeout: 0.5 }).catch((e) => e);
    expect(e0).toMatchObject({ code: 'ERR_UVERBS_BARRIER_TIMEOUT', node: 0 });
    expect(e0.message).toMatch(/barrier lonely: node1 did not come within 0.5s/);
  });

  it('a peer at another barrier is a typed mismatch on both sides', async () => {
    const port = await freePort();
    const address = '127.0.0.1';
    const [e0, e1] = await Promise.all([
      barrier('here', { node: 0, address, port, timeout: 5 }).catch((e) => e),
      barrier('there', { node: 1, address, port, timeout: 5 }).catch((e) => e),
    ]);
    expect(e0).toBeInstanceOf(BarrierMismatchError);
    expect(e0).toMatchObject({ code: 'ERR_UVERBS_BARRIER_MISMATCH', barrier: 'here', peerBarrier: 'there' });
    expect(e1).toMatchObject({ code: 'ERR_UVERBS_BARRIER_MISMATCH', barrier: 'there', peerBarrier: 'here' });
  });

  it('bad arguments are typed errors before any socket', async () => {
    for (const [name, opts] of [
      ['has space', { node: 0, address: '127.0.0.1' }],
      ['', { node: 0, address: '127.0.0.1' }],
      ['ok', { node: 2, address: '127.0.0.1' }],
      ['ok', { node: 0, address: '127.0.0.1', timeout: 0 }],
      ['ok', { node: 0, address: '127.0.0.1', port: 70000 }],
    ] as const) {
      await expect(barrier(name, opts)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});

describe('uverbs vm --nodes: usage mistakes before anything boots', () => {
  it.each([
    [['vm', '--nodes', '3', '--', 'true'], /--nodes takes 2/],
    [['vm', '--nodes', 'two', '--', 'true'], /--nodes takes 2/],
    [['vm', '--nodes', '2', '-e', 'UVERBS_NODE=1', '--', 'true'], /--env UVERBS_NODE: --nodes sets it/],
    [['vm', '--nodes', '2', '-e', 'UVERBS_PEER_ADDR_RXE0=x', '--', 'true'], /--env UVERBS_PEER_ADDR_RXE0/],
    [['vm', '--nodes', '2', '-k', 'debug', '--rebuild-debug', '--', 'true'], /--rebuild-debug builds a kernel/],
    [['vm', 'barrier'], /takes one NAME/],
    [['vm', 'barrier', 'x', '--timeout', '0'], /--timeout must be positive/],
  ])('%j: exit 2', async (args, message) => {
    const r = await uverbsIn(process.cwd(), args, { env: { ...process.env, UVERBS_NODE: '0' } });
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(2);
  });

  it('uverbs vm barrier outside a --nodes guest is a usage mistake; out of time it exits 1', async () => {
    const { UVERBS_NODE: _, ...env } = process.env;
    const outside = await uverbsIn(process.cwd(), ['vm', 'barrier', 'x'], { env });
    expect(outside.stderr).toMatch(/UVERBS_NODE is not 0 or 1/);
    expect(outside.status).toBe(2);
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const late = await uverbsIn(process.cwd(), ['vm', 'barrier', 'x', '--timeout', '0.5'], {
      env: { ...env, UVERBS_NODE: '1', UVERBS_PEER_ADDR: '127.0.0.1' },
    });
    expect(late.stderr).toMatch(/barrier x: node0 did not come within 0.5s/);
    expect(late.status).toBe(1);
  });

  it('--help names the environment and the barrier', async () => {
    const r = await uverbs('vm', '--help');
    for (const word of ['--nodes 2', 'UVERBS_NODE', 'UVERBS_PEER_ADDR', 'UVERBS_NODE_ADDR_SIW0', 'barrier NAME']) {
      expect(r.stdout).toContain(word);
    }
    const b = await uverbs('vm', 'barrier', '--help');
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/ERR_UVERBS_BARRIER_TIMEOUT/);
  });
});

describe.skipIf(!HAS_QEMU)('two guests on their wires', () => {
  it('meet each other over both wires; when node1 dies, node0 is stopped and both statuses are reported', async () => {
    const script = [
      // TCP across each wire: the barrier on the first, and on the second with its addresses
      'uverbs vm barrier rxe-wire --timeout 120 && echo "met $UVERBS_PEER_ADDR_RXE0"',
      'UVERBS_NODE_ADDR=$UVERBS_NODE_ADDR_SIW0 UVERBS_PEER_ADDR=$UVERBS_PEER_ADDR_SIW0 uverbs vm barrier siw-wire --timeout 60 && echo "met $UVERBS_PEER_ADDR_SIW0"',
      // node1 crashes its kernel; node0 would sleep for ever
      'if [ "$UVERBS_NODE" = 1 ]; then echo c >/proc/sysrq-trigger; fi',
      'sleep 600',
    ].join('\n');
    let pid = 0;
    const before = wireQemus();
    const r = await uverbsIn(
      process.cwd(),
      ['vm', '--nodes', '2', '--json', '--devs', 'rxe,siw', '--timeout', '400', '--', 'sh', '-c', script],
      {
        onSpawn: (p) => {
          pid = p;
        },
      },
    );
    expect(r.stderr).toContain('[node0] met 10.11.0.2');
    expect(r.stderr).toContain('[node0] met 10.12.0.2');
    expect(r.stderr).toContain('[node1] met 10.11.0.1');
    expect(r.stderr).toContain('[node1] met 10.12.0.1');
    const result = JSON.parse(r.stdout);
    expect(result.status).toBe(VM_EXIT.GUEST_FAILED);
    expect(result.nodes.map((n: { status: number }) => n.status)).toEqual([VM_EXIT.GUEST_FAILED, VM_EXIT.GUEST_FAILED]);
    expect(result.nodes[0].failure).toMatch(/^stopped: node1 failed: /);
    expect(r.stderr).toMatch(/node0: exit 123 \(stopped: node1 failed: [^)]*\); node1: exit 123/);
    expect(r.status).toBe(VM_EXIT.GUEST_FAILED);
    // the whole run well under node0's sleep: it was stopped, and no QEMU is left
    expect(r.seconds).toBeLessThan(300);
    expect(alive(pid)).toBe(false);
    expect(wireQemus()).toEqual(before);
  }, 420_000);

  it('SIGTERM to the harness ends both QEMUs and removes the wire sockets', async () => {
    const before = wireQemus();
    const harness = spawn(
      process.execPath,
      [CLI, 'vm', '-q', '--nodes', '2', '--devs', 'rxe', '--', 'sh', '-c', 'echo up; sleep 600'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    harness.stdout.on('data', (c) => {
      out += c;
    });
    const exited = new Promise<NodeJS.Signals | null>((r) => harness.once('exit', (_, signal) => r(signal)));
    const up = await waitFor(() => out.includes('[node0] up') && out.includes('[node1] up'), 120);
    expect(up, `both commands never started: ${out}`).toBe(true);
    const mine = wireQemus().filter((p) => !before.includes(p));
    expect(mine).toHaveLength(2);
    const dirs = mine.map((p) => /uverbs-wire-[^/]+/.exec(readFileSync(`/proc/${p}/cmdline`, 'latin1'))?.[0] as string);
    expect(new Set(dirs).size).toBe(1);
    harness.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(await waitFor(() => mine.every((p) => !alive(p)), 15)).toBe(true);
    expect(existsSync(join(tmpdir(), dirs[0] as string))).toBe(false);
  }, 180_000);
});

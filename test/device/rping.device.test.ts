/**
 * Interop with librdmacm's own tools in one guest, on the guest's own
 * address (eth0, 10.0.2.15, where the device under test sits): rping's
 * server with `uverbs rping -c` and the reverse, 100 pings of 64 bytes
 * with `-v`, every `ping data:` line of both sides checked against rping's
 * pattern; `uverbs pingpong --cm` with rdma_server / rdma_client in both
 * roles; and the failures' exact answers.
 *
 * The interop cases need the library's datapath for the device: rxe and siw
 * both have one, so every case runs on both (a device without one fails the
 * first test, rather than its cases disappearing).
 */

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { boundDevice } from '../../src/cm/bound-device.js';
import type { ConnectionId } from '../../src/cm/connection-id.js';
import { EventChannel } from '../../src/cm/event-channel.js';
import { rpingPayload } from '../../src/cm/rping.js';
import { listDevices } from '../../src/verbs/device.js';
import { deviceKind, libraryDatapath, TEST_DEVICE, VM_KERNEL } from './support.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const name = TEST_DEVICE as string;
/** The guest's eth0 address (src/vm/guest-init.ts). */
const ADDR = '10.0.2.15';
const COUNT = 100;
const datapath = TEST_DEVICE ? libraryDatapath() : false;
if (TEST_DEVICE)
  it('the library has a datapath for this device (rxe and siw both do): the cases below need it', () => {
    expect(datapath).toBe(true);
  });

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function start(command: string, args: string[]): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = once(child, 'exit').then(([status]) => ({ status: status as number | null, stdout, stderr }));
  return { child, done };
}

/** Waits until an rdma_cm ID listens on `port` (a line of `rdma res show cm_id` in state LISTEN naming the port). */
async function listening(port: number): Promise<void> {
  const line = new RegExp(`\\bLISTEN\\b.*[: ]${port}\\b`);
  let text = '';
  for (let i = 0; i < 100; i++) {
    text = execFileSync('rdma', ['res', 'show', 'cm_id'], { encoding: 'utf8' });
    if (text.split('\n').some((l) => line.test(l))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no rdma_cm ID listens on port ${port}: rdma res show cm_id says\n${text}`);
}

/** The `-v` lines `prefix`ed, each checked against rping's pattern for its ping. */
function checkLines(out: string, prefix: string): number {
  const lines = out.split('\n').filter((l) => l.startsWith(prefix));
  expect(lines.length, out.slice(-2000)).toBe(COUNT);
  lines.forEach((line, i) => {
    const data = Buffer.from(rpingPayload(i, 64).subarray(0, 63)).toString('latin1');
    expect(line).toBe(`${prefix}${data}`);
  });
  return lines.length;
}

/** A run's output for the log: the first two and last three lines of stdout and of stderr (all of short ones). */
function trim(run: Run): string {
  const cut = (text: string) => {
    const lines = text.trimEnd().split('\n');
    return lines.length <= 6 ? lines : [...lines.slice(0, 2), '...', ...lines.slice(-3)];
  };
  return [...cut(run.stdout), ...cut(run.stderr)].join('\n');
}

const uverbs = (...args: string[]): [string, string[]] => [process.execPath, [CLI, ...args]];

describe.runIf(TEST_DEVICE)(`rping and rdma_server/rdma_client interop on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const rpingCases = [
    {
      title: 'rping -s with uverbs rping -c',
      server: (port: number): [string, string[]] => ['rping', ['-s', '-a', ADDR, '-p', String(port), '-v', '-V']],
      ourServer: false,
      client: (port: number) => uverbs('rping', '-c', '-a', ADDR, '-p', String(port), '-v', '-V', '-C', String(COUNT)),
      port: 7181,
    },
    {
      title: 'uverbs rping -s with rping -c',
      // with a count (the server checks the client did exactly that many) and --json (the -v lines go to stderr)
      server: (port: number) =>
        uverbs('rping', '-s', '-a', ADDR, '-p', String(port), '-v', '-V', '-C', String(COUNT), '--json'),
      ourServer: true,
      client: (port: number): [string, string[]] => [
        'rping',
        ['-c', '-a', ADDR, '-p', String(port), '-v', '-V', '-C', String(COUNT)],
      ],
      port: 7182,
    },
  ];
  for (const { title, server, client, port, ourServer } of rpingCases)
    if (datapath)
      it(`${title}: -v -C ${COUNT}, every ping's data checked on both sides`, async () => {
        const s = start(...server(port));
        try {
          await listening(port);
          const c = start(...client(port));
          const [sr, cr] = await Promise.all([s.done, c.done]);
          process.stderr.write(
            `rping ${name} ${VM_KERNEL} ${title}:\n--- server\n${trim(sr)}\n--- client\n${trim(cr)}\n`,
          );
          expect(cr.status, cr.stderr).toBe(0);
          expect(sr.status, sr.stderr).toBe(0);
          checkLines(ourServer ? sr.stderr : sr.stdout, 'server ping data: ');
          if (ourServer)
            expect(JSON.parse(sr.stdout)).toMatchObject({
              schema: 1,
              ok: true,
              role: 'server',
              device: name,
              pings: COUNT,
              size: 64,
              validated: true,
            });
          checkLines(cr.stdout, 'ping data: ');
        } finally {
          s.child.kill();
        }
      }, 120_000);

  const cmCases = [
    {
      title: 'uverbs pingpong --cm (server) with rdma_client',
      server: (port: number) => uverbs('pingpong', '--cm', '--bind', ADDR, '-p', String(port)),
      client: (port: number): [string, string[]] => ['rdma_client', ['-s', ADDR, '-p', String(port)]],
      port: 7483,
    },
    {
      title: 'rdma_server with uverbs pingpong --cm (client)',
      server: (port: number): [string, string[]] => ['rdma_server', ['-s', ADDR, '-p', String(port)]],
      client: (port: number) => uverbs('pingpong', '--cm', '-p', String(port), ADDR),
      port: 7484,
    },
  ];
  for (const { title, server, client, port } of cmCases)
    if (datapath)
      it(`${title}: one 16-byte exchange, both end 0`, async () => {
        const s = start(...server(port));
        try {
          await listening(port);
          const c = start(...client(port));
          const [sr, cr] = await Promise.all([s.done, c.done]);
          process.stderr.write(
            `pingpong --cm ${name} ${VM_KERNEL} ${title}:\n--- server\n${trim(sr)}\n--- client\n${trim(cr)}\n`,
          );
          expect(sr.status, `${sr.stdout}${sr.stderr}`).toBe(0);
          expect(cr.status, `${cr.stdout}${cr.stderr}`).toBe(0);
          const theirs = sr.stdout.includes('rdma_server') ? sr : cr;
          expect(theirs.stdout).toMatch(/rdma_(server|client): end 0/);
          const ours = theirs === sr ? cr : sr;
          expect(ours.stdout).toMatch(/32 bytes in [\d.]+ seconds/);
          expect(ours.stdout).toMatch(/1 iters in/);
        } finally {
          s.child.kill();
        }
      }, 60_000);

  // the client makes its QP and posts a receive before it connects, as rping does: a datapath is needed
  if (datapath)
    it('uverbs rping -c to a port nobody listens on: exit 1 with rping’s own message', async () => {
      const port = 7189;
      const ours = await start('timeout', [
        '20',
        ...uverbs('rping', '-c', '-a', ADDR, '-p', String(port), '-C', '1', '-q').flat(),
      ]).done;
      expect(ours.status, 'uverbs rping ended by itself (timeout(1) answers 124)').not.toBe(124);
      if (deviceKind(name) === 'rxe') {
        const theirs = await start('timeout', ['20', 'rping', '-c', '-a', ADDR, '-p', String(port), '-C', '1']).done;
        process.stderr.write(
          `rping ${name} ${VM_KERNEL} closed port: uverbs rping exit ${ours.status}: ${ours.stderr.trim()} | rping exit ${theirs.status}: ${theirs.stderr.trim()}\n`,
        );
        // RoCE: the IB CM's REJ, reason 8 (IB_CM_REJ_INVALID_SERVICE_ID), in rping's words
        expect(ours.stderr).toBe('cma event RDMA_CM_EVENT_REJECTED, error 8\nrping client failed after 0 pings\n');
        expect(theirs.stderr).toContain('cma event RDMA_CM_EVENT_REJECTED, error 8\n');
        expect(theirs.status).toBe(255);
      } else {
        // iWARP: the CONNECT itself is refused (siw connects over TCP in it). rping is not run here: on
        // siw it prints "rdma_connect: Connection refused" and then waits for its CQ thread forever
        process.stderr.write(
          `rping ${name} ${VM_KERNEL} closed port: uverbs rping exit ${ours.status}: ${ours.stderr.trim()}\n`,
        );
        expect(ours.stderr).toBe('rdma_connect: Connection refused\nrping client failed after 0 pings\n');
      }
      expect(ours.status).toBe(1);
    }, 60_000);

  /**
   * Binds an ID on the guest's address and checks that boundDevice() names
   * the device whose kernel index (`rdma dev`) is the one QUERY reports;
   * `said` is what the log line adds.
   */
  function expectBoundAsKernelSays(said: (bound: string, id: ConnectionId) => string): void {
    const channel = EventChannel.open();
    try {
      const id = channel.createId();
      id.bind({ address: ADDR });
      const bound = boundDevice(id);
      const devs = JSON.parse(execFileSync('rdma', ['-j', 'dev', 'show'], { encoding: 'utf8' })) as {
        ifindex: number;
        ifname: string;
      }[];
      process.stderr.write(`rping ${name} ${VM_KERNEL}: ${said(bound, id)}; rdma dev: ${JSON.stringify(devs)}\n`);
      expect(devs.find((d) => d.ifname === bound)?.ifindex).toBe(id.query().deviceIndex);
    } finally {
      channel.close();
    }
  }

  it('boundDevice() names the device rdma_cm bound an ID to: its kernel index is the one QUERY reports', () => {
    expectBoundAsKernelSays((bound) => `boundDevice ${bound}`);
  });

  it('boundDevice() with rxe and siw on one netdev (one node GUID): the source GID names the device rdma_cm bound', async () => {
    const links = JSON.parse(execFileSync('rdma', ['-j', 'link', 'show'], { encoding: 'utf8' })) as {
      ifname: string;
      netdev?: string;
    }[];
    const netdev = links.find((l) => l.ifname === name || l.ifname.startsWith(`${name}/`))?.netdev;
    expect(netdev, `${name}'s netdev`).toBeDefined();
    const other = deviceKind() === 'siw' ? 'rxe' : 'siw';
    const extra = `${other}9`;
    execFileSync('rdma', ['link', 'add', extra, 'type', other, 'netdev', netdev as string]);
    try {
      for (let i = 0; i < 50 && !listDevices().some((d) => d.name === extra); i++) await sleep(100);
      const guid = listDevices().find((d) => d.name === name)?.nodeGuid;
      // the case that needs the GID: two devices, one GUID
      expect(
        listDevices()
          .filter((d) => d.nodeGuid === guid)
          .map((d) => d.name)
          .sort(),
      ).toEqual([name, extra].sort());
      expectBoundAsKernelSays(
        (bound, id) => `with ${extra} on ${netdev}: boundDevice ${bound}, source GID ${id.sourceGid()}`,
      );
    } finally {
      execFileSync('rdma', ['link', 'delete', extra]);
    }
  });

  it('uverbs rping -S out of range: exit 2 naming the option, nothing opened', () => {
    for (const size of ['22', '65536']) {
      const r = spawnSync(process.execPath, [CLI, 'rping', '-c', '-a', ADDR, '-S', size], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`uverbs rping: -S: Invalid size '${size}' (valid range is 23 to 65535)\n`);
    }
    // rping's own answer to the same: its message names 23 to 65536, exit 22 (EINVAL)
    const theirs = spawnSync('rping', ['-c', '-a', ADDR, '-S', '22'], { encoding: 'utf8' });
    expect(theirs.stderr).toContain('Invalid size 22 (valid range is 23 to 65536)');
    expect(theirs.status).toBe(22);
  });
});

// `npm run bench` (scripts/bench runs this twice: `host` here, `guest` inside `uverbs vm`).
// Every figure is a ratio of two things measured side by side in the same run, on the same
// machine: ours / the C reference. Absolute times on shared, emulated machines are noise.
//
//   node bench/run.mjs host  CDIR RUNS   synthetic rxe CQ ring: our JS path vs a plain C loop
//   node bench/run.mjs guest CDIR RUNS   rxe0: control path vs libibverbs, send vs libibverbs,
//                                         uverbs pingpong vs ibv_rc_pingpong, and bench/perf.mjs
//                                         vs perftest's ib_send_lat, ib_send_bw, ib_write_bw
//   node bench/run.mjs perftest CDIR RUNS  (in the guest) only the perftest pairs
//   node bench/run.mjs profile             (in the guest) where our side's time goes: CPU
//                                         profiles of the latency, message-rate and control-path runs
// Prints one JSON document on stdout: { schema: 1, part, rows: [{ name, unit, ours, theirs, ratio }] }.

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RxeDatapath } from '../dist/src/providers/rxe-datapath.js';
import { Ring } from '../dist/src/transport/ring.js';
import { stubRows } from './stub.mjs';

const [part, cdir, runsArg] = process.argv.slice(2);
const RUNS = Number(part === 'report' ? 5 : (runsArg ?? 5));
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** ours/theirs per run, paired: min, median, max of the ratios, and the medians themselves. */
function row(name, unit, ours, theirs) {
  if (![...ours, ...theirs].every(Number.isFinite)) throw new Error(`${name}: not a number in ${ours} / ${theirs}`);
  const ratios = ours.map((o, i) => o / theirs[i]);
  return {
    name,
    unit,
    ours: median(ours),
    theirs: median(theirs),
    ratio: { min: Math.min(...ratios), median: median(ratios), max: Math.max(...ratios) },
    runs: ours.length,
  };
}

function hostPart() {
  const rows = [];
  const dp = new RxeDatapath();
  for (const batch of [0, 1, 16, 256]) {
    const rounds = batch === 256 ? 20_000 : 200_000;
    const ours = [];
    const theirs = [];
    for (let r = 0; r < RUNS; r++) {
      const c = JSON.parse(execFileSync(`${cdir}/ring-c`, [String(batch), String(rounds)], { encoding: 'utf8' }));
      theirs.push(c.ns / (batch ? rounds * batch : rounds));
      const ring = Ring.synthetic('cq', 1024, 6);
      const cq = { rings: [ring], description: 'bench cq' };
      const header = new DataView(ring.bytes.buffer);
      const out = new Uint8Array(256 * 48);
      const max = batch || 1;
      let got = 0;
      const loop = (n) => {
        for (let i = 0; i < n; i++) {
          // the driver's side, as in the C loop: `batch` more completions
          header.setUint32(128, (header.getUint32(128, true) + batch) & 1023, true);
          got += dp.pollCq(cq, out, max);
        }
      };
      loop(rounds / 10); // warm the JIT, as the C loop needs no warming
      const t = process.hrtime.bigint();
      loop(rounds);
      const ns = Number(process.hrtime.bigint() - t);
      ring.unmap();
      if (batch && got !== (rounds + rounds / 10) * batch) throw new Error(`polled ${got} completions`);
      ours.push(ns / (batch ? rounds * batch : rounds));
    }
    rows.push(row(batch ? `CQ poll, batch ${batch}` : 'CQ poll, empty', batch ? 'ns/CQE' : 'ns/poll', ours, theirs));
  }
  rows.push(...stubRows(RUNS, row));
  return rows;
}

/** Runs `argv` and parses its JSON lines into { op: ns/op }. */
function opsOf(argv) {
  const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .map((r) => [r.op, r.ns / r.n / 1000]),
  );
}

async function listening(port) {
  for (let i = 0; i < 600; i++) {
    if (execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim() !== '') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** One ping-pong pair on rxe0; the client's usec/iter. */
async function pingpong(cmd, port, iters) {
  const args = ['-d', 'rxe0', '-g', '1', '-n', String(iters), '-s', '4096', '-p', String(port)];
  const server = spawn(cmd[0], [...cmd.slice(1), ...args], { stdio: 'ignore' });
  await listening(port);
  const client = spawn(cmd[0], [...cmd.slice(1), ...args, '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.on('data', (d) => {
    out += d;
  });
  const [[s], [c]] = await Promise.all([once(server, 'exit'), once(client, 'exit')]);
  if (s !== 0 || c !== 0) throw new Error(`${cmd.join(' ')}: exit ${s}/${c}`);
  return Number(/= ([\d.]+) usec\/iter/.exec(out)[1]);
}

async function guestPart() {
  const ITERS = '300';
  const WARMUP = '1000';
  const c = [];
  const cold = [];
  const warm = [];
  for (let r = 0; r < RUNS; r++) {
    c.push(opsOf([`${cdir}/verbs-c`, 'rxe0', '1', ITERS]));
    cold.push(opsOf([process.execPath, here('./verbs.mjs'), 'rxe0', '1', ITERS]));
    warm.push(opsOf([process.execPath, here('./verbs.mjs'), 'rxe0', '1', ITERS, WARMUP]));
  }
  const names = {
    pd: 'PD alloc + free',
    mr4k: 'MR 4 KiB reg + dereg',
    cq: 'CQ create + destroy',
    qp: 'RC QP create + destroy',
    send4k: 'RC SEND 4 KiB, post to both completions',
    send64inline: 'RC SEND 64 B inline, post to both completions',
  };
  const rows = Object.entries(names).flatMap(([op, name]) => [
    row(
      `${name}, cold (vs libibverbs, ${ITERS} iters)`,
      'us/op',
      cold.map((o) => o[op]),
      c.map((x) => x[op]),
    ),
    row(
      `${name}, after ${WARMUP} warm-up (vs libibverbs)`,
      'us/op',
      warm.map((o) => o[op]),
      c.map((x) => x[op]),
    ),
  ]);
  const ppOurs = [];
  const ppTheirs = [];
  const cli = here('../dist/src/cli/main.js');
  for (let r = 0; r < RUNS; r++) {
    ppTheirs.push(await pingpong(['ibv_rc_pingpong'], 18700 + 2 * r, 2000));
    ppOurs.push(await pingpong([process.execPath, cli, 'pingpong'], 18701 + 2 * r, 2000));
  }
  rows.push(row('RC ping-pong 4 KiB, 2000 iters (vs ibv_rc_pingpong)', 'us/iter', ppOurs, ppTheirs));
  rows.push(...(await perftestRows()));
  return rows;
}

/** Starts a server, then its client on 127.0.0.1; resolves with the client's stdout once both exit 0. */
async function serverClient(argv, port) {
  const server = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  await listening(port);
  const client = spawn(argv[0], [...argv.slice(1), '127.0.0.1'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  client.stdout.on('data', (d) => {
    out += d;
  });
  const [[s], [c]] = await Promise.all([once(server, 'exit'), once(client, 'exit')]);
  if (s !== 0 || c !== 0) throw new Error(`${argv.join(' ')}: exit ${s}/${c}`);
  return out;
}

/** A perftest result row: the numbers under the header line that names `column`. */
function perftestColumn(out, column) {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.includes(column));
  if (at < 0) throw new Error(`no ${column} in perftest's output:\n${out}`);
  // columns are two or more spaces apart, except '#bytes #iterations'
  const header = lines[at].trim().split(/\s{2,}|\s(?=#)/);
  const values = lines[at + 1].trim().split(/\s+/);
  const value = Number(values[header.findIndex((h) => h.startsWith(column))]);
  if (!Number.isFinite(value)) throw new Error(`no number under ${column} in perftest's output:\n${out}`);
  return value;
}

let nextPort = 18800;

/**
 * One perftest pair's figures for `measures`. Under emulation perftest now and then prints
 * 0 for a rate (its cycle counter and clock disagree: the "r^2 < 0.9" warning); such a run
 * is run again, up to twice, and said on stderr.
 */
async function perftestRun(argvFor, measures) {
  for (let attempt = 1; ; attempt++) {
    const port = nextPort++;
    const argv = argvFor(port);
    const out = await serverClient(argv, port);
    const values = measures.map(([column]) => perftestColumn(out, column));
    if (values.every((v) => v > 0) || attempt === 3) return values;
    process.stderr.write(`bench: ${argv[0]} printed ${values.join(', ')}; running it again\n`);
  }
}

/**
 * ib_send_lat, ib_send_bw, ib_write_bw against bench/perf.mjs, both sides of each pair in
 * this guest on rxe0. Rates become time per message, so that every ratio reads the same way.
 * Each perftest run is compared with two of ours: cold (no warm-up, as perftest runs) and
 * after `warmup` untimed iterations, when V8 has compiled the loop (C has nothing to warm).
 */
async function perftestRows() {
  const cases = [
    {
      tool: 'ib_send_lat',
      mode: 'lat',
      size: 2,
      iters: 1000,
      warmup: 5000,
      unit: 'us one-way',
      name: 'RC SEND 2 B latency',
      // [perftest's column, our field, what the row says]
      measures: [
        ['t_avg', 'usec', 'average'],
        ['t_typical', 'typical', 'median'],
      ],
    },
    {
      tool: 'ib_send_bw',
      mode: 'send_bw',
      size: 64,
      iters: 5000,
      warmup: 20000,
      unit: 'us/msg',
      name: 'RC SEND 64 B message rate',
      measures: [['MsgRate', 'mpps', 'per message']],
    },
    {
      tool: 'ib_write_bw',
      mode: 'write_bw',
      size: 65536,
      iters: 2000,
      warmup: 2000,
      unit: 'us/msg',
      name: 'RC WRITE 64 KiB bandwidth',
      measures: [['MsgRate', 'mpps', 'per message']],
    },
  ];
  const rows = [];
  // a rate becomes time per message; a latency stays as it is
  const perMessage = (column, value) => (column === 'MsgRate' || column === 'mpps' ? 1 / value : value);
  for (const c of cases) {
    const theirs = c.measures.map(() => []);
    const cold = c.measures.map(() => []);
    const warm = c.measures.map(() => []);
    for (let r = 0; r < RUNS; r++) {
      const common = ['-n', String(c.iters), '-s', String(c.size)];
      const values = await perftestRun(
        (port) => [c.tool, '-d', 'rxe0', '-x', '1', '-F', ...common, '-p', String(port)],
        c.measures,
      );
      c.measures.forEach(([column], i) => {
        theirs[i].push(perMessage(column, values[i]));
      });
      for (const [warmup, into] of [
        [0, cold],
        [c.warmup, warm],
      ]) {
        const mine = ['--size', String(c.size), '--iters', String(c.iters), '--warmup', String(warmup)];
        const port = nextPort++;
        const argv = [process.execPath, here('./perf.mjs'), c.mode, ...mine, '--port', String(port)];
        const o = JSON.parse(await serverClient(argv, port));
        c.measures.forEach(([, field], i) => {
          into[i].push(perMessage(field, o[field]));
        });
      }
    }
    c.measures.forEach(([column, , what], i) => {
      const vs = `(vs ${c.tool} ${column}, ${c.iters} iters)`;
      rows.push(row(`${c.name}, ${what}, cold ${vs}`, c.unit, cold[i], theirs[i]));
      rows.push(row(`${c.name}, ${what}, after ${c.warmup} warm-up ${vs}`, c.unit, warm[i], theirs[i]));
    });
  }
  return rows;
}

/** `report [--json]`: the parts' JSON lines on stdin, as one table (or one JSON document). */
async function report(asJson) {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const parts = input
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const rows = parts.flatMap((p) => p.rows.map((r) => ({ part: p.part, ...r })));
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ schema: 1, runs: RUNS, rows }, null, 2)}\n`);
    return;
  }
  const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const table = [['where', 'what', 'unit', 'ours', 'reference', 'ratio min', 'median', 'max']];
  for (const r of rows)
    table.push([r.part, r.name, r.unit, f(r.ours), f(r.theirs), f(r.ratio.min), f(r.ratio.median), f(r.ratio.max)]);
  const widths = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
  for (const t of table)
    process.stdout.write(`${t.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}\n`);
  process.stdout.write(`ratio = ours / reference, per run, ${rows[0]?.runs ?? 0} runs side by side; lower is better\n`);
}

/** Self time per function in a .cpuprofile, the top `n`, as percentages of all samples. */
function topSelf(dir, n) {
  const [file] = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (const id of profile.samples) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const key = `${functionName || '(top level)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, count]) => `  ${((100 * count) / total).toFixed(1).padStart(5)}%  ${key}`)
    .join('\n');
}

/**
 * `profile` (in the guest): V8's CPU profile of our side of the slowest comparisons, warm, as
 * self time per function — where the time goes. Native and kernel time shows as the JS
 * function that called into it (the doorbell's write() runs rxe's requester inline on 6.1).
 */
async function profilePart() {
  const dir = mkdtempSync(join(tmpdir(), 'uverbs-profile-'));
  const runs = [
    ['RC SEND 2 B latency, the client, 20000 iters after 5000 warm-up', 'lat', 2, 20000, 5000],
    ['RC SEND 64 B message rate, the sender, 100000 messages after 20000', 'send_bw', 64, 100000, 20000],
  ];
  for (const [title, mode, size, iters, warmup] of runs) {
    const port = nextPort++;
    const into = join(dir, mode);
    const args = [here('./perf.mjs'), mode, '--size', String(size), '--iters', String(iters)];
    const server = spawn(process.execPath, [...args, '--warmup', String(warmup), '--port', String(port)], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await listening(port);
    const clientArgv = ['--cpu-prof', `--cpu-prof-dir=${into}`, ...args, '--warmup', String(warmup)];
    execFileSync(process.execPath, [...clientArgv, '--port', String(port), '127.0.0.1'], { stdio: 'ignore' });
    await once(server, 'exit');
    process.stdout.write(`${title}:\n${topSelf(into, 12)}\n`);
  }
  const into = join(dir, 'verbs');
  execFileSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${into}`, here('./verbs.mjs'), 'rxe0', '1', '300', '1000'],
    {
      stdio: 'ignore',
    },
  );
  process.stdout.write(
    `control path and loopback sends (bench/verbs.mjs), 300 rounds after 1000:\n${topSelf(into, 20)}\n`,
  );
  rmSync(dir, { recursive: true });
}

if (part === 'report') await report(process.argv.includes('--json'));
else if (part === 'profile') await profilePart();
else {
  const rows = part === 'host' ? hostPart() : part === 'perftest' ? await perftestRows() : await guestPart();
  process.stdout.write(`${JSON.stringify({ schema: 1, part, rows })}\n`);
}

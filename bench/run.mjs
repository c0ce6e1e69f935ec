// `npm run bench` (scripts/bench runs this twice: `host` here, `guest` inside `uverbs vm`).
// Every figure is a ratio of two things measured side by side in the same run, on the same
// machine: ours / the C reference. Absolute times on shared, emulated machines are noise.
//
//   node bench/run.mjs host  CDIR RUNS   synthetic rxe CQ ring: our JS path vs a plain C loop
//   node bench/run.mjs guest CDIR RUNS   rxe0: control path vs libibverbs, send vs libibverbs,
//                                         uverbs pingpong vs ibv_rc_pingpong, and bench/perf.mjs
//                                         vs perftest's ib_send_lat, ib_send_bw, ib_write_bw
//   node bench/run.mjs perftest CDIR RUNS  (in the guest) only the perftest pairs
//   node bench/run.mjs profile [FILE.json] (in the guest) where our side's time goes: for each
//                                         guest row over its target in FILE (a --json output),
//                                         or each guest row with a target, a CPU profile of our
//                                         side, summarised as self time per function
//   node bench/run.mjs report [--json] [--compare FILE.json]   the parts' lines on stdin, as
//                                         one table (or JSON); --compare adds FILE's ratios by id
// Prints one JSON document on stdout: { schema: 1, part, rows: [{ id, name, unit, ours, theirs, ratio }] }.
// `id` is stable from run to run (README says what each means, after `npm run bench`); `name` is for people.

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
const RUNS = Number(runsArg ?? 5);
if (['host', 'guest', 'perftest'].includes(part) && !(Number.isInteger(RUNS) && RUNS >= 1)) {
  throw new Error(`bench: RUNS must be a whole number, 1 or more (got ${runsArg})`);
}
const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** ours/theirs per run, paired: min, median, max of the ratios, and the medians themselves. */
function row(name, unit, ours, theirs) {
  // no runs at all would give a NaN median, which no target check can fail
  if (ours.length === 0 || ours.length !== theirs.length)
    throw new Error(`${name}: ${ours.length} / ${theirs.length} runs`);
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

/**
 * Issue 15's targets, by row id: `ratio`, the most the median ratio may be; `ours`, the most
 * our own figure may be (in the row's unit). Rows without an entry have no target.
 */
const TARGETS = {
  'host.poll.empty': { ours: 20 },
  'host.poll.b1': { ratio: 5 },
  'host.poll.b16': { ratio: 1.5 },
  'host.stub.pd': { ratio: 3 },
  'host.stub.mr4k': { ratio: 3 },
  'host.stub.cq': { ratio: 3 },
  'host.stub.qp': { ratio: 3 },
  'guest.pd.warm': { ratio: 1.5 },
  'guest.mr4k.warm': { ratio: 1.5 },
  'guest.mr4kshared.warm': { ratio: 1.5 },
  'guest.cq.warm': { ratio: 1.5 },
  'guest.qp.warm': { ratio: 1.5 },
  'guest.pd.cold': { ratio: 3 },
  'guest.mr4k.cold': { ratio: 3 },
  'guest.mr4kshared.cold': { ratio: 3 },
  'guest.cq.cold': { ratio: 3 },
  'guest.qp.cold': { ratio: 3 },
  'guest.send4k.warm': { ratio: 1.2 },
  'guest.send64inline.warm': { ratio: 1.2 },
  'guest.pingpong': { ratio: 1.2 },
  'perf.send-lat.typical.warm': { ratio: 1.05 },
  'perf.send-lat.avg.cold': { ratio: 2 },
  'perf.send-bw.warm': { ratio: 1.05 },
  'perf.send-bw.cold': { ratio: 1.05 },
  'perf.write-bw.warm': { ratio: 1.05 },
  'perf.write-bw.cold': { ratio: 1.05 },
};

/** By how much `r` misses its target (ratio over it, > 1), or undefined when it has none or meets it. */
function overTarget(r) {
  const t = TARGETS[r.id];
  if (t === undefined) return undefined;
  const over = t.ratio !== undefined ? r.ratio.median / t.ratio : r.ours / t.ours;
  return over > 1 ? over : undefined;
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
    rows.push({
      id: batch ? `host.poll.b${batch}` : 'host.poll.empty',
      ...row(batch ? `CQ poll, batch ${batch}` : 'CQ poll, empty', batch ? 'ns/CQE' : 'ns/poll', ours, theirs),
    });
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
    // the C side's operation exactly: an existing buffer registered again and again (mr4k above
    // also makes and unmaps the library-owned memory it registers, which the C side does not)
    mr4kshared: 'MR 4 KiB reg + dereg of caller memory (a SharedArrayBuffer)',
    cq: 'CQ create + destroy',
    qp: 'RC QP create + destroy',
    send4k: 'RC SEND 4 KiB, post to both completions',
    send64inline: 'RC SEND 64 B inline, post to both completions',
  };
  /** The C side's op for ours: both MR rows register 4 KiB with libibverbs' one reg + dereg. */
  const theirsOf = (op) => (op === 'mr4kshared' ? 'mr4k' : op);
  const rows = Object.entries(names).flatMap(([op, name]) => [
    {
      id: `guest.${op}.cold`,
      ...row(
        `${name}, cold (vs libibverbs, ${ITERS} iters)`,
        'us/op',
        cold.map((o) => o[op]),
        c.map((x) => x[theirsOf(op)]),
      ),
    },
    {
      id: `guest.${op}.warm`,
      ...row(
        `${name}, after ${WARMUP} warm-up (vs libibverbs)`,
        'us/op',
        warm.map((o) => o[op]),
        c.map((x) => x[theirsOf(op)]),
      ),
    },
  ]);
  const ppOurs = [];
  const ppTheirs = [];
  const cli = here('../dist/src/cli/main.js');
  for (let r = 0; r < RUNS; r++) {
    ppTheirs.push(await pingpong(['ibv_rc_pingpong'], 18700 + 2 * r, 2000));
    ppOurs.push(await pingpong([process.execPath, cli, 'pingpong'], 18701 + 2 * r, 2000));
  }
  rows.push({
    id: 'guest.pingpong',
    ...row('RC ping-pong 4 KiB, 2000 iters (vs ibv_rc_pingpong)', 'us/iter', ppOurs, ppTheirs),
  });
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
      id: 'perf.send-lat',
      mode: 'lat',
      size: 2,
      iters: 1000,
      warmup: 5000,
      unit: 'us one-way',
      name: 'RC SEND 2 B latency',
      // [perftest's column, our field, what the row says, the id's part for it]
      measures: [
        ['t_avg', 'usec', 'average', '.avg'],
        ['t_typical', 'typical', 'median', '.typical'],
      ],
    },
    {
      tool: 'ib_send_bw',
      id: 'perf.send-bw',
      mode: 'send_bw',
      size: 64,
      iters: 5000,
      warmup: 20000,
      unit: 'us/msg',
      name: 'RC SEND 64 B message rate',
      measures: [['MsgRate', 'mpps', 'per message', '']],
    },
    {
      tool: 'ib_write_bw',
      id: 'perf.write-bw',
      mode: 'write_bw',
      size: 65536,
      iters: 2000,
      warmup: 2000,
      unit: 'us/msg',
      name: 'RC WRITE 64 KiB bandwidth',
      measures: [['MsgRate', 'mpps', 'per message', '']],
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
    c.measures.forEach(([column, , what, key], i) => {
      const vs = `(vs ${c.tool} ${column}, ${c.iters} iters)`;
      rows.push({ id: `${c.id}${key}.cold`, ...row(`${c.name}, ${what}, cold ${vs}`, c.unit, cold[i], theirs[i]) });
      rows.push({
        id: `${c.id}${key}.warm`,
        ...row(`${c.name}, ${what}, after ${c.warmup} warm-up ${vs}`, c.unit, warm[i], theirs[i]),
      });
    });
  }
  return rows;
}

/** Throws unless every row has an id and no two rows share one: a script follows rows by id. */
function checkIds(rows) {
  const seen = new Set();
  for (const r of rows) {
    if (typeof r.id !== 'string' || r.id === '') throw new Error(`bench: a row without an id: ${r.name}`);
    if (seen.has(r.id)) throw new Error(`bench: two rows have the id ${r.id}`);
    seen.add(r.id);
  }
}

/**
 * The id of a row from before rows had ids (schema 1 without `id`), from its name; undefined
 * for a name it does not know. So `--compare` reads the outputs of earlier versions too.
 */
function idOfName(name) {
  const poll = /^CQ poll, (?:empty|batch (\d+))$/.exec(name);
  if (poll) return poll[1] ? `host.poll.b${poll[1]}` : 'host.poll.empty';
  const ops = [
    ['pd', 'PD alloc + free'],
    ['mr4k', 'MR 4 KiB reg + dereg'],
    ['cq', 'CQ create + destroy'],
    ['qp', 'RC QP create + destroy'],
    ['send4k', 'RC SEND 4 KiB, post'],
    ['send64inline', 'RC SEND 64 B inline, post'],
    ['perf.send-lat.avg', 'RC SEND 2 B latency, average'],
    ['perf.send-lat.typical', 'RC SEND 2 B latency, median'],
    ['perf.send-bw', 'RC SEND 64 B message rate'],
    ['perf.write-bw', 'RC WRITE 64 KiB bandwidth'],
  ];
  const when = / cold \(/.test(name) ? 'cold' : /, after \d+ warm-up/.test(name) ? 'warm' : undefined;
  for (const [op, prefix] of ops)
    if (name.startsWith(prefix) && when) return `${op.startsWith('perf.') ? op : `guest.${op}`}.${when}`;
  return name.startsWith('RC ping-pong 4 KiB') ? 'guest.pingpong' : undefined;
}

/**
 * An earlier `--json` output's rows by id (what `--compare FILE` puts beside the new ones); what
 * npm printed before the document is skipped, and rows without an id get one from their name.
 */
function earlier(file) {
  const text = readFileSync(file, 'utf8');
  const doc = JSON.parse(text.slice(text.search(/^\{/m)));
  if (!Array.isArray(doc.rows)) throw new Error(`bench: ${file} is not a --json output of npm run bench`);
  const rows = doc.rows.map((r) => ({ ...r, id: r.id ?? idOfName(r.name) })).filter((r) => r.id !== undefined);
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * `report [--json] [--compare FILE]`: the parts' JSON lines on stdin, as one table (or one JSON
 * document). With --compare, each row also shows FILE's median ratio for the same id ("before").
 */
async function report(args) {
  const asJson = args.includes('--json');
  const at = args.indexOf('--compare');
  const before = at >= 0 ? earlier(args[at + 1]) : undefined;
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const parts = input
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const rows = parts.flatMap((p) => p.rows.map((r) => ({ id: r.id, part: p.part, ...r })));
  checkIds(rows);
  const runs = Math.max(0, ...rows.map((r) => r.runs));
  if (asJson) {
    const out = before ? rows.map((r) => ({ ...r, before: before.get(r.id)?.ratio ?? null })) : rows;
    process.stdout.write(`${JSON.stringify({ schema: 1, runs, rows: out }, null, 2)}\n`);
    return;
  }
  const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const head = ['id', 'what', 'unit', 'ours', 'reference', 'ratio min', 'median', 'max', 'target'];
  if (before) head.push('before');
  const table = [head];
  for (const r of rows) {
    const t = TARGETS[r.id];
    const target = t === undefined ? '' : t.ratio !== undefined ? `<=${t.ratio}x` : `<=${t.ours} ${r.unit}`;
    const cells = [r.id, r.name, r.unit, f(r.ours), f(r.theirs), f(r.ratio.min), f(r.ratio.median), f(r.ratio.max)];
    cells.push(target && (overTarget(r) ? `${target} over` : `${target} ok`));
    if (before) {
      const b = before.get(r.id)?.ratio?.median;
      cells.push(b === undefined ? '-' : f(b));
    }
    table.push(cells);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((t) => t[i].length)));
  for (const t of table)
    process.stdout.write(
      `${t
        .map((c, i) => (i < 3 || i === 8 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd()}\n`,
    );
  process.stdout.write(`ratio = ours / reference, per run, ${runs} runs side by side; lower is better\n`);
  if (before) {
    process.stdout.write(`before = the median ratio of the row with the same id in ${args[at + 1]}\n`);
    const gone = [...before.keys()].filter((id) => !rows.some((r) => r.id === id));
    if (gone.length > 0) process.stdout.write(`only in ${args[at + 1]}: ${gone.join(', ')}\n`);
  }
}

/**
 * Self time per function in the one .cpuprofile in `dir`, the top `n`, as percentages of the
 * samples taken in `window` ([from, to] in process.hrtime's nanoseconds: V8 stamps samples in
 * microseconds on the same monotonic clock), or of all samples when there is no window.
 */
function topSelf(dir, n, window) {
  const [file] = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const [from, to] = window ? window(profile).map((ns) => ns / 1000) : [-Infinity, Infinity];
  const self = new Map();
  let total = 0;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i];
    if (t < from || t > to) return;
    total++;
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const key = `${functionName || '(top level)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  });
  const lines = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, count]) => `  ${((100 * count) / total).toFixed(1).padStart(5)}%  ${key}`);
  return `  ${total} samples${window ? ' in the timed part' : ''}\n${lines.join('\n')}`;
}

/**
 * What `profile` runs for each guest row: our side of the row, as its comparison runs it (the
 * warm rows longer, for more samples), and the timed part of the run. `perf` and `verbs` print
 * the timed part's bounds (hrtime); `uverbs pingpong` prints its loop's length, which ends just
 * before the process does.
 */
const PROFILES = {
  ...Object.fromEntries(
    ['pd', 'mr4k', 'mr4kshared', 'cq', 'qp', 'send4k', 'send64inline'].flatMap((op) => [
      [`guest.${op}.cold`, { verbs: [op, 300, 0] }],
      [`guest.${op}.warm`, { verbs: [op, 3000, 1000] }],
    ]),
  ),
  'guest.pingpong': { pingpong: 2000 },
  'perf.send-lat.avg.cold': { perf: ['lat', 2, 1000, 0] },
  'perf.send-lat.typical.cold': { perf: ['lat', 2, 1000, 0] },
  'perf.send-lat.avg.warm': { perf: ['lat', 2, 20000, 5000] },
  'perf.send-lat.typical.warm': { perf: ['lat', 2, 20000, 5000] },
  'perf.send-bw.cold': { perf: ['send_bw', 64, 5000, 0] },
  'perf.send-bw.warm': { perf: ['send_bw', 64, 100000, 20000] },
  'perf.write-bw.cold': { perf: ['write_bw', 65536, 2000, 0] },
  'perf.write-bw.warm': { perf: ['write_bw', 65536, 20000, 2000] },
};

/** One profiled run of `how` into `into`; resolves with what it says, and the timed window's reader. */
async function profiled(how, into) {
  const prof = ['--cpu-prof', `--cpu-prof-dir=${into}`, '--cpu-prof-interval', '250'];
  if (how.verbs) {
    const [op, iters, warmup] = how.verbs;
    const args = [here('./verbs.mjs'), 'rxe0', '1', String(iters), String(warmup), op];
    const line = JSON.parse(execFileSync(process.execPath, [...prof, ...args], { encoding: 'utf8' }).trim());
    return { what: `bench/verbs.mjs, ${iters} ops after ${warmup}`, window: () => [line.from, line.to] };
  }
  const port = nextPort++;
  if (how.pingpong) {
    const args = [here('../dist/src/cli/main.js'), 'pingpong', '-d', 'rxe0', '-g', '1', '-s', '4096'];
    args.push('-n', String(how.pingpong), '-p', String(port));
    const server = spawn(process.execPath, args, { stdio: 'ignore' });
    await listening(port);
    const out = execFileSync(process.execPath, [...prof, ...args, '--json', '127.0.0.1'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'], // its addresses on stderr; an error throws with them
    });
    await once(server, 'exit');
    const { seconds } = JSON.parse(out);
    return {
      what: `uverbs pingpong, the client, ${how.pingpong} iters (the loop: the last ${seconds.toFixed(2)} s, teardown included)`,
      window: (p) => [(p.endTime - seconds * 1e6) * 1000, p.endTime * 1000],
    };
  }
  const [mode, size, iters, warmup] = how.perf;
  const args = [here('./perf.mjs'), mode, '--size', String(size), '--iters', String(iters)];
  args.push('--warmup', String(warmup), '--port', String(port));
  const server = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await listening(port);
  const out = JSON.parse(execFileSync(process.execPath, [...prof, ...args, '127.0.0.1'], { encoding: 'utf8' }));
  await once(server, 'exit');
  const who = mode === 'lat' ? 'the client' : 'the sender';
  return { what: `bench/perf.mjs ${mode}, ${who}, ${iters} after ${warmup}`, window: () => [out.from, out.to] };
}

/**
 * `profile [FILE.json]` (in the guest): for each guest row over its target in FILE (an earlier
 * `--json` output), or each guest row that has a target when no FILE is given, V8's CPU profile
 * of our side of that row, as self time per function in the row's timed part: where the time
 * goes. Native and kernel time shows as the JS function that called into it (the doorbell's
 * write() runs rxe's requester inline on 6.1); "(program)" is V8 itself (compilers, IC misses),
 * "(garbage collector)" the GC.
 */
async function profilePart(file) {
  const rows = file ? [...earlier(file).values()] : Object.keys(TARGETS).map((id) => ({ id }));
  const chosen = rows.filter((r) => PROFILES[r.id] && (!file || overTarget(r)));
  if (chosen.length === 0) process.stdout.write('profile: no guest row over its target\n');
  const dir = mkdtempSync(join(tmpdir(), 'uverbs-profile-'));
  for (const r of chosen) {
    const into = join(dir, r.id);
    const { what, window } = await profiled(PROFILES[r.id], into);
    const t = TARGETS[r.id];
    const where = r.ratio
      ? `median ratio ${r.ratio.median.toFixed(2)}, target <=${t.ratio}x: ${overTarget(r).toFixed(2)}x over`
      : `target <=${t.ratio}x`;
    process.stdout.write(`${r.id} (${where}); ${what}:\n${topSelf(into, 15, window)}\n\n`);
  }
  rmSync(dir, { recursive: true });
}

if (part === 'report') await report(process.argv.slice(3));
else if (part === 'profile') await profilePart(cdir);
else {
  const rows = part === 'host' ? hostPart() : part === 'perftest' ? await perftestRows() : await guestPart();
  checkIds(rows);
  process.stdout.write(`${JSON.stringify({ schema: 1, part, rows })}\n`);
}

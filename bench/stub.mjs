// Host stub rows for `npm run bench` (no kernel, no guest): the JS cost of each control-path op,
// with every uverbs ioctl/write answered in-process by a stub `Sys`, as a multiple of one bare
// koffi ioctl (the ioctl/ shim, on /dev/null, which answers ENOTTY), measured side by side.
//
//   host.stub.bare   ns per bare koffi ioctl (the baseline itself)
//   host.stub.self   the stub's own ns per answered call, vs bare (what the stub adds to ours)
//   host.stub.pd / .mr4k / .cq / .qp
//                    ns per op vs (uverbs ioctls + writes the op makes) x bare ioctl time;
//                    target <= 3x per syscall
//
// The stub knows the method tables (which attributes are new objects, which are outputs) and
// nothing else: it validates nothing, fills outputs with zeros (GET_CONTEXT's comp vector count
// with 1) and marks them VALID_OUTPUT, and writes a fresh handle where the kernel would. Its
// driver data (UHW out) is zero, so rxe describes no rings and nothing is mmap()ed; memory the
// library maps comes from plain ArrayBuffers at fake addresses (not counted as syscalls).
//   node bench/stub.mjs [RUNS]     prints the rows as JSON (bench/run.mjs host calls stubRows)

import { libc } from '../dist/ioctl/index.js';
import { rdma_driver_id, rdma_user_ioctl_defines, uverbs_attr_flags } from '../dist/src/abi/constants.js';
import { METHODS, UVERBS_METHOD_GET_CONTEXT } from '../dist/src/abi/methods.js';
import { Context } from '../dist/src/index.js';

const { RDMA_VERBS_IOCTL } = rdma_user_ioctl_defines;
const VALID = uverbs_attr_flags.UVERBS_ATTR_F_VALID_OUTPUT;
const RXE = rdma_driver_id.RDMA_DRIVER_RXE;
const EINVAL = 22;
const EPROTONOSUPPORT = 93;
const NEW = 1;
const OUT = 2;
const DEVICE = {
  name: 'stub0',
  node: 'uverbs0',
  path: '/dev/infiniband/uverbs0',
  driverAbiVersion: 2,
  nodeGuid: '0000:0000:0000:0000',
  nodeType: '1: CA',
};

/** Per method key: attribute id -> NEW | OUT (0: an input), laid out once. */
function attrKinds() {
  const kinds = new Map();
  for (const m of METHODS) {
    const byId = new Uint8Array(0x10000); // indexed by attribute id (UHW ids are 0x1000/0x1001)
    for (const a of Object.values(m.attrs)) {
      const kind = (a.kind === 'idr' || a.kind === 'fd') && a.access === 'new' ? NEW : a.kind === 'ptrOut' ? OUT : 0;
      if (a.id < byId.length) byId[a.id] = kind;
      else throw new Error(`stub: attribute id ${a.id} out of its table`);
    }
    kinds.set(m.object * 0x10000 + m.id, byId);
  }
  return kinds;
}

/** A `Sys` answering uverbs in-process; counts what it answered. */
export class StubSys {
  calls = 0;
  #kinds = attrKinds();
  #getContext = UVERBS_METHOD_GET_CONTEXT.object * 0x10000 + UVERBS_METHOD_GET_CONTEXT.id;
  #numCompVectors = UVERBS_METHOD_GET_CONTEXT.attrs.numCompVectors.id;
  /** Mappings: [base, end, DataView], the last one hit first. */
  #regions = [];
  /** Unmapped regions by length, to map again. */
  #free = new Map();
  #last = undefined;
  #next = 0x10_0000_0000;
  #handle = 1;

  #find(address) {
    const a = Number(address);
    const last = this.#last;
    if (last !== undefined && a >= last[0] && a < last[1]) return last;
    for (const r of this.#regions) {
      if (a >= r[0] && a < r[1]) {
        this.#last = r;
        return r;
      }
    }
    throw new Error(`stub: nothing mapped at ${a.toString(16)}`);
  }

  open() {
    return 3;
  }
  close() {
    return 0;
  }
  read() {
    return -9;
  }
  poll() {
    return 0;
  }
  /**
   * Memory at a fake address. Unmapped regions are kept and handed out again, zeroed (the
   * stub's stand-in for mmap should cost next to nothing; unlike the addon, it does not detach
   * a view of unmapped memory, which nothing here keeps).
   */
  mapAnonymous(length) {
    let region = this.#free.get(length)?.pop();
    if (region === undefined) {
      const base = this.#next;
      this.#next += length + 4096;
      const buffer = new ArrayBuffer(length);
      region = [base, base + length, new DataView(buffer), new Uint8Array(buffer)];
    } else region[3].fill(0);
    this.#regions.push(region);
    const mapped = region;
    return {
      address: BigInt(region[0]),
      length,
      buffer: region[3].buffer,
      unmap: () => {
        const i = this.#regions.indexOf(mapped);
        if (i < 0) return;
        this.#regions.splice(i, 1);
        if (this.#last === mapped) this.#last = undefined;
        const free = this.#free.get(length) ?? [];
        free.push(mapped);
        this.#free.set(length, free);
      },
    };
  }

  ioctl(_fd, request, arg) {
    this.calls++;
    if (request !== RDMA_VERBS_IOCTL) return -25;
    const r = this.#find(arg);
    const view = r[2];
    const at = Number(arg) - r[0];
    const key = view.getUint16(at + 2, true) * 0x10000 + view.getUint16(at + 4, true);
    const kinds = this.#kinds.get(key);
    if (kinds === undefined) return view.getUint32(at + 16, true) === RXE ? -EPROTONOSUPPORT : -EINVAL;
    const n = view.getUint16(at + 6, true);
    for (let i = 0, a = at + 24; i < n; i++, a += 16) {
      const id = view.getUint16(a, true);
      const kind = kinds[id];
      if (kind === NEW) {
        view.setUint32(a + 8, this.#handle++, true);
        view.setUint32(a + 12, 0, true);
      } else if (kind === OUT) {
        view.setUint16(a + 4, view.getUint16(a + 4, true) | VALID, true);
        if (key === this.#getContext && id === this.#numCompVectors) {
          const out = view.getUint32(a + 8, true) + view.getUint32(a + 12, true) * 2 ** 32;
          const o = this.#find(out);
          o[2].setUint32(out - o[0], 1, true);
        }
      }
    }
    return 0;
  }

  write(_fd, address, length) {
    this.calls++;
    const r = this.#find(address);
    const at = Number(address) - r[0];
    // legacy: the request's leading `response` u64; extended: ex_hdr.response; both at byte 8
    const response = r[2].getUint32(at + 8, true) + r[2].getUint32(at + 12, true) * 2 ** 32;
    if (response !== 0) {
      const o = this.#find(response);
      o[2].setUint32(response - o[0], this.#handle++, true); // pd_handle, mr_handle: the first u32
    }
    return length;
  }
}

const now = () => process.hrtime.bigint();

/** ns per call of `fn` over `n` calls, after `n / 10` untimed ones. */
function timed(n, fn) {
  for (let i = 0; i < n / 10; i++) fn();
  const t = now();
  for (let i = 0; i < n; i++) fn();
  return Number(now() - t) / n;
}

/**
 * The stub rows, RUNS times side by side; `row` is bench/run.mjs's (name, unit, ours, theirs).
 * `iters` per op per run (the bare ioctl gets 10x as many).
 */
export function stubRows(RUNS, row, iters = 20_000) {
  const sys = libc();
  const devnull = sys.open('/dev/null', 0);
  if (devnull < 0) throw new Error(`open /dev/null: ${-devnull}`);
  const stub = new StubSys();
  const scratch = stub.mapAnonymous(4096);
  const header = new Uint8Array(scratch.buffer);
  header.set([24, 0, 0xff, 0x7f, 0xf0, 0x0f]); // an unknown method: the stub's cheapest answer
  const ctx = Context.open(DEVICE, { sys: stub });
  const pd = ctx.allocPd();
  const cq = ctx.createCq({ cqe: 256 });
  const cap = { maxSendWr: 64, maxRecvWr: 64, maxSendSge: 1, maxRecvSge: 1, maxInlineData: 64 };
  const ops = {
    pd: () => ctx.allocPd().close(),
    mr4k: () => pd.registerMemory(4096, { localWrite: true }).close(),
    cq: () => ctx.createCq({ cqe: 64 }).close(),
    qp: () => pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap }).close(),
  };
  const bare = [];
  const self = [];
  const ours = Object.fromEntries(Object.keys(ops).map((k) => [k, []]));
  const perOp = {};
  for (let r = 0; r < RUNS; r++) {
    bare.push(
      timed(iters * 10, () => {
        if (sys.ioctl(devnull, RDMA_VERBS_IOCTL, 0n) !== -25) throw new Error('/dev/null did not answer ENOTTY');
      }),
    );
    self.push(timed(iters * 10, () => stub.ioctl(3, RDMA_VERBS_IOCTL, scratch.address)));
    for (const [op, fn] of Object.entries(ops)) {
      const before = stub.calls;
      ours[op].push(timed(iters, fn));
      perOp[op] = (stub.calls - before) / (iters * 1.1);
    }
  }
  ctx.close();
  sys.close(devnull);
  const names = {
    pd: 'PD alloc + free',
    mr4k: 'MR 4 KiB reg + dereg',
    cq: 'CQ create + destroy',
    qp: 'RC QP create + destroy',
  };
  return [
    {
      id: 'host.stub.bare',
      ...row('stub: bare koffi ioctl (ENOTTY on /dev/null), the baseline', 'ns/call', bare, bare),
    },
    { id: 'host.stub.self', ...row("stub: the stub's own answer to one ioctl (vs bare)", 'ns/call', self, bare) },
    ...Object.entries(names).map(([op, name]) => ({
      id: `host.stub.${op}`,
      syscallsPerOp: perOp[op],
      ...row(
        `stub: ${name} (vs ${perOp[op]} bare ioctls)`,
        'ns/op',
        ours[op],
        bare.map((b) => b * perOp[op]),
      ),
    })),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // run on its own: a plain median row (bench/run.mjs passes its own `row`)
  const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
  const rowOf = (name, unit, ours, theirs) => {
    const ratios = ours.map((o, i) => o / theirs[i]);
    const ratio = { min: Math.min(...ratios), median: median(ratios), max: Math.max(...ratios) };
    return { name, unit, ours: median(ours), theirs: median(theirs), ratio, runs: ours.length };
  };
  const rows = stubRows(Number(process.argv[2] ?? 5), rowOf);
  for (const r of rows)
    process.stdout.write(
      `${r.id.padEnd(16)} ours ${r.ours.toFixed(1).padStart(8)} ${r.unit}  ratio ${r.ratio.median.toFixed(2)} (${r.ratio.min.toFixed(2)}..${r.ratio.max.toFixed(2)})${r.syscallsPerOp ? `  ${r.syscallsPerOp} syscalls/op` : ''}\n`,
    );
}

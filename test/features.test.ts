/**
 * features() over the fake kernel: every stable name answered once, a
 * refusal read as no (with its errno) or unknown (a privilege), bad options
 * refused before any syscall, and nothing left open: every fd the checks
 * opened is closed and every mapping unmapped. The device test
 * (test/device/features.device.test.ts) checks the answers on real kernels.
 */

import { describe, expect, it } from 'vitest';
import {
  ib_uverbs_device_cap_flags as CAP,
  ib_uverbs_ex_write_cmds,
  ib_uverbs_write_cmds,
} from '../src/abi/constants.js';
import {
  uverbs_default_objects,
  uverbs_methods_mr,
  uverbs_methods_pd,
  uverbs_methods_qp,
  uverbs_methods_srq,
} from '../src/abi/ids.js';
import { methodKey } from '../src/abi/method-spec.js';
import { EBUSY, EFAULT, EOPNOTSUPP, EPERM } from '../src/errno.js';
import * as api from '../src/index.js';
import { FEATURE_NAMES, type FeatureAnswer, features, rdmaCmFeature } from '../src/probe/features.js';
import type { Mapping } from '../src/transport/sys.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

const OBJECT_NAMES = new Map<number, string>(Object.entries(uverbs_default_objects).map(([n, id]) => [id, n]));

/**
 * A fake kernel that counts live objects per type (creates less destroys,
 * by ioctl method attribute or write command name), and at each close of
 * the uverbs fd records what was still alive (closing the fd then destroys
 * it, as the kernel does).
 */
class LiveKernel extends FakeKernel {
  readonly live = new Map<string, number>();
  /** What was alive at each close of the uverbs fd, one entry per close (empty: everything was destroyed first). */
  readonly leftAtClose: Record<string, number>[] = [];

  count(object: string, by: number): void {
    this.live.set(object, (this.live.get(object) ?? 0) + by);
  }
  override close(fd?: number): number {
    if (fd === this.uverbsFd) {
      this.leftAtClose.push(Object.fromEntries([...this.live].filter(([, n]) => n !== 0)));
      this.live.clear();
    }
    return super.close();
  }
  override ioctl(fd: number, request: number, arg: bigint): number {
    const r = super.ioctl(fd, request, arg);
    const head = this.readUser(arg, 24);
    if (r !== 0 || !head) return r;
    const v = new DataView(head.buffer, head.byteOffset, 24);
    const method = this.model.methods.get(methodKey(v.getUint16(2, true), v.getUint16(4, true)));
    const bytes = this.readUser(arg, v.getUint16(0, true)) as Uint8Array;
    const all = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const byId = new Map(Object.values(method?.attrs ?? {}).map((a) => [a.id, a]));
    for (let i = 0; i < v.getUint16(6, true); i++) {
      const spec = byId.get(all.getUint16(24 + 16 * i, true));
      if (spec?.kind !== 'idr') continue;
      const name = OBJECT_NAMES.get(spec.object) ?? String(spec.object);
      if (spec.access === 'new') this.count(name, 1);
      if (spec.access === 'destroy') this.count(name, -1);
    }
    return r;
  }
  override write(fd: number, address: bigint, length: number): number {
    const r = super.write(fd, address, length);
    const head = this.readUser(address, 4);
    if (r < 0 || !head) return r;
    const command = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
    const table = command & 0x8000_0000 ? this.model.writesEx : this.model.writes;
    const cmd = table.get(command & 0xff);
    if (!cmd || cmd.objectName === 'UVERBS_OBJECT_COMP_CHANNEL') return r;
    if (/_CMD_(ALLOC|CREATE|OPEN|REG)_/.test(cmd.name)) this.count(cmd.objectName, 1);
    if (/_CMD_(DEALLOC|DESTROY|CLOSE|DEREG)_/.test(cmd.name)) this.count(cmd.objectName, -1);
    return r;
  }
}

/** A fake kernel that counts fds and mappings, without MWs (EOPNOTSUPP), whose SRQ create needs a privilege (EPERM). */
class CountingKernel extends LiveKernel {
  opened = 0;
  closed = 0;
  readonly mappings = new Set<Mapping>();

  override open(): number {
    this.opened++;
    return super.open();
  }
  override close(fd?: number): number {
    if (fd === this.uverbsFd) this.closed++;
    return super.close(fd);
  }
  override mapAnonymous(length: number): Mapping {
    const m = super.mapAnonymous(length);
    this.mappings.add(m);
    return {
      ...m,
      unmap: () => {
        this.mappings.delete(m);
        m.unmap();
      },
    };
  }
  override ioctl(fd: number, request: number, arg: bigint): number {
    const head = this.readUser(arg, 24);
    if (head) {
      const v = new DataView(head.buffer, head.byteOffset, 24);
      if (
        v.getUint16(2, true) === uverbs_default_objects.UVERBS_OBJECT_SRQ &&
        v.getUint16(4, true) === uverbs_methods_srq.UVERBS_METHOD_SRQ_CREATE &&
        v.getUint16(6, true) > 0
      ) {
        return -EPERM;
      }
    }
    return super.ioctl(fd, request, arg);
  }
  override write(fd: number, address: bigint, length: number): number {
    const head = this.readUser(address, 4);
    if (
      head &&
      new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true) ===
        ib_uverbs_write_cmds.IB_USER_VERBS_CMD_ALLOC_MW
    ) {
      return -EOPNOTSUPP;
    }
    return super.write(fd, address, length);
  }
}

const by = (answers: FeatureAnswer[], name: string) => answers.find((a) => a.name === name);

describe('features() over the fake kernel', () => {
  const kernel = new CountingKernel({ driverId: 0 });
  const answers = features(FAKE_DEVICE, { sys: kernel });

  it('answers every stable name once, in order, each with how it was known', () => {
    expect(answers.map((a) => a.name)).toEqual([...FEATURE_NAMES]);
    for (const name of [
      'QP_RC',
      'QP_UC',
      'QP_UD',
      'QP_XRC',
      'QP_RAW_PACKET',
      'SRQ',
      'XRC_SRQ',
      'MW_TYPE_1',
      'MW_TYPE_2',
      'ODP',
      'FLUSH',
      'ATOMIC_WRITE',
      'CQ_FLAGS',
      'CQ_MODERATION',
      'COMP_CHANNEL',
      'PORT_SPEED_QUERY',
      'REG_MR_IOCTL',
      'DM',
      'COUNTERS',
      'FLOWS',
      'RDMA_CM',
    ]) {
      expect(FEATURE_NAMES).toContain(name);
    }
    for (const a of answers) {
      expect([a.name, [true, false, 'unknown'].includes(a.supported)]).toEqual([a.name, true]);
      expect(a.how.length).toBeGreaterThan(10);
    }
    // the package exports it
    expect(api.features).toBe(features);
    expect(api.FEATURE_NAMES).toBe(FEATURE_NAMES);
  });

  it('a kernel refusal is no with its errno; a privilege refusal is unknown, never no', () => {
    expect(by(answers, 'MW_TYPE_1')).toMatchObject({
      supported: false,
      errno: 'EOPNOTSUPP',
      object: 'IB_USER_VERBS_CMD_ALLOC_MW',
      how: expect.stringContaining('answered EOPNOTSUPP'),
    });
    expect(by(answers, 'SRQ')).toMatchObject({
      supported: 'unknown',
      errno: 'EPERM',
      how: expect.stringContaining('privilege'),
    });
    expect(by(answers, 'QP_RC')).toMatchObject({ supported: true, how: 'created a RC QP, and destroyed it' });
    expect(by(answers, 'QP_XRC')).toMatchObject({ supported: false, errno: 'EOPNOTSUPP' });
  });

  it('leaves nothing open: every fd closed, every mapping unmapped', () => {
    expect(kernel.opened).toBeGreaterThan(FEATURE_NAMES.length - 3);
    expect(kernel.closed).toBe(kernel.opened);
    expect(kernel.mappings.size).toBe(0);
  });

  it("destroys what it made: nothing is alive when each feature's context closes (not left to the close)", () => {
    // every kernel-made object, the raw ones (raw packet QP, XRC domain, the REG_MR ioctl's MR) included
    expect(kernel.leftAtClose).toHaveLength(kernel.closed);
    expect(kernel.leftAtClose).toEqual(kernel.leftAtClose.map(() => ({})));
    // and the counting sees objects at all: a plain kernel (MWs, SRQs, XRC domains made) too
    const plain = new LiveKernel({ driverId: 0 });
    features(FAKE_DEVICE, { sys: plain });
    expect(plain.leftAtClose).toEqual(plain.leftAtClose.map(() => ({})));
  });

  it('the counting kernel catches an object left to the context close', () => {
    const k = new LiveKernel({ driverId: 0 });
    const ctx = api.Context.open(FAKE_DEVICE, { sys: k });
    ctx.allocPd();
    ctx.close({ cascade: false }); // the fd first: the PD is left to the kernel
    expect(k.leftAtClose).toEqual([{ UVERBS_OBJECT_PD: 1 }]);
  });

  it('only: just those features; an unknown name is refused before any syscall', () => {
    const k = new CountingKernel({ driverId: 0 });
    expect(features(FAKE_DEVICE, { sys: k, only: ['COMP_CHANNEL'] }).map((a) => a.name)).toEqual(['COMP_CHANNEL']);
    const fresh = new CountingKernel({ driverId: 0 });
    expect(() => features(FAKE_DEVICE, { sys: fresh, only: ['NOPE' as never] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => features(FAKE_DEVICE, null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect([fresh.opened, fresh.calls.length]).toEqual([0, 0]);
  });
});

/** QUERY_MR answers EFAULT; a PD's destroy answers EBUSY while an MR lives (as the kernel's usecnt does). */
class QueryMrFails extends CountingKernel {
  override ioctl(fd: number, request: number, arg: bigint): number {
    const head = this.readUser(arg, 24);
    if (head) {
      const v = new DataView(head.buffer, head.byteOffset, 24);
      const [object, method] = [v.getUint16(2, true), v.getUint16(4, true)];
      if (object === uverbs_default_objects.UVERBS_OBJECT_MR && method === uverbs_methods_mr.UVERBS_METHOD_QUERY_MR) {
        return -EFAULT;
      }
      if (
        object === uverbs_default_objects.UVERBS_OBJECT_PD &&
        method === uverbs_methods_pd.UVERBS_METHOD_PD_DESTROY &&
        (this.live.get('UVERBS_OBJECT_MR') ?? 0) > 0
      ) {
        return -EBUSY;
      }
    }
    return super.ioctl(fd, request, arg);
  }
}

describe('REG_MR_IOCTL when a step after the registration fails', () => {
  it('answers (unknown, the errno), closes its fd and unmaps its memory; no throw', () => {
    const k = new QueryMrFails({ driverId: 0 });
    const answers = features(FAKE_DEVICE, { sys: k, only: ['REG_MR_IOCTL'] });
    expect(answers).toEqual([expect.objectContaining({ name: 'REG_MR_IOCTL', supported: 'unknown', errno: 'EFAULT' })]);
    expect([k.opened, k.closed, k.mappings.size]).toEqual([1, 1, 0]);
    // the MR and the PD were destroyed before the fd closed
    expect(k.leftAtClose).toEqual([{}]);
  });

  it("where the MR's destroy fails too: the fd is closed first (the PD cannot go under the MR), no throw", () => {
    class Stuck extends QueryMrFails {
      override ioctl(fd: number, request: number, arg: bigint): number {
        const head = this.readUser(arg, 24);
        const v = head && new DataView(head.buffer, head.byteOffset, 24);
        if (
          v &&
          v.getUint16(2, true) === uverbs_default_objects.UVERBS_OBJECT_MR &&
          v.getUint16(4, true) === uverbs_methods_mr.UVERBS_METHOD_MR_DESTROY
        ) {
          return -EBUSY;
        }
        return super.ioctl(fd, request, arg);
      }
    }
    const k = new Stuck({ driverId: 0 });
    expect(features(FAKE_DEVICE, { sys: k, only: ['REG_MR_IOCTL'] })).toEqual([
      expect.objectContaining({ name: 'REG_MR_IOCTL', supported: 'unknown', errno: 'EFAULT' }),
    ]);
    expect([k.opened, k.closed, k.mappings.size]).toEqual([1, 1, 0]);
  });
});

/** An rxe-like fake whose capability flags claim FLUSH and ATOMIC_WRITE, but whose QP create answers EOPNOTSUPP (so the loopback cannot be set up). */
class NoQpKernel extends CountingKernel {
  override write(fd: number, address: bigint, length: number): number {
    const r = super.write(fd, address, length);
    const head = this.readUser(address, 16);
    if (r < 0 || !head) return r;
    const v = new DataView(head.buffer, head.byteOffset, 16);
    if (v.getUint32(0, true) === (0x8000_0000 | ib_uverbs_ex_write_cmds.IB_USER_VERBS_EX_CMD_QUERY_DEVICE) >>> 0) {
      // struct ib_uverbs_ex_query_device_resp.device_cap_flags_ex (offset 224)
      const resp = this.readUser(v.getBigUint64(8, true), 232);
      if (resp) {
        new DataView(resp.buffer, resp.byteOffset, 232).setBigUint64(
          224,
          (CAP.IB_UVERBS_DEVICE_FLUSH_GLOBAL as bigint) | (CAP.IB_UVERBS_DEVICE_ATOMIC_WRITE as bigint),
          true,
        );
      }
    }
    return r;
  }
  override ioctl(fd: number, request: number, arg: bigint): number {
    const head = this.readUser(arg, 24);
    const v = head && new DataView(head.buffer, head.byteOffset, 24);
    if (
      v &&
      v.getUint16(2, true) === uverbs_default_objects.UVERBS_OBJECT_QP &&
      v.getUint16(4, true) === uverbs_methods_qp.UVERBS_METHOD_QP_CREATE
    ) {
      return -EOPNOTSUPP;
    }
    return super.ioctl(fd, request, arg);
  }
}

describe('FLUSH and ATOMIC_WRITE on a driver with a datapath', () => {
  it('a loopback that cannot be set up (QP create refused) is unknown, not blamed on FLUSH / ATOMIC_WRITE', () => {
    const k = new NoQpKernel();
    const answers = features(FAKE_DEVICE, { sys: k, only: ['FLUSH', 'ATOMIC_WRITE'] });
    for (const a of answers) {
      expect(a).toMatchObject({ supported: 'unknown', how: expect.stringContaining('could not be set up') });
    }
    expect(answers.map((a) => a.name)).toEqual(['FLUSH', 'ATOMIC_WRITE']);
    expect(k.leftAtClose).toEqual(k.leftAtClose.map(() => ({})));
  });
});

describe('DM, counters and flows on a kernel whose driver id is not known', () => {
  it('the ioctl-only objects are unknown (no probe can be built), not an error', () => {
    const k = new FakeKernel({ ioctl: false });
    const answers = features(FAKE_DEVICE, { sys: k, only: ['DM', 'COUNTERS'] });
    expect(answers).toEqual([
      expect.objectContaining({ name: 'DM', supported: 'unknown', how: expect.stringContaining('driver id') }),
      expect.objectContaining({ name: 'COUNTERS', supported: 'unknown', how: expect.stringContaining('driver id') }),
    ]);
  });
});

describe('RDMA_CM (an rdma_cm_id made and destroyed through the node)', () => {
  it('a node that is not there: no, ENOENT; one whose CREATE_ID write fails (/dev/full: ENOSPC): unknown, naming the command', () => {
    expect(rdmaCmFeature('/nonexistent/rdma_cm')).toMatchObject({ name: 'RDMA_CM', supported: false, errno: 'ENOENT' });
    expect(rdmaCmFeature('/dev/full')).toMatchObject({
      name: 'RDMA_CM',
      supported: 'unknown',
      errno: 'ENOSPC',
      how: expect.stringMatching(/CREATE_ID answered ENOSPC/),
    });
  });
});

/**
 * features() over the fake kernel: every stable name answered once, a
 * refusal read as no (with its errno) or unknown (a privilege), bad options
 * refused before any syscall, and nothing left open: every fd the checks
 * opened is closed and every mapping unmapped. The device test
 * (test/device/features.device.test.ts) checks the answers on real kernels.
 */

import { describe, expect, it } from 'vitest';
import { ib_uverbs_write_cmds } from '../src/abi/constants.js';
import { uverbs_default_objects, uverbs_methods_srq } from '../src/abi/ids.js';
import { EOPNOTSUPP, EPERM } from '../src/errno.js';
import * as api from '../src/index.js';
import { FEATURE_NAMES, type FeatureAnswer, features, rdmaCmFeature } from '../src/probe/features.js';
import type { Mapping } from '../src/transport/sys.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

/** A fake kernel that counts fds and mappings, without MWs (EOPNOTSUPP), whose SRQ create needs a privilege (EPERM). */
class CountingKernel extends FakeKernel {
  opened = 0;
  closed = 0;
  readonly mappings = new Set<Mapping>();

  override open(): number {
    this.opened++;
    return super.open();
  }
  override close(fd?: number): number {
    if (fd === this.uverbsFd) this.closed++;
    return super.close();
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

describe('RDMA_CM (the node check, until the rdma_cm client answers it)', () => {
  it('a node that is not there: no, ENOENT; one that opens: yes', () => {
    expect(rdmaCmFeature('/nonexistent/rdma_cm')).toMatchObject({ name: 'RDMA_CM', supported: false, errno: 'ENOENT' });
    expect(rdmaCmFeature('/dev/null')).toMatchObject({ name: 'RDMA_CM', supported: true });
  });
});

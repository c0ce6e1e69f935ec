/**
 * Readable results and errors that say what happened, over the fake kernel:
 * a device name that names no device is ENODEV with the devices there are;
 * a device node that cannot be opened is the open's error with the file;
 * device and port attributes are typed, one name per field; `findGid()`
 * picks from the GID table and says what the table has when nothing
 * matches. The real kernels' answers: test/device/queries.device.test.ts.
 */

import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { ib_uverbs_device_cap_flags, ib_uverbs_query_port_cap_flags } from '../src/abi/constants.js';
import {
  ib_mtu,
  ib_port_phys_state,
  ib_port_speed,
  ib_port_state,
  ib_port_width,
  rdma_link_layer,
} from '../src/abi/kernel-internal.js';
import { ENOENT } from '../src/errno.js';
import { UverbsError, UverbsGidNotFoundError } from '../src/errors.js';
import {
  type AtomicCap,
  type DeviceAttributes,
  deviceAttributes,
  type GidEntry,
  type GidType,
  gidEntry,
  type PortAttributes,
  type PortState,
  portAttributes,
} from '../src/verbs/attributes.js';
import { Context } from '../src/verbs/context.js';
import { resolveDevice } from '../src/verbs/device.js';
import { isMtu, type Mtu } from '../src/verbs/queue-pair.js';
import { FAKE_DEVICE as DEVICE, FakeKernel } from './support/fake-kernel.js';

/** A kernel whose device node is gone (the module unloaded, the node never made). */
class MissingNode extends FakeKernel {
  override open(): number {
    return -ENOENT;
  }
}

describe('Context.open: errors that say what happened', () => {
  it('a name that names no device is ENODEV, before any syscall, naming the devices there are', () => {
    const kernel = new FakeKernel();
    let error: unknown;
    try {
      Context.open('mlx5_0', { sys: kernel });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'ENODEV', errno: 19, object: 'mlx5_0', method: 'open' });
    expect((error as Error).message).toMatch(/mlx5_0/);
    expect(kernel.calls).toEqual([]);
    // what is neither a name nor a DeviceInfo stays a TypeError
    expect(() => Context.open(42 as never, { sys: kernel })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('the ENODEV message lists the devices there are, by ib name and node', () => {
    const siw = { ...DEVICE, name: 'siw0', node: 'uverbs1', path: '/dev/infiniband/uverbs1' };
    expect(resolveDevice('uverbs1', [DEVICE, siw])).toBe(siw);
    expect(() => resolveDevice('mlx5_0', [DEVICE, siw])).toThrow(
      "mlx5_0.open ENODEV (open): no uverbs device is called 'mlx5_0'; the uverbs devices are rxe0 (uverbs0), siw0 (uverbs1)",
    );
    expect(() => resolveDevice('mlx5_0', [])).toThrow(/lists no uverbs devices/);
  });

  it('a device node that cannot be opened: syscall open, the file, not an ioctl', () => {
    const kernel = new MissingNode();
    let error: unknown;
    try {
      Context.open(DEVICE, { sys: kernel });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({
      code: 'ENOENT',
      syscall: 'open',
      path: 'open',
      file: DEVICE.path,
      object: DEVICE.name,
    });
    expect((error as Error).message).toContain(DEVICE.path);
  });
});

describe('queryDevice / queryPort: typed results, one name per field', () => {
  const PORT_KEYS = [
    'activeMtu',
    'activeSpeed',
    'activeWidth',
    'badPkeyCntr',
    'capabilities',
    'gidTblLen',
    'grhRequired',
    'initTypeReply',
    'linkLayer',
    'lid',
    'lmc',
    'maxMsgSz',
    'maxMtu',
    'maxVlNum',
    'physState',
    'pkeyTblLen',
    'portCapFlags',
    'portCapFlags2',
    'qkeyViolCntr',
    'smLid',
    'smSl',
    'state',
    'subnetTimeout',
  ];

  it('queryDevice: ibv_device_attr flattened, GUIDs as sysfs prints them, capability bits raw and by name', () => {
    const ctx = Context.open(DEVICE, { sys: new FakeKernel() });
    const dev = ctx.queryDevice();
    const keys = Object.keys(dev);
    for (const noise of ['base', 'reserved', 'compMask', 'responseLength', 'deviceCapFlagsEx', 'timestampMask'])
      expect(keys).not.toContain(noise);
    expect(dev.nodeGuid).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
    expect(typeof dev.maxQp).toBe('number');
    expect(typeof dev.deviceCapFlags).toBe('bigint');
    // the fake fills every byte of the reply, so the 64-bit extension is there and wins
    for (const name of dev.capabilities) {
      const bit = ib_uverbs_device_cap_flags[`IB_UVERBS_DEVICE_${name}`];
      expect(dev.deviceCapFlags & bit).toBe(bit);
    }
    expect(dev.capabilities.length).toBeGreaterThan(0);
    expect(dev.cqModCaps).toEqual({ maxCqCount: expect.any(Number), maxCqPeriod: expect.any(Number) });
    expect(typeof dev.completionTimestampMask).toBe('bigint');
    ctx.close();
  });

  it('queryPort: ibv_port_attr camelCased, no legacy nesting, no reserved bytes, no second speed', () => {
    const ctx = Context.open(DEVICE, { sys: new FakeKernel() });
    expect(Object.keys(ctx.queryPort(1)).sort()).toEqual([...PORT_KEYS].sort());
    ctx.close();
  });

  it('the port decoder: enums as names, MTU in bytes, active_speed_ex over active_speed, unknown codes as numbers', () => {
    const raw = {
      portCapFlags: ib_uverbs_query_port_cap_flags.IB_UVERBS_PCF_IP_BASED_GIDS | 0x1,
      maxMsgSz: 0x80000000,
      badPkeyCntr: 0,
      qkeyViolCntr: 0,
      gidTblLen: 1024,
      pkeyTblLen: 64,
      lid: 0,
      smLid: 0,
      state: ib_port_state.IB_PORT_ACTIVE,
      maxMtu: ib_mtu.IB_MTU_4096,
      activeMtu: ib_mtu.IB_MTU_1024,
      lmc: 0,
      maxVlNum: 1,
      smSl: 0,
      subnetTimeout: 0,
      initTypeReply: 0,
      activeWidth: ib_port_width.IB_WIDTH_4X,
      activeSpeed: ib_port_speed.IB_SPEED_EDR,
      physState: ib_port_phys_state.IB_PORT_PHYS_STATE_LINK_UP,
      linkLayer: rdma_link_layer.IB_LINK_LAYER_ETHERNET,
      flags: 1,
      portCapFlags2: 0,
    };
    expect(portAttributes(raw)).toMatchObject({
      state: 'ACTIVE',
      maxMtu: 4096,
      activeMtu: 1024,
      activeWidth: '4X',
      activeSpeed: 'EDR',
      physState: 'LINK_UP',
      linkLayer: 'Ethernet',
      grhRequired: true,
      capabilities: ['IP_BASED_GIDS'],
      portCapFlags: raw.portCapFlags,
    });
    expect(portAttributes({ ...raw, activeSpeedEx: ib_port_speed.IB_SPEED_XDR }).activeSpeed).toBe('XDR');
    expect(portAttributes({ ...raw, activeWidth: 0, activeSpeed: 0 })).toMatchObject({
      activeWidth: 0,
      activeSpeed: 0,
    });
    expect(portAttributes({ ...raw, linkLayer: rdma_link_layer.IB_LINK_LAYER_INFINIBAND, flags: 0 })).toMatchObject({
      linkLayer: 'InfiniBand',
      grhRequired: false,
    });
  });

  it('a code with no name (a newer kernel’s) is its number, and the types say so; isMtu() narrows an MTU', () => {
    // the types: every enum field is its names or a number (tsc checks these: npm run typecheck)
    expectTypeOf<PortAttributes['state']>().toEqualTypeOf<PortState | number>();
    expectTypeOf<PortAttributes['maxMtu']>().toEqualTypeOf<Mtu | number>();
    expectTypeOf<PortAttributes['activeMtu']>().toEqualTypeOf<Mtu | number>();
    expectTypeOf<DeviceAttributes['atomicCap']>().toEqualTypeOf<AtomicCap | number>();
    expectTypeOf<GidEntry['type']>().toEqualTypeOf<GidType | number>();
    // a stub answer carrying codes no table names
    const port = portAttributes({
      state: 9,
      maxMtu: 7,
      activeMtu: 6,
      activeWidth: 1,
      activeSpeed: 1,
      physState: 5,
      linkLayer: 2,
      portCapFlags: 0,
      flags: 0,
    });
    expect(port).toMatchObject({ state: 9, maxMtu: 7, activeMtu: 6 });
    const base = { atomicCap: 5, deviceCapFlags: 0, nodeGuid: 1n, sysImageGuid: 1n };
    expect(deviceAttributes({ base }).atomicCap).toBe(5);
    const gid = gidEntry({ gid: [0n, 0n], gid_index: 0, port_num: 1, gid_type: 9, netdev_ifindex: 0 }, new Map());
    expect(gid.type).toBe(9);
    // isMtu: the sizes pathMtu takes; a code is not one
    expect(isMtu(port.activeMtu)).toBe(false);
    expect([256, 512, 1024, 2048, 4096].every(isMtu)).toBe(true);
    expect([0, 1, 5, 1500, '1024', undefined].some(isMtu)).toBe(false);
    const known = portAttributes({ state: 4, maxMtu: ib_mtu.IB_MTU_4096, activeMtu: ib_mtu.IB_MTU_1024 });
    const pathMtu: Mtu = isMtu(known.activeMtu) ? known.activeMtu : 1024; // narrowed: no cast
    expect(pathMtu).toBe(1024);
  });
});

describe('findGid', () => {
  const v4 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 2, 15];
  const ll = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56];
  const entry = (index: number, type: GidType, bytes: number[], netdev?: string, port = 1): GidEntry => ({
    gid: Uint8Array.from(bytes),
    index,
    port,
    type,
    netdevIfindex: netdev === undefined ? 0 : 2,
    ...(netdev === undefined ? {} : { netdev }),
  });
  const TABLE: GidEntry[] = [
    entry(0, 'RoCEv1', ll, 'eth0'),
    entry(1, 'RoCEv2', ll, 'eth0'),
    entry(2, 'RoCEv1', v4, 'eth0'),
    entry(3, 'RoCEv2', v4, 'eth0'),
  ];

  function withTable(table: GidEntry[]) {
    const kernel = new FakeKernel();
    const ctx = Context.open(DEVICE, { sys: kernel });
    const read = vi.spyOn(ctx, 'queryGidTable').mockReturnValue(table);
    return { kernel, ctx, read };
  }

  it('finds by type, address family, netdev and port: the first match by port, then index', () => {
    const { ctx } = withTable(TABLE);
    expect(ctx.findGid({ type: 'RoCEv2', family: 'ipv4' }).index).toBe(3);
    expect(ctx.findGid({ type: 'RoCEv2', family: 'ipv6' }).index).toBe(1);
    expect(ctx.findGid({ type: 'RoCEv2' }).index).toBe(1);
    expect(ctx.findGid({ type: 'RoCEv1', family: 'ipv4', netdev: 'eth0', port: 1 }).index).toBe(2);
    expect(ctx.findGid({ netdev: 2 }).index).toBe(0);
    expect(ctx.findGid().index).toBe(0);
    expect(ctx.findGid({ type: 'RoCEv2', family: 'ipv4' }).gid).toEqual(Uint8Array.from(v4));
    ctx.close();
  });

  it('no match: UverbsGidNotFoundError whose message and `table` say what the table has', () => {
    const { ctx } = withTable(TABLE);
    let error: unknown;
    try {
      ctx.findGid({ type: 'IB' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsGidNotFoundError);
    expect(error).toMatchObject({ code: 'ERR_UVERBS_GID_NOT_FOUND', query: { type: 'IB' }, table: TABLE });
    const message = (error as Error).message;
    expect(message).toContain("rxe0: no GID matches { type: 'IB' }");
    expect(message).toContain('port 1 index 3 RoCEv2 0000:0000:0000:0000:0000:ffff:0a00:020f eth0');
    expect(message).toContain('port 1 index 0 RoCEv1 fe80:0000:0000:0000:5054:00ff:fe12:3456 eth0');
    expect(() => ctx.findGid({ netdev: 'eth1' })).toThrow(UverbsGidNotFoundError);
    expect(() => ctx.findGid({ port: 2 })).toThrow(UverbsGidNotFoundError);
    ctx.close();
    const empty = withTable([]);
    expect(() => empty.ctx.findGid({ type: 'RoCEv2' })).toThrow(/the GID table is empty/);
    empty.ctx.close();
  });

  it('bad input is refused before the table is read', () => {
    const { kernel, ctx, read } = withTable(TABLE);
    const calls = kernel.calls.length;
    expect(() => ctx.findGid({ type: 'RoCE' as GidType })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => ctx.findGid({ family: 'inet' as 'ipv4' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => ctx.findGid({ port: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => ctx.findGid({ netdev: -1 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => ctx.findGid(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(read).not.toHaveBeenCalled();
    expect(kernel.calls.length).toBe(calls);
    ctx.close();
  });
});

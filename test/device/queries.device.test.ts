/**
 * Readable results on a real device (inside `uverbs vm`): `queryDevice()`
 * and `queryPort()` typed, held against what rdma-core's `ibv_devinfo -v`
 * says about the same device in the same guest; `findGid()` against the
 * GID table ibv_devinfo prints; `srq.query()`; and the errors of
 * `Context.open` against the real sysfs and /dev.
 */

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ib_uverbs_device_cap_flags } from '../../src/abi/constants.js';
import { ib_port_speed } from '../../src/abi/kernel-internal.js';
import { ENODEV, ENOENT } from '../../src/errno.js';
import { UverbsError, UverbsGidNotFoundError } from '../../src/errors.js';
import { type GidEntry, isIpv4Mapped } from '../../src/verbs/attributes.js';
import { Context } from '../../src/verbs/context.js';
import { findDevice, listDevices } from '../../src/verbs/device.js';
import { TEST_DEVICE, VM_KERNEL } from './support.js';

interface Devinfo {
  device: Map<string, string>;
  /** `device_cap_flags`' names, as ibv_devinfo lists them under it. */
  capabilities: string[];
  port: Map<string, string>;
  gids: { index: number; gid: Uint8Array; type: string }[];
}

/** The 16 bytes of an IPv6 address as ibv_devinfo prints a GID (`fe80::5054:ff:fe12:3456`, `::ffff:10.0.2.15`). */
function ipv6Bytes(text: string): Uint8Array {
  let groups = text;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    groups = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = groups.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    const v = Number.parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** `ibv_devinfo -v -d NAME`, split into the device's lines, port 1's and its GIDs. */
function devinfo(name: string): Devinfo {
  const text = execFileSync('ibv_devinfo', ['-v', '-d', name], { encoding: 'utf8' });
  const out: Devinfo = { device: new Map(), capabilities: [], port: new Map(), gids: [] };
  let section: 'device' | 'caps' | 'port' = 'device';
  for (const line of text.split('\n')) {
    const gid = /^\s+GID\[\s*(\d+)\]:\s+(\S+?)(?:, (.+))?$/.exec(line);
    if (gid) {
      out.gids.push({ index: Number(gid[1]), gid: ipv6Bytes(gid[2] as string), type: gid[3] ?? 'IB' });
      continue;
    }
    const kv = /^\s+([a-z_0-9]+):\s*(.*)$/.exec(line);
    if (kv) {
      const [, key, value] = kv as unknown as [string, string, string];
      if (key === 'port') section = 'port';
      else if (section === 'port') out.port.set(key, value);
      else {
        section = key === 'device_cap_flags' ? 'caps' : 'device';
        if (!out.device.has(key)) out.device.set(key, value);
      }
    } else if (section === 'caps' && /^\t{5}[A-Z_0-9]+$/.test(line)) {
      out.capabilities.push(line.trim());
    }
  }
  return out;
}

/** The number in `1024 (3)`, `0x1223c76`, `1048560`: the code in parentheses where there is one. */
function code(value: string | undefined): number {
  const m = /\((\d+)\)$/.exec(value ?? '');
  return Number(m ? m[1] : value);
}

describe.runIf(TEST_DEVICE)(`typed queries on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const siw = name.startsWith('siw');

  it('queryDevice agrees with ibv_devinfo -v: GUIDs, limits, atomic cap, capability bits and their names', () => {
    using ctx = Context.open(name);
    const dev = ctx.queryDevice();
    const theirs = devinfo(name);
    const d = theirs.device;
    expect(dev.nodeGuid).toBe(d.get('node_guid'));
    expect(dev.nodeGuid).toBe(ctx.device.nodeGuid);
    expect(dev.sysImageGuid).toBe(d.get('sys_image_guid'));
    const numbers: [keyof typeof dev, string][] = [
      ['vendorId', 'vendor_id'],
      ['vendorPartId', 'vendor_part_id'],
      ['hwVer', 'hw_ver'],
      ['physPortCnt', 'phys_port_cnt'],
      ['maxQp', 'max_qp'],
      ['maxQpWr', 'max_qp_wr'],
      ['maxSge', 'max_sge'],
      ['maxSgeRd', 'max_sge_rd'],
      ['maxCq', 'max_cq'],
      ['maxCqe', 'max_cqe'],
      ['maxMr', 'max_mr'],
      ['maxPd', 'max_pd'],
      ['maxQpRdAtom', 'max_qp_rd_atom'],
      ['maxResRdAtom', 'max_res_rd_atom'],
      ['maxQpInitRdAtom', 'max_qp_init_rd_atom'],
      ['maxMw', 'max_mw'],
      ['maxMcastGrp', 'max_mcast_grp'],
      ['maxMcastQpAttach', 'max_mcast_qp_attach'],
      ['maxTotalMcastQpAttach', 'max_total_mcast_qp_attach'],
      ['maxAh', 'max_ah'],
      ['maxSrq', 'max_srq'],
      ['maxSrqWr', 'max_srq_wr'],
      ['maxSrqSge', 'max_srq_sge'],
      ['maxPkeys', 'max_pkeys'],
      ['localCaAckDelay', 'local_ca_ack_delay'],
    ];
    expect(numbers.map(([ours]) => [ours, dev[ours]])).toEqual(numbers.map(([ours, k]) => [ours, code(d.get(k))]));
    expect(dev.maxQp).toBeGreaterThan(0);
    expect(dev.maxMrSize).toBe(BigInt(d.get('max_mr_size') as string));
    expect(dev.pageSizeCap).toBe(BigInt(d.get('page_size_cap') as string));
    expect(`ATOMIC_${dev.atomicCap}`).toBe(d.get('atomic_cap')?.replace(/ \(\d+\)$/, ''));
    expect(dev.atomicCap).toBe(siw ? 'NONE' : 'HCA');
    expect(dev.deviceCapFlags).toBe(BigInt(d.get('device_cap_flags_ex') as string));
    // ibv_devinfo names the 32 bits of device_cap_flags; ours name the same bits the same way
    const low = dev.capabilities.filter((n) => ib_uverbs_device_cap_flags[`IB_UVERBS_DEVICE_${n}`] < 1n << 32n);
    expect(theirs.capabilities.length).toBeGreaterThan(0);
    expect([...low].sort()).toEqual([...theirs.capabilities].sort());
    if (!siw) expect(dev.capabilities).toEqual(expect.arrayContaining(['MEM_WINDOW', 'MEM_WINDOW_TYPE_2B']));
    // the extensions every kernel here vouches for; none is the kernel's raw spelling
    expect(typeof dev.completionTimestampMask).toBe('bigint');
    expect(dev.cqModCaps).toEqual({ maxCqCount: expect.any(Number), maxCqPeriod: expect.any(Number) });
    expect(Object.keys(dev)).not.toEqual(expect.arrayContaining(['base']));
  });

  it('queryPort agrees with ibv_devinfo -v: state, MTUs in bytes, link layer, width, speed, the rest', () => {
    using ctx = Context.open(name);
    const port = ctx.queryPort(1);
    const p = devinfo(name).port;
    expect(port.state).toBe('ACTIVE');
    expect(`PORT_${port.state}`).toBe(p.get('state')?.replace(/ \(\d+\)$/, ''));
    expect(port.linkLayer).toBe('Ethernet');
    expect(port.linkLayer).toBe(p.get('link_layer'));
    expect([port.maxMtu, port.activeMtu]).toEqual([
      Number(p.get('max_mtu')?.split(' ')[0]),
      Number(p.get('active_mtu')?.split(' ')[0]),
    ]);
    expect([256, 512, 1024, 2048, 4096]).toContain(port.activeMtu);
    expect(port.activeMtu).toBeLessThanOrEqual(port.maxMtu);
    expect(`${port.activeWidth} (${code(p.get('active_width'))})`).toBe(p.get('active_width'));
    expect(ib_port_speed[`IB_SPEED_${port.activeSpeed}` as keyof typeof ib_port_speed]).toBe(
      code(p.get('active_speed')),
    );
    // ibv_devinfo prints the physical state for the IB transport only (rxe, not siw)
    if (p.has('phys_state')) expect(port.physState).toBe(p.get('phys_state')?.replace(/ \(\d+\)$/, ''));
    expect(port.physState).toBe('LINK_UP');
    expect(port.grhRequired).toBe(!siw); // RoCE addresses by GRH
    const fields: [keyof typeof port, string][] = [
      ['gidTblLen', 'gid_tbl_len'],
      ['pkeyTblLen', 'pkey_tbl_len'],
      ['portCapFlags', 'port_cap_flags'],
      ['portCapFlags2', 'port_cap_flags2'],
      ['maxMsgSz', 'max_msg_sz'],
      ['lid', 'port_lid'],
      ['smLid', 'sm_lid'],
      ['lmc', 'port_lmc'],
      ['smSl', 'sm_sl'],
      ['subnetTimeout', 'subnet_timeout'],
      ['initTypeReply', 'init_type_reply'],
      ['maxVlNum', 'max_vl_num'],
    ];
    expect(fields.map(([ours]) => [ours, port[ours]])).toEqual(fields.map(([ours, k]) => [ours, code(p.get(k))]));
    expect(port.capabilities).toContain('CM_SUP');
  });

  it('the GID table: every GID ibv_devinfo lists, at its index with its type; the netdev by name', () => {
    using ctx = Context.open(name);
    const before = ctx.queryGidTable();
    const theirs = devinfo(name).gids;
    const after = ctx.queryGidTable(); // the table may grow while the guest's IPv6 addresses settle
    const type = (e: GidEntry) => ({ IB: 'IB', RoCEv1: 'RoCE v1', RoCEv2: 'RoCE v2' })[e.type];
    for (const g of theirs) {
      const ours = [...before, ...after].filter((e) => e.index === g.index && type(e) === g.type);
      expect(
        ours.some((e) => Buffer.from(e.gid).equals(g.gid)),
        `GID[${g.index}] ${Buffer.from(g.gid).toString('hex')}`,
      ).toBe(true);
    }
    if (siw) {
      // iWARP: one GID made from the MAC, typed IB by the core, on no netdev; ibv_devinfo prints none
      expect(after.map((e) => [e.index, e.type])).toEqual([[0, 'IB']]);
    } else {
      expect(theirs.length).toBeGreaterThanOrEqual(1);
      for (const e of after) {
        expect(e.type).toMatch(/^RoCEv[12]$/);
        expect(e.netdev).toBe(ctx.device.parent);
      }
    }
  });

  it('findGid: RoCE v2 over IPv4 on rxe, usable as an sgidIndex; no match lists the table', () => {
    using ctx = Context.open(name);
    const table = ctx.queryGidTable();
    if (siw) {
      expect(ctx.findGid({ type: 'IB' })).toEqual(table[0]);
      let error: unknown;
      try {
        ctx.findGid({ type: 'RoCEv2', family: 'ipv4' });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UverbsGidNotFoundError);
      expect((error as Error).message).toMatch(/the GID table has: port 1 index 0 IB 5254:/);
      return;
    }
    const v2 = ctx.findGid({ type: 'RoCEv2', family: 'ipv4', netdev: ctx.device.parent });
    expect(v2.type).toBe('RoCEv2');
    expect(isIpv4Mapped(v2.gid)).toBe(true);
    expect(v2).toEqual(ctx.queryGid(1, v2.index));
    // the guest's eth0 address (10.0.2.15 under QEMU's user network), mapped
    const ipv4 = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', v2.netdev as string], { encoding: 'utf8' });
    expect(`${[...v2.gid.subarray(12)].join('.')}/`).toBe(/inet (\d+\.\d+\.\d+\.\d+\/)/.exec(ipv4)?.[1]);
    expect(ctx.findGid({ type: 'RoCEv2', family: 'ipv6' }).gid[0]).toBe(0xfe); // the link-local one
    expect(() => ctx.findGid({ type: 'RoCEv2', netdev: 'nosuch0' })).toThrow(UverbsGidNotFoundError);
    // the index is one the kernel takes as a source GID
    const pd = ctx.allocPd();
    const ah = pd.createAh({ dgid: v2.gid, sgidIndex: v2.index, hopLimit: 64, port: 1 });
    expect(ah.closed).toBe(false);
  });

  it('srq.query: the sizes and the limit modify() set, one name each', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const srq = pd.createSrq({ maxWr: 16, maxSge: 1 });
    srq.modify({ limit: 4 });
    const q = srq.query();
    expect(Object.keys(q).sort()).toEqual(['limit', 'maxSge', 'maxWr']);
    expect(q).toMatchObject({ maxSge: srq.maxSge, limit: 4 });
    // rxe reports its ring's size here (16 asked: 31 on 6.1), at least what create granted
    expect(q.maxWr).toBeGreaterThanOrEqual(srq.maxWr);
    expect(srq.maxWr).toBeGreaterThanOrEqual(16);
  });

  it('Context.open: an unknown name is ENODEV naming this device; a missing node is the open’s ENOENT with the file', () => {
    let error: unknown;
    try {
      Context.open('mlx5_0');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'ENODEV', errno: ENODEV, syscall: 'none', path: 'open' });
    for (const d of listDevices()) expect((error as Error).message).toContain(`${d.name} (${d.node})`);
    const device = findDevice(name);
    expect(device).toBeDefined();
    const missing = { ...(device as NonNullable<typeof device>), path: '/dev/infiniband/uverbs99' };
    expect(() => Context.open(missing)).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        errno: ENOENT,
        syscall: 'open',
        path: 'open',
        file: '/dev/infiniband/uverbs99',
      }),
    );
  });
});

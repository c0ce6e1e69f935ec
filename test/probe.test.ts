/**
 * The probe's commands, checked against the kernel model for every method
 * and attribute the library knows, and a whole probe over the fake kernel.
 */

import { describe, expect, it } from 'vitest';
import { cEnumInfo } from '../src/abi/c-enum.js';
import { ib_uverbs_write_cmds } from '../src/abi/constants.js';
import * as ids from '../src/abi/ids.js';
import { uverbs_default_objects, uverbs_methods_device } from '../src/abi/ids.js';
import { modelDevice, validateWrite } from '../src/abi/kernel-model.js';
import { UVERBS_METHOD_QUERY_CONTEXT, UVERBS_METHOD_REG_MR } from '../src/abi/methods.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { EINVAL, EIO, ENOSPC, EOPNOTSUPP, EPROTONOSUPPORT } from '../src/errno.js';
import { features } from '../src/probe/features.js';
import { KNOWN_METHODS } from '../src/probe/known-methods.js';
import { attributeProbe, CALLED, capabilityNames, methodProbe, probe, writeProbe } from '../src/probe/probe.js';
import { FAKE_DEVICE as DEVICE, FakeKernel } from './support/fake-kernel.js';
import { uverbs } from './vm-cli.js';

const RXE = 14;

describe('probe commands', () => {
  it('every method: EINVAL where the device has it, EPROTONOSUPPORT where not, never a handler', () => {
    // every method the uapi enums name is probed
    const named = Object.values(ids)
      .filter((t) => cEnumInfo(t)?.name.startsWith('uverbs_method'))
      .flatMap((t) => Object.keys(t as object).filter((k) => k.startsWith('UVERBS_METHOD_')));
    expect(KNOWN_METHODS.map((m) => m.name).sort()).toEqual(named.sort());
    for (const spec of KNOWN_METHODS) {
      const p = methodProbe(spec, RXE);
      expect([spec.name, p.has, p.lacks]).toEqual([spec.name, EINVAL, EPROTONOSUPPORT]);
    }
  });

  it('an all-optional method is probed with a refused attribute, not bare', () => {
    const p = methodProbe(UVERBS_METHOD_QUERY_CONTEXT, RXE);
    expect(p.bytes.byteLength).toBe(24 + 16);
    expect(methodProbe(UVERBS_METHOD_REG_MR, RXE).bytes.byteLength).toBe(24);
  });

  it('every attribute of every method with a table: EINVAL if known, EPROTONOSUPPORT if not', () => {
    let n = 0;
    for (const spec of KNOWN_METHODS.slice(0, 22)) {
      for (const key of Object.keys(spec.attrs)) {
        const p = attributeProbe(spec, key, RXE);
        expect([spec.name, key, p.has, p.lacks]).toEqual([spec.name, key, EINVAL, EPROTONOSUPPORT]);
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
  });

  it('a bare write header: ENOSPC (legacy) or EINVAL (extended) where the command exists, else EOPNOTSUPP', () => {
    const all = Object.values(WRITE_COMMANDS);
    const has = modelDevice(RXE, [], all);
    const lacks = modelDevice(RXE, [], []);
    for (const c of all) {
      const bytes = writeProbe(c.command, c.extended);
      expect([c.name, validateWrite(has, bytes)]).toEqual([c.name, c.extended ? EINVAL : ENOSPC]);
      expect([c.name, validateWrite(lacks, bytes)]).toEqual([c.name, EOPNOTSUPP]);
    }
  });

  it('capability bits by name, unknown ones as hex', () => {
    expect(capabilityNames((1n << 40n) | 1n | (1n << 62n))).toEqual([
      'IB_UVERBS_DEVICE_RESIZE_MAX_WR',
      'IB_UVERBS_DEVICE_ATOMIC_WRITE',
      '0x4000000000000000',
    ]);
  });
});

describe('probe over the fake kernel', () => {
  it('reports what the kernel has, and what it lacks', () => {
    const kernel = new FakeKernel({ driverId: RXE, without: [UVERBS_METHOD_REG_MR] });
    const result = probe(DEVICE, kernel);
    expect(result.schema).toBe(2);
    expect(result.device.driver).toBe('rxe');
    const regMr = result.methods.find((m) => m.method === 'UVERBS_METHOD_REG_MR');
    expect(regMr).toMatchObject({ supported: false, errno: 'EPROTONOSUPPORT' });
    const cq = result.methods.find((m) => m.method === 'UVERBS_METHOD_CQ_CREATE');
    expect(cq?.supported).toBe(true);
    expect(cq?.attributes?.every((a) => a.supported)).toBe(true);
    // the fake kernel has no WQ, DM, ... methods: nothing the model does not know is called supported
    expect(result.methods.find((m) => m.method === 'UVERBS_METHOD_WQ_CREATE')?.supported).toBe(false);
    expect(result.writeCommands.find((w) => w.command === 'IB_USER_VERBS_CMD_REG_MR')?.supported).toBe(true);
    expect(result.objects.find((o) => o.object === 'UVERBS_OBJECT_MR')?.supported).toBe(true);
    // what ran: GET_CONTEXT (0/3), and the read-only methods the probe calls (CALLED), nothing that creates
    const ran = new Set(['0/3', ...Object.keys(CALLED).map((n) => `0/${KNOWN_METHODS.find((m) => m.name === n)?.id}`)]);
    expect(ran).toEqual(new Set(['0/3', '0/4', '0/7']));
    expect(kernel.calls.filter((c) => c.errno === 0 && c.syscall === 'ioctl' && !ran.has(c.what))).toEqual([]);
  });
});

/** A fake kernel that also has CREATE_XSRQ (but no OPEN_XRCD), and whose QUERY_PORT_SPEED handler is the driver's EOPNOTSUPP. */
class RxeLikeKernel extends FakeKernel {
  /** What the driver answers a real QUERY_PORT_SPEED. */
  portSpeedErrno = EOPNOTSUPP;
  override ioctl(fd: number, request: number, arg: bigint): number {
    const head = this.readUser(arg, 24);
    if (head) {
      const v = new DataView(head.buffer, head.byteOffset, 24);
      const queryPortSpeed =
        v.getUint16(2, true) === uverbs_default_objects.UVERBS_OBJECT_DEVICE &&
        v.getUint16(4, true) === uverbs_methods_device.UVERBS_METHOD_QUERY_PORT_SPEED;
      // the method is there (the bare probe is refused as usual); a real call (with its attributes) reaches the driver
      if (queryPortSpeed && v.getUint16(6, true) > 0) {
        this.calls.push({ syscall: 'ioctl', what: 'QUERY_PORT_SPEED', errno: this.portSpeedErrno });
        return -this.portSpeedErrno;
      }
    }
    return super.ioctl(fd, request, arg);
  }

  override write(fd: number, address: bigint, length: number): number {
    const bytes = this.readUser(address, Math.min(length, 8));
    if (bytes && length === 8) {
      const command = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true);
      if (command === ib_uverbs_write_cmds.IB_USER_VERBS_CMD_CREATE_XSRQ) return -ENOSPC;
    }
    return super.write(fd, address, length);
  }
}

describe('what an id-level answer does not say (probe schema 2)', () => {
  const result = probe(DEVICE, new RxeLikeKernel({ driverId: RXE }));

  it('CREATE_XSRQ is there but OPEN_XRCD is not: the command says XRC SRQs are not, and points at XRC_SRQ', () => {
    const xsrq = result.writeCommands.find((w) => w.command === 'IB_USER_VERBS_CMD_CREATE_XSRQ');
    const xrcd = result.writeCommands.find((w) => w.command === 'IB_USER_VERBS_CMD_OPEN_XRCD');
    expect(xrcd?.supported).toBe(false);
    expect(xsrq).toMatchObject({ supported: true, note: expect.stringMatching(/OPEN_XRCD.*XRC_SRQ/) });
  });

  it('a completion channel has no ioctl method: its object is supported through its write command', () => {
    expect(result.objects.find((o) => o.object === 'UVERBS_OBJECT_COMP_CHANNEL')).toMatchObject({
      supported: true,
      via: ['write'],
      note: expect.stringContaining('write commands'),
    });
    // an object with neither stays unsupported
    expect(result.objects.find((o) => o.object === 'UVERBS_OBJECT_DM')).toMatchObject({ supported: false, via: [] });
  });

  it('QUERY_PORT_SPEED is there but the driver declines it: usable false, and the note names the feature', () => {
    expect(result.methods.find((m) => m.method === 'UVERBS_METHOD_QUERY_PORT_SPEED')).toMatchObject({
      supported: true,
      usable: false,
      note: expect.stringMatching(/driver declines it.*EOPNOTSUPP.*PORT_SPEED_QUERY/),
    });
    // a method the driver serves says so
    expect(result.methods.find((m) => m.method === 'UVERBS_METHOD_QUERY_CONTEXT')?.usable).toBe(true);
  });
});

describe('a called method answering an unexpected errno', () => {
  it('does not kill the probe: usable stays unset, the note says the errno and that it could not tell', () => {
    const k = new RxeLikeKernel({ driverId: RXE });
    k.portSpeedErrno = EIO;
    const r = probe(DEVICE, k);
    const m = r.methods.find((x) => x.method === 'UVERBS_METHOD_QUERY_PORT_SPEED');
    expect(m).toMatchObject({ supported: true, note: expect.stringMatching(/EIO.*could not tell.*PORT_SPEED_QUERY/) });
    expect(m?.usable).toBeUndefined();
  });
});

describe('a device name that names no device', () => {
  it('probe() and features(): ENODEV naming the devices there are (resolveDevice), not a TypeError', () => {
    for (const f of [() => probe('nope0', new FakeKernel()), () => features('nope0', { sys: new FakeKernel() })]) {
      expect(f).toThrow(expect.objectContaining({ code: 'ENODEV', object: 'nope0' }));
    }
  });

  it('uverbs probe -d: exit 2, the reason naming the devices there are', async () => {
    const r = await uverbs('probe', '-d', 'nope0');
    expect([r.status, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/no uverbs device is called 'nope0'; this kernel lists no uverbs devices/);
  });

  it('uverbs info -d: exit 2, the same reason (one lookup for every command)', async () => {
    const r = await uverbs('info', '-d', 'nope0');
    expect([r.status, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toMatch(/^uverbs info: .*no uverbs device is called 'nope0'; this kernel lists no uverbs devices/);
  });
});

/**
 * The probe's commands, checked against the kernel model for every method
 * and attribute the library knows, and a whole probe over the fake kernel.
 */

import { describe, expect, it } from 'vitest';
import { cEnumInfo } from '../src/abi/c-enum.js';
import * as ids from '../src/abi/ids.js';
import { modelDevice, validateWrite } from '../src/abi/kernel-model.js';
import { UVERBS_METHOD_QUERY_CONTEXT, UVERBS_METHOD_REG_MR } from '../src/abi/methods.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { EINVAL, ENOSPC, EOPNOTSUPP, EPROTONOSUPPORT } from '../src/errno.js';
import { KNOWN_METHODS } from '../src/probe/known-methods.js';
import { attributeProbe, capabilityNames, methodProbe, probe, writeProbe } from '../src/probe/probe.js';
import { FAKE_DEVICE as DEVICE, FakeKernel } from './support/fake-kernel.js';

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
    expect(result.schema).toBe(1);
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
    expect(kernel.calls.every((c) => c.errno !== 0 || c.syscall === 'write' || c.what.startsWith('0/3'))).toBe(true);
  });
});

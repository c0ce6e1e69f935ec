/**
 * `uverbs probe` on a real kernel: every answer checked against what this
 * kernel's own uapi headers declare (the `since` tags the layout
 * conformance test proves against linux-libc-dev 6.1, 6.12 and 7.2), the
 * driver's known gaps, and `rdma res show` unchanged. The probe is saved
 * for the cross-kernel diff (test/probes/).
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseHas, type UapiRelease } from '../../src/abi/layout.js';
import { UVERBS_METHOD_QUERY_PORT_SPEED } from '../../src/abi/methods.js';
import { json } from '../../src/cli/output.js';
import { EOPNOTSUPP, EPROTONOSUPPORT } from '../../src/errno.js';
import { UverbsUnsupportedError } from '../../src/errors.js';
import { type ProbeResult, probe } from '../../src/probe/probe.js';
import { Context } from '../../src/verbs/context.js';
import { Calls, resources, TEST_DEVICE, VM_KERNEL } from './support.js';

const UAPI: Record<string, UapiRelease> = { '6.1': '6.1', '6.12': '6.12', '7': '7.2' };

describe.runIf(TEST_DEVICE)(`uverbs probe on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const siw = name.startsWith('siw');
  const release = UAPI[VM_KERNEL as string] as UapiRelease;
  let result: ProbeResult;

  it('probes without leaving anything behind', () => {
    const before = resources(name);
    result = probe(name);
    expect(resources(name)).toBe(before);
    expect(result.device).toMatchObject({ name, driver: siw ? 'siw' : 'rxe' });
    const out = process.env.UVERBS_TEST_RESULTS;
    if (out) writeFileSync(join(out, `probe-${VM_KERNEL}-${name}.json`), json(result));
  });

  // "supported" is the probe's name for the has-it answer (EINVAL), so that half proves nothing here; what
  // can fail is a third answer (neither has-it nor lacks-it), checked below, and real calls disagreeing with
  // the probe, checked in the next test
  it("every answer is has-it or lacks-it, never a third, and nothing this kernel's headers lack is called supported", () => {
    for (const m of result.methods) {
      if (!m.supported) expect([m.method, m.errno]).toEqual([m.method, 'EPROTONOSUPPORT']);
      expect([m.method, m.how]).not.toEqual([m.method, expect.stringContaining('unexpected')]);
      if (!releaseHas(release, m.since)) expect([m.method, m.supported]).toEqual([m.method, false]);
      for (const a of m.attributes ?? []) {
        if (!a.supported) expect([a.name, a.errno]).toEqual([a.name, 'EPROTONOSUPPORT']);
        if (!releaseHas(release, a.since)) expect([a.name, a.supported]).toEqual([a.name, false]);
        // what the method declares mandatory it knows
        if (a.mandatory) expect([a.name, a.supported]).toEqual([a.name, true]);
      }
    }
  });

  it('real calls agree with the probe: a method or command that ran (or whose handler declined) is supported, one the kernel did not find is not', () => {
    const calls = new Calls();
    const cap = { maxSendWr: 1, maxRecvWr: 1, maxSendSge: 1, maxRecvSge: 1 };
    const work = (ctx: Context) => {
      const pd = ctx.allocPd();
      pd.registerMemory(4096, { localWrite: true });
      ctx.createCq({ cqe: 8 });
      ctx.queryPort(1);
      ctx.queryDevice();
      return pd;
    };
    {
      using ctx = Context.open(name, { trace: calls.trace });
      const pd = work(ctx);
      const cq = ctx.createCq({ cqe: 8 });
      pd.createQp({ type: 'RC', sendCq: cq, recvCq: cq, cap });
      pd.createSrq({ maxWr: 4, maxSge: 1 });
      ctx.queryGidTable();
      // absent before 7.x (EPROTONOSUPPORT), declined by the driver's handler on 7.x (EOPNOTSUPP): both directions
      expect(() => ctx.dispatch.invoke(UVERBS_METHOD_QUERY_PORT_SPEED, { portNum: 1 })).toThrow(UverbsUnsupportedError);
    }
    {
      // every verb above that has a write form, through it (paths.device: QPs and GID queries have none)
      using ctx = Context.open(name, { ioctl: false, trace: calls.trace });
      work(ctx);
    }
    const seen = calls.events.map((e) => {
      const probed =
        e.path === 'ioctl'
          ? result.methods.find((m) => m.method === e.method)?.supported
          : result.writeCommands.find((w) => w.command === e.method)?.supported;
      return { call: e.method, errno: e.errno, probed };
    });
    // every call this test made: ran (0) or declined by its handler (EOPNOTSUPP) means there, EPROTONOSUPPORT not
    const verdict = (errno: number) =>
      errno === 0 || errno === EOPNOTSUPP ? true : errno === EPROTONOSUPPORT ? false : 'other';
    expect(seen).toEqual(seen.map((s) => ({ ...s, probed: verdict(s.errno) })));
    const paths = new Set(calls.events.map((e) => e.path));
    expect(paths).toEqual(new Set(['ioctl', 'write', 'write-ex']));
    // before 7.x, QUERY_PORT_SPEED at least was a call the kernel did not find
    expect(seen.some((s) => s.probed === false)).toBe(VM_KERNEL !== '7');
  });

  it('the methods and attributes each kernel added are there exactly from that kernel on', () => {
    const method = (n: string) => result.methods.find((m) => m.method === n);
    const seven = VM_KERNEL === '7';
    expect(method('UVERBS_METHOD_REG_MR')?.supported).toBe(seven);
    expect(method('UVERBS_METHOD_QUERY_PORT_SPEED')?.supported).toBe(seven);
    expect(method('UVERBS_METHOD_CQ_CREATE')?.supported).toBe(true);
    const buffer = method('UVERBS_METHOD_CQ_CREATE')?.attributes?.filter(
      (a) => a.name.includes('_BUFFER_') || a.name.endsWith('_BUF_UMEM'),
    );
    expect(buffer?.length).toBe(5);
    for (const a of buffer ?? []) expect([a.name, a.supported]).toEqual([a.name, seven]);
    for (const m of [
      'UVERBS_METHOD_GET_CONTEXT',
      'UVERBS_METHOD_QUERY_PORT',
      'UVERBS_METHOD_QP_CREATE',
      'UVERBS_METHOD_ASYNC_EVENT_ALLOC',
    ]) {
      expect([m, method(m)?.supported]).toEqual([m, true]);
    }
    // hardware-only objects: neither software driver has them
    for (const m of [
      'UVERBS_METHOD_DM_ALLOC',
      'UVERBS_METHOD_COUNTERS_CREATE',
      'UVERBS_METHOD_FLOW_ACTION_ESP_CREATE',
    ]) {
      expect([m, method(m)?.supported]).toEqual([m, false]);
    }
  });

  it("the driver's gaps show: siw has no AH and no MW, rxe has both", () => {
    const write = (n: string) => result.writeCommands.find((w) => w.command === n)?.supported;
    expect(write('IB_USER_VERBS_CMD_REG_MR')).toBe(true);
    expect(write('IB_USER_VERBS_EX_CMD_QUERY_DEVICE')).toBe(true);
    expect(write('IB_USER_VERBS_CMD_CREATE_AH')).toBe(!siw);
    expect(write('IB_USER_VERBS_CMD_ALLOC_MW')).toBe(!siw);
    expect(result.methods.find((m) => m.method === 'UVERBS_METHOD_AH_DESTROY')?.supported).toBe(!siw);
    expect(result.objects.find((o) => o.object === 'UVERBS_OBJECT_MW')?.supported).toBe(!siw);
  });
});

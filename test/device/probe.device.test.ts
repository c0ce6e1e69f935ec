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
import { json } from '../../src/cli/output.js';
import { type ProbeResult, probe } from '../../src/probe/probe.js';
import { resources, TEST_DEVICE, VM_KERNEL } from './support.js';

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

  it("every answer is one the model expects, and nothing this kernel's headers lack is called supported", () => {
    for (const m of result.methods) {
      expect([m.method, m.errno]).toEqual([m.method, m.supported ? 'EINVAL' : 'EPROTONOSUPPORT']);
      if (!releaseHas(release, m.since)) expect([m.method, m.supported]).toEqual([m.method, false]);
      for (const a of m.attributes ?? []) {
        expect([a.name, a.errno]).toEqual([a.name, a.supported ? 'EINVAL' : 'EPROTONOSUPPORT']);
        if (!releaseHas(release, a.since)) expect([a.name, a.supported]).toEqual([a.name, false]);
        // what the method declares mandatory it knows
        if (a.mandatory) expect([a.name, a.supported]).toEqual([a.name, true]);
      }
    }
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

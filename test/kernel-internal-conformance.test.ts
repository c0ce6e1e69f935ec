/**
 * src/abi/kernel-internal.ts proven like the uapi tables: C programs
 * generated from the tables, compiled against rdma-core's verbs.h (the
 * values userspace sees, an independent source) and against each kernel
 * series' own include/rdma/ib_verbs.h (Debian's linux-headers-*-common of
 * the release `uverbs vm` boots). The tables follow 7.2; where an older
 * kernel's header differs, the difference is listed here and must be
 * exactly what that header says.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cEnum } from '../src/abi/c-enum.js';
import { ib_qp_state } from '../src/abi/kernel-internal.js';
import type { UapiRelease } from '../src/abi/layout.js';
import type { KernelSeries } from '../src/vm/kernels.js';
import { uapiHeaders } from '../src/vm/uapi-headers.js';
import { kernelSays, mismatches } from './support/conformance.js';
import {
  kernelInternalTables,
  kernelProgram,
  kernelVerbsHeader,
  NOT_IN_VERBS_H,
  type Table,
  verbsProgram,
  verbsSpelling,
} from './support/kernel-internal.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);
const UAPI: Record<KernelSeries, UapiRelease> = { '6.1': '6.1', '6.12': '6.12', '7': '7.2' };
/** Kernel enums use `1 << 31` (IB_SEND_RESERVED_END), as the kernel's own build allows. */
const KERNEL_FLAGS = ['-Wno-shift-overflow'];

/**
 * Where an older kernel's ib_verbs.h differs from the tables (7.2's): 6.1 has
 * no FLUSH / ATOMIC_WRITE completions, so its kernel-consumer opcodes sit two
 * lower; IB_EVENT_DEVICE_SPEED_CHANGE is newer than 6.12; IB_SPEED_XDR newer than 6.1.
 */
const OLDER: Record<KernelSeries, string[]> = {
  '6.1': [
    'IB_EVENT_DEVICE_SPEED_CHANGE: tables say 20, headers say nothing',
    'IB_SPEED_XDR: tables say 256, headers say nothing',
    'IB_WC_ATOMIC_WRITE: tables say 9, headers say nothing',
    'IB_WC_FLUSH: tables say 8, headers say nothing',
    'IB_WC_MASKED_COMP_SWAP: tables say 11, headers say 9',
    'IB_WC_MASKED_FETCH_ADD: tables say 12, headers say 10',
    'IB_WC_REG_MR: tables say 10, headers say 8',
  ],
  '6.12': ['IB_EVENT_DEVICE_SPEED_CHANGE: tables say 20, headers say nothing'],
  '7': [],
};

function againstVerbsH(tables: Map<string, Table>): string[] {
  const { expected, program } = verbsProgram(tables);
  return mismatches(expected, kernelSays(['/usr/include'], program)).map((m) =>
    m.replace('headers say', 'verbs.h says'),
  );
}

function againstKernel(series: KernelSeries, tables: Map<string, Table>): { found: string[]; checked: number } {
  const header = kernelVerbsHeader(series, progress);
  const { expected, program } = kernelProgram(readFileSync(header.path, 'utf8'), tables);
  const said = kernelSays(uapiHeaders(UAPI[series], progress).includeDirs, program, KERNEL_FLAGS);
  process.stderr.write(
    `kernel-internal vs ${header.package} ${header.version}: ${said.size} of ${expected.size} values declared there\n`,
  );
  return { found: mismatches(expected, said).sort(), checked: said.size };
}

describe('the kernel-internal tables', () => {
  const tables = kernelInternalTables();
  const members = [...tables.values()].flatMap((t) => Object.keys(t));

  it('agree with rdma-core’s verbs.h wherever userspace spells the same number', { timeout: 60_000 }, () => {
    const { expected } = verbsProgram(tables);
    process.stderr.write(`kernel-internal vs verbs.h: ${expected.size} values\n`);
    expect(expected.size).toBe(members.length - Object.keys(NOT_IN_VERBS_H).length);
    expect(againstVerbsH(tables)).toEqual([]);
  });

  it('leave out of the verbs.h proof only members listed with a reason', () => {
    expect(tables.size).toBe(17);
    const unmapped = members.filter((m) => verbsSpelling(m) === undefined);
    expect(unmapped.sort()).toEqual(Object.keys(NOT_IN_VERBS_H).sort());
  });

  describe.each(['6.1', '6.12', '7'] as const)('against kernel %s’s own include/rdma/ib_verbs.h', (series) => {
    it('every value, the older kernels’ listed differences exactly', { timeout: 300_000 }, () => {
      const { found, checked } = againstKernel(series, tables);
      // every member is compiled, except those the listed differences say this header lacks
      expect(checked).toBe(members.length - OLDER[series].filter((d) => d.endsWith('headers say nothing')).length);
      expect(found).toEqual(OLDER[series]);
    });
  });
});

describe('the kernel-internal proof itself', () => {
  it('catches a deliberately wrong value (IB_QPS_RTS = 9) in a scratch copy, in both sources', {
    timeout: 300_000,
  }, () => {
    expect(ib_qp_state.IB_QPS_RTS).toBe(3);
    const wrong = new Map(kernelInternalTables());
    wrong.set('ib_qp_state', cEnum('ib_qp_state', 'rdma/ib_verbs.h', { ...ib_qp_state, IB_QPS_RTS: 9 }));
    expect(againstVerbsH(wrong)).toEqual(['IB_QPS_RTS: tables say 9, verbs.h says 3']);
    expect(againstKernel('7', wrong).found).toEqual(['IB_QPS_RTS: tables say 9, headers say 3']);
  });
});

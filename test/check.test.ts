/**
 * `uverbs check` without a device: its command line, its report (text and
 * verdict), the kernel-log and `rdma res` parsers, the seeded generator,
 * the ABI matrix's model predictions, the fuzz's values against every
 * encoder, and the refusal of fault injection on a kernel without it.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compiledMethod, compiledWrite } from '../src/abi/compiled.js';
import { rdma_user_ioctl_defines } from '../src/abi/constants.js';
import { modelDevice, validateIoctl } from '../src/abi/kernel-model.js';
import { METHODS, UVERBS_METHOD_QUERY_PORT } from '../src/abi/methods.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { matrixCommand } from '../src/check/abi-matrix.js';
import { typedRefusal } from '../src/check/fuzz.js';
import {
  type CheckReport,
  checkFailed,
  DmesgWatch,
  FaultInjectionUnavailableError,
  kernelWarnings,
  MATRIX_CASES,
  parseKmsgRecord,
  parseRdmaRes,
  renderCheck,
  requireFaultInjection,
} from '../src/check/index.js';
import { Rng } from '../src/check/rng.js';
import { layoutValue, methodArgs } from '../src/check/values.js';
import { parseCheckArgs } from '../src/cli/check.js';
import { UsageError } from '../src/cli/usage.js';
import { Scratch } from '../src/transport/memory.js';
import { FakeKernel } from './support/fake-kernel.js';

const clean = (): CheckReport => ({
  schema: 1,
  device: 'rxe0',
  kernel: '6.12.0',
  seed: 7,
  parts: [
    { part: 'abi', agreements: 30, disagreements: [], counts: {}, notes: [] },
    { part: 'fuzz', agreements: 900, disagreements: [], counts: { generated: 2000, sent: 900 }, notes: ['seed 7'] },
  ],
  dmesg: { watched: true, warnings: [] },
  resources: { checked: true, before: { pd: 1, cq: 1 }, after: { pd: 1, cq: 1 }, atBaseline: true },
  seconds: 12.5,
});

describe('uverbs check: command line', () => {
  it('takes the options of the brief', () => {
    expect(
      parseCheckArgs([
        '-d',
        'siw0',
        '--json',
        '--seed',
        '42',
        '--iterations',
        '10',
        '--seconds',
        '5',
        '--fault-injection',
        '-q',
      ]),
    ).toEqual({
      options: { device: 'siw0', seed: 42, iterations: 10, budgetMs: 5000, faultInjection: true },
      json: true,
      quiet: true,
      help: false,
    });
    expect(parseCheckArgs([]).options).toEqual({ faultInjection: false });
    const random = parseCheckArgs(['--seed', 'random']).options.seed as number;
    expect(Number.isSafeInteger(random)).toBe(true);
  });

  it.each([
    [['--seed=-1'], /--seed must be a whole number/],
    [['--seed', '1.5'], /--seed must be a whole number/],
    [['--iterations', '0'], /--iterations must be a whole number from 1/],
    [['--seconds', 'ten'], /--seconds must be a whole number/],
  ])('refuses %j with a UsageError naming the option', (argv, message) => {
    expect(() => parseCheckArgs(argv)).toThrow(UsageError);
    expect(() => parseCheckArgs(argv)).toThrow(message);
  });

  it('an unknown option is a parse error (exit 2 in main)', () => {
    expect(() => parseCheckArgs(['--nope'])).toThrow(
      expect.objectContaining({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }),
    );
  });
});

describe('uverbs check: report', () => {
  it('a clean run says so and does not fail', () => {
    const text = renderCheck(clean());
    expect(checkFailed(clean())).toBe(false);
    expect(text).toContain('abi: 30 agree, 0 disagree');
    expect(text).toContain('fuzz: 900 agree, 0 disagree (generated 2000, sent 900)');
    expect(text).toContain('dmesg: no kernel warnings during the run');
    expect(text).toContain('rdma res: back at baseline (pd 1 cq 1)');
    expect(text).toMatch(/^clean: 930 agreements, 0 disagreements, 0 kernel warnings/m);
  });

  it('a disagreement is shown with its bytes and both errnos, and fails the run', () => {
    const r = clean();
    r.parts[0]?.disagreements.push({
      case: 'QUERY_PORT: reserved1 nonzero',
      kind: 'ioctl',
      bytes: '2000010002000000',
      predicted: 93,
      actual: 22,
    });
    const text = renderCheck(r);
    expect(checkFailed(r)).toBe(true);
    expect(text).toContain(
      'DISAGREE QUERY_PORT: reserved1 nonzero: predicted EPROTONOSUPPORT (93), kernel EINVAL (22)',
    );
    expect(text).toContain('ioctl bytes 2000010002000000');
    expect(text).toMatch(/^FAIL: 930 agreements, 1 disagreements/m);
  });

  it('a kernel warning fails the run; an unread kernel log is said; resources off baseline fail it', () => {
    const warned = {
      ...clean(),
      dmesg: { watched: true, warnings: [{ seq: 9, usec: 1_500_000, message: 'WARNING: CPU: 0 PID: 1 at x' }] },
    };
    expect(checkFailed(warned)).toBe(true);
    expect(renderCheck(warned)).toContain('[1.500000] WARNING: CPU: 0 PID: 1 at x');
    const blind = { ...clean(), dmesg: { watched: false, reason: 'cannot read /dev/kmsg (EPERM)', warnings: [] } };
    expect(renderCheck(blind)).toContain('dmesg: NOT WATCHED: cannot read /dev/kmsg (EPERM)');
    const leaked = { ...clean(), resources: { checked: true, before: { pd: 1 }, after: { pd: 2 }, atBaseline: false } };
    expect(checkFailed(leaked)).toBe(true);
    expect(renderCheck(leaked)).toContain('rdma res: NOT at baseline: before pd 1, after pd 2');
  });

  it('renders the fault-injection table', () => {
    const r = {
      ...clean(),
      faults: [
        {
          verb: 'PD alloc',
          tried: 3,
          injected: 2,
          surfaced: { 'UverbsError ENOMEM (write IB_USER_VERBS_CMD_ALLOC_PD)': 2 },
        },
      ],
    };
    expect(renderCheck(r)).toMatch(/PD alloc\s+3\s+2 {2}UverbsError ENOMEM \(write IB_USER_VERBS_CMD_ALLOC_PD\) x2/);
  });
});

describe('uverbs check: kernel log and rdma res', () => {
  it('parses /dev/kmsg records and picks out the kernel’s warnings', () => {
    expect(
      parseKmsgRecord('4,1234,5678901,-;WARNING: CPU: 1 PID: 2 at drivers/infiniband/core/x.c:1\n SUBSYSTEM=x'),
    ).toEqual({
      seq: 1234,
      usec: 5678901,
      message: 'WARNING: CPU: 1 PID: 2 at drivers/infiniband/core/x.c:1',
    });
    expect(parseKmsgRecord('garbage')).toBeUndefined();
    const records = [
      '6,1,1,-;rdma_rxe: loaded',
      '3,2,2,-;BUG: KASAN: slab-use-after-free in rxe_qp_do_cleanup',
      '4,3,3,-;WARNING: possible circular locking dependency detected',
      '4,4,4,-;refcount_t: underflow; use-after-free.',
      '4,5,5,-;UBSAN: shift-out-of-bounds in drivers/infiniband/sw/rxe/rxe_qp.c',
      '4,6,6,-;WARNING: inconsistent lock state',
      '1,7,7,-;Oops: general protection fault',
      '6,8,8,-;siw: device registered',
    ];
    expect(kernelWarnings(records).map((w) => w.seq)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('an unreadable kernel log is reported with the reason, not ignored', () => {
    const r = new DmesgWatch('/nonexistent/kmsg').finish();
    expect(r).toEqual({
      watched: false,
      reason: expect.stringContaining('cannot open /nonexistent/kmsg (ENOENT)'),
      warnings: [],
    });
  });

  it('reads a device’s counts from rdma res show', () => {
    const out =
      '0: rxe0: pd 1 cq 2 qp 1 cm_id 0 mr 0 ctx 0 srq 0 \n1: siw0: pd 0 cq 0 qp 0 cm_id 0 mr 0 ctx 0 srq 0 \n';
    expect(parseRdmaRes(out, 'rxe0')).toEqual({ pd: 1, cq: 2, qp: 1, cm_id: 0, mr: 0, ctx: 0, srq: 0 });
    expect(parseRdmaRes(out, 'siw0')?.pd).toBe(0);
    expect(parseRdmaRes(out, 'rxe1')).toBeUndefined();
  });
});

describe('uverbs check: fault injection needs the debug kernel', () => {
  it('names what is missing and points at uverbs vm --kernel debug', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uverbs-check-'));
    writeFileSync(join(dir, 'fail-nth'), '0');
    const missing = () => requireFaultInjection({ failslab: join(dir, 'failslab'), failNth: join(dir, 'fail-nth') });
    expect(missing).toThrow(FaultInjectionUnavailableError);
    expect(missing).toThrow(/needs .*failslab.*'uverbs vm --kernel debug'/);
    try {
      missing();
    } catch (error) {
      expect((error as FaultInjectionUnavailableError).missing).toEqual([join(dir, 'failslab')]);
      expect((error as FaultInjectionUnavailableError).code).toBe('ERR_UVERBS_FAULT_INJECTION_UNAVAILABLE');
    }
    expect(() => requireFaultInjection({ failslab: dir, failNth: join(dir, 'fail-nth') })).not.toThrow();
  });
});

describe('uverbs check: the matrix and the fuzz’s values', () => {
  it('the model predicts every matrix case’s documented errno', () => {
    const scratch = new Scratch(new FakeKernel());
    const model = modelDevice(1, [UVERBS_METHOD_QUERY_PORT], [], { readUser: () => undefined });
    const seen = MATRIX_CASES.map((c) => [
      c.name,
      validateIoctl(model, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, matrixCommand(c, 1, scratch).bytes),
    ]);
    expect(seen).toEqual(MATRIX_CASES.map((c) => [c.name, c.expected]));
  });

  it('the generator repeats for a seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 8 }, () => r.u32());
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
    const r = new Rng(3);
    for (let i = 0; i < 1000; i++) {
      const n = r.int(-3, 5);
      expect(n >= -3 && n <= 5 && Number.isInteger(n)).toBe(true);
    }
  });

  it('every encoder takes the fuzz’s values or refuses them with a typed argument error', () => {
    const scratch = new Scratch(new FakeKernel(), 64 * 1024);
    const rng = new Rng(20261124);
    let encoded = 0;
    for (let i = 0; i < 20; i++) {
      for (const m of METHODS) {
        scratch.reset();
        try {
          compiledMethod(m).encode(methodArgs(rng, m), undefined, undefined, 1, scratch);
          encoded++;
        } catch (error) {
          if (!typedRefusal(error)) throw new Error(`${m.name}: ${(error as Error).message}`, { cause: error });
        }
      }
      for (const w of Object.values(WRITE_COMMANDS)) {
        scratch.reset();
        const request = layoutValue(rng, w.request);
        delete request.response;
        try {
          compiledWrite(w).encode(request as never, scratch, {});
          encoded++;
        } catch (error) {
          if (!typedRefusal(error)) throw new Error(`${w.name}: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    // most are well formed enough to encode: the fuzz is not all refusals
    expect(encoded).toBeGreaterThan((METHODS.length + Object.keys(WRITE_COMMANDS).length) * 10);
  });
});

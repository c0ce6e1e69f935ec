/**
 * The issue-14 program (examples/tour.mjs), run as a user runs it: `node
 * examples/tour.mjs DEVICE`, importing the package by its name. Each step
 * it prints is one test here: passed, failed with the program's error, or
 * skipped with the kernel's answer (the program's UverbsUnsupportedError),
 * so the counts show what this kernel lacks.
 *
 * The program connects two RC QPs and moves data, which needs the library's
 * datapath: on rxe by hand, on siw (iWARP, whose QPs reach RTS only that way)
 * through rdma_cm on the device's own address (run with `uverbs vm --devs siw`).
 */

import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { Context } from '../../src/verbs/context.js';
import { CONNECT_DEFAULTS } from '../../src/verbs/queue-pair.js';
import {
  deviceKind,
  type Feature,
  GUEST_ADDR,
  handConnected,
  libraryDatapath,
  MUST_HAVE,
  TEST_DEVICE,
  VM_KERNEL,
} from './support.js';

/**
 * The program's steps, and the feature each needs that a kernel may lack:
 * a step may skip only on such a feature, and only where this device need
 * not have it (MUST_HAVE); a skip anywhere else fails, so a regression
 * cannot hide as a skip.
 */
const STEPS: Readonly<Record<string, Feature | undefined>> = {
  connect: undefined,
  'register SharedArrayBuffer': undefined,
  'RDMA WRITE into it, RDMA READ it back': undefined,
  'bind a type 2 memory window': 'ALLOC_MW type 2',
  'RDMA WRITE through the window': 'ALLOC_MW type 2',
  'SEND with invalidate': 'ALLOC_MW type 2',
};

interface StepLine {
  step: string;
  ok?: boolean;
  skipped?: string;
  error?: string;
  [field: string]: unknown;
}

// examples/tour.mjs connects its QPs by hand on rxe, through rdma_cm on siw
const viaCm = TEST_DEVICE !== undefined && deviceKind() === 'siw' && libraryDatapath();
const datapath = handConnected() || viaCm;
const NOT_HERE = `${TEST_DEVICE}: the library has no datapath for it, or its QPs connect neither by hand nor through the CM here`;

describe.runIf(TEST_DEVICE)(`examples/tour.mjs on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  let lines: StepLine[] = [];
  let status: number | null = null;
  let stderr = '';

  beforeAll(() => {
    if (!datapath) return;
    const args = viaCm ? [TEST_DEVICE as string, GUEST_ADDR] : [TEST_DEVICE as string];
    const r = spawnSync(process.execPath, ['examples/tour.mjs', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    status = r.status;
    stderr = r.stderr;
    lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as StepLine);
  }, 90_000);

  /** Fails when a skip of `name` is not allowed here. */
  const mayskip = (name: string, why: string) => {
    const feature = STEPS[name];
    const must = MUST_HAVE[deviceKind()][VM_KERNEL as keyof (typeof MUST_HAVE)['rxe']] ?? [];
    if (feature === undefined || must.includes(feature))
      expect.fail(`"${name}" skipped (${why}), but ${TEST_DEVICE} on ${VM_KERNEL} must do it`);
  };

  it.for(Object.keys(STEPS))('%s', (name, test) => {
    if (!datapath) {
      test.skip(NOT_HERE);
      return;
    }
    const line = lines.find((l) => l.step === name);
    // a step the program never reached: an earlier one failed or skipped
    if (line === undefined) {
      const before = lines.find((l) => l.skipped !== undefined);
      if (before !== undefined) {
        mayskip(name, `needs "${before.step}": ${before.skipped}`);
        test.skip(`needs "${before.step}", skipped: ${before.skipped}`);
      }
      expect.fail(
        `the program never reached "${name}" (exit ${status}); it printed ${JSON.stringify(lines)}\n${stderr}`,
      );
    }
    if (line.skipped !== undefined) {
      mayskip(name, line.skipped);
      test.skip(line.skipped);
    }
    expect(line, line.error).toMatchObject({ ok: true });
  });

  it('exits 0 exactly when no step failed', (test) => {
    if (!datapath) test.skip(NOT_HERE);
    expect(status, stderr).toBe(lines.some((l) => l.ok === false) ? 1 : 0);
  });

  if (viaCm)
    it('connects through rdma_cm on the device’s own address (iWARP)', () => {
      const connect = lines.find((l) => l.step === 'connect');
      expect(connect, stderr).toMatchObject({ ok: true, via: 'rdma_cm', address: GUEST_ADDR });
      expect(connect?.port).toBeGreaterThan(0);
    });

  // a QP connected by hand sets these: registered where the tour connects by hand (not siw)
  if (!viaCm)
    it('reads back every non-default connect() parameter through query()', (test) => {
      if (!datapath) test.skip(NOT_HERE);
      const connect = lines.find((l) => l.step === 'connect');
      // nine parameters, none of them connect()'s default (ConnectOptions: the depths default to the device's, at most 16)
      const device = (() => {
        using ctx = Context.open(TEST_DEVICE as string);
        return ctx.queryDevice();
      })();
      const D = CONNECT_DEFAULTS;
      const defaults: Record<string, number> = {
        timeout: D.timeout,
        retryCnt: D.retryCnt,
        rnrRetry: D.rnrRetry,
        minRnrTimer: D.minRnrTimer,
        maxRdAtomic: Math.min(device.maxQpInitRdAtom, 16),
        maxDestRdAtomic: Math.min(device.maxQpRdAtom, 16),
        pathMtu: D.pathMtu,
        trafficClass: D.trafficClass,
        flowLabel: D.flowLabel,
      };
      const set = connect?.set as Record<string, number>;
      expect(Object.keys(set).sort()).toEqual(Object.keys(defaults).sort());
      for (const [k, v] of Object.entries(set)) expect(v, k).not.toBe(defaults[k]);
      expect(connect?.readBack).toEqual(set);
    });
});

/**
 * The addon loader's start-up cost: loading the addon asks no diagnostic
 * report of Node (`process.report.getReport()`, milliseconds on a host and
 * tens under emulation) when a local build exists, and naming the prebuilt
 * binary reads the C library from /usr/bin/ldd where it says.
 */

import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { native, nativeCandidates } from '../src/transport/native.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('native(): the addon loader', () => {
  it.skipIf(!existsSync('build/Release/uverbs.node'))('loads the local build without a diagnostic report', () => {
    const report = vi.spyOn(process.report, 'getReport');
    expect(native().layout.wcSize).toBe(48);
    expect(report).not.toHaveBeenCalled();
  });

  const ldd = existsSync('/usr/bin/ldd') ? readFileSync('/usr/bin/ldd', 'latin1') : '';
  it.skipIf(!ldd.includes('GNU C Library'))('names the glibc prebuild from /usr/bin/ldd, without a report', () => {
    const report = vi.spyOn(process.report, 'getReport');
    const [, shipped] = nativeCandidates('/nowhere');
    expect(shipped).toBe(`/nowhere/prebuilds/linux-${process.arch}/node.napi.glibc.node`);
    expect(report).not.toHaveBeenCalled();
  });
});

/**
 * The inspection commands on a real device: `uverbs devices`, `info`,
 * `probe`: JSON on stdout with a schema, exit statuses 0 / 1 / 2.
 */

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TEST_DEVICE, VM_KERNEL } from './support.js';

function uverbs(...args: string[]) {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.runIf(TEST_DEVICE)(`uverbs devices / info / probe on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;
  const driver = name.replace(/\d+$/, '');

  it('devices --json names the device and the driver the kernel reports', () => {
    const r = uverbs('devices', '--json');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.schema).toBe(1);
    expect(out.devices).toContainEqual(
      expect.objectContaining({ name, driver, path: expect.stringMatching(/uverbs\d+$/) }),
    );
    expect(uverbs('devices').stdout).toMatch(new RegExp(`\\s${name}\\s+${driver}\\s`));
  });

  it('info --json: attributes, ports, GIDs and the path each query took', () => {
    const r = uverbs('info', '-d', name, '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.schema).toBe(2);
    expect(info.device).toMatchObject({ name, driver });
    expect(Number(info.attributes.maxQp)).toBeGreaterThan(0);
    expect(info.ports[0]).toMatchObject({ port: 1, state: 'ACTIVE' });
    expect(info.gids.length).toBeGreaterThanOrEqual(1);
    expect(info.paths).toMatchObject({ queryDevice: 'write-ex', queryPort: 'ioctl', queryGidTable: 'ioctl' });
    expect(uverbs('info', '-d', name, '-v').stdout).toContain('maxCqe');
  });

  it('bad input: exit 2 with the reason on stderr, nothing on stdout', () => {
    for (const args of [['info', '-d', 'nosuch0'], ['probe', '--bogus'], ['diff', 'one.json'], ['nosuchcommand']]) {
      const r = uverbs(...args);
      expect([args.join(' '), r.status, r.stdout]).toEqual([args.join(' '), 2, '']);
      expect(r.stderr.length).toBeGreaterThan(0);
    }
  });
});

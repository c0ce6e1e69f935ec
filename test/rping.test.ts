/**
 * `uverbs rping` without a device: rping's data pattern byte for byte (as
 * rping.c's client fills its buffer), and every bad option refused with
 * exit status 2 before anything is opened. The host has no rdma_cm, so a
 * run that got as far as a syscall would end 1 (ENOENT), never 2.
 */

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RPING_MAX_SIZE, RPING_MIN_SIZE, rping, rpingPayload } from '../src/cm/rping.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

describe('rping data pattern', () => {
  it("ping 0 of 64 bytes: the header, letters from 'A' through '`' and on, the last byte NUL", () => {
    const b = rpingPayload(0, 64);
    expect(b.length).toBe(64);
    expect(text(b)).toBe('rdma-ping-0: ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqr\0');
  });

  it("each ping starts one letter later, wrapping from 'z' to 'A' (58 letters)", () => {
    expect(text(rpingPayload(1, 23))).toBe('rdma-ping-1: BCDEFGHIJ\0');
    expect(text(rpingPayload(57, 23))).toBe('rdma-ping-57: zABCDEFG\0');
    expect(text(rpingPayload(58, 23))).toBe('rdma-ping-58: ABCDEFGH\0');
    // the letters themselves wrap inside one ping too
    const long = text(rpingPayload(0, 13 + 58 + 3));
    expect(long.slice(13 + 56)).toBe('yzAB\0');
  });

  it('the smallest size holds the longest header', () => {
    expect(text(rpingPayload(2147483647, RPING_MIN_SIZE))).toBe('rdma-ping-2147483647: \0');
  });
});

describe('uverbs rping options', () => {
  const bad: [string[], string][] = [
    [['-c', '-a', '10.0.2.15', '-S', '22'], "uverbs rping: -S: Invalid size '22' (valid range is 23 to 65535)\n"],
    [['-c', '-a', '10.0.2.15', '-S', '65536'], "uverbs rping: -S: Invalid size '65536' (valid range is 23 to 65535)\n"],
    [['-c', '-a', '10.0.2.15', '-S', '64k'], "uverbs rping: -S: Invalid size '64k' (valid range is 23 to 65535)\n"],
    [['-c', '-a', '10.0.2.15', '-C-1'], "uverbs rping: -C: Invalid count '-1' (valid range is 0 to 2147483647)\n"],
    [['-c', '-a', '10.0.2.15', '-p', '65536'], "uverbs rping: -p: Invalid port '65536' (valid range is 0 to 65535)\n"],
    [['-c'], 'uverbs rping: the client needs the server address (-a ADDR)\n'],
    [['-c', '-a', 'nowhere'], "uverbs rping: -a: 'nowhere' is not an IPv4 or IPv6 address\n"],
  ];
  for (const [args, message] of bad)
    it(`${args.join(' ')}: exit 2, ${message.trim()}`, () => {
      const r = cli('rping', ...args);
      expect(r.stderr).toBe(message);
      expect(r.status).toBe(2);
    });

  it('neither or both of -s and -c, or an unknown option: exit 2', () => {
    for (const args of [[], ['-s', '-c'], ['-s', '-x'], ['-s', 'extra']]) {
      const r = cli('rping', ...args);
      expect(r.status, r.stderr).toBe(2);
    }
  });

  it('good options get as far as opening rdma_cm (absent on the host): exit 1, the errno named', () => {
    const r = cli('rping', '-c', '-a', '10.0.2.15', '-C', '1', '-q');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('EventChannel.open ENOENT');
  });

  it('--help: exit 0, the options listed', () => {
    const r = cli('rping', '--help');
    expect(r.status).toBe(0);
    for (const o of ['-s', '-c', '-a ADDR', '-p PORT', '-C COUNT', '-S SIZE', '-v', '-V', '--json'])
      expect(r.stdout).toContain(`  ${o}`);
  });

  it('the library refuses bad sizes before opening anything (RangeError, not ENOENT)', async () => {
    await expect(rping({ role: 'client', address: '10.0.2.15', size: RPING_MIN_SIZE - 1 })).rejects.toThrow(RangeError);
    await expect(rping({ role: 'client', address: '10.0.2.15', size: RPING_MAX_SIZE + 1 })).rejects.toThrow(RangeError);
    await expect(rping({ role: 'client' })).rejects.toThrow(TypeError);
  });
});

describe('uverbs pingpong --cm options', () => {
  it('-d / -g with --cm, --bind without it, a SERVER that is not an address: exit 2', () => {
    expect(cli('pingpong', '--cm', '-d', 'rxe0').stderr).toContain('-d, -i and -g do not apply');
    expect(cli('pingpong', '--bind', '10.0.2.15').stderr).toContain('--bind is for --cm only');
    const r = cli('pingpong', '--cm', 'server.example');
    expect(r.stderr).toContain("SERVER 'server.example' is not an IPv4 or IPv6 address");
    expect(r.status).toBe(2);
  });

  it('--help names rdma_server / rdma_client', () => {
    expect(cli('pingpong', '--help').stdout).toContain("'uverbs pingpong --cm ADDR' with 'rdma_server'");
  });
});

describe('rping error lines', () => {
  it("rdma_connect's refusal in perror's words, as rping prints it", async () => {
    const { perrorText } = await import('../src/cm/rping.js');
    expect(perrorText(111)).toBe('Connection refused');
    // libuv's wording, which is glibc's for the refusal but not for every errno (99: 'Address not available')
    expect(perrorText(99)).toBe('Address not available');
  });
});

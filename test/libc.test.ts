/**
 * The koffi shim against the real libc of this machine: errno comes back as
 * -errno, memory comes only from mmap, and an ioctl on a file that is not a
 * uverbs device answers ENOTTY (the "no ioctl framework" answer).
 */

import { describe, expect, it } from 'vitest';
import { O_CLOEXEC, O_RDWR } from '../ioctl/index.js';
import { rdma_user_ioctl_defines } from '../src/abi/constants.js';
import { ENOENT, ENOTTY } from '../src/errno.js';
import { Scratch, UserMemory } from '../src/transport/memory.js';
import { libcSys } from '../src/transport/sys.js';

describe('libc shim', () => {
  const sys = libcSys();

  it('open of a missing path is -ENOENT', () => {
    expect(sys.open('/nonexistent/uverbs0', O_RDWR | O_CLOEXEC)).toBe(-ENOENT);
  });

  it('RDMA_VERBS_IOCTL on /dev/null is -ENOTTY; write and close work', () => {
    const fd = sys.open('/dev/null', O_RDWR | O_CLOEXEC);
    expect(fd).toBeGreaterThanOrEqual(0);
    using mem = UserMemory.allocate(sys, 64);
    expect(sys.ioctl(fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, mem.address)).toBe(-ENOTTY);
    expect(sys.write(fd, mem.address, 64)).toBe(64);
    expect(sys.close(fd)).toBe(0);
  });

  it('mmap gives page-aligned, zeroed, writable memory that munmap releases', () => {
    const mem = UserMemory.allocate(sys, 100);
    expect(mem.length).toBe(4096);
    expect(mem.address % 4096n).toBe(0n);
    expect(mem.bytes.every((b) => b === 0)).toBe(true);
    mem.bytes[4095] = 7;
    expect(mem.bytes[4095]).toBe(7);
    mem.free();
    expect(mem.freed).toBe(true);
    expect(() => mem.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
  });

  it('a freed scratch arena refuses further use with a typed error', () => {
    const scratch = new Scratch(sys);
    expect(scratch.take(16).bytes.byteLength).toBe(16);
    scratch.free();
    expect(() => scratch.take(16)).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
  });
});

/**
 * The transport shim: libc's open/close/ioctl/write/read/poll, bound with
 * koffi, and nothing else.
 *
 * Conventions, kept uniform so callers never look at errno separately:
 * - every call returns a non-negative result or `-errno`;
 * - memory is named by address (`bigint`), and any bigint is taken as one:
 *   so this module is internal to the library, whose only addresses are
 *   the ones its own mappings returned (src/transport/sys.ts, src/transport/memory.ts). No
 *   caller number ever becomes a pointer. Memory itself is mapped by the
 *   native addon, which alone can take a view back from JS (native/addon.c).
 *
 * Prototypes are fixed, never variadic: koffi's variadic `ioctl` needs a
 * type/value pair at every call, and `open`'s mode is simply passed as 0.
 */

import koffi from 'koffi';

/** The system calls the library makes through libc; src/transport/sys.ts adds memory to them. */
export interface Syscalls {
  /** open(2): fd or -errno. */
  open(path: string, flags: number): number;
  /** close(2): 0 or -errno. */
  close(fd: number): number;
  /** ioctl(2) with a pointer argument: result or -errno. */
  ioctl(fd: number, request: number, arg: bigint): number;
  /** write(2): bytes written or -errno. */
  write(fd: number, address: bigint, length: number): number;
  /** read(2): bytes read or -errno. */
  read(fd: number, address: bigint, length: number): number;
  /** poll(2) over a `struct pollfd[]` at `address`: ready count or -errno. */
  poll(address: bigint, count: number, timeoutMs: number): number;
}

/** Linux flag values used with this shim (asm-generic/fcntl.h, poll.h). */
export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const POLLIN = 0x1;

let bound: Syscalls | undefined;

/** The real libc, loaded on first use (so hosts without it can still import the library). */
export function libc(): Syscalls {
  bound ??= bindLibc();
  return bound;
}

function bindLibc(): Syscalls {
  const lib = koffi.load('libc.so.6');
  const open = lib.func('int open(const char *path, int flags, uint32_t mode)');
  const close = lib.func('int close(int fd)');
  const ioctl = lib.func('int ioctl(int fd, unsigned long request, uint64_t arg)');
  const write = lib.func('int64_t write(int fd, uint64_t buf, size_t count)');
  const read = lib.func('int64_t read(int fd, uint64_t buf, size_t count)');
  const poll = lib.func('int poll(uint64_t fds, uint64_t nfds, int timeout)');

  /** errno is read immediately after the call, before anything else can run. */
  const checked = (result: number | bigint): number => {
    const r = Number(result);
    return r < 0 ? -koffi.errno() : r;
  };

  return {
    open: (path, flags) => checked(open(path, flags, 0)),
    close: (fd) => checked(close(fd)),
    ioctl: (fd, request, arg) => checked(ioctl(fd, request, arg)),
    write: (fd, address, length) => checked(write(fd, address, length)),
    read: (fd, address, length) => checked(read(fd, address, length)),
    poll: (address, count, timeoutMs) => checked(poll(address, BigInt(count), timeoutMs)),
  };
}

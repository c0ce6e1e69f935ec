/**
 * errno numbers the library gives meaning to, and their names.
 *
 * Linux x86-64/generic values (asm-generic/errno-base.h, asm-generic/errno.h);
 * the names for every other errno come from Node (`util.getSystemErrorName`).
 */

import { getSystemErrorName } from 'node:util';

export const EPERM = 1;
export const ENOENT = 2;
export const EINTR = 4;
export const EIO = 5;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOTTY = 25;
export const ENOSPC = 28;
export const ENOSYS = 38;
export const ETIMEDOUT = 110;
export const EPROTO = 71;
export const ENOTUNIQ = 76;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;

/**
 * `'EOPNOTSUPP'` for 95 (libuv spells it ENOTSUP; the kernel and every RDMA
 * document say EOPNOTSUPP); `'E<n>'` for a number Node does not know.
 */
export function errnoName(errno: number): string {
  if (Math.abs(errno) === EOPNOTSUPP) return 'EOPNOTSUPP';
  try {
    return getSystemErrorName(-Math.abs(errno));
  } catch {
    return `E${errno}`;
  }
}

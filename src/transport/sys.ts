/**
 * What the library needs from the operating system: libc's system calls
 * (the koffi shim in ioctl/) and memory it can show both to the kernel and
 * to JavaScript (the native addon). Tests inject a fake kernel in its place
 * (`Context.open(dev, { sys })`).
 *
 * Memory comes only from the addon because only the addon can keep the
 * promise that no JavaScript view outlives the memory it shows: it detaches
 * the ArrayBuffer it handed out, and keeps the address range reserved until
 * every ArrayBuffer over it, a `transfer()`ed one included, is collected
 * (native/addon.c, "mappings"). Internal: a `Sys` takes any bigint as an
 * address, so it is not exported from the package.
 */

import { markAsUntransferable } from 'node:worker_threads';
import { libc, type Syscalls } from '../../ioctl/index.js';
import { type CallPath, UverbsError } from '../errors.js';
import { type NativeHandle, native } from './native.js';

/** Memory the library mapped: the address the kernel sees and the one ArrayBuffer JS sees, always together. */
export interface Mapping {
  readonly address: bigint;
  readonly length: number;
  /** Detached by `unmap()`: every view over it then has length 0. */
  readonly buffer: ArrayBuffer;
  /** Releases the memory; idempotent. */
  unmap(): void;
}

export interface Sys extends Syscalls {
  /** Zero-filled, page-aligned private memory; `length` a positive multiple of the page size. */
  mapAnonymous(length: number): Mapping;
}

/**
 * A mapping the addon made, as JS holds it. The buffer is marked
 * untransferable: postMessage and structuredClone copy it (Node 20) or
 * refuse (Node 22) instead of moving the memory to another thread. (A
 * buffer made by `transfer()` is a new, unmarked one that can move; the
 * addon keeps the range reserved for it, see native/addon.c.)
 */
export function nativeMapping([handle, buffer, address]: [NativeHandle, ArrayBuffer, bigint]): Mapping & {
  readonly handle: NativeHandle;
} {
  markAsUntransferable(buffer);
  return { handle, buffer, address, length: buffer.byteLength, unmap: () => native().unmap(handle) };
}

/** The addon's error for a failed system call, as the library's typed error. */
export function nativeSyscallError(error: unknown, object: string, method: string, path: CallPath = 'mmap'): unknown {
  const { errno, syscall } = error as { errno?: unknown; syscall?: unknown };
  if (typeof errno !== 'number' || typeof syscall !== 'string') return error;
  return new UverbsError({ errno, syscall, object, method, path });
}

/**
 * Calls `callback(status)` once, from the event loop, when `fd` is readable
 * (status 0) or polling failed (a negative errno); `cancel()` stops it
 * without a call. The addon polls its own duplicate of the fd, so closing
 * `fd` while a watch is pending is safe (libuv aborts the process when a
 * watched fd disappears), though owners cancel first anyway. A failure to
 * start is a `UverbsError`.
 */
export function watchReadable(fd: number, owner: string, callback: (status: number) => void): { cancel(): void } {
  let watch: NativeHandle;
  try {
    watch = native().waitReadable(fd, callback);
  } catch (error) {
    throw nativeSyscallError(error, owner, 'wait readable', 'ioctl');
  }
  return { cancel: () => native().cancelWait(watch) };
}

let real: Sys | undefined;

/** The real system: libc through koffi, memory through the addon. */
export function libcSys(): Sys {
  real ??= {
    ...libc(),
    mapAnonymous(length) {
      try {
        return nativeMapping(native().mapAnonymous(length));
      } catch (error) {
        throw nativeSyscallError(error, 'memory', `${length} bytes`);
      }
    },
  };
  return real;
}

/**
 * A caller's SharedArrayBuffer range, held by the addon until `unpin()`:
 * the address is the addon's lookup of the view's first byte, never a JS
 * number. A view over an ArrayBuffer is refused by the addon as well.
 */
export interface Pin {
  readonly address: bigint;
  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly length: number;
  unpin(): void;
}

export function pinShared(view: ArrayBufferView): Pin {
  const pinned = native().pinShared(view);
  // indexed, not destructured: nothing a caller can patch (the array iterator) runs once the pin is held
  const handle = pinned[0];
  return {
    address: pinned[4],
    buffer: pinned[1],
    byteOffset: pinned[2],
    length: pinned[3],
    unpin: () => native().unpin(handle),
  };
}

/** A regular file's bytes mapped MAP_SHARED by the addon; a failed fstat/mmap is a `UverbsError`. */
export function mapFile(fd: number, offset: bigint, length: number, writable: boolean): Mapping {
  try {
    return nativeMapping(native().mapFile(fd, offset, length, writable));
  } catch (error) {
    throw nativeSyscallError(error, 'memory', `file ${length} bytes`);
  }
}

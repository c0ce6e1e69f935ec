/**
 * A protection domain. There is no ioctl to allocate one: the legacy
 * IB_USER_VERBS_CMD_ALLOC_PD write serves every kernel; destruction goes
 * through UVERBS_METHOD_PD_DESTROY, falling back to DEALLOC_PD.
 */

import { UVERBS_METHOD_PD_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { uhwFor } from '../providers/index.js';
import type { SharedMemorySource } from '../transport/memory.js';
import { AddressHandle } from './address-handle.js';
import { Context } from './context.js';
import { KernelObject } from './kernel-object.js';
import { type FileRegistration, type MemoryAccessFlags, MemoryRegion } from './memory-region.js';
import { MemoryWindow } from './memory-window.js';
import { type AddressVector, QueuePair, type QueuePairOptions } from './queue-pair.js';
import { SharedReceiveQueue, type SharedReceiveQueueOptions } from './shared-receive-queue.js';

export class ProtectionDomain extends KernelObject {
  readonly context: Context;
  /** The kernel's handle for this PD. */
  readonly handle: number;

  private constructor(context: Context, handle: number) {
    super(context);
    this.context = context;
    this.handle = handle;
  }

  /** @internal use `Context.allocPd()` */
  static allocate(context: Context): ProtectionDomain {
    KernelObject.checked(context, Context, 'context');
    const r = context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_ALLOC_PD,
      {},
      uhwFor(context.provider, 'allocPd'),
    );
    return new ProtectionDomain(context, r.response?.pd_handle as number);
  }

  get description(): string {
    return `ProtectionDomain ${this.handle}`;
  }

  /**
   * Registers `length` bytes of fresh, page-aligned, zeroed memory that the
   * library owns and keeps mapped for as long as the MR is registered
   * (`mr.bytes`). A failed mmap (too large) is a `UverbsError` ENOMEM,
   * syscall 'mmap'.
   */
  registerMemory(length: number, access?: MemoryAccessFlags): MemoryRegion;
  /**
   * Registers the caller's own memory in place, no copy: a
   * SharedArrayBuffer, or the byte range of a TypedArray, DataView or
   * Buffer over one. The buffer is held (kept alive) until the MR closes;
   * a SharedArrayBuffer can never be detached or transferred, so the memory
   * the kernel writes into stays the caller's. `mr.bytes` is a view over the
   * registered range. Refused with a typed error before any syscall: an
   * ArrayBuffer or a view over one (a plain `Buffer` included: it can be
   * detached or transferred while the kernel writes into it, and N-API
   * cannot prevent that), a growable SharedArrayBuffer, an empty range, and
   * any call on a Worker thread (a Worker that ends drops its hold while the
   * registration outlives it).
   */
  registerMemory(memory: SharedMemorySource, access?: MemoryAccessFlags): MemoryRegion;
  registerMemory(source: number | SharedMemorySource, access: MemoryAccessFlags = {}): MemoryRegion {
    this.assertOpen();
    return MemoryRegion.register(this, source, access);
  }

  /**
   * Registers a regular file's bytes: the library maps them MAP_SHARED
   * (writable when `access` grants a write right; a path is then opened
   * read-write) and keeps the mapping for as long as the MR. The MR has no
   * `bytes`: read and write the file through node:fs. The kernel decides
   * which file pages it pins: 6.1 refuses a read-only file MR (EFAULT, it
   * pins with FOLL_FORCE writes); 6.12 and 7.x take both on tmpfs.
   */
  registerFile(file: string | number, options: FileRegistration = {}): MemoryRegion {
    this.assertOpen();
    return MemoryRegion.registerFile(this, file, options);
  }

  createAh(av: AddressVector): AddressHandle {
    this.assertOpen();
    return AddressHandle.create(this, av);
  }

  allocMw(type: 1 | 2): MemoryWindow {
    this.assertOpen();
    return MemoryWindow.allocate(this, type);
  }

  createSrq(options: SharedReceiveQueueOptions): SharedReceiveQueue {
    this.assertOpen();
    return SharedReceiveQueue.create(this, options);
  }

  createQp(options: QueuePairOptions): QueuePair {
    this.assertOpen();
    return QueuePair.create(this, options);
  }

  protected destroy(): void {
    this.context.dispatch.invoke(UVERBS_METHOD_PD_DESTROY, { handle: this.handle });
  }
}

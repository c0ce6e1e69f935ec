/**
 * A protection domain. There is no ioctl to allocate one: the legacy
 * IB_USER_VERBS_CMD_ALLOC_PD write serves every kernel; destruction goes
 * through UVERBS_METHOD_PD_DESTROY, falling back to DEALLOC_PD.
 */

import { UVERBS_METHOD_PD_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { uhwFor } from '../providers/index.js';
import { AddressHandle } from './address-handle.js';
import { Context } from './context.js';
import { KernelObject } from './kernel-object.js';
import { type AccessFlags, MemoryRegion } from './memory-region.js';
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
   * library owns and keeps mapped for as long as the MR is registered.
   * Caller buffers are never registered: their memory can move or be reused.
   */
  registerMemory(length: number, access: AccessFlags = {}): MemoryRegion {
    this.assertOpen();
    return MemoryRegion.register(this, length, access);
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

/**
 * A completion channel: an fd the kernel signals when an armed CQ gets a
 * completion. Created by the legacy IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL
 * write (there is no ioctl for it); destroyed by closing the fd.
 */

import { WRITE_COMMANDS } from './abi/write-commands.js';
import type { Context } from './context.js';
import { errnoName } from './errno.js';
import { KernelObject } from './kernel-object.js';

export class CompletionChannel extends KernelObject {
  readonly context: Context;
  readonly fd: number;

  private constructor(context: Context, fd: number) {
    super(context);
    this.context = context;
    this.fd = fd;
  }

  /** @internal use `Context.createCompletionChannel()` */
  static create(context: Context): CompletionChannel {
    const r = context.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL, {});
    return new CompletionChannel(context, r.response?.fd as number);
  }

  get description(): string {
    return `CompletionChannel fd ${this.fd}`;
  }

  protected destroy(): void {
    const r = this.context.sys.close(this.fd);
    if (r < 0) throw new Error(`close(completion channel ${this.fd}): ${errnoName(-r)}`);
  }
}

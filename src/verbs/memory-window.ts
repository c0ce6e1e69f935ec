/**
 * A memory window (type 1 or 2): the legacy ALLOC_MW write, destroyed
 * through UVERBS_METHOD_MW_DESTROY.
 */

import { ib_mw_type } from '../abi/kernel-internal.js';
import { UVERBS_METHOD_MW_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { invalidArgValue } from '../errors.js';
import { uhwFor } from '../providers/index.js';
import { KernelObject } from './kernel-object.js';
import { ProtectionDomain } from './protection-domain.js';

export class MemoryWindow extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly type: 1 | 2;
  readonly handle: number;
  readonly rkey: number;

  private constructor(pd: ProtectionDomain, type: 1 | 2, handle: number, rkey: number) {
    super(pd);
    this.pd = pd;
    this.type = type;
    this.handle = handle;
    this.rkey = rkey;
  }

  /** @internal use `ProtectionDomain.allocMw()` */
  static allocate(pd: ProtectionDomain, type: 1 | 2): MemoryWindow {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    if (type !== 1 && type !== 2) throw invalidArgValue('type', 'must be 1 or 2', type);
    const r = pd.context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_ALLOC_MW,
      { pd_handle: pd.handle, mw_type: type === 1 ? ib_mw_type.IB_MW_TYPE_1 : ib_mw_type.IB_MW_TYPE_2 },
      uhwFor(pd.context.provider, 'allocMw'),
    );
    return new MemoryWindow(pd, type, r.response?.mw_handle as number, r.response?.rkey as number);
  }

  get description(): string {
    return `MemoryWindow ${this.handle}`;
  }

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_MW_DESTROY, { handle: this.handle });
  }
}

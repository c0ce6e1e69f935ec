/**
 * An address handle, for UD sends: the legacy CREATE_AH write (there is no
 * ioctl to create one), destroyed through UVERBS_METHOD_AH_DESTROY.
 */

import { UVERBS_METHOD_AH_DESTROY } from './abi/methods.js';
import { WRITE_COMMANDS } from './abi/write-commands.js';
import { invalidArgType } from './errors.js';
import { KernelObject } from './kernel-object.js';
import type { ProtectionDomain } from './protection-domain.js';
import { uhwFor } from './providers/index.js';
import type { AddressVector } from './queue-pair.js';

export class AddressHandle extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly handle: number;
  /** The driver's reply (rxe: the AH number its UD WQEs carry). */
  readonly driverData: Uint8Array;

  private constructor(pd: ProtectionDomain, handle: number, driverData: Uint8Array) {
    super(pd);
    this.pd = pd;
    this.handle = handle;
    this.driverData = driverData;
  }

  /** @internal use `ProtectionDomain.createAh()` */
  static create(pd: ProtectionDomain, av: AddressVector): AddressHandle {
    if (!(av?.dgid instanceof Uint8Array) || av.dgid.byteLength !== 16) {
      throw invalidArgType('av.dgid', 'a 16-byte Uint8Array', av?.dgid);
    }
    const r = pd.context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_CREATE_AH,
      {
        pd_handle: pd.handle,
        attr: {
          grh: {
            dgid: av.dgid,
            flow_label: av.flowLabel ?? 0,
            sgid_index: av.sgidIndex,
            hop_limit: av.hopLimit ?? 1,
            traffic_class: av.trafficClass ?? 0,
          },
          sl: av.sl ?? 0,
          is_global: 1,
          port_num: av.port,
        },
      },
      uhwFor(pd.context.provider, 'createAh'),
    );
    return new AddressHandle(pd, r.response?.ah_handle as number, r.udataOut);
  }

  get description(): string {
    return `AddressHandle ${this.handle}`;
  }

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_AH_DESTROY, { handle: this.handle });
  }
}

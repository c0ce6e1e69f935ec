/**
 * An address handle, for UD sends: the legacy CREATE_AH write (there is no
 * ioctl to create one), destroyed through UVERBS_METHOD_AH_DESTROY.
 */

import { UVERBS_METHOD_AH_DESTROY } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { uhwFor } from '../providers/index.js';
import { type AddressVector, addressFields } from './address-vector.js';
import { KernelObject } from './kernel-object.js';
import { ProtectionDomain } from './protection-domain.js';

export class AddressHandle extends KernelObject {
  readonly pd: ProtectionDomain;
  readonly handle: number;
  /** The driver's reply (rxe: the AH number its UD WQEs carry). */
  readonly driverData: Uint8Array;
  /** Only objects this class constructed have it (see `is`). */
  readonly #brand = true;

  private constructor(pd: ProtectionDomain, handle: number, driverData: Uint8Array) {
    super(pd);
    this.pd = pd;
    this.handle = handle;
    this.driverData = driverData;
  }

  /** @internal use `ProtectionDomain.createAh()` */
  static create(pd: ProtectionDomain, av: AddressVector): AddressHandle {
    KernelObject.checked(pd, ProtectionDomain, 'pd');
    const r = pd.context.dispatch.write(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_CREATE_AH,
      { pd_handle: pd.handle, attr: addressFields(av) },
      uhwFor(pd.context.provider, 'createAh'),
    );
    return new AddressHandle(pd, r.response?.ah_handle as number, r.udataOut);
  }

  /** @internal whether `value` is an AddressHandle this library made (a brand check: a look-alike object is not one). */
  static is(value: unknown): value is AddressHandle {
    return typeof value === 'object' && value !== null && #brand in value;
  }

  get description(): string {
    return `AddressHandle ${this.handle}`;
  }

  protected destroy(): void {
    this.pd.context.dispatch.invoke(UVERBS_METHOD_AH_DESTROY, { handle: this.handle });
  }
}

/**
 * The address vector a QP (MODIFY_QP's `ib_uverbs_qp_dest`) and an AH
 * (CREATE_AH's `ib_uverbs_ah_attr`) carry: for RoCE and iWARP always a
 * global route to the peer's GID.
 */

import { bytesLength } from '../abi/layout.js';
import { checkPort, invalidArgType } from '../errors.js';

export interface AddressVector {
  /** The peer's GID, 16 bytes. */
  dgid: Uint8Array;
  sgidIndex: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  sl?: number;
  port: number;
}

/** The kernel's field names for an address vector, validated before any syscall. */
export function addressFields(av: AddressVector, name = 'av') {
  if (typeof av !== 'object' || av === null) throw invalidArgType(name, 'an object', av);
  // read once, its length by the intrinsic getter (an own `byteLength` could hide more bytes)
  const dgid = av.dgid;
  if (bytesLength(dgid) !== 16) throw invalidArgType(`${name}.dgid`, 'a 16-byte Uint8Array', dgid);
  checkPort(`${name}.port`, av.port);
  return {
    grh: {
      dgid,
      flow_label: av.flowLabel ?? 0,
      sgid_index: av.sgidIndex,
      hop_limit: av.hopLimit ?? 1,
      traffic_class: av.trafficClass ?? 0,
    },
    sl: av.sl ?? 0,
    is_global: 1,
    port_num: av.port,
  };
}

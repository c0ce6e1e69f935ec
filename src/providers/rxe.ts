/**
 * Soft-RoCE (rxe). Its context, PD and MR calls carry no driver data; its
 * CQ (create and resize), QP and SRQ responses carry the ring mappings (`mminfo`), which the
 * datapath uses; its AH response carries the AH number UD sends name. Its
 * datapath is in user space: rxe-datapath.ts over the native addon.
 */

import { decodeStruct as decode } from '../abi/compiled.js';
import { rdma_driver_id } from '../abi/constants.js';
import {
  rxe_create_ah_resp,
  rxe_create_cq_resp,
  rxe_create_qp_resp,
  rxe_create_srq_resp,
  rxe_modify_srq_cmd,
  rxe_resize_cq_resp,
} from '../abi/rxe.js';
import type { RingSpec } from '../transport/ring.js';
import type { Provider } from './provider.js';
import { RxeDatapath } from './rxe-datapath.js';

/** A ring from an `mminfo`: its mmap offset and size (none when the size is 0: no such queue). */
function ring(name: RingSpec['name'], mi: { offset: bigint; size: number }): RingSpec[] {
  return mi.size ? [{ name, offset: mi.offset, length: mi.size, format: 'rxe' }] : [];
}

export const rxeProvider: Provider = {
  name: 'rxe',
  driverId: rdma_driver_id.RDMA_DRIVER_RXE,
  uhw: {
    createCq: { outLength: rxe_create_cq_resp.size },
    // rxe refuses a resize without room for the ring's new mapping
    resizeCq: { outLength: rxe_resize_cq_resp.size },
    createQp: { outLength: rxe_create_qp_resp.size },
    createSrq: { outLength: rxe_create_srq_resp.size },
    // rxe refuses MODIFY_SRQ without its command (the mmap_info_addr it fills when the SRQ is resized)
    modifySrq: { in: () => new Uint8Array(rxe_modify_srq_cmd.size) },
    createAh: { outLength: rxe_create_ah_resp.size },
  },
  rings: {
    createCq: (d) => ring('cq', decode(rxe_create_cq_resp, d).mi),
    resizeCq: (d) => ring('cq', decode(rxe_resize_cq_resp, d).mi),
    // a QP on an SRQ has no receive ring of its own (rq_mi.size 0)
    createQp: (d) => {
      const r = decode(rxe_create_qp_resp, d);
      return [...ring('sq', r.sq_mi), ...ring('rq', r.rq_mi)];
    },
    createSrq: (d) => ring('srq', decode(rxe_create_srq_resp, d).mi),
  },
  datapath: new RxeDatapath(),
  writeFirst: {
    // Linux 7.2's UVERBS_METHOD_REG_MR handler (uverbs_std_types_mr.c) never sets ib_mr.iova and
    // ib_mr.length, which the legacy write sets (uverbs_cmd.c); rxe ignores the iova it is given
    // and range-checks every access against those two, so every SGE and rkey access to such an MR
    // fails ("iova/length out of range"). test/device/datapath.device.test.ts shows it on 7.x.
    UVERBS_METHOD_REG_MR: 'the REG_MR ioctl leaves ib_mr.iova/length 0, and rxe checks every access against them',
  },
};

/**
 * Soft-RoCE (rxe). Its context, PD and MR calls carry no driver data; its
 * CQ, QP and SRQ responses carry the ring mappings (`mminfo`), which the
 * datapath uses.
 */

import { rdma_driver_id } from '../abi/constants.js';
import { rxe_create_cq_resp, rxe_create_qp_resp, rxe_create_srq_resp } from '../abi/rxe.js';
import type { Provider } from './provider.js';

export const rxeProvider: Provider = {
  name: 'rxe',
  driverId: rdma_driver_id.RDMA_DRIVER_RXE,
  uhw: {
    createCq: { outLength: rxe_create_cq_resp.size },
    createQp: { outLength: rxe_create_qp_resp.size },
    createSrq: { outLength: rxe_create_srq_resp.size },
  },
};

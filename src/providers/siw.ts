/**
 * Software iWARP (siw). GET_CONTEXT must carry room for `siw_uresp_alloc_ctx`
 * (siw refuses the call otherwise), and REG_MR sends `siw_ureq_reg_mr` and
 * gets `siw_uresp_reg_mr` back.
 */

import { rdma_driver_id } from '../abi/constants.js';
import {
  siw_ureq_reg_mr,
  siw_uresp_alloc_ctx,
  siw_uresp_create_cq,
  siw_uresp_create_qp,
  siw_uresp_create_srq,
  siw_uresp_reg_mr,
} from '../abi/siw.js';
import type { Provider } from './provider.js';

export const siwProvider: Provider = {
  name: 'siw',
  driverId: rdma_driver_id.RDMA_DRIVER_SIW,
  uhw: {
    getContext: { outLength: siw_uresp_alloc_ctx.size },
    regMr: { in: () => new Uint8Array(siw_ureq_reg_mr.size), outLength: siw_uresp_reg_mr.size },
    createCq: { outLength: siw_uresp_create_cq.size },
    createQp: { outLength: siw_uresp_create_qp.size },
    createSrq: { outLength: siw_uresp_create_srq.size },
  },
};

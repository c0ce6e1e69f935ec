/**
 * Stand-ins for the host tests that play the driver's side of the rxe
 * datapath (test/datapath.test.ts, test/memory-safety.test.ts): a QP that
 * is only its send ring, the PD resolveSend compares by identity, the QP's
 * limits, and a resolved send to build work requests from.
 */

import { ib_uverbs_device_cap_flags as D, ib_uverbs_wr_opcode as O } from '../../src/abi/constants.js';
import { ib_send_flags as F } from '../../src/abi/kernel-internal.js';
import type { Ring } from '../../src/transport/ring.js';
import type { MemoryRegion } from '../../src/verbs/memory-region.js';
import type { ProtectionDomain } from '../../src/verbs/protection-domain.js';
import type { QueuePair } from '../../src/verbs/queue-pair.js';
import type { ResolvedSend, SendLimits } from '../../src/verbs/work-request.js';

/** What RxeDatapath needs of a QP: its SQ ring; fd -1 rings no doorbell. */
export function fakeQp(sq: Ring, fd = -1): QueuePair {
  return { rings: [sq], handle: 7, description: 'QueuePair test', pd: { context: { fd } } } as unknown as QueuePair;
}

/** The driver side never looks at the region an SGE was resolved from. */
export const NO_MR = undefined as unknown as MemoryRegion;

/** The QP's protection domain, as resolveSend compares it: by identity. */
export const PD = { handle: 1, description: 'ProtectionDomain 1' } as unknown as ProtectionDomain;

/** An RC QP's limits on PD: 4 SGEs, no inline data, a device with ATOMIC_WRITE and FLUSH. */
export const LIMITS: SendLimits = {
  type: 'RC',
  pd: PD,
  maxSge: 4,
  maxInline: 0,
  flags: {
    fence: F.IB_SEND_FENCE,
    signaled: F.IB_SEND_SIGNALED,
    solicited: F.IB_SEND_SOLICITED,
    inline: F.IB_SEND_INLINE,
  },
  owner: 'QueuePair test',
  capabilities: () => D.IB_UVERBS_DEVICE_ATOMIC_WRITE | D.IB_UVERBS_DEVICE_FLUSH_GLOBAL,
};

/** A signaled SEND with no SGEs, as resolveSend leaves it. */
export const SEND: ResolvedSend = {
  wrId: 0n,
  opcode: O.IB_UVERBS_WR_SEND,
  flags: F.IB_SEND_SIGNALED,
  imm: 0,
  remoteAddr: 0n,
  rkey: 0,
  compareAdd: 0n,
  swap: 0n,
  sg: [],
};

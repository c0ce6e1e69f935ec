/**
 * uverbs: the Linux RDMA uverbs ABI, spoken directly from Node.
 *
 * The ABI layer is exported as `uverbs/abi`; this entry point carries the
 * transport-facing pieces: dispatch with fallback, library-owned memory,
 * and the error types.
 */

export { errnoName } from './errno.js';
export {
  type CallPath,
  UverbsClosedError,
  UverbsError,
  type UverbsErrorDetails,
  UverbsUnsupportedError,
} from './errors.js';
export {
  type Datapath,
  type Provider,
  providerFor,
  registerProvider,
  rxeProvider,
  siwProvider,
  type UhwCall,
  type UhwExchange,
} from './providers/index.js';
export {
  type CallResult,
  Dispatcher,
  type DispatchOptions,
  type MethodRoute,
  type TraceEvent,
} from './transport/dispatch.js';
export { PAGE_SIZE, type SharedMemorySource, UserMemory } from './transport/memory.js';
export type { Ring, RingName, RingSpec } from './transport/ring.js';
export type { Mapping, Sys } from './transport/sys.js';
export { AddressHandle } from './verbs/address-handle.js';
export { type AsyncEvent, AsyncEventQueue, type AsyncEventType } from './verbs/async-events.js';
export { CompletionChannel } from './verbs/completion-channel.js';
export { CompletionQueue, type CompletionQueueOptions } from './verbs/completion-queue.js';
export { Context, type GidEntry, type OpenOptions } from './verbs/context.js';
export { type DeviceInfo, findDevice, listDevices, uverbsAbiVersion } from './verbs/device.js';
export { KernelObject } from './verbs/kernel-object.js';
export {
  type AccessFlags,
  type FileRegistration,
  type MemoryAccessFlags,
  MemoryRegion,
  type Reregistration,
} from './verbs/memory-region.js';
export { MemoryWindow } from './verbs/memory-window.js';
export { ProtectionDomain } from './verbs/protection-domain.js';
export {
  type AddressVector,
  type ConnectOptions,
  type Mtu,
  type QpAttributes,
  type QpCapabilities,
  type QpState,
  type QpType,
  QueuePair,
  type QueuePairOptions,
  type RemoteQp,
} from './verbs/queue-pair.js';
export { SharedReceiveQueue, type SharedReceiveQueueOptions } from './verbs/shared-receive-queue.js';
export {
  COMPLETION_SIZE,
  type Completion,
  type CompletionOpcode,
  type CompletionStatus,
  decodeCompletions,
  PreparedWork,
  type RecvWr,
  type RemoteAddress,
  type SendOpcode,
  type SendWr,
  type Sge,
} from './verbs/work-request.js';

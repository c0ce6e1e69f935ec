/**
 * uverbs: the Linux RDMA uverbs ABI, spoken directly from Node.
 *
 * The ABI layer is exported as `uverbs/abi`; this entry point carries the
 * transport-facing pieces: dispatch with fallback, library-owned memory,
 * and the error types.
 */

export { AddressHandle } from './address-handle.js';
export { type AsyncEvent, AsyncEventQueue, type AsyncEventType } from './async-events.js';
export { CompletionChannel } from './completion-channel.js';
export { CompletionQueue, type CompletionQueueOptions } from './completion-queue.js';
export { Context, type GidEntry, type OpenOptions } from './context.js';
export { type DeviceInfo, findDevice, listDevices, uverbsAbiVersion } from './device.js';
export { type CallResult, Dispatcher, type DispatchOptions, type MethodRoute, type TraceEvent } from './dispatch.js';
export { errnoName } from './errno.js';
export {
  type CallPath,
  UverbsClosedError,
  UverbsError,
  type UverbsErrorDetails,
  UverbsUnsupportedError,
} from './errors.js';
export { KernelObject } from './kernel-object.js';
export { PAGE_SIZE, UserMemory } from './memory.js';
export { type AccessFlags, MemoryRegion, type Reregistration } from './memory-region.js';
export { MemoryWindow } from './memory-window.js';
export { ProtectionDomain } from './protection-domain.js';
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
} from './queue-pair.js';
export type { Ring, RingName, RingSpec } from './ring.js';
export { SharedReceiveQueue, type SharedReceiveQueueOptions } from './shared-receive-queue.js';
export type { Mapping, Sys } from './sys.js';
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
} from './work-request.js';

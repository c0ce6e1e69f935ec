/**
 * uverbs: the Linux RDMA uverbs ABI, spoken directly from Node.
 *
 * The ABI layer is exported as `uverbs/abi`; this entry point carries the
 * transport-facing pieces: dispatch with fallback, library-owned memory,
 * and the error types.
 */

export {
  CHECK_SCHEMA,
  type CheckOptions,
  type CheckPartName,
  type CheckReport,
  checkFailed,
  checkVerdict,
  DEFAULT_SEED,
  type Disagreement,
  type DmesgResult,
  FaultInjectionUnavailableError,
  type FaultRow,
  type KernelWarning,
  type PartResult,
  type Predict,
  type ResourcesResult,
  renderCheck,
  runCheck,
} from './check/index.js';
export type { CmAddress, CmSocketAddress } from './cm/address.js';
export { boundDevice } from './cm/bound-device.js';
export {
  type CmAddressInfo,
  type CmConnectionOptions,
  type CmConnectionParameters,
  type CmDatagramParameters,
  type CmEvent,
  type CmEventType,
  type CmOption,
  ConnectionId,
  type ConnectionIdOptions,
  type PortSpace,
  UverbsCmEventError,
} from './cm/connection-id.js';
export { EventChannel, type EventChannelOptions, RDMA_CM_PATH } from './cm/event-channel.js';
export {
  RPING_DEFAULT_SIZE,
  RPING_INFO_SIZE,
  RPING_MAX_SIZE,
  RPING_MIN_SIZE,
  RPING_PORT,
  type RpingOptions,
  type RpingResult,
  rping,
  rpingPayload,
  UverbsRpingError,
} from './cm/rping.js';
export { errnoName } from './errno.js';
export {
  type CallPath,
  UverbsClosedError,
  UverbsDoorbellError,
  UverbsError,
  type UverbsErrorDetails,
  UverbsGidNotFoundError,
  UverbsTimeoutError,
  UverbsUnsupportedError,
} from './errors.js';
export {
  FEATURE_NAMES,
  type FeatureAnswer,
  type FeatureName,
  type FeatureOptions,
  type FeatureSupport,
  features,
} from './probe/features.js';
export {
  type Datapath,
  type Provider,
  providerFor,
  type RingCall,
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
  type InvokeOptions,
  type MethodRoute,
  type TraceEvent,
} from './transport/dispatch.js';
export { PAGE_SIZE, type SharedMemorySource, UserMemory } from './transport/memory.js';
export type { Ring, RingFormat, RingName, RingSpec } from './transport/ring.js';
export type { Mapping, Sys } from './transport/sys.js';
export { AddressHandle } from './verbs/address-handle.js';
export { type AsyncEvent, AsyncEventQueue, type AsyncEventType } from './verbs/async-events.js';
export type {
  AtomicCap,
  CqModCaps,
  DeviceAttributes,
  DeviceCapability,
  GidType,
  LinkLayer,
  OdpCaps,
  PortAttributes,
  PortCapability,
  PortPhysState,
  PortSpeed,
  PortState,
  PortWidth,
  RssCaps,
  TmCaps,
} from './verbs/attributes.js';
export { CompletionChannel } from './verbs/completion-channel.js';
export { CompletionQueue, type CompletionQueueOptions } from './verbs/completion-queue.js';
export { Context, type GidEntry, type GidQuery, type OpenOptions } from './verbs/context.js';
export { type DeviceInfo, findDevice, listDevices, resolveDevice, uverbsAbiVersion } from './verbs/device.js';
export { KernelObject } from './verbs/kernel-object.js';
export {
  type AccessFlags,
  type FileRegistration,
  type MemoryAccessFlags,
  MemoryRegion,
  type Reregistration,
} from './verbs/memory-region.js';
export { MemoryWindow, type WindowAccess, type WindowBinding } from './verbs/memory-window.js';
export { ProtectionDomain } from './verbs/protection-domain.js';
export {
  type ActivateOptions,
  type AddressVector,
  CONNECT_DEFAULTS,
  type ConnectOptions,
  isMtu,
  type Mtu,
  type QpAddressVector,
  type QpAttributes,
  type QpCapabilities,
  type QpInfo,
  type QpState,
  type QpStep,
  type QpType,
  QueuePair,
  type QueuePairOptions,
  type RemoteQp,
  UverbsQpStateError,
  UverbsTransitionError,
} from './verbs/queue-pair.js';
export {
  SharedReceiveQueue,
  type SharedReceiveQueueOptions,
  type SrqAttributes,
} from './verbs/shared-receive-queue.js';
export type { WaitOptions } from './verbs/waits.js';
export {
  COMPLETION_SIZE,
  type Completion,
  type CompletionOpcode,
  type CompletionStatus,
  decodeCompletions,
  type FlushSpec,
  type MwBind,
  PreparedWork,
  type RecvWr,
  type RemoteAddress,
  type ResolvedRecv,
  type ResolvedSend,
  type ResolvedSge,
  type SendOpcode,
  type SendWr,
  type Sge,
} from './verbs/work-request.js';

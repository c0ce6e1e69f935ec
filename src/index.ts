/**
 * uverbs: the Linux RDMA uverbs ABI, spoken directly from Node.
 *
 * The ABI layer is exported as `uverbs/abi`; this entry point carries the
 * transport-facing pieces: dispatch with fallback, library-owned memory,
 * and the error types.
 */

export { libcSys, type Sys } from '../ioctl/index.js';
export { type CallResult, Dispatcher, type DispatchOptions, type MethodRoute, type TraceEvent } from './dispatch.js';
export { errnoName } from './errno.js';
export {
  type CallPath,
  UverbsClosedError,
  UverbsError,
  type UverbsErrorDetails,
  UverbsUnsupportedError,
} from './errors.js';
export { PAGE_SIZE, type Region, Scratch, UserMemory } from './memory.js';

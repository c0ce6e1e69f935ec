/**
 * Errors shaped like Node's: a stable string `code` that "statically and
 * permanently identifies the error" (Node's lib/internal/errors.js), the raw
 * `errno` and `syscall`, plus where in the uverbs API it happened.
 *
 * - {@link UverbsError}: the kernel refused a call (an errno came back).
 * - {@link UverbsUnsupportedError}: the kernel or driver does not implement
 *   it. The three spellings of "unsupported" (ENOSYS, EOPNOTSUPP,
 *   EPROTONOSUPPORT, by kernel age and layer) all land here; `errno` keeps
 *   the one the kernel said.
 * - Bad arguments never reach the kernel: TypeError / RangeError with
 *   `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` / `ERR_OUT_OF_RANGE`.
 */

import { inspect } from 'node:util';
import { ETIMEDOUT, errnoName } from './errno.js';
import type { GidEntry } from './verbs/attributes.js';

/**
 * Which kernel entry point a call used; `ring`: the driver's shared ring, no
 * system call (the datapath); `mmap`: mapping memory or a driver ring;
 * `open`: finding and opening the device node (`Context.open`).
 */
export type CallPath = 'ioctl' | 'write' | 'write-ex' | 'ring' | 'mmap' | 'open';

export interface UverbsErrorDetails {
  errno: number;
  syscall: string;
  /** Kernel object name, e.g. `UVERBS_OBJECT_MR`. */
  object: string;
  /** Kernel method or command name, e.g. `UVERBS_METHOD_REG_MR`, `IB_USER_VERBS_CMD_REG_MR`. */
  method: string;
  path: CallPath;
  /** The file the call was about (`open`: the device node). */
  file?: string;
  /** What the errno means here, appended to the message. */
  detail?: string;
}

export class UverbsError extends Error {
  /** Positive errno, e.g. 95. */
  readonly errno: number;
  /** errno name, e.g. `'EOPNOTSUPP'`. */
  readonly code: string;
  readonly syscall: string;
  readonly object: string;
  readonly method: string;
  readonly path: CallPath;
  /** The file the call was about, where there is one (`open`: the device node, as Node's fs errors' `path`). */
  readonly file?: string;

  constructor(details: UverbsErrorDetails) {
    const code = errnoName(details.errno);
    const detail = details.detail === undefined ? '' : `: ${details.detail}`;
    super(`${details.object}.${details.method} ${code} (${details.path})${detail}`);
    this.errno = details.errno;
    this.code = code;
    this.syscall = details.syscall;
    this.object = details.object;
    this.method = details.method;
    this.path = details.path;
    if (details.file !== undefined) this.file = details.file;
  }

  override get name(): string {
    return 'UverbsError';
  }

  /** True for the errnos that mean "not implemented here" rather than "you did it wrong". */
  get unsupported(): boolean {
    return false;
  }
}

/** The kernel or the driver does not implement this object, method, attribute or command. */
export class UverbsUnsupportedError extends UverbsError {
  override get name(): string {
    return 'UverbsUnsupportedError';
  }

  override get unsupported(): boolean {
    return true;
  }
}

/**
 * The send work requests ARE posted (in the ring: the next doorbell runs
 * them), but the doorbell that tells the driver so failed with `errno`
 * (retried first where it said EINTR or EAGAIN). Unlike every other error
 * of a post, this one does not mean "nothing happened": `posted` work
 * requests will complete (or flush) as any posted ones do, and the windows
 * their BIND_MWs bind already have their new keys. Ring again by posting
 * more; do not post the same requests again.
 */
export class UverbsDoorbellError extends UverbsError {
  /** How many work requests of the call are in the ring (all of them: a post is all or none). */
  readonly posted: number;
  constructor(details: UverbsErrorDetails, posted: number) {
    super({ ...details, detail: `${posted} work request(s) posted; the doorbell failed, the next one runs them` });
    this.posted = posted;
  }
  override get name(): string {
    return 'UverbsDoorbellError';
  }
}

/** A library object was used after `close()`; the kernel never saw the call. */
export class UverbsClosedError extends Error {
  readonly code = 'ERR_UVERBS_CLOSED';
  constructor(what: string) {
    super(`${what} is closed`);
  }
  override get name(): string {
    return 'UverbsClosedError';
  }
}

/**
 * `Context.findGid()` found no GID that matches; the kernel was asked
 * (the GID table) and said nothing wrong. `table` and the message hold
 * every valid entry there is, so the caller can see what to ask for.
 */
export class UverbsGidNotFoundError extends Error {
  readonly code = 'ERR_UVERBS_GID_NOT_FOUND';
  /** What was asked for. */
  readonly query: Readonly<Record<string, unknown>>;
  /** The valid GIDs the table has. */
  readonly table: readonly GidEntry[];
  constructor(device: string, query: object, table: readonly GidEntry[]) {
    const hex = (gid: Uint8Array) => (Buffer.from(gid).toString('hex').match(/.{4}/g) as string[]).join(':');
    const rows = table.map(
      (e) => `port ${e.port} index ${e.index} ${e.type} ${hex(e.gid)}${e.netdev ? ` ${e.netdev}` : ''}`,
    );
    super(
      `${device}: no GID matches ${inspect(query, { breakLength: Infinity })}; ` +
        (rows.length === 0 ? 'the GID table is empty' : `the GID table has: ${rows.join('; ')}`),
    );
    this.query = { ...query };
    this.table = table;
  }
  override get name(): string {
    return 'UverbsGidNotFoundError';
  }
}

/**
 * A wait whose `timeout` passed before it had anything to return; shaped
 * like Node's errno errors (`code` 'ETIMEDOUT', `errno` 110), with
 * `syscall: 'none'`: no system call timed out, the library stopped waiting.
 * (An `AbortSignal.timeout()` signal rejects with its own reason instead, a
 * DOMException named 'TimeoutError', as Node's APIs do.)
 */
export class UverbsTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly errno = ETIMEDOUT;
  readonly syscall = 'none';
  /** What waited, e.g. `CompletionQueue 3`. */
  readonly object: string;
  readonly method: string;
  /** The timeout it was given, in milliseconds. */
  readonly timeout: number;
  constructor(object: string, method: string, timeout: number) {
    super(`${object}.${method} ETIMEDOUT (nothing within ${timeout} ms)`);
    this.object = object;
    this.method = method;
    this.timeout = timeout;
  }
  override get name(): string {
    return 'UverbsTimeoutError';
  }
}

/** Node's ERR_INVALID_STATE: the call is refused in the state things are in now (nothing was done). */
export function invalidState(message: string): Error & { code: 'ERR_INVALID_STATE' } {
  const error = new Error(message) as Error & { code: 'ERR_INVALID_STATE' };
  Object.defineProperty(error, 'code', { value: 'ERR_INVALID_STATE', enumerable: true });
  return error;
}

type ArgErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return `function ${value.name}`;
  if (typeof value === 'object') {
    const ctor = (value as object).constructor?.name;
    return ctor ? `an instance of ${ctor}` : inspect(value, { depth: -1 });
  }
  return `type ${typeof value} (${inspect(value)})`;
}

function argError<E extends TypeError | RangeError>(
  Base: new (message: string) => E,
  code: ArgErrorCode,
  message: string,
): E & { code: ArgErrorCode } {
  const error = new Base(message) as E & { code: ArgErrorCode };
  Object.defineProperty(error, 'code', { value: code, enumerable: true });
  return error;
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & { code: ArgErrorCode } {
  return argError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

export function invalidArgValue(name: string, reason: string, actual: unknown): TypeError & { code: ArgErrorCode } {
  return argError(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The argument "${name}" ${reason}. Received ${inspect(actual, { depth: 0 })}`,
  );
}

export function outOfRange(name: string, range: string, actual: unknown): RangeError & { code: ArgErrorCode } {
  return argError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${inspect(actual)}`,
  );
}

/** An IB port number, 1..255 (port 0 names no port on a CA); ERR_OUT_OF_RANGE otherwise, before any syscall. */
export function checkPort(name: string, port: unknown): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 255) {
    throw outOfRange(name, '>= 1 and <= 255', port);
  }
}

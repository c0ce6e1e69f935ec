/**
 * Dispatch with fallback, per device.
 *
 * A method goes through RDMA_VERBS_IOCTL first. The kernel's answer decides
 * what happens next (cf. rdma-core cmd_fallback.c, and uverbs_ioctl.c):
 * - ENOTTY: this kernel has no ioctl framework at all; every later call on
 *   this device goes straight to write / write-ex;
 * - EPROTONOSUPPORT: the method (or a mandatory attribute) is unknown here;
 *   this method goes to its write fallback from now on, or, without one,
 *   fails as unsupported;
 * - ENOSYS / EOPNOTSUPP: the kernel or driver declines: a typed
 *   {@link UverbsUnsupportedError} that keeps the raw errno. Not cached: the
 *   same errno can come from the arguments (a nonzero tail, an enum out of
 *   range).
 * Every call records which path it took (`lastPath`, and the `trace` hook).
 */

import { type CompiledWrite, compiledMethod, compiledWrite } from '../abi/compiled.js';
import { rdma_user_ioctl_defines } from '../abi/constants.js';
import type { Input } from '../abi/layout.js';
import type { MethodSpec, WriteFallback } from '../abi/method-spec.js';
import { METHODS } from '../abi/methods.js';
import type { WriteOptions } from '../abi/write-command.js';
import type { WriteCommand } from '../abi/write-commands.js';
import { ENOSYS, ENOTTY, EOPNOTSUPP, EPROTONOSUPPORT } from '../errno.js';
import { type CallPath, invalidArgType, invalidState, UverbsError, UverbsUnsupportedError } from '../errors.js';
import type { Scratch } from './memory.js';
import type { Sys } from './sys.js';

export interface TraceEvent {
  readonly object: string;
  readonly method: string;
  readonly path: CallPath;
  /** 0 on success, else the positive errno. */
  readonly errno: number;
}

export interface CallResult {
  readonly path: CallPath;
  readonly outputs: Record<string, unknown>;
  /** Driver (UHW) output, when asked for. */
  readonly udataOut?: Uint8Array;
}

export interface DispatchOptions {
  /** Kernel release (`uname -r`), so struct fields a kernel does not declare decode as undefined. */
  release?: string;
  /** Called after every syscall the dispatcher makes. */
  trace?: (event: TraceEvent) => void;
  /** false: behave as on a kernel without RDMA_VERBS_IOCTL (every call takes its write form). */
  ioctl?: boolean;
  /**
   * Methods (by kernel name) served by their write form from the start,
   * even where the ioctl exists: a provider's word that the ioctl is broken
   * for its driver (see `Provider.writeFirst`).
   */
  writeFirst?: ReadonlySet<string>;
}

export interface InvokeOptions {
  udataIn?: Uint8Array;
  udataOutLength?: number;
}

/** How a method was last served on this device. */
export type MethodRoute = 'ioctl' | 'write';

/** Whether a write fallback carries method argument `key`: a request field for an input, a response field for an output asked for. */
function carries(fallback: WriteFallback, key: string): boolean {
  return compiledFallback(fallback).carried.has(key);
}

/**
 * A write fallback laid out once: its request as [field, source] steps, the
 * argument keys it carries, and its response as [result path, response path]
 * steps (a response path `undefined`: the whole response, `'*'`).
 */
interface CompiledFallback {
  readonly fallback: WriteFallback;
  readonly carried: ReadonlySet<string>;
  readonly request: readonly (
    | readonly [field: string, kind: 'arg', arg: string]
    | readonly [field: string, kind: 'absent', arg: string, absent: number | bigint]
    | readonly [field: string, kind: 'value', value: number | bigint]
  )[];
  readonly response: readonly (readonly [key: readonly string[], field: readonly string[] | undefined])[];
}

const compiledFallbacks = new WeakMap<WriteFallback, CompiledFallback>();

function compiledFallback(fallback: WriteFallback): CompiledFallback {
  let compiled = compiledFallbacks.get(fallback);
  if (compiled !== undefined) return compiled;
  const carried = new Set<string>();
  const request: CompiledFallback['request'][number][] = [];
  for (const [field, source] of Object.entries(fallback.request)) {
    if (typeof source === 'string') {
      request.push([field, 'arg', source]);
      carried.add(source);
    } else if ('arg' in source) {
      request.push([field, 'absent', source.arg, source.absent]);
      carried.add(source.arg);
    } else request.push([field, 'value', source.value]);
  }
  const response: CompiledFallback['response'][number][] = [];
  for (const [key, field] of Object.entries(fallback.response)) {
    // an output asked for by its key or by any dotted prefix of it (`resp` for `resp.legacy_resp`)
    carried.add(key);
    for (let i = key.indexOf('.'); i >= 0; i = key.indexOf('.', i + 1)) carried.add(key.slice(0, i));
    response.push([key.split('.'), field === '*' ? undefined : field.split('.')]);
  }
  compiled = { fallback, carried, request, response };
  compiledFallbacks.set(fallback, compiled);
  return compiled;
}

/** The write fallbacks of a method, compiled, in the order the table gives them. */
const methodFallbacks = new WeakMap<MethodSpec, readonly CompiledFallback[]>();

function fallbacksOf(method: MethodSpec): readonly CompiledFallback[] {
  let list = methodFallbacks.get(method);
  if (list === undefined) {
    list = method.fallback === undefined ? [] : [method.fallback].flat().map(compiledFallback);
    methodFallbacks.set(method, list);
  }
  return list;
}

/** Whether every argument given (own, not undefined) is one `fallback` carries. */
function carriesAll(fallback: CompiledFallback, args: Readonly<Record<string, unknown>>): boolean {
  for (const key in args) {
    if (!Object.hasOwn(args, key) || args[key] === undefined) continue;
    if (!fallback.carried.has(key)) return false;
  }
  return true;
}

/** A field of a decoded response by its path (`base.cq_handle`, split). */
function at(value: Record<string, unknown> | undefined, path: readonly string[]): unknown {
  let v: unknown = value;
  for (const part of path) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

function isUnsupported(errno: number): boolean {
  return errno === ENOSYS || errno === EOPNOTSUPP || errno === EPROTONOSUPPORT;
}

export class Dispatcher {
  readonly #sys: Sys;
  readonly #fd: number;
  readonly #driverId: number;
  readonly #scratch: Scratch;
  readonly #options: DispatchOptions;
  /** false once the kernel answered ENOTTY (no ioctl framework on this device), or when asked. */
  #ioctl: boolean;
  readonly #routes = new Map<MethodSpec, MethodRoute>();
  #lastPath: CallPath | undefined;
  /**
   * Set while a command is laid out, sent and decoded. The scratch arena is
   * this context's one buffer: a call made from a getter of the arguments
   * being laid out would reset it under the outer command (whose pointers
   * may then name memory the reset gave back), so such a call is refused.
   */
  #busy = false;

  constructor(sys: Sys, fd: number, driverId: number, scratch: Scratch, options: DispatchOptions = {}) {
    this.#sys = sys;
    this.#fd = fd;
    this.#driverId = driverId;
    this.#scratch = scratch;
    this.#options = options;
    this.#ioctl = options.ioctl ?? true;
    for (const name of options.writeFirst ?? []) {
      const method = METHODS.find((m) => m.name === name);
      if (method?.fallback !== undefined) this.#routes.set(method, 'write');
    }
  }

  /** @internal whether a call is being laid out, sent or decoded (see `#busy`): the context is not closed under it. */
  get busy(): boolean {
    return this.#busy;
  }

  /** The path the most recent call took. */
  get lastPath(): CallPath | undefined {
    return this.#lastPath;
  }

  /** Whether the ioctl framework is (still believed to be) present. */
  get ioctlAvailable(): boolean {
    return this.#ioctl;
  }

  /** The cached route for a method, if a call already decided it. */
  route(method: MethodSpec): MethodRoute | undefined {
    return this.#routes.get(method);
  }

  /**
   * Reports a finished call to the trace hook. Called only once the call's
   * outputs are decoded out of the scratch arena, so a hook that calls back
   * into the context (and so resets the arena) cannot change them; an
   * exception from the hook is rethrown on its own, after this call has
   * returned, so the call itself still happened or not, whole.
   */
  #traced(object: string, method: string, path: CallPath, errno: number): void {
    this.#lastPath = path;
    const trace = this.#options.trace;
    if (trace === undefined) return;
    try {
      trace({ object, method, path, errno });
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  #error(
    errno: number,
    object: string,
    method: string,
    path: CallPath,
    unsupported = isUnsupported(errno),
  ): UverbsError {
    const details = { errno, syscall: path === 'ioctl' ? 'ioctl' : 'write', object, method, path };
    return unsupported ? new UverbsUnsupportedError(details) : new UverbsError(details);
  }

  /**
   * Sends an ioctl method once, with no fallback: the raw errno (0 on success) and the decoded
   * outputs. Encoded and decoded by the method's compiled form (src/abi/compiled.ts), which
   * sends what `encodeMethod(method, { ...args, uhwIn: udataIn, uhwOut: udataOutLength })` would.
   */
  ioctlOnce(method: MethodSpec, args: Readonly<Record<string, unknown>>, options: InvokeOptions = {}) {
    const { errno, outputs, udataOut } = this.#ioctlOnce(method, args, options);
    if (udataOut !== undefined) outputs.uhwOut = udataOut;
    return { errno, outputs };
  }

  #ioctlOnce(
    method: MethodSpec,
    args: Readonly<Record<string, unknown>>,
    options: InvokeOptions,
  ): { errno: number; outputs: Record<string, unknown>; udataOut: Uint8Array | undefined } {
    this.#enter(method.name);
    let errno: number;
    let outputs: Record<string, unknown> = {};
    let udataOut: Uint8Array | undefined;
    try {
      this.#scratch.reset();
      const compiled = compiledMethod(method);
      const address = compiled.encode(args, options.udataIn, options.udataOutLength, this.#driverId, this.#scratch);
      const r = this.#sys.ioctl(this.#fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, address);
      errno = r < 0 ? -r : 0;
      if (errno === 0) {
        outputs = compiled.decode(this.#options.release, true);
        udataOut = compiled.udataOut;
      }
    } finally {
      this.#busy = false;
    }
    this.#traced(method.objectName, method.name, 'ioctl', errno);
    return { errno, outputs, udataOut };
  }

  /** Marks a call in progress, or refuses one made while another is laid out (see `#busy`). */
  #enter(name: string): void {
    if (this.#busy) {
      throw invalidState(
        `${name}: called while another call on this context is being laid out (from a getter of its arguments); nothing was sent`,
      );
    }
    this.#busy = true;
  }

  /** Calls an ioctl method, falling back to its write command where the kernel lacks it. */
  invoke(method: MethodSpec, args: Readonly<Record<string, unknown>>, options: InvokeOptions = {}): CallResult {
    const route = this.#routes.get(method);
    if (this.#ioctl && route !== 'write') {
      const { errno, outputs, udataOut } = this.#ioctlOnce(method, args, options);
      if (errno === 0) {
        if (route === undefined) this.#routes.set(method, 'ioctl');
        return { path: 'ioctl', outputs, udataOut };
      }
      if (errno === ENOTTY) this.#ioctl = false;
      else if (errno === EPROTONOSUPPORT) this.#routes.set(method, 'write');
      else throw this.#error(errno, method.objectName, method.name, 'ioctl');
    }
    const fallbacks = fallbacksOf(method);
    if (fallbacks.length === 0) {
      // No write form: the kernel's own answer (ENOTTY or EPROTONOSUPPORT) is the unsupported errno.
      const errno = this.#ioctl ? EPROTONOSUPPORT : ENOTTY;
      throw this.#error(errno, method.objectName, method.name, 'ioctl', true);
    }
    for (const fallback of fallbacks) if (carriesAll(fallback, args)) return this.#viaWrite(fallback, args, options);
    const first = (fallbacks[0] as CompiledFallback).fallback;
    const key = Object.keys(args).find((k) => args[k] !== undefined && !carries(first, k)) as string;
    throw invalidArgType(`${method.name}.${key}`, `absent: ${first.command.name} cannot carry it`, args[key]);
  }

  #viaWrite(compiled: CompiledFallback, args: Readonly<Record<string, unknown>>, options: InvokeOptions): CallResult {
    const request: Record<string, unknown> = {};
    for (const step of compiled.request) {
      if (step[1] === 'arg') request[step[0]] = args[step[2]];
      else if (step[1] === 'absent') request[step[0]] = args[step[2]] ?? step[3];
      else request[step[0]] = step[2];
    }
    const result = this.write(compiled.fallback.command, request as Input<WriteCommand['request']>, options);
    const outputs: Record<string, unknown> = {};
    for (const [path, field] of compiled.response) {
      const value = field === undefined ? result.response : at(result.response, field);
      let target = outputs;
      for (let i = 0; i < path.length - 1; i++) {
        const part = path[i] as string;
        target[part] ??= {};
        target = target[part] as Record<string, unknown>;
      }
      target[path[path.length - 1] as string] = value;
    }
    return { path: result.path, outputs, udataOut: result.udataOut };
  }

  /** Sends a write / write-ex command (no ioctl equivalent, or as a fallback). */
  write(
    command: WriteCommand,
    request: Input<WriteCommand['request']>,
    options: WriteOptions = {},
  ): { path: CallPath; response: Record<string, unknown> | undefined; udataOut: Uint8Array } {
    this.#enter(command.name);
    const path: CallPath = command.extended ? 'write-ex' : 'write';
    let errno: number;
    let decoded: ReturnType<CompiledWrite['decode']> | undefined;
    try {
      this.#scratch.reset();
      const compiled = compiledWrite(command);
      const buffer = compiled.encode(request as Readonly<Record<string, unknown>>, this.#scratch, options);
      const r = this.#sys.write(this.#fd, buffer.address, buffer.bytes.byteLength);
      errno = r < 0 ? -r : 0;
      decoded = errno === 0 ? compiled.decode() : undefined;
    } finally {
      this.#busy = false;
    }
    this.#traced(command.objectName, command.name, path, errno);
    if (decoded === undefined) throw this.#error(errno, command.objectName, command.name, path);
    return { path, response: decoded.response, udataOut: decoded.udataOut };
  }
}

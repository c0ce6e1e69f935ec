/**
 * An rdma_cm event channel: one open `/dev/infiniband/rdma_cm` (librdmacm's
 * `rdma_event_channel`). Every connection ID lives in one channel, every
 * command is a write(2) on its fd, and every event of its IDs is read from
 * it with RDMA_USER_CM_CMD_GET_EVENT.
 *
 * The fd is opened O_NONBLOCK: GET_EVENT answers EAGAIN when nothing is
 * queued instead of sleeping (ucma.c, ucma_get_event), so nothing ever
 * blocks the main thread. While anyone awaits an event the addon watches
 * the fd on Node's event loop (the same watch completion channels use);
 * when it is readable every queued event is read and handed to its ID.
 *
 * Closing the channel closes the fd, and the kernel destroys every ID
 * still in it (ucma_close): the library's IDs are then closed too, with no
 * further syscall, and their waits reject with `UverbsClosedError`.
 */

import { release } from 'node:os';
import { O_CLOEXEC, O_NONBLOCK, O_RDWR } from '../../ioctl/index.js';
import { decodeCm, encodeCm } from '../abi/cm-command.js';
import type { Input } from '../abi/layout.js';
import { releaseHas } from '../abi/layout.js';
import { CM_COMMANDS, type CmCommand } from '../abi/rdma-cm.js';
import { EAGAIN, EINVAL, ENOSYS, EOPNOTSUPP, EPROTONOSUPPORT } from '../errno.js';
import { invalidArgType, UverbsError, UverbsUnsupportedError } from '../errors.js';
import { FdWaiters } from '../transport/fd-waiters.js';
import { Scratch } from '../transport/memory.js';
import { libcSys, type Sys } from '../transport/sys.js';
import { KernelObject } from '../verbs/kernel-object.js';
import { type ConnectionId, type ConnectionIdOptions, createId, type RawEvent } from './connection-id.js';

/** The rdma_cm character device. */
export const RDMA_CM_PATH = '/dev/infiniband/rdma_cm';

/** The first uapi release of each command newer than 6.1 (rdma/rdma_user_cm.h). */
const COMMAND_SINCE: Readonly<Record<string, '7.2'>> = {
  RDMA_USER_CM_CMD_RESOLVE_IB_SERVICE: '7.2',
  RDMA_USER_CM_CMD_WRITE_CM_EVENT: '7.2',
};

export interface EventChannelOptions {
  /** @internal a stand-in system (tests); default libc and the addon. */
  sys?: Sys;
  /** The device node; default `/dev/infiniband/rdma_cm`. */
  path?: string;
}

/** @internal what the channel's IDs reach through it. */
export interface ChannelAccess {
  readonly sys: Sys;
  call(command: CmCommand, request: Record<string, unknown>, object: string): Record<string, unknown> | undefined;
  register(id: ConnectionId, uid: bigint | undefined, kernelId: number): void;
  setUid(id: ConnectionId, uid: bigint): void;
  forget(id: ConnectionId): void;
  pump(): void;
  waitReadable(resolve: (status: number) => void): () => void;
  nextUid(): bigint;
  /** Wakes every wait in progress (each re-reads and watches again). */
  wakeAll(): void;
  readonly release: string;
}

const access = new WeakMap<EventChannel, ChannelAccess>();

/** @internal the channel's command and event plumbing (for its IDs; never exported from the package). */
export function channelAccess(channel: EventChannel): ChannelAccess {
  const a = access.get(channel);
  if (a === undefined) throw invalidArgType('channel', 'an EventChannel', channel);
  return a;
}

export class EventChannel extends KernelObject {
  /** The channel's fd (O_NONBLOCK, O_CLOEXEC). */
  readonly fd: number;
  /** The device node it opened. */
  readonly path: string;
  readonly #sys: Sys;
  readonly #scratch: Scratch;
  /** IDs by the uid the library gave them (CREATE_ID, ACCEPT, multicast joins). */
  readonly #byUid = new Map<bigint, ConnectionId>();
  /** IDs by the kernel's id (events of an ID made by a connect request before ACCEPT carry uid 0). */
  readonly #byKernelId = new Map<number, ConnectionId>();
  readonly #waiters: FdWaiters;
  #uid = 0n;
  readonly #release: string;

  private constructor(sys: Sys, fd: number, path: string, release: string) {
    super();
    this.#sys = sys;
    this.fd = fd;
    this.path = path;
    this.#release = release;
    this.#scratch = new Scratch(sys, 4096);
    this.#waiters = new FdWaiters(fd, this.description);
    access.set(this, {
      sys,
      release,
      call: (command, request, object) => this.#call(command, request, object),
      register: (id, uid, kernelId) => {
        if (uid !== undefined) this.#byUid.set(uid, id);
        this.#byKernelId.set(kernelId, id);
      },
      setUid: (id, uid) => this.#byUid.set(uid, id),
      forget: (id) => {
        for (const [k, v] of this.#byUid) if (v === id) this.#byUid.delete(k);
        for (const [k, v] of this.#byKernelId) if (v === id) this.#byKernelId.delete(k);
      },
      pump: () => this.#pump(),
      waitReadable: (resolve) => this.#waiters.park(resolve),
      nextUid: () => ++this.#uid,
      wakeAll: () => this.#waiters.wakeAll(),
    });
  }

  /**
   * Opens `/dev/infiniband/rdma_cm` (O_RDWR | O_CLOEXEC | O_NONBLOCK). A
   * node that cannot be opened (no rdma_ucm module: ENOENT) is a
   * `UverbsError` with `syscall: 'open'` and the node in `file`.
   */
  static open(options: EventChannelOptions = {}): EventChannel {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
    const path = options.path ?? RDMA_CM_PATH;
    if (typeof path !== 'string') throw invalidArgType('options.path', 'a string', path);
    const sys = options.sys ?? libcSys();
    const fd = sys.open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      throw new UverbsError({
        errno: -fd,
        syscall: 'open',
        object: 'EventChannel',
        method: 'open',
        path: 'open',
        file: path,
        detail: `cannot open ${path}`,
      });
    }
    try {
      return new EventChannel(sys, fd, path, release());
    } catch (error) {
      sys.close(fd);
      throw error;
    }
  }

  get description(): string {
    return `EventChannel fd ${this.fd}`;
  }

  /**
   * A new connection ID in this channel (RDMA_USER_CM_CMD_CREATE_ID):
   * port space `'TCP'` (reliable connected, the default) or `'UDP'`
   * (unreliable datagram); checked before any syscall.
   */
  createId(options: ConnectionIdOptions = {}): ConnectionId {
    this.assertOpen();
    return createId(this, options);
  }

  #call(command: CmCommand, request: Record<string, unknown>, object: string): Record<string, unknown> | undefined {
    this.assertOpen();
    this.#scratch.reset();
    const encoded = encodeCm(command, request as Input<CmCommand['request']>, this.#scratch);
    const n = this.#sys.write(this.fd, encoded.buffer.address, encoded.buffer.bytes.byteLength);
    if (n < 0) throw this.#error(-n, command, object);
    return decodeCm(encoded);
  }

  /**
   * The kernel's errno as the library's error: ENOSYS / EOPNOTSUPP are
   * unsupported; so is EINVAL for a command number newer than the running
   * kernel's table (ucma_write answers EINVAL for a number past its table,
   * before any handler runs).
   */
  #error(errno: number, command: CmCommand, object: string): UverbsError {
    const since = COMMAND_SINCE[command.name];
    const tooNew = errno === EINVAL && since !== undefined && !releaseHas(this.#release, since);
    const details = {
      errno,
      syscall: 'write',
      object,
      method: command.name,
      path: 'write' as const,
      ...(tooNew ? { detail: `the kernel (${this.#release}) has no command ${command.cmd}` } : {}),
    };
    return tooNew || errno === ENOSYS || errno === EOPNOTSUPP || errno === EPROTONOSUPPORT
      ? new UverbsUnsupportedError(details)
      : new UverbsError(details);
  }

  /**
   * Reads every queued event (GET_EVENT until EAGAIN) and hands each to its
   * ID. An event read here may be for an ID whose wait is parked on the fd
   * watch, which will not fire for an event already taken off the fd: so
   * when anything was read, every parked wait is woken to look at its queue.
   */
  #pump(): void {
    if (this.closed) return;
    let routed = 0;
    try {
      for (;;) {
        let event: Record<string, unknown> | undefined;
        try {
          event = this.#call(CM_COMMANDS.RDMA_USER_CM_CMD_GET_EVENT, {}, this.description);
        } catch (error) {
          if (error instanceof UverbsError && error.errno === EAGAIN) return;
          throw error;
        }
        this.#route(event as unknown as RawEvent);
        routed++;
      }
    } finally {
      if (routed > 0 && this.#waiters.size > 0) this.#waiters.wakeAll();
    }
  }

  #route(event: RawEvent): void {
    const type = event.event;
    let target: ConnectionId | undefined;
    if (type === 4 /* RDMA_CM_EVENT_CONNECT_REQUEST: uid is the listener's, id the new ID's */) {
      target = this.#byUid.get(event.uid);
    } else if (event.uid !== 0n) {
      target = this.#byUid.get(event.uid);
    } else {
      target = this.#byKernelId.get(event.id);
    }
    // an event of an ID this library no longer has (destroyed: the kernel dropped what was queued)
    target?.deliver(event);
  }

  /**
   * Closes the fd; the kernel destroys every ID still in it (ucma_close),
   * so the IDs are closed without a DESTROY_ID each, and their waits
   * reject with `UverbsClosedError`. The kernel does so when the file's
   * last reference goes: at once, or, if a wait was watching the fd, once
   * the event loop has closed the watch's duplicate of it (a turn later).
   * Closing each ID first destroys them synchronously. `cascade` is accepted for symmetry
   * with the other objects and changes nothing.
   */
  override close(_options: { cascade?: boolean } = {}): void {
    super.close({ cascade: false });
  }

  /** Closing the fd destroys every ID in it (the kernel's ucma_close). */
  protected override takesDown(_dependent: KernelObject): boolean {
    return true;
  }

  protected destroy(): Error | undefined {
    this.#waiters.wakeAll();
    const r = this.#sys.close(this.fd);
    this.#scratch.free();
    this.#byUid.clear();
    this.#byKernelId.clear();
    if (r >= 0) return undefined;
    return new UverbsError({ errno: -r, syscall: 'close', object: this.description, method: 'close', path: 'write' });
  }
}

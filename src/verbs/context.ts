/**
 * A device context: the open uverbs fd, its ucontext, and everything made
 * through it. Knows its driver id (asked of the kernel), its provider, and
 * which path each call took.
 */

import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { O_CLOEXEC, O_RDWR } from '../../ioctl/index.js';
import { decode } from '../abi/layout.js';
import {
  UVERBS_METHOD_GET_CONTEXT,
  UVERBS_METHOD_QUERY_CONTEXT,
  UVERBS_METHOD_QUERY_GID_ENTRY,
  UVERBS_METHOD_QUERY_GID_TABLE,
  UVERBS_METHOD_QUERY_PORT,
} from '../abi/methods.js';
import { ib_uverbs_gid_entry } from '../abi/structs.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { ENOMEM, EOPNOTSUPP } from '../errno.js';
import {
  type CallPath,
  checkPort,
  invalidArgType,
  invalidArgValue,
  invalidState,
  outOfRange,
  UverbsError,
  UverbsGidNotFoundError,
  UverbsUnsupportedError,
} from '../errors.js';
import { type Datapath, type Provider, providerFor, type RingCall, ringsFor, uhwFor } from '../providers/index.js';
import { Dispatcher, type TraceEvent } from '../transport/dispatch.js';
import { detectDriverId } from '../transport/driver-id.js';
import { Scratch } from '../transport/memory.js';
import { mapRings, type Ring, type RingName } from '../transport/ring.js';
import { libcSys, type Sys } from '../transport/sys.js';
import { AsyncEventQueue } from './async-events.js';
import {
  type DeviceAttributes,
  deviceAttributes,
  type GidEntry,
  type GidType,
  gidEntry,
  isIpv4Mapped,
  netdevNames,
  type PortAttributes,
  portAttributes,
} from './attributes.js';
import { CompletionChannel } from './completion-channel.js';
import { CompletionQueue, type CompletionQueueOptions } from './completion-queue.js';
import { type DeviceInfo, resolveDevice } from './device.js';
import { camelize, KernelObject } from './kernel-object.js';
import { ProtectionDomain } from './protection-domain.js';

export interface OpenOptions {
  /** The libc to use (tests inject a fake). */
  sys?: Sys;
  /** Called after every syscall a call makes, with the path it took. */
  trace?: (event: TraceEvent) => void;
  /**
   * false: never use RDMA_VERBS_IOCTL on this context, as on a kernel
   * without it; every call takes its legacy write / write-ex form (and a
   * method that has none is unsupported). For testing and comparing paths.
   * The driver id is still asked of the kernel by one ioctl that cannot
   * succeed (an unknown method), where the kernel has the framework.
   */
  ioctl?: boolean;
}

/**
 * The system each context makes its calls through. Not a property: a
 * `Sys` takes any bigint as an address, so no caller may reach it.
 */
const SYSTEMS = new WeakMap<Context, Sys>();

/** @internal the system `context` calls through (the library's objects read it; never exported from the package). */
export function sysOf(context: Context): Sys {
  const sys = SYSTEMS.get(context);
  if (sys === undefined) throw invalidArgType('context', 'a Context', context);
  return sys;
}

export type { GidEntry } from './attributes.js';

/** What `Context.findGid()` looks for; every field left out matches anything. */
export interface GidQuery {
  /** The port (1..255); default: every port, in order. */
  port?: number;
  /** The GID type (`'RoCEv2'`: RoCE v2, routable over UDP/IP). */
  type?: GidType;
  /** `'ipv4'`: an IPv4 address mapped into the GID (`::ffff:a.b.c.d`); `'ipv6'`: any other GID. */
  family?: 'ipv4' | 'ipv6';
  /** The netdev the GID belongs to, by name (`eth0`) or ifindex. */
  netdev?: string | number;
}

const GID_TYPE_NAMES: readonly GidType[] = ['IB', 'RoCEv1', 'RoCEv2'];

function checkGidQuery(query: GidQuery): void {
  if (query === null || typeof query !== 'object') throw invalidArgType('query', 'an object', query);
  if (query.port !== undefined) checkPort('query.port', query.port);
  if (query.type !== undefined && !GID_TYPE_NAMES.includes(query.type)) {
    throw invalidArgValue('query.type', "must be 'IB', 'RoCEv1' or 'RoCEv2'", query.type);
  }
  if (query.family !== undefined && query.family !== 'ipv4' && query.family !== 'ipv6') {
    throw invalidArgValue('query.family', "must be 'ipv4' or 'ipv6'", query.family);
  }
  const { netdev } = query;
  if (netdev !== undefined && typeof netdev !== 'string' && !(Number.isInteger(netdev) && netdev > 0)) {
    throw invalidArgType('query.netdev', 'a netdev name or a positive ifindex', netdev);
  }
}

function gidMatches(e: GidEntry, q: GidQuery): boolean {
  if (q.port !== undefined && e.port !== q.port) return false;
  if (q.type !== undefined && e.type !== q.type) return false;
  if (q.family !== undefined && isIpv4Mapped(e.gid) !== (q.family === 'ipv4')) return false;
  if (typeof q.netdev === 'number' && e.netdevIfindex !== q.netdev) return false;
  if (typeof q.netdev === 'string' && e.netdev !== q.netdev) return false;
  return true;
}

export class Context extends KernelObject {
  readonly device: DeviceInfo;
  /** The kernel release this context talks to (`uname -r`). */
  readonly release: string;
  /** `enum rdma_driver_id`; undefined on a kernel without the ioctl framework. */
  readonly driverId: number | undefined;
  readonly provider: Provider | undefined;
  readonly numCompVectors: number;
  /** @internal */
  readonly dispatch: Dispatcher;
  readonly #fd: number;
  readonly #scratch!: Scratch;
  /**
   * Every ring mapped from the fd and not yet known unmapped: each mapping
   * keeps the uverbs file open in the kernel, so a takedown unmaps them all
   * with the fd's close, before any memory is let go (see `destroy`).
   */
  readonly #rings = new Set<Ring>();
  /** The async event fd legacy GET_CONTEXT returned, until `asyncEvents()` adopts it. */
  #legacyAsyncFd: number | undefined;
  #asyncEvents: AsyncEventQueue | undefined;
  #capabilities: bigint | undefined;

  private constructor(device: DeviceInfo, sys: Sys, fd: number, options: OpenOptions) {
    super();
    this.device = device;
    SYSTEMS.set(this, sys);
    this.#fd = fd;
    let scratch: Scratch | undefined;
    try {
      this.release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
      scratch = new Scratch(sys);
      this.#scratch = scratch;
      this.driverId = detectDriverId(sys, fd, this.#scratch);
      this.provider = this.driverId === undefined ? undefined : providerFor(this.driverId);
      this.dispatch = new Dispatcher(sys, fd, this.driverId ?? 0, this.#scratch, {
        release: this.release,
        trace: options.trace,
        ioctl: options.ioctl,
        writeFirst: new Set(Object.keys(this.provider?.writeFirst ?? {})),
      });
      const r = this.dispatch.invoke(
        UVERBS_METHOD_GET_CONTEXT,
        { numCompVectors: true },
        uhwFor(this.provider, 'getContext'),
      );
      this.numCompVectors = Number(r.outputs.numCompVectors ?? 1);
      this.#legacyAsyncFd = r.outputs.asyncFd as number | undefined;
    } catch (error) {
      scratch?.free();
      if (this.#legacyAsyncFd !== undefined) sys.close(this.#legacyAsyncFd);
      sys.close(fd);
      throw openFailure(error, device);
    }
  }

  /**
   * Opens a device by ib name (`rxe0`), uverbs node (`uverbs0`) or its
   * `DeviceInfo`. A name that names no device is `UverbsError` ENODEV
   * listing the devices there are, before any syscall; a device node that
   * cannot be opened is the open's errno with `syscall: 'open'`,
   * `path: 'open'` and the node in `file`.
   */
  static open(device: string | DeviceInfo, options: OpenOptions = {}): Context {
    // every failure after the argument check is a UverbsError, with nothing left open (the constructor closes what it made)
    if (typeof device !== 'string' && (device === null || typeof device !== 'object' || !('path' in device))) {
      throw invalidArgType('device', 'a device name or a DeviceInfo', device);
    }
    const info = typeof device === 'string' ? resolveDevice(device) : device;
    const sys = options.sys ?? libcSys();
    const fd = sys.open(info.path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      throw new UverbsError({
        errno: -fd,
        syscall: 'open',
        object: info.name,
        method: 'open',
        path: 'open',
        file: info.path,
        detail: `cannot open ${info.path}`,
      });
    }
    return new Context(info, sys, fd, options);
  }

  get description(): string {
    return `Context ${this.device.name}`;
  }

  /** @internal the uverbs fd, for the datapath's doorbell. */
  get fd(): number {
    this.assertOpen();
    return this.#fd;
  }

  /**
   * @internal the provider's datapath; `UverbsUnsupportedError` (EOPNOTSUPP,
   * nothing sent) for a driver whose provider has none.
   */
  datapath(owner: { readonly description: string }, method: string): Datapath {
    const datapath = this.provider?.datapath;
    if (datapath === undefined) {
      const object = owner.description;
      throw new UverbsUnsupportedError({ errno: EOPNOTSUPP, syscall: 'none', object, method, path: 'ring' });
    }
    return datapath;
  }

  /** @internal maps the rings a call's driver reply describes (all or none). */
  mapRings(
    call: RingCall,
    driverData: Uint8Array | undefined,
    owner: string,
    except: readonly RingName[] = [],
  ): Ring[] {
    const specs = ringsFor(this.provider, call, driverData).filter((spec) => !except.includes(spec.name));
    if (specs.length === 0) return [];
    for (const ring of this.#rings) if (!ring.mapped) this.#rings.delete(ring); // their owners unmapped them
    const rings = mapRings(this.#fd, specs, owner);
    for (const ring of rings) this.#rings.add(ring);
    return rings;
  }

  /**
   * The context's async event fd (port changes, QP/CQ/SRQ errors), made on
   * first use. A QP, CQ or SRQ reports to the async fd its context had when
   * it was created (the kernel's default event file), so ask for this
   * before creating the objects whose errors you want to hear about.
   */
  asyncEvents(): AsyncEventQueue {
    this.assertOpen();
    if (this.#asyncEvents === undefined || this.#asyncEvents.closed) {
      this.#asyncEvents = AsyncEventQueue.open(this, this.#legacyAsyncFd);
      this.#legacyAsyncFd = undefined;
    }
    return this.#asyncEvents;
  }

  /**
   * UVERBS_METHOD_QUERY_CONTEXT: comp vectors and `IB_UVERBS_CORE_SUPPORT_*`
   * bits. The kernel answers EOPNOTSUPP for drivers without a
   * `query_ucontext` op (rxe and siw have none).
   */
  queryContext(): { numCompVectors: number; coreSupport: bigint } {
    this.assertOpen();
    const r = this.dispatch.invoke(UVERBS_METHOD_QUERY_CONTEXT, { numCompVectors: true, coreSupport: true });
    return { numCompVectors: r.outputs.numCompVectors as number, coreSupport: r.outputs.coreSupport as bigint };
  }

  /** The path the most recent call took. */
  get lastPath(): CallPath | undefined {
    return this.dispatch.lastPath;
  }

  /**
   * Port attributes (UVERBS_METHOD_QUERY_PORT, or the QUERY_PORT write):
   * `ibv_port_attr`'s fields camelCased, enums as names (`state: 'ACTIVE'`,
   * `linkLayer: 'Ethernet'`, `activeWidth: '1X'`, `activeSpeed: 'SDR'`),
   * MTUs in bytes. See `PortAttributes`.
   */
  queryPort(port: number): PortAttributes {
    this.assertOpen();
    checkPort('port', port);
    const r = this.dispatch.invoke(UVERBS_METHOD_QUERY_PORT, { portNum: port });
    const { legacy_resp, ...ex } = r.outputs.resp as Record<string, unknown>;
    return portAttributes(camelize({ ...(legacy_resp as object), ...ex }) as Record<string, number | undefined>);
  }

  /**
   * Device attributes through the extended query (write-ex):
   * `ibv_device_attr_ex`'s fields camelCased and flattened, capability bits
   * raw (`deviceCapFlags`) and by name (`capabilities`); the extensions
   * past the `response_length` the kernel vouched for are undefined. See
   * `DeviceAttributes`.
   */
  queryDevice(): DeviceAttributes {
    this.assertOpen();
    const r = this.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_EX_CMD_QUERY_DEVICE, {});
    return deviceAttributes(camelize(r.response) as Record<string, unknown>);
  }

  /**
   * @internal the device's capability bits (`device_cap_flags_ex`, e.g.
   * IB_UVERBS_DEVICE_ATOMIC_WRITE), asked of the kernel once per context.
   */
  capabilities(): bigint {
    this.#capabilities ??= this.queryDevice().deviceCapFlags;
    return this.#capabilities;
  }

  allocPd(): ProtectionDomain {
    this.assertOpen();
    return ProtectionDomain.allocate(this);
  }

  createCompletionChannel(): CompletionChannel {
    this.assertOpen();
    return CompletionChannel.create(this);
  }

  createCq(options: CompletionQueueOptions): CompletionQueue {
    this.assertOpen();
    return CompletionQueue.create(this, options);
  }

  /** One GID table entry (UVERBS_METHOD_QUERY_GID_ENTRY): the 16 GID bytes, its type and netdev. */
  queryGid(port: number, index: number): GidEntry {
    this.assertOpen();
    checkPort('port', port);
    if (!Number.isInteger(index) || index < 0) throw outOfRange('index', '>= 0', index);
    const r = this.dispatch.invoke(UVERBS_METHOD_QUERY_GID_ENTRY, { port, gidIndex: index, flags: 0 });
    return gidEntry(r.outputs.entry as Parameters<typeof gidEntry>[0], netdevNames());
  }

  /**
   * Every valid GID of every port (UVERBS_METHOD_QUERY_GID_TABLE), in room
   * for `maxEntries` (default: the ports' `gidTblLen` summed). The kernel
   * answers EINVAL when the table holds more valid entries than that.
   */
  queryGidTable(maxEntries?: number): GidEntry[] {
    this.assertOpen();
    let room = maxEntries;
    if (room === undefined) {
      room = 0;
      const ports = this.queryDevice().physPortCnt;
      for (let p = 1; p <= ports; p++) room += this.queryPort(p).gidTblLen;
    }
    if (!Number.isInteger(room) || room < 1 || room * ib_uverbs_gid_entry.size > 0xffff) {
      throw outOfRange('maxEntries', `1 .. ${Math.floor(0xffff / ib_uverbs_gid_entry.size)}`, room);
    }
    const size = ib_uverbs_gid_entry.size;
    const r = this.dispatch.invoke(UVERBS_METHOD_QUERY_GID_TABLE, {
      entrySize: size,
      entries: room * size,
      numEntries: true,
    });
    const bytes = r.outputs.entries as Uint8Array;
    const netdevs = netdevNames();
    const out: GidEntry[] = [];
    for (let i = 0; i < Number(r.outputs.numEntries); i++) {
      out.push(gidEntry(decode(ib_uverbs_gid_entry, bytes.subarray(i * size, (i + 1) * size)) as never, netdevs));
    }
    return out;
  }

  /**
   * The first valid GID (by port, then index) that matches `query`, read
   * from the GID table (UVERBS_METHOD_QUERY_GID_TABLE): its `index` is the
   * `sgidIndex` a QP or address handle takes, its `gid` what the peer needs.
   * E.g. `ctx.findGid({ type: 'RoCEv2', family: 'ipv4' })` for RoCE v2 over
   * the port's IPv4 address. Bad input is a TypeError / RangeError before
   * any syscall; no match is `UverbsGidNotFoundError` with the table in its
   * message and `table`. The table is read by ioctl, so a context opened
   * with `ioctl: false` gets the kernel's refusal (as `queryGidTable()` does).
   */
  findGid(query: GidQuery = {}): GidEntry {
    this.assertOpen();
    checkGidQuery(query);
    const table = this.queryGidTable();
    const found = table.find((e) => gidMatches(e, query));
    if (found === undefined) throw new UverbsGidNotFoundError(this.device.name, query, table);
    return found;
  }

  /** Closing the fd destroys every object made through it; the fds a context hands out (channels, async events) are files of their own. */
  protected override takesDown(dependent: KernelObject): boolean {
    return !(dependent instanceof CompletionChannel || dependent instanceof AsyncEventQueue);
  }

  /**
   * The first of a takedown's two phases: the kernel lets go of everything
   * made through the fd (MRs deregistered, pages unpinned, rings freed)
   * when the last reference to the uverbs file goes, and each ring mapping
   * is one. So the fd is closed and every ring mapped from it unmapped
   * here, before the objects it takes down are released (`released()`:
   * the caller's SharedArrayBuffers unpinned, the library's memory
   * unmapped) in the second. A failed close(2) still releases the fd.
   */
  protected destroy(): Error | undefined {
    // from a getter of a call's arguments: freeing the arena and the fd under that call is refused (the context stays open)
    if (this.dispatch.busy) {
      throw invalidState(
        `${this.description}.close: called while a call on it is being laid out (from a getter of its arguments)`,
      );
    }
    this.#scratch.free();
    const sys = sysOf(this);
    if (this.#legacyAsyncFd !== undefined) sys.close(this.#legacyAsyncFd);
    const r = sys.close(this.#fd);
    for (const ring of this.#rings) ring.unmap();
    this.#rings.clear();
    if (r >= 0) return undefined;
    return new UverbsError({ errno: -r, syscall: 'close', object: this.device.name, method: 'close', path: 'ioctl' });
  }
}

/**
 * What a failure inside `Context.open` surfaces as: a UverbsError as it is;
 * anything else (an fs read of the kernel's release, the addon's mapping of
 * the scratch arena failing for want of memory: ERR_UVERBS_NATIVE with no
 * errno) as a UverbsError with the errno it carries (ENOMEM where it has
 * none) and the original as `cause`.
 */
function openFailure(error: unknown, device: DeviceInfo): unknown {
  if (error instanceof UverbsError || !(error instanceof Error)) return error;
  const e = error as NodeJS.ErrnoException;
  const errno =
    typeof e.errno === 'number' && e.errno !== 0
      ? Math.abs(e.errno)
      : ((constants.errno as Record<string, number>)[e.code ?? ''] ?? ENOMEM);
  const typed = new UverbsError({
    errno,
    syscall: e.syscall ?? 'mmap',
    object: device.name,
    method: 'open',
    path: 'open',
    file: device.path,
    detail: error.message,
  });
  typed.cause = error;
  return typed;
}

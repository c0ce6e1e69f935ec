/**
 * A fake kernel behind the `Sys` interface: user memory is a set of
 * ArrayBuffer mappings at fake addresses; ioctl and write commands are
 * validated by the kernel model and then answered by a generic handler
 * (new handles written back, outputs filled and flagged VALID_OUTPUT,
 * responses filled with recognisable values).
 *
 * It is configured like the kernels we meet: with or without the ioctl
 * framework, with or without particular methods, with or without write
 * commands, and with either spelling of "unsupported" for write.
 */

import { rdma_driver_id, rdma_user_ioctl_defines, uverbs_attr_flags } from '../../src/abi/constants.js';
import { uverbs_driver_ns_ids } from '../../src/abi/ids.js';
import { type ModelDevice, modelDevice, validateIoctl, validateWrite } from '../../src/abi/kernel-model.js';
import { type AnyLayout, encode, type Field } from '../../src/abi/layout.js';
import { type MethodSpec, methodKey } from '../../src/abi/method-spec.js';
import { METHODS } from '../../src/abi/methods.js';
import { WRITE_COMMANDS, type WriteCommand } from '../../src/abi/write-commands.js';
import { EBADF, ENOENT, ENOTTY, EOPNOTSUPP } from '../../src/errno.js';
import type { Mapping, Sys } from '../../src/transport/sys.js';
import type { DeviceInfo } from '../../src/verbs/device.js';

export interface FakeKernelOptions {
  /** false: a kernel that predates RDMA_VERBS_IOCTL (ENOTTY). */
  ioctl?: boolean;
  /** Methods this kernel/driver lacks (EPROTONOSUPPORT). */
  without?: readonly MethodSpec[];
  /** false: write() knows no command at all. */
  write?: boolean;
  /** The errno for an unsupported write command: EOPNOTSUPP (modern) or ENOSYS (old). */
  writeUnsupported?: number;
  driverId?: number;
  /** Object handles that do not exist (lookups answer ENOENT, as rdma_core.c does). */
  staleHandles?: readonly number[];
}

export interface SyscallRecord {
  syscall: 'ioctl' | 'write';
  /** `object/method` for ioctl, the command number for write. */
  what: string;
  errno: number;
}

const PAGE = 4096n;

/** The device a fake kernel stands behind (what sysfs would list for rxe0). */
export const FAKE_DEVICE: DeviceInfo = {
  name: 'rxe0',
  node: 'uverbs0',
  path: '/dev/infiniband/uverbs0',
  driverAbiVersion: 2,
  nodeGuid: '5054:00ff:fe12:3456',
  nodeType: '1: CA',
};

export class FakeKernel implements Sys {
  readonly calls: SyscallRecord[] = [];
  readonly model: ModelDevice;
  readonly #regions = new Map<bigint, ArrayBuffer>();
  readonly #options: Required<Omit<FakeKernelOptions, 'without' | 'staleHandles'>>;
  #next = 0x7f00_0000_0000n;
  #handles = 1;
  readonly uverbsFd = 3;

  constructor(options: FakeKernelOptions = {}) {
    this.#options = {
      ioctl: options.ioctl ?? true,
      write: options.write ?? true,
      writeUnsupported: options.writeUnsupported ?? EOPNOTSUPP,
      driverId: options.driverId ?? rdma_driver_id.RDMA_DRIVER_RXE,
    };
    const methods = METHODS.filter((m) => !(options.without ?? []).includes(m));
    const writes = this.#options.write ? Object.values(WRITE_COMMANDS) : [];
    this.model = modelDevice(this.#options.driverId, methods, writes, {
      readUser: (address, length) => this.readUser(address, length),
      lookup: (attr, value) => (attr.kind === 'idr' && options.staleHandles?.includes(Number(value)) ? ENOENT : 0),
    });
  }

  /** Copies `length` bytes of user memory, or undefined where nothing is mapped (EFAULT). */
  readUser(address: bigint, length: number): Uint8Array | undefined {
    for (const [base, buffer] of this.#regions) {
      if (address >= base && address + BigInt(length) <= base + BigInt(buffer.byteLength)) {
        const at = Number(address - base);
        return new Uint8Array(buffer, at, length);
      }
    }
    return undefined;
  }

  open(): number {
    return this.uverbsFd;
  }
  close(): number {
    return 0;
  }
  read(): number {
    return -EBADF;
  }
  poll(): number {
    return 0;
  }
  /** Memory at a fake address; unmap detaches its buffer (by transferring it away), as the addon does. */
  mapAnonymous(length: number): Mapping {
    const address = this.#next;
    this.#next += ((BigInt(length) + PAGE - 1n) / PAGE) * PAGE + PAGE;
    const buffer = new ArrayBuffer(length);
    this.#regions.set(address, buffer);
    return {
      address,
      length,
      buffer,
      unmap: () => {
        if (!this.#regions.delete(address)) return;
        structuredClone(buffer, { transfer: [buffer] });
      },
    };
  }
  /** The bytes at a fake address (for tests to look at what the library wrote). */
  view(address: bigint, length: number): ArrayBuffer {
    const buffer = this.#regions.get(address);
    if (!buffer || buffer.byteLength < length) throw new Error(`no mapping at ${address.toString(16)}`);
    return buffer;
  }

  ioctl(_fd: number, request: number, arg: bigint): number {
    if (!this.#options.ioctl || request !== rdma_user_ioctl_defines.RDMA_VERBS_IOCTL) {
      this.calls.push({ syscall: 'ioctl', what: '?', errno: ENOTTY });
      return -ENOTTY;
    }
    const head = this.readUser(arg, 24);
    const length = head ? new DataView(head.buffer, head.byteOffset).getUint16(0, true) : 0;
    const bytes = this.readUser(arg, Math.max(length, 24)) ?? new Uint8Array(0);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const what = bytes.byteLength >= 6 ? `${view.getUint16(2, true)}/${view.getUint16(4, true)}` : '?';
    const errno = validateIoctl(this.model, request, bytes);
    this.calls.push({ syscall: 'ioctl', what, errno });
    if (errno) return -errno;
    const method = this.model.methods.get(methodKey(view.getUint16(2, true), view.getUint16(4, true))) as MethodSpec;
    this.#runMethod(method, view);
    return 0;
  }

  /** The generic handler: new objects get handles, outputs get recognisable values. */
  #runMethod(method: MethodSpec, view: DataView): void {
    const byId = new Map(Object.values(method.attrs).map((a) => [a.id, a]));
    const numAttrs = view.getUint16(6, true);
    for (let i = 0; i < numAttrs; i++) {
      const at = 24 + 16 * i;
      const spec = byId.get(view.getUint16(at, true));
      if (!spec) continue;
      if ((spec.kind === 'idr' || spec.kind === 'fd') && spec.access === 'new') {
        view.setBigUint64(at + 8, BigInt(this.#handles++), true);
      } else if (spec.kind === 'ptrOut') {
        const len = view.getUint16(at + 2, true);
        const out = this.readUser(view.getBigUint64(at + 8, true), len);
        // driver data (UHW_OUT) stays zero: the fake has no driver, so no rings to describe
        const uhw = spec.id === uverbs_driver_ns_ids.UVERBS_ATTR_UHW_OUT;
        if (out && !uhw) for (let j = 0; j < out.byteLength; j++) out[j] = (spec.id + j + 1) & 0xff;
        view.setUint16(at + 4, view.getUint16(at + 4, true) | uverbs_attr_flags.UVERBS_ATTR_F_VALID_OUTPUT, true);
      }
    }
  }

  write(_fd: number, address: bigint, length: number): number {
    const bytes = this.readUser(address, length) ?? new Uint8Array(0);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const command = bytes.byteLength >= 4 ? view.getUint32(0, true) : -1;
    let errno = validateWrite(this.model, bytes);
    if (errno === EOPNOTSUPP) errno = this.#options.writeUnsupported;
    this.calls.push({ syscall: 'write', what: String(command), errno });
    if (errno) return -errno;
    const extended = (command & 0x8000_0000) !== 0;
    const table = extended ? this.model.writesEx : this.model.writes;
    const cmd = table.get(command & 0xff) as WriteCommand;
    if (cmd.response) {
      // legacy: the request's leading `response` u64; extended: ex_hdr.response. Both sit at byte 8.
      const responseAddress = view.getBigUint64(8, true);
      const response = this.readUser(responseAddress, cmd.response.size);
      if (response) this.#fillResponse(cmd.response, response);
    }
    return length;
  }

  /**
   * Response fields get their offset in the whole response + 1 (handles
   * become small distinct numbers), nested structs included;
   * response_length is honest.
   */
  #fillResponse(layout: AnyLayout, target: Uint8Array): void {
    const values = (l: AnyLayout, base: number): Record<string, unknown> => {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(l.fields) as [string, Field][]) {
        const at = base + field.offset;
        if (field.kind === 'scalar') out[key] = field.size === 8 ? BigInt(at + 1) : (at + 1) & 0xff;
        else if (field.kind === 'nested') out[key] = values(field.layout, at);
      }
      return out;
    };
    const top = values(layout, 0);
    if ('response_length' in layout.fields) top.response_length = layout.size;
    encode(layout, top as never, target);
  }
}

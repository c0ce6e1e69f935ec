/**
 * The rdma_cm (ucma) ABI on the host: the framing of a command, the
 * kernel-internal event enum against each kernel's own rdma_cm.h, the
 * address families against the C library, socket address encoding, and
 * the client's checks and error mapping against a stand-in ucma (every
 * refusal before any syscall). The layouts and uapi enums are proven by
 * test/layout-conformance.test.ts with the rest of the tables.
 */

import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCm, encodeCm } from '../src/abi/cm-command.js';
import { decode, releaseHas } from '../src/abi/layout.js';
import {
  address_families,
  CM_COMMANDS,
  rdma_cm_event_type,
  rdma_ucm_cmd_hdr,
  rdma_ucm_create_id,
  rdma_ucm_event_resp,
  rdma_user_cm_cmds,
} from '../src/abi/rdma-cm.js';
import { decodeAddress, encodeAddress, formatIpv6, ipv6Bytes } from '../src/cm/address.js';
import { ConnectionId } from '../src/cm/connection-id.js';
import { EventChannel } from '../src/cm/event-channel.js';
import { EAGAIN, EINVAL, ENOSYS } from '../src/errno.js';
import { UverbsClosedError, UverbsError, UverbsUnsupportedError } from '../src/errors.js';
import { Scratch } from '../src/transport/memory.js';
import { cacheDir, PrivateApt } from '../src/vm/apt.js';
import { KERNEL_SUITES, type KernelSeries } from '../src/vm/kernels.js';
import { cMain, kernelSays, mismatches, printValue } from './support/conformance.js';
import { FakeKernel } from './support/fake-kernel.js';
import { kernelProgram } from './support/kernel-internal.js';

const progress = (line: string) => process.stderr.write(`${line}\n`);

/** include/rdma/rdma_cm.h of a kernel series, from Debian's linux-headers-*-common (cached). */
function kernelCmHeader(series: KernelSeries): { text: string; version: string } {
  const apt = new PrivateApt(KERNEL_SUITES[series], { progress });
  const arch = apt.depends('linux-headers-amd64').find((d) => /^linux-headers-\d.*-amd64$/.test(d)) as string;
  const common = apt.depends(arch).find((d) => /^linux-headers-\d.*-common$/.test(d)) as string;
  const version = apt.version(common);
  const dir = cacheDir('kernel-headers', `${common}_${version}`);
  const path = join(dir, 'rdma_cm.h');
  if (!existsSync(path)) {
    const deb = apt.download(common, version);
    mkdirSync(dir, { recursive: true });
    const text = execFileSync(
      'sh',
      ['-c', 'dpkg-deb --fsys-tarfile "$0" | tar -xO --wildcards "*/include/rdma/rdma_cm.h"', deb],
      { encoding: 'utf8', maxBuffer: 1 << 24 },
    );
    writeFileSync(path, text);
  }
  return { text: execFileSync('cat', [path], { encoding: 'utf8' }), version };
}

describe('the ucma command framing', () => {
  it('is rdma_ucm_cmd_hdr {cmd, in, out} and the command, the response pointer the library’s own', () => {
    const sys = new FakeKernel();
    const scratch = new Scratch(sys);
    const e = encodeCm(CM_COMMANDS.RDMA_USER_CM_CMD_CREATE_ID, { uid: 7n, ps: 0x106, qp_type: 2 }, scratch);
    expect(e.buffer.bytes.byteLength).toBe(8 + 24);
    expect(decode(rdma_ucm_cmd_hdr, e.buffer.bytes)).toEqual({ cmd: 0, in: 24, out: 4 });
    const body = decode(rdma_ucm_create_id, e.buffer.bytes, 8);
    expect(body).toMatchObject({ uid: 7n, ps: 0x106, qp_type: 2 });
    expect(body.response).toBe(e.response?.address);
    expect(body.response).not.toBe(0n);
    // the kernel's answer, as it would write it, decodes as a copy
    new DataView(e.response?.bytes.buffer as ArrayBuffer, e.response?.bytes.byteOffset).setUint32(0, 42, true);
    expect(decodeCm(e)).toEqual({ id: 42 });
    // commands without a response have out = 0
    const l = encodeCm(CM_COMMANDS.RDMA_USER_CM_CMD_LISTEN, { id: 3, backlog: 5 }, scratch);
    expect(decode(rdma_ucm_cmd_hdr, l.buffer.bytes)).toEqual({ cmd: 7, in: 8, out: 0 });
    expect(l.response).toBeUndefined();
  });

  it('refuses a caller’s response pointer, unknown fields and out-of-range values before anything is written', () => {
    const scratch = new Scratch(new FakeKernel());
    expect(() => encodeCm(CM_COMMANDS.RDMA_USER_CM_CMD_GET_EVENT, { response: 0x1000n } as never, scratch)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => encodeCm(CM_COMMANDS.RDMA_USER_CM_CMD_LISTEN, { id: 1, bogus: 2 } as never, scratch)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => encodeCm(CM_COMMANDS.RDMA_USER_CM_CMD_LISTEN, { id: -1 }, scratch)).toThrow(RangeError);
  });

  it('has every command of the uapi enum but GET_OPTION, which the kernel never implemented', () => {
    const named = Object.keys(CM_COMMANDS).sort();
    const all = Object.keys(rdma_user_cm_cmds).filter((n) => n !== 'RDMA_USER_CM_CMD_GET_OPTION');
    expect(named).toEqual(all.sort());
    for (const c of Object.values(CM_COMMANDS)) expect(c.cmd).toBe(rdma_user_cm_cmds[c.name]);
  });
});

describe('the kernel-internal numbers', () => {
  const series: KernelSeries[] = ['6.1', '6.12', '7'];
  it.each(series)(
    'enum rdma_cm_event_type agrees with the %s kernel’s include/rdma/rdma_cm.h',
    { timeout: 300_000 },
    (s) => {
      const { text, version } = kernelCmHeader(s);
      const { expected, program } = kernelProgram(text, new Map([['rdma_cm_event_type', rdma_cm_event_type]]));
      const found = mismatches(expected, kernelSays([], program)).sort();
      process.stderr.write(`rdma_cm_event_type vs linux-headers ${version}: ${expected.size} values\n`);
      // 7.x added the IB service resolution events and USER / INTERNAL (WRITE_CM_EVENT)
      const newer = ['ADDRINFO_ERROR: 17', 'ADDRINFO_RESOLVED: 16', 'INTERNAL: 19', 'USER: 18'].map((m) => {
        const [n, v] = m.split(': ');
        return `RDMA_CM_EVENT_${n}: tables say ${v}, headers say nothing`;
      });
      expect(found).toEqual(s === '7' ? [] : newer);
    },
  );

  it('AF_INET, AF_INET6 and AF_IB agree with the C library’s sys/socket.h', () => {
    const program = cMain(
      'cm-abi.test.ts: address families',
      ['#include <stdio.h>', '#include <sys/socket.h>'],
      Object.keys(address_families).map((k) => printValue(k, k)),
    );
    const expected = new Map(Object.entries(address_families).map(([k, v]) => [k, BigInt(v)]));
    expect(mismatches(expected, kernelSays([], program))).toEqual([]);
  });

  it('the event union sits at 20, 4-aligned, as the header’s note says', () => {
    expect(rdma_ucm_event_resp.fields.param.offset).toBe(20);
    expect(rdma_ucm_event_resp.size).toBe(336);
  });
});

describe('socket addresses', () => {
  it('encode IPv4 and IPv6 with the port in network order, and decode back', () => {
    const v4 = encodeAddress({ address: '10.0.2.15', port: 7471 }, 'a');
    expect(v4.size).toBe(16);
    expect([...v4.storage.subarray(0, 8)]).toEqual([2, 0, 0x1d, 0x2f, 10, 0, 2, 15]);
    expect(decodeAddress(v4.storage)).toEqual({ family: 'IPv4', address: '10.0.2.15', port: 7471 });
    const v6 = encodeAddress({ address: 'fe80::1:2', port: 1 }, 'a');
    expect(v6.size).toBe(28);
    expect(v6.storage[0]).toBe(10);
    expect(decodeAddress(v6.storage)).toEqual({ family: 'IPv6', address: 'fe80::1:2', port: 1 });
    expect(decodeAddress(new Uint8Array(128))).toBeUndefined();
  });

  it('parse and format IPv6 text', () => {
    for (const text of ['::', '::1', 'fe80::1', '2001:db8::8:800:200c:417a', '1:2:3:4:5:6:7:8', '::ffff:10.0.2.15']) {
      expect(formatIpv6(ipv6Bytes(text))).toBe(text);
    }
    expect([...ipv6Bytes('::ffff:1.2.3.4').subarray(10)]).toEqual([0xff, 0xff, 1, 2, 3, 4]);
  });

  it('refuse what is not an address or a port, before any syscall', () => {
    expect(() => encodeAddress({ address: 'localhost' }, 'a')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => encodeAddress({ address: '1.2.3.4', port: 65536 }, 'a')).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => encodeAddress('1.2.3.4', 'a')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

/**
 * A stand-in rdma_cm: answers CREATE_ID with consecutive ids, GET_EVENT from
 * a queue (EAGAIN when empty, as the O_NONBLOCK fd does), and whatever
 * `answer` says to the rest.
 */
class FakeUcma extends FakeKernel {
  readonly writes: { fd: number; cmd: number; in: number; out: number; body: Uint8Array }[] = [];
  optionValue: Uint8Array | undefined;
  readonly events: Uint8Array[] = [];
  nextId = 100;
  answer: (cmd: number) => number = () => 0;
  opened: { path: string; flags: number } | undefined;
  closed = 0;

  nextFd = 9;
  override open(path?: string, flags?: number): number {
    this.opened = { path: path as string, flags: flags as number };
    return this.nextFd++;
  }
  override close(): number {
    this.closed++;
    return 0;
  }
  override write(fd: number, address: bigint, length: number): number {
    const bytes = this.readUser(address, length) as Uint8Array;
    const hdr = decode(rdma_ucm_cmd_hdr, bytes);
    const body = bytes.slice(8);
    this.writes.push({ fd, ...hdr, body });
    if (hdr.cmd === rdma_user_cm_cmds.RDMA_USER_CM_CMD_SET_OPTION) {
      const v = new DataView(body.buffer);
      this.optionValue = this.readUser(v.getBigUint64(0, true), v.getUint32(20, true))?.slice();
    }
    const errno = this.answer(hdr.cmd);
    if (errno) return -errno;
    const response = new DataView(body.buffer).getBigUint64(hdr.cmd === 0 ? 8 : 0, true);
    if (
      hdr.cmd === rdma_user_cm_cmds.RDMA_USER_CM_CMD_CREATE_ID ||
      hdr.cmd === rdma_user_cm_cmds.RDMA_USER_CM_CMD_JOIN_MCAST
    ) {
      const out = this.readUser(response, 4) as Uint8Array;
      new DataView(out.buffer, out.byteOffset).setUint32(0, this.nextId++, true);
    }
    if (hdr.cmd === rdma_user_cm_cmds.RDMA_USER_CM_CMD_GET_EVENT) {
      const event = this.events.shift();
      if (event === undefined) return -EAGAIN;
      (this.readUser(response, event.byteLength) as Uint8Array).set(event);
    }
    return length;
  }
  /** Queues an event as the kernel would write it. */
  queue(uid: bigint, id: number, event: number, status = 0, privateData?: Uint8Array): void {
    const bytes = new Uint8Array(rdma_ucm_event_resp.size);
    const v = new DataView(bytes.buffer);
    v.setBigUint64(0, uid, true);
    v.setUint32(8, id, true);
    v.setUint32(12, event, true);
    v.setInt32(16, status, true);
    if (privateData) {
      bytes.set(privateData, 20 + 8);
      bytes[20 + 264] = privateData.byteLength;
    }
    this.events.push(bytes);
  }
}

describe('EventChannel and ConnectionId against a stand-in ucma', () => {
  it('opens rdma_cm non-blocking and close-on-exec; CREATE_ID with the port space; close closes the fd once', () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    expect(sys.opened).toEqual({ path: '/dev/infiniband/rdma_cm', flags: 2 | 0o4000 | 0o2000000 });
    const tcp = ch.createId();
    const udp = ch.createId({ portSpace: 'UDP' });
    expect([tcp.handle, udp.handle]).toEqual([100, 101]);
    const [a, b] = sys.writes.map((w) => decode(rdma_ucm_create_id, w.body));
    expect([a?.ps, a?.qp_type, b?.ps, b?.qp_type]).toEqual([0x106, 2, 0x111, 4]);
    expect(a?.uid).not.toBe(b?.uid);
    ch.close();
    expect(sys.closed).toBe(1);
    // the kernel destroyed them with the fd: no DESTROY_ID was written
    expect(sys.writes.map((w) => w.cmd)).toEqual([0, 0]);
    expect(tcp.closed && udp.closed).toBe(true);
    expect(() => tcp.listen()).toThrow(UverbsClosedError);
  });

  it('checks arguments before any syscall', async () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    expect(() => ch.createId({ portSpace: 'IB' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    const id = ch.createId();
    const n = sys.writes.length;
    expect(() => id.bind({ address: 'nowhere' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => id.resolveAddress({ address: '10.0.0.1' }, { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => id.listen(-1)).toThrow(RangeError);
    expect(() => id.connect({ qp: {} as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => id.reject(new Uint8Array(149))).toThrow(RangeError);
    expect(() => id.setOption('NODELAY' as never, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => id.qpAttributes('SQD' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    await expect(id.event('NOPE' as never)).rejects.toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(sys.writes.length).toBe(n);
    ch.close();
  });

  it('encodes BIND and RESOLVE_ADDR with the sockaddr and its size', () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const id = ch.createId();
    id.bind({ address: '10.0.2.15', port: 7471 });
    id.resolveAddress({ address: 'fe80::2', port: 9 }, { source: { address: '10.0.2.15' }, timeoutMs: 500 });
    const [, bind, resolve] = sys.writes;
    expect(bind?.cmd).toBe(20);
    expect(bind?.in).toBe(136);
    const bv = new DataView(bind?.body.buffer as ArrayBuffer);
    expect([bv.getUint32(0, true), bv.getUint16(4, true), bv.getUint16(8, true), bv.getUint16(10, false)]).toEqual([
      100, 16, 2, 7471,
    ]);
    const rv = new DataView(resolve?.body.buffer as ArrayBuffer);
    expect([rv.getUint32(0, true), rv.getUint32(4, true), rv.getUint16(8, true), rv.getUint16(10, true)]).toEqual([
      100, 500, 16, 28,
    ]);
    expect(rv.getUint16(144, true)).toBe(10);
    ch.close();
  });

  it('routes events: by uid, a CONNECT_REQUEST to its listener with a new ID, uid 0 by the kernel id', async () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const listener = ch.createId();
    const other = ch.createId();
    const uidOf = (i: number) => decode(rdma_ucm_create_id, sys.writes[i]?.body as Uint8Array).uid;
    const E = rdma_cm_event_type;
    sys.queue(uidOf(1), other.handle, E.RDMA_CM_EVENT_ADDR_ERROR, -19);
    sys.queue(uidOf(0), 555, E.RDMA_CM_EVENT_CONNECT_REQUEST, 0, new TextEncoder().encode('hi'));
    sys.queue(0n, 555, E.RDMA_CM_EVENT_DISCONNECTED);
    const request = await listener.event('CONNECT_REQUEST');
    expect(request.listener).toBe(listener);
    expect(request.id).toBeInstanceOf(ConnectionId);
    expect(request.id.handle).toBe(555);
    expect(request.privateData).toEqual(new TextEncoder().encode('hi'));
    // the pump read all three: each waits in its ID's queue
    expect(await other.next()).toMatchObject({ type: 'ADDR_ERROR', status: -19, id: other });
    const wrong = request.id.event('ESTABLISHED');
    await expect(wrong).rejects.toMatchObject({
      code: 'ERR_UVERBS_CM_EVENT',
      expected: 'ESTABLISHED',
      event: { type: 'DISCONNECTED' },
    });
    ch.close();
  });

  it('closing a listener destroys the IDs of connect requests nobody took', async () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const listener = ch.createId();
    const other = ch.createId();
    const uid = decode(rdma_ucm_create_id, sys.writes[0]?.body as Uint8Array).uid;
    sys.queue(uid, 700, rdma_cm_event_type.RDMA_CM_EVENT_CONNECT_REQUEST);
    sys.queue(uid, 701, rdma_cm_event_type.RDMA_CM_EVENT_CONNECT_REQUEST);
    const first = await listener.next();
    // reading the first event read the second into the listener's queue
    listener.close();
    const destroyed = sys.writes
      .filter((w) => w.cmd === rdma_user_cm_cmds.RDMA_USER_CM_CMD_DESTROY_ID)
      .map((w) => new DataView(w.body.buffer).getUint32(8, true));
    expect(destroyed).toEqual([listener.handle, 701]);
    expect(first.id.closed).toBe(false);
    expect(other.closed).toBe(false);
    ch.close();
  });

  it('maps the kernel’s answers: ENOSYS is unsupported; EINVAL to a command newer than the kernel is unsupported', () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const id = ch.createId();
    sys.answer = () => ENOSYS;
    expect(() => id.listen()).toThrow(UverbsUnsupportedError);
    sys.answer = () => EINVAL;
    let error: unknown;
    try {
      id.listen();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).not.toBeInstanceOf(UverbsUnsupportedError);
    expect(error).toMatchObject({
      code: 'EINVAL',
      syscall: 'write',
      method: 'RDMA_USER_CM_CMD_LISTEN',
      object: id.description,
    });
    // WRITE_CM_EVENT is 7.2's: on an older kernel (the host's release, or any < 7.2) its EINVAL means "no such command"
    try {
      id.writeEvent({ arg: 1n });
    } catch (e) {
      error = e;
    }
    const older = !releaseHas(release(), '7.2');
    expect(error).toBeInstanceOf(older ? UverbsUnsupportedError : UverbsError);
    expect(error).toMatchObject({ code: 'EINVAL', method: 'RDMA_USER_CM_CMD_WRITE_CM_EVENT' });
    ch.close();
  });

  it('SET_OPTION passes the value through library memory, with the size the kernel checks', () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const id = ch.createId();
    id.setOption('REUSEADDR', true);
    let w = sys.writes.at(-1);
    let v = new DataView(w?.body.buffer as ArrayBuffer);
    expect([w?.cmd, v.getUint32(8, true), v.getUint32(12, true), v.getUint32(16, true), v.getUint32(20, true)]).toEqual(
      [14, id.handle, 0, 1, 4],
    );
    expect([...(sys.optionValue as Uint8Array)]).toEqual([1, 0, 0, 0]);
    id.setOption('TOS', 0x20);
    w = sys.writes.at(-1);
    v = new DataView(w?.body.buffer as ArrayBuffer);
    expect([v.getUint32(16, true), v.getUint32(20, true)]).toEqual([0, 1]);
    expect([...(sys.optionValue as Uint8Array)]).toEqual([0x20]);
    expect(() => id.setOption('TOS', 256)).toThrow(RangeError);
    ch.close();
  });

  it('MIGRATE_ID is written on the new channel with the old fd; the ID’s events then come from the new one', async () => {
    const sys = new FakeUcma();
    const a = EventChannel.open({ sys });
    const b = EventChannel.open({ sys });
    const id = a.createId();
    const uid = decode(rdma_ucm_create_id, sys.writes[0]?.body as Uint8Array).uid;
    id.migrate(b);
    const w = sys.writes.at(-1);
    const v = new DataView(w?.body.buffer as ArrayBuffer);
    expect([w?.fd, w?.cmd, v.getUint32(8, true), v.getUint32(12, true)]).toEqual([b.fd, 18, id.handle, a.fd]);
    expect(id.channel).toBe(b);
    sys.queue(uid, id.handle, rdma_cm_event_type.RDMA_CM_EVENT_ADDR_RESOLVED);
    const event = await id.next();
    expect(event.type).toBe('ADDR_RESOLVED');
    expect(sys.writes.at(-1)?.fd).toBe(b.fd);
    // closing the old channel leaves the migrated ID alone
    a.close();
    expect(id.closed).toBe(false);
    b.close();
    expect(id.closed).toBe(true);
  });

  it('an event another ID’s read takes off the fd wakes the ID parked on the watch (no lost wake-up)', async () => {
    // a FIFO opened read-write is never readable while empty: the watch on it fires only if someone writes
    const dir = mkdtempSync(join(tmpdir(), 'uverbs-cm-'));
    const fifo = join(dir, 'fd');
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    let ch: EventChannel | undefined;
    try {
      const sys = new FakeUcma();
      sys.nextFd = fd;
      ch = EventChannel.open({ sys });
      const a = ch.createId();
      const b = ch.createId();
      const uidOf = (i: number) => decode(rdma_ucm_create_id, sys.writes[i]?.body as Uint8Array).uid;
      const parked = b.next(); // nothing queued: b reads EAGAIN and parks on the watch
      await new Promise((resolve) => setImmediate(resolve));
      sys.queue(uidOf(1), b.handle, rdma_cm_event_type.RDMA_CM_EVENT_ADDR_RESOLVED);
      sys.queue(uidOf(0), a.handle, rdma_cm_event_type.RDMA_CM_EVENT_ROUTE_RESOLVED);
      // a’s read takes both events off the (stand-in) fd; the fd stays unreadable
      expect((await a.next()).type).toBe('ROUTE_RESOLVED');
      const late = new Promise<string>((resolve) => setTimeout(() => resolve('still parked'), 2000).unref());
      expect(await Promise.race([parked.then((e) => e.type), late])).toBe('ADDR_RESOLVED');
    } finally {
      ch?.close();
      // the channel closed its (stand-in) fd through the fake; the FIFO's is ours
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('JOIN_MCAST with the group and its own uid, whose MULTICAST_JOIN reaches the ID; LEAVE_MCAST by the group’s id', async () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const id = ch.createId({ portSpace: 'UDP' });
    id.joinMulticast({ address: '239.1.2.3' }, { sendOnly: true });
    const join = sys.writes.at(-1);
    const v = new DataView(join?.body.buffer as ArrayBuffer);
    const mcUid = v.getBigUint64(8, true);
    expect([join?.cmd, join?.out, v.getUint32(16, true), v.getUint16(20, true), v.getUint16(22, true)]).toEqual([
      22,
      4,
      id.handle,
      16,
      1,
    ]);
    expect(mcUid).not.toBe(decode(rdma_ucm_create_id, sys.writes[0]?.body as Uint8Array).uid);
    // the fake answered CREATE_ID-style ids: the membership got 101
    sys.queue(mcUid, 101, rdma_cm_event_type.RDMA_CM_EVENT_MULTICAST_JOIN);
    expect((await id.next()).type).toBe('MULTICAST_JOIN');
    expect(() => id.leaveMulticast({ address: '239.9.9.9' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_STATE' }),
    );
    id.leaveMulticast({ address: '239.1.2.3' });
    const leave = sys.writes.at(-1);
    expect([leave?.cmd, leave?.out]).toEqual([17, 4]);
    ch.close();
  });

  it('next() with an aborted signal rejects with its reason before anything is read; with events queued it takes them in order', async () => {
    const sys = new FakeUcma();
    const ch = EventChannel.open({ sys });
    const id = ch.createId();
    const uid = decode(rdma_ucm_create_id, sys.writes[0]?.body as Uint8Array).uid;
    const n = sys.writes.length;
    const reason = new Error('stop');
    await expect(id.next({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(sys.writes.length).toBe(n);
    sys.queue(uid, id.handle, rdma_cm_event_type.RDMA_CM_EVENT_ADDR_RESOLVED);
    sys.queue(uid, id.handle, rdma_cm_event_type.RDMA_CM_EVENT_ROUTE_RESOLVED);
    const seen: string[] = [];
    for await (const e of id) {
      seen.push(String(e.type));
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['ADDR_RESOLVED', 'ROUTE_RESOLVED']);
    ch.close();
  });
});

/**
 * Golden bytes for the encoders, and what decoding trusts.
 */

import { describe, expect, it } from 'vitest';
import { encodeMethod, IoctlCommand, MAX_ATTRS } from '../src/abi/ioctl-command.js';
import { decode, decodeVouched, encode } from '../src/abi/layout.js';
import { UVERBS_METHOD_QUERY_PORT } from '../src/abi/methods.js';
import { ib_uverbs_ex_query_device_resp, ib_uverbs_query_port_resp_ex, ib_uverbs_wc } from '../src/abi/structs.js';
import { decodeWrite, encodeWrite } from '../src/abi/write-command.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { Scratch } from '../src/transport/memory.js';
import { FakeKernel } from './support/fake-kernel.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function scratch() {
  return new Scratch(new FakeKernel());
}

describe('RDMA_VERBS_IOCTL encoding', () => {
  it('QUERY_PORT(port 1): header, inline const, pointer output, mandatory flags', () => {
    const s = scratch();
    const { command } = encodeMethod(UVERBS_METHOD_QUERY_PORT, { portNum: 1 }, 14, s);
    const bytes = command.finish().bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    // header: length 24+2*16, object DEVICE(0), method QUERY_PORT(2), 2 attrs, reserved 0, driver 14
    expect(hex(bytes.subarray(0, 24))).toBe('3800000002000200' + '0000000000000000' + '0e000000' + '00000000');
    // attr 0: PORT_NUM id 0, len 8, MANDATORY, value 1 inline
    expect(hex(bytes.subarray(24, 40))).toBe('000008000100' + '0000' + '0100000000000000');
    // attr 1: RESP id 1, len 48 (the whole _ex struct), MANDATORY, data = a pointer into scratch
    expect(hex(bytes.subarray(40, 46))).toBe('010030000100');
    expect(view.getBigUint64(48, true)).toBeGreaterThanOrEqual(0x7f00_0000_0000n);
  });

  it.each(['constructor', 'toString', '__proto__'])(
    'an inherited name (%s) is an unknown argument, refused like any other',
    (key) => {
      const args = JSON.parse(`{"portNum": 1, "${key}": 7}`);
      expect(() => encodeMethod(UVERBS_METHOD_QUERY_PORT, args, 14, scratch())).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining(`.${key}"`) }),
      );
    },
  );

  it('inputs of at most 8 bytes are inline; longer ones are copied and pointed at', () => {
    const s = scratch();
    const cmd = new IoctlCommand(0, 0, 14, s);
    cmd.ptrIn(1, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), true);
    cmd.ptrIn(2, new Uint8Array(9).fill(0xaa), false);
    const bytes = cmd.finish().bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getBigUint64(32, true)).toBe(0x0807060504030201n);
    expect(view.getUint16(40 + 2, true)).toBe(9);
    expect(view.getUint16(40 + 4, true)).toBe(0); // optional: no MANDATORY flag
    expect(view.getBigUint64(48, true)).toBeGreaterThanOrEqual(0x7f00_0000_0000n);
  });

  it('errors are sticky and thrown by finish(), before any syscall', () => {
    const cmd = new IoctlCommand(0, 0, 14, scratch());
    cmd.ptrIn(1, new Uint8Array(0x10000), true);
    cmd.ptrIn(2, new Uint8Array(1), true);
    expect(() => cmd.finish()).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const dup = new IoctlCommand(0, 0, 14, scratch());
    dup.idr(1, 5, true);
    dup.idr(1, 6, true);
    expect(() => dup.finish()).toThrow(/at most once/);
    const many = new IoctlCommand(0, 0, 14, scratch());
    for (let i = 0; i <= MAX_ATTRS; i++) many.idr(i, 1, false);
    expect(() => many.finish()).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('write and write-ex framing', () => {
  it('legacy REG_MR: in_words counts the 8-byte header, response pointer leads the request, UHW follows', () => {
    const s = scratch();
    const e = encodeWrite(
      WRITE_COMMANDS.IB_USER_VERBS_CMD_REG_MR,
      { start: 0x1000n, length: 4096n, hca_va: 0x1000n, pd_handle: 3, access_flags: 7 },
      s,
      { udataIn: new Uint8Array([9, 9, 9, 9]), udataOutLength: 8 },
    );
    const b = e.buffer.bytes;
    const v = new DataView(b.buffer, b.byteOffset);
    expect(b.byteLength).toBe(8 + 40 + 4);
    expect(hex(b.subarray(0, 8))).toBe('09000000' + '0d00' + '0500'); // cmd 9, in 52/4=13, out (12+8)/4=5
    expect(v.getBigUint64(8, true)).toBe(e.response?.address);
    expect(hex(b.subarray(48))).toBe('09090909');
  });

  it('extended QUERY_DEVICE: flag bit, word counts exclude headers, response in ex_hdr', () => {
    const s = scratch();
    const e = encodeWrite(WRITE_COMMANDS.IB_USER_VERBS_EX_CMD_QUERY_DEVICE, {}, s);
    const b = e.buffer.bytes;
    const v = new DataView(b.buffer, b.byteOffset);
    expect(v.getUint32(0, true)).toBe(0x80000001);
    expect(v.getUint16(4, true)).toBe(1); // 8-byte request / 8
    expect(v.getUint16(6, true)).toBe(304 / 8);
    expect(v.getBigUint64(8, true)).toBe(e.response?.address);
    expect(v.getUint32(20, true)).toBe(0); // cmd_hdr_reserved
  });

  it('a negative driver output length is refused before any syscall (it would shrink the response under its struct)', () => {
    for (const udataOutLength of [-4, -8, 4.5]) {
      expect(() =>
        encodeWrite(WRITE_COMMANDS.IB_USER_VERBS_CMD_QUERY_PORT, { port_num: 1 }, scratch(), { udataOutLength }),
      ).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
  });

  it('an extended response is trusted only up to its response_length: the rest is undefined, never 0', () => {
    const s = scratch();
    const e = encodeWrite(WRITE_COMMANDS.IB_USER_VERBS_EX_CMD_QUERY_DEVICE, {}, s);
    // an old kernel that knew the struct only up to raw_packet_caps (256 bytes)
    encode(
      ib_uverbs_ex_query_device_resp,
      { response_length: 256, comp_mask: 0, max_wq_type_rq: 5 },
      e.response!.bytes,
    );
    const r = decodeWrite(e).response as Record<string, unknown>;
    expect(r.max_wq_type_rq).toBe(5);
    expect(r.tm_caps).toBeUndefined();
    expect(r.max_dm_size).toBeUndefined();
    expect(r.xrc_odp_caps).toBeUndefined();
  });
});

describe('decoding', () => {
  it('fields a kernel release does not declare are undefined (active_speed_ex on 6.1)', () => {
    const bytes = new Uint8Array(48).fill(0);
    const on61 = decodeVouched(ib_uverbs_query_port_resp_ex, bytes, { length: 48, release: '6.1.0-37-amd64' });
    const on612 = decodeVouched(ib_uverbs_query_port_resp_ex, bytes, { length: 48, release: '6.12.57+deb13-amd64' });
    expect(on61.active_speed_ex).toBeUndefined();
    expect(on612.active_speed_ex).toBe(0);
    expect(on61.port_cap_flags2).toBe(0);
  });

  it('union arms and big-endian fields read as the kernel lays them out', () => {
    const bytes = new Uint8Array(48);
    encode(ib_uverbs_wc, { wr_id: 42n, imm_data: 0x01020304 }, bytes);
    expect(hex(bytes.subarray(24, 28))).toBe('01020304');
    const wc = decode(ib_uverbs_wc, bytes);
    expect(wc.invalidate_rkey).toBe(0x04030201);
    expect(wc.wr_id).toBe(42n);
  });

  it('encode refuses unknown fields and out-of-range values', () => {
    const bytes = new Uint8Array(48);
    expect(() => encode(ib_uverbs_wc, { wr_idd: 1n } as never, bytes)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => encode(ib_uverbs_wc, { sl: 256 }, bytes)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => encode(ib_uverbs_wc, { wr_id: -1n }, bytes)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });
});

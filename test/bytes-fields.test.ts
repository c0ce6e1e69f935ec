/**
 * A `__u8 name[N]` field (a GID) takes a genuine Uint8Array, checked by the length `set()` copies:
 * a view whose own `byteLength` property hides more bytes, or a Proxy around a view, is refused
 * before any syscall, by the reference encoder and the compiled one alike. Before, the check read
 * the shadowable property and `set()` copied the real bytes, so a "16-byte" dgid of 72 bytes
 * overwrote the fields after it: MODIFY_QP's qp_handle, so the kernel modified another QP.
 */

import { describe, expect, it } from 'vitest';
import { compiledWrite } from '../src/abi/compiled.js';
import { encode } from '../src/abi/layout.js';
import { ib_uverbs_modify_qp } from '../src/abi/structs.js';
import { encodeWrite } from '../src/abi/write-command.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { Scratch } from '../src/transport/memory.js';
import { addressFields } from '../src/verbs/address-vector.js';
import { FakeKernel } from './support/fake-kernel.js';

const QP_HANDLE = ib_uverbs_modify_qp.fields.qp_handle.offset;
const MODIFY_QP = WRITE_COMMANDS.IB_USER_VERBS_CMD_MODIFY_QP;

/** 72 bytes that say they are 16: the 4 at QP_HANDLE name another QP (9). */
function hiding(): Uint8Array {
  const evil = new Uint8Array(QP_HANDLE + 8);
  new DataView(evil.buffer).setUint32(QP_HANDLE, 9, true);
  Object.defineProperty(evil, 'byteLength', { value: 16 });
  return evil;
}

/** A Proxy around a 16-byte view; `seen` records every trap that ran. */
function proxied(seen: string[]): Uint8Array {
  return new Proxy(new Uint8Array(16), {
    get(target, key) {
      seen.push(`get ${String(key)}`);
      return key === 'length' ? 72 : Reflect.get(target, key);
    },
    getPrototypeOf(target) {
      seen.push('getPrototypeOf');
      return Reflect.getPrototypeOf(target);
    },
  });
}

const request = (dgid: unknown) => ({ qp_handle: 5, dest: { dgid }, attr_mask: 1 << 7 });

describe('a bytes field takes a genuine Uint8Array, by its own length', () => {
  it('encode(): an own byteLength hiding 72 bytes is refused, and nothing past the field is written', () => {
    const target = new Uint8Array(ib_uverbs_modify_qp.size);
    expect(() => encode(ib_uverbs_modify_qp, request(hiding()) as never, target)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(new DataView(target.buffer).getUint32(QP_HANDLE, true)).not.toBe(9);
  });

  it('MODIFY_QP, reference and compiled: refused before any syscall, never sent with another qp_handle', () => {
    for (const frame of [
      (s: Scratch) => encodeWrite(MODIFY_QP, request(hiding()) as never, s).buffer,
      (s: Scratch) => compiledWrite(MODIFY_QP).encode(request(hiding()), s, {}),
    ]) {
      const scratch = new Scratch(new FakeKernel());
      let sent: Uint8Array | undefined;
      try {
        sent = frame(scratch).bytes;
      } catch (error) {
        expect(error).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      }
      // before: framed, with qp_handle 9 (the caller's hidden bytes) after the 8-byte header
      expect(sent && new DataView(sent.buffer, sent.byteOffset).getUint32(8 + QP_HANDLE, true)).toBeUndefined();
    }
  });

  it('a Proxy is no Uint8Array: refused, and none of its traps runs while the command is laid out', () => {
    for (const frame of [
      (s: Scratch, dgid: Uint8Array) => encodeWrite(MODIFY_QP, request(dgid) as never, s),
      (s: Scratch, dgid: Uint8Array) => compiledWrite(MODIFY_QP).encode(request(dgid), s, {}),
    ]) {
      const seen: string[] = [];
      expect(() => frame(new Scratch(new FakeKernel()), proxied(seen))).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
      // only the error's description of the value (its constructor's name) looks at it
      expect(seen.filter((trap) => trap !== 'get constructor')).toEqual([]);
    }
  });

  it('addressFields(): a dgid hiding bytes behind its byteLength is refused', () => {
    expect(() => addressFields({ dgid: hiding(), sgidIndex: 0, port: 1 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('a Buffer and a plain 16-byte view still go through', () => {
    for (const dgid of [Buffer.alloc(16, 1), new Uint8Array(16).fill(2)]) {
      const target = new Uint8Array(ib_uverbs_modify_qp.size);
      encode(ib_uverbs_modify_qp, request(dgid) as never, target);
      expect(target.subarray(0, 16)).toEqual(new Uint8Array(dgid));
      expect(new DataView(target.buffer).getUint32(QP_HANDLE, true)).toBe(5);
      expect(addressFields({ dgid, sgidIndex: 0, port: 1 }).grh.dgid).toBe(dgid);
    }
  });
});

describe('bytesView: what a bytes field copies is fixed when its length is checked', () => {
  it('a length-tracking view over a growable SharedArrayBuffer that grows after the check still yields the checked length', async () => {
    const { bytesView } = await import('../src/abi/layout.js');
    const sab = new (
      SharedArrayBuffer as unknown as new (
        n: number,
        o: { maxByteLength: number },
      ) => SharedArrayBuffer
    )(16, { maxByteLength: 128 });
    const gid = new Uint8Array(sab);
    gid.fill(0xaa);
    const view = bytesView(gid, gid.byteLength);
    (sab as unknown as { grow(n: number): void }).grow(72); // what another thread could do between check and copy
    expect([gid.byteLength, view.byteLength]).toEqual([72, 16]);
    const target = new Uint8Array(80);
    target.set(view, 0);
    expect(target.subarray(16).every((b) => b === 0)).toBe(true);
  });
});

/**
 * A send's inline payload and ATOMIC_WRITE's data are taken by the intrinsic
 * typed-array getters, read once: an own `byteLength` on the caller's view
 * cannot pass a check the view fails, and a Proxy (not a Uint8Array) cannot
 * run caller code while a post gathers payloads into descriptors it is still
 * writing (a post made from a trap there was written in the outer post's place).
 */

import { describe, expect, it } from 'vitest';
import { decode } from '../src/abi/layout.js';
import { rxe_queue_buf, rxe_send_wqe } from '../src/abi/rxe.js';
import { RxeDatapath } from '../src/providers/rxe-datapath.js';
import { Ring } from '../src/transport/ring.js';
import { type ResolvedSend, resolveSend, type SendWr } from '../src/verbs/work-request.js';
import { fakeQp, LIMITS } from './support/rxe-stand-ins.js';

const INLINE = { ...LIMITS, maxInline: 64 };
const LOG2_ELEM = 9;

function wqe(ring: Ring, i: number) {
  const size = 1 << LOG2_ELEM;
  return decode(rxe_send_wqe, ring.bytes.subarray(rxe_queue_buf.size + i * size, rxe_queue_buf.size + (i + 1) * size));
}

describe('send payloads by their intrinsic getters', () => {
  it('an inline payload is measured by its own bytes, not an own byteLength', () => {
    const big = new Uint8Array(300);
    Object.defineProperty(big, 'byteLength', { value: 4 });
    expect(() => resolveSend({ opcode: 'SEND', inline: big } as SendWr, 'wr', INLINE)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
  });

  it('a Proxy is not an inline payload: refused before anything is written, and no trap runs inside a post', () => {
    const sq = Ring.synthetic('sq', 8, LOG2_ELEM);
    const dp = new RxeDatapath();
    let trapped = false;
    const proxy = new Proxy(new Uint8Array(4), {
      get(target, key) {
        if (key === '0' && !trapped) {
          trapped = true; // a post from the middle of the outer one's gather
          const nested = resolveSend(
            { opcode: 'RDMA_WRITE', wrId: 99n, remote: { addr: 0xbad0000n, rkey: 0x66 } } as SendWr,
            'n',
            INLINE,
          );
          dp.postSend(fakeQp(sq), [nested, nested]);
        }
        return Reflect.get(target, key, target);
      },
    });
    const a = resolveSend({ opcode: 'SEND', wrId: 1n, inline: new Uint8Array([1, 2]) } as SendWr, 'a', INLINE);
    let b: ResolvedSend | undefined;
    try {
      b = resolveSend({ opcode: 'SEND', wrId: 2n, inline: proxy } as SendWr, 'b', INLINE);
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    }
    if (b !== undefined) dp.postSend(fakeQp(sq), [a, b]);
    // whatever reached the ring is what was posted, in order: never the nested post in the outer's place
    const posted = [0, 1, 2, 3].map((i) => wqe(sq, i).wr.wr_id);
    expect(posted).toEqual([0n, 0n, 0n, 0n]);
    expect(trapped).toBe(false);
    expect(b).toBeUndefined();
  });

  it("ATOMIC_WRITE's data is 8 bytes by its own length", () => {
    const short = new Uint8Array(2);
    Object.defineProperty(short, 'byteLength', { value: 8 });
    const wr = { opcode: 'ATOMIC_WRITE', remote: { addr: 0x1000n, rkey: 1 }, data: short } as SendWr;
    expect(() => resolveSend(wr, 'wr', INLINE)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  it('a genuine inline payload is still read at the post, from the same memory', () => {
    const sq = Ring.synthetic('sq', 8, LOG2_ELEM);
    const payload = new Uint8Array([1, 2, 3]);
    const wr = resolveSend({ opcode: 'SEND', wrId: 5n, inline: payload } as SendWr, 'wr', INLINE);
    payload[0] = 9;
    new RxeDatapath().postSend(fakeQp(sq), [wr]);
    expect(wqe(sq, 0).dma).toMatchObject({ length: 3, num_sge: 0 });
    const at = rxe_queue_buf.size + rxe_send_wqe.size;
    expect(sq.bytes.subarray(at, at + 3)).toEqual(new Uint8Array([9, 2, 3]));
  });
});

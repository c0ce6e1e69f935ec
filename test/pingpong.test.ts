/**
 * `uverbs pingpong`'s address exchange, byte for byte as rdma-core's
 * rc_pingpong.c writes it: "%04x:%06x:%06x:" + the GID's 16 bytes in hex,
 * NUL-terminated, sizeof "0000:000000:000000:00000000000000000000000000000000".
 */

import { describe, expect, it } from 'vitest';
import { decodeDest, encodeDest } from '../src/cli/pingpong.js';

const gid = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 2, 15]);

describe('pingpong address exchange', () => {
  it('writes what ibv_rc_pingpong writes, NUL included', () => {
    const msg = encodeDest({ lid: 0, qpn: 0x11, psn: 0xabcdef, gid });
    expect(msg.length).toBe('0000:000000:000000:00000000000000000000000000000000'.length + 1);
    expect(msg.toString('latin1')).toBe('0000:000011:abcdef:00000000000000000000ffff0a00020f\0');
  });

  it("reads ibv_rc_pingpong's message, and refuses a malformed one", () => {
    const theirs = Buffer.from('0001:0001b3:5e1f00:00000000000000000000ffff0a00020f\0', 'latin1');
    expect(decodeDest(theirs)).toEqual({ lid: 1, qpn: 0x1b3, psn: 0x5e1f00, gid });
    expect(() => decodeDest(Buffer.from('0001:0001b3:zz\0'))).toThrow(/malformed address/);
  });
});

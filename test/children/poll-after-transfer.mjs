/**
 * Run with Node >= 21 (test/datapath-reader.test.ts): polls a synthetic rxe CQ ring, moves its
 * ArrayBuffer out with ArrayBuffer.prototype.transfer() while the ring is still mapped, produces
 * one more completion and polls again: the poll must be a typed "closed" and copy nothing.
 * Prints one JSON object.
 */

import { RxeDatapath } from '../../dist/src/providers/rxe-datapath.js';
import { Ring } from '../../dist/src/transport/ring.js';

const ring = Ring.synthetic('cq', 4, 6);
const cq = { rings: [ring], description: 'CompletionQueue child' };
const dp = new RxeDatapath();
const out = new Uint8Array(4 * 48);
new DataView(ring.bytes.buffer).setUint32(128, 1, true);
const before = dp.pollCq(cq, out, 4);
const moved = ring.bytes.buffer.transfer();
new DataView(moved).setUint32(128, 2, true); // the driver's side: one more completion
out.fill(7);
let afterTransfer;
try {
  afterTransfer = { polled: dp.pollCq(cq, out, 4) };
} catch (error) {
  afterTransfer = { code: error.code, out: [...new Set(out)] };
}
ring.unmap();
process.stdout.write(`${JSON.stringify({ before, afterTransfer })}\n`);

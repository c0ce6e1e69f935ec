/**
 * Run inside the guest with Node >= 21 (test/device/memory.device.test.ts):
 * on a real device, moves an MR's bytes and a CQ ring's bytes out with
 * ArrayBuffer.prototype.transfer() (which no detach can reach), closes the
 * objects, makes new ones of the same sizes and fills them, then reports
 * what the old views and the moved buffers show and what the kernel still
 * holds (`rdma res show`, VmPin, mappings of the uverbs device). Prints one
 * JSON object.
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Context } from '../../../dist/src/verbs/context.js';

const device = process.env.UVERBS_TEST_DEVICE;
const values = (buffer) => [...new Set(new Uint8Array(buffer))].sort((a, b) => a - b);
const counts = () => {
  const line = execFileSync('rdma', ['res', 'show'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.includes(` ${device}: `));
  return Object.fromEntries([...(line ?? '').matchAll(/ ([a-z_]+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
};
const vmPin = () => Number(/^VmPin:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
const uverbsMappings = () =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/dev/infiniband/uverbs')).length;
const held = () => ({ mr: counts().mr, cq: counts().cq, pin: vmPin(), maps: uverbsMappings() });

const ctx = Context.open(device);
const pd = ctx.allocPd();
const before = held();
const size = 16 * 4096;
const mr = pd.registerMemory(size, { localWrite: true, remoteWrite: true });
mr.bytes.fill(0x11);
const mrView = mr.bytes;
const cq = ctx.createCq({ cqe: 16 });
const ringView = cq.rings[0].bytes;
const ringLength = ringView.byteLength;
const whileOpen = held();
const movedMr = mrView.buffer.transfer();
const movedRing = ringView.buffer.transfer();
mr.close();
cq.close();
const afterClose = held();

const mr2 = pd.registerMemory(size, { localWrite: true, remoteWrite: true });
mr2.bytes.fill(0xab);
const cq2 = ctx.createCq({ cqe: 16 });
const ring2Before = cq2.rings[0].bytes.slice();
const movedValues = { mr: values(movedMr), ring: values(movedRing) };
new Uint8Array(movedMr).fill(0x22);
new Uint8Array(movedRing).fill(0x22);

const report = {
  views: { mr: mrView.byteLength, ring: ringView.byteLength },
  moved: { mr: movedMr.byteLength, ring: movedRing.byteLength, ringLength },
  movedValues,
  after: {
    mr2: values(mr2.bytes.buffer),
    ring2Unchanged: Buffer.compare(ring2Before, cq2.rings[0].bytes) === 0,
  },
  held: { before, whileOpen, afterClose },
};
ctx.close();
process.stdout.write(`${JSON.stringify(report)}\n`);

/**
 * Run with Node >= 21 and --expose-gc (test/memory-safety.test.ts): takes
 * views of library memory and of an rxe ring, moves each buffer out with
 * ArrayBuffer.prototype.transfer() (which no detach can reach), releases
 * the memory, maps the same sizes again and fills them, then reports what
 * every old view and moved buffer shows. Prints one JSON object.
 */

import { readFileSync } from 'node:fs';
import { UserMemory } from '../../dist/src/memory.js';
import { Ring } from '../../dist/src/ring.js';
import { libcSys } from '../../dist/src/sys.js';

const sys = libcSys();
const values = (buffer) => [...new Set(new Uint8Array(buffer))].sort((a, b) => a - b);
/** Whether some mapping of this process starts at `address` (/proc/self/maps). */
const mapped = (address) =>
  readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .some((line) => line.startsWith(`${address.toString(16)}-`));

const report = {};

// library memory (what an MR's bytes are)
{
  const mem = UserMemory.allocate(sys, 8 * 4096);
  mem.bytes.fill(0x11);
  const view = mem.bytes;
  const moved = view.buffer.transfer();
  const address = mem.address;
  mem.free();
  const next = UserMemory.allocate(sys, 8 * 4096);
  next.bytes.fill(0xab);
  const movedValues = values(moved);
  new Uint8Array(moved).fill(0x22); // writes through the moved buffer must land nowhere that matters
  report.memory = {
    viewLength: view.byteLength,
    movedLength: moved.byteLength,
    movedValues,
    nextValues: values(next.bytes.buffer),
    nextAtSameAddress: next.address === address,
    reservedWhileMovedLives: mapped(address),
  };
  next.free();
}

// an rxe ring (what cq.rings[0].bytes is)
{
  const ring = Ring.synthetic('cq', 64, 6);
  const view = ring.bytes;
  const moved = view.buffer.transfer();
  ring.unmap();
  const next = Ring.synthetic('cq', 64, 6);
  next.bytes.fill(0xab, 384);
  const movedValues = values(moved);
  new Uint8Array(moved).fill(0x22);
  report.ring = {
    viewLength: view.byteLength,
    wordsLength: ring.words.length,
    movedLength: moved.byteLength,
    movedValues,
    nextValues: values(next.bytes.buffer.slice(384)),
  };
  next.unmap();
}

// once the moved buffer is collected, the reserved range goes back to the kernel
{
  const { address, reservedBefore } = (() => {
    const mem = UserMemory.allocate(sys, 4096);
    const moved = mem.bytes.buffer.transfer();
    mem.free();
    return { address: mem.address, reservedBefore: mapped(mem.address) && moved.byteLength === 4096 };
  })();
  let reservedAfterCollect = true;
  for (let i = 0; i < 50 && reservedAfterCollect; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    reservedAfterCollect = mapped(address);
  }
  report.release = { reservedBefore, reservedAfterCollect };
}

// a buffer moved out of a Worker that then ends: Node finalizes the Worker's buffers at its end,
// though the moved one lives on here, so the memory must stay mapped
{
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(
    `import { parentPort } from 'node:worker_threads';
     const { UserMemory } = await import(${JSON.stringify(new URL('../../dist/src/memory.js', import.meta.url).href)});
     const { libcSys } = await import(${JSON.stringify(new URL('../../dist/src/sys.js', import.meta.url).href)});
     const mem = UserMemory.allocate(libcSys(), 4096);
     mem.bytes.fill(0x11);
     const moved = mem.bytes.buffer.transfer();
     mem.free();
     parentPort.postMessage(moved, [moved]);`,
    { eval: true, type: 'module' },
  );
  const moved = await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  for (let i = 0; i < 5; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const next = UserMemory.allocate(sys, 4096);
  next.bytes.fill(0xab);
  report.fromEndedWorker = { movedLength: moved.byteLength, movedValues: values(moved) };
  next.free();
}

process.stdout.write(`${JSON.stringify(report)}\n`);

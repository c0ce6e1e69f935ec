/**
 * Run with Node >= 21 and --expose-gc (test/memory-safety.test.ts): takes
 * views of library memory and of an rxe ring, moves each buffer out with
 * ArrayBuffer.prototype.transfer() (which no detach can reach), releases
 * the memory, maps the same sizes again and fills them, then reports what
 * every old view and moved buffer shows. Prints one JSON object.
 */

import { readFileSync } from 'node:fs';
import { UserMemory } from '../../dist/src/transport/memory.js';
import { Ring } from '../../dist/src/transport/ring.js';
import { libcSys } from '../../dist/src/transport/sys.js';

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
// though the moved one lives on here, so the memory must stay mapped; with the memory freed first,
// and with its handle already collected in the Worker (so only the backing store holds it)
for (const variant of ['free', 'collected']) {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(
    `import { parentPort } from 'node:worker_threads';
     const { UserMemory } = await import(${JSON.stringify(new URL('../../dist/src/transport/memory.js', import.meta.url).href)});
     const { libcSys } = await import(${JSON.stringify(new URL('../../dist/src/transport/sys.js', import.meta.url).href)});
     let mem = UserMemory.allocate(libcSys(), 4096);
     mem.bytes.fill(0x11);
     const moved = mem.bytes.buffer.transfer();
     if (${JSON.stringify(variant)} === 'free') mem.free();
     mem = undefined;
     parentPort.postMessage(moved, [moved]);
     for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
     parentPort.postMessage('collected');
     setInterval(() => {}, 1000);`,
    { eval: true, type: 'module' }, // the Worker inherits --expose-gc
  );
  const messages = [];
  await new Promise((resolve) =>
    worker.on('message', (m) => {
      messages.push(m);
      if (m === 'collected') resolve();
    }),
  );
  const moved = messages[0];
  await worker.terminate();
  for (let i = 0; i < 5; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const next = UserMemory.allocate(sys, 4096);
  next.bytes.fill(0xab);
  // freed: the filler's zeros; never freed: still its own bytes; never the next mapping's, never a fault
  report[`fromEndedWorker_${variant}`] = { movedLength: moved.byteLength, movedValues: values(moved) };
  new Uint8Array(moved).fill(0x22);
  next.free();
}

// a read in flight on the threadpool into memory freed meanwhile lands in the filler, never in the next mapping
{
  const { execFileSync } = await import('node:child_process');
  const { constants, mkdtempSync, openSync, read, writeSync, closeSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const fifo = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
  execFileSync('mkfifo', [fifo]);
  const rfd = openSync(fifo, constants.O_RDWR); // blocking: the read waits on the threadpool
  const { address, finished } = (() => {
    const mem = UserMemory.allocate(sys, 4096);
    const finished = new Promise((resolve) => read(rfd, mem.bytes, 0, 4096, null, (error, n) => resolve(error ?? n)));
    mem.free();
    return { address: mem.address, finished };
  })();
  for (let i = 0; i < 10; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const next = UserMemory.allocate(sys, 4096);
  next.bytes.fill(0xab);
  writeSync(rfd, Buffer.from('bytes from a file'));
  const n = await finished;
  report.pendingRead = { read: n, nextAtSameAddress: next.address === address, nextValues: values(next.bytes.buffer) };
  closeSync(rfd);
  next.free();
}

process.stdout.write(`${JSON.stringify(report)}\n`);

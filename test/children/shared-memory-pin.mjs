/**
 * Run with --expose-gc (test/caller-memory.test.ts), on Node 20 and 22:
 * pins a caller's SharedArrayBuffer the way `pd.registerMemory(sab)` does,
 * then tries every way to move its memory away (transfer(), a transferring
 * structuredClone, a postMessage transfer list), drops every reference the
 * caller had and collects, and tries the same from a Worker. Prints one
 * JSON object: what each attempt did and whether the memory stayed.
 * (The MR holds its SharedMemory too; part 2 shows the addon's pin alone
 * keeps the buffer, which is what stands when a context is dropped unclosed.)
 */

import { MessageChannel, Worker } from 'node:worker_threads';
import { SharedMemory } from '../../dist/src/transport/memory.js';
import { pinShared } from '../../dist/src/transport/sys.js';

const report = {};
const attempt = (f) => {
  try {
    f();
    return 'moved';
  } catch (error) {
    return error.name;
  }
};
const collect = async () => {
  for (let i = 0; i < 10; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
};

// 1. nothing moves a pinned SharedArrayBuffer
{
  const sab = new SharedArrayBuffer(8192);
  const mem = SharedMemory.pin(new Uint8Array(sab, 4096, 100), 'memory');
  mem.bytes.fill(0x5a);
  const { port1, port2 } = new MessageChannel();
  report.transfer = attempt(() => ArrayBuffer.prototype.transfer.call(sab));
  report.structuredClone = attempt(() => structuredClone(sab, { transfer: [sab] }));
  report.postMessage = attempt(() => port1.postMessage(sab, [sab]));
  port1.close();
  port2.close();
  const caller = new Uint8Array(sab);
  report.after = { byteLength: sab.byteLength, at4096: caller[4096], at4195: caller[4195], at4196: caller[4196] };
  mem.free();
  report.callerKeepsItAfterFree = sab.byteLength;
}

// 2. the addon's pin alone holds the buffer: the caller and the library keep no JS reference to it
{
  let collected = false;
  const registry = new FinalizationRegistry(() => {
    collected = true;
  });
  const unpin = (() => {
    const sab = new SharedArrayBuffer(1 << 20);
    registry.register(sab, 'sab');
    return pinShared(new Uint8Array(sab)).unpin;
  })();
  await collect();
  report.collectedWhilePinned = collected;
  unpin();
  await collect();
  report.collectedAfterUnpin = collected;
}

// 3. a Worker is refused
report.worker = await new Promise((resolve) => {
  const w = new Worker(
    `import('${new URL('../../dist/src/transport/memory.js', import.meta.url).href}').then(({ SharedMemory }) => {
       try { SharedMemory.pin(new SharedArrayBuffer(16), 'memory'); require('node:worker_threads').parentPort.postMessage('pinned'); }
       catch (e) { require('node:worker_threads').parentPort.postMessage(e.code); }
     })`,
    { eval: true },
  );
  w.once('message', (m) => {
    resolve(m);
    w.terminate();
  });
  w.once('error', (e) => resolve(`error: ${e.message}`));
});

console.log(JSON.stringify(report));

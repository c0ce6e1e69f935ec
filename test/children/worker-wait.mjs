/**
 * A Worker waits on an fd through the addon (what cq.wait() and
 * asyncEvents().wait() do), and is terminated while the wait is pending.
 * The process must live on: prints "alive" and exits 0
 * (test/memory-safety.test.ts).
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const fifo = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
execFileSync('mkfifo', [fifo]);
const native = new URL('../../dist/src/transport/native.js', import.meta.url).href;
const worker = new Worker(
  `import { openSync, constants } from 'node:fs';
   import { parentPort } from 'node:worker_threads';
   const { native } = await import(${JSON.stringify(native)});
   const fd = openSync(${JSON.stringify(fifo)}, constants.O_RDWR | constants.O_NONBLOCK);
   native().waitReadable(fd, () => parentPort.postMessage('woken'));
   parentPort.postMessage('waiting');`,
  { eval: true, type: 'module' },
);
worker.on('error', (error) => {
  console.error(error);
  process.exit(1);
});
worker.once('message', async (message) => {
  if (message !== 'waiting') throw new Error(`worker said ${message}`);
  await worker.terminate();
  setTimeout(() => console.log('alive'), 200);
});

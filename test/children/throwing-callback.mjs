/**
 * A wait callback that throws (test/memory-safety.test.ts): the exception
 * must surface as an uncaught exception of the event loop, as from any
 * Node callback, not stay pending inside the addon to be thrown by the
 * next, unrelated call into it.
 */

import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../dist/src/transport/native.js';

process.on('uncaughtException', (error) => console.log(`uncaught: ${error.message}`));
const fifo = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
execFileSync('mkfifo', [fifo]);
const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
native().waitReadable(fd, () => {
  throw new Error('thrown in the wait callback');
});
writeSync(fd, 'x');
setTimeout(() => {
  const [handle] = native().mapAnonymous(4096);
  native().unmap(handle);
  console.log('next call returned');
}, 100);

/**
 * An fd closed right after a wait on it was started, before the event loop
 * turns: libuv must not meet a vanished fd. Prints "alive" and exits 0
 * (test/memory-safety.test.ts).
 */

import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../dist/src/transport/native.js';

const fifo = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
execFileSync('mkfifo', [fifo]);
const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
const watch = native().waitReadable(fd, (status) => console.log(`woken ${status}`));
closeSync(fd);
setTimeout(() => {
  native().cancelWait(watch);
  console.log('alive');
}, 200);

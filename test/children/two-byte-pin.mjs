/**
 * Run on Node 22 with --js-float16array (test/caller-memory.test.ts):
 * registers views whose elements are not bytes over a SharedArrayBuffer
 * the way `pd.registerMemory(view)` does, and prints, per view, the byte
 * range the registration covers (or the error), plus what the addon says
 * when handed a Float16Array directly (an element type its N-API may not
 * name). One JSON object.
 */

import { SharedMemory } from '../../dist/src/transport/memory.js';
import { native } from '../../dist/src/transport/native.js';

const sab = new SharedArrayBuffer(64);
const report = {};
const views = {
  Float16Array: () => new Float16Array(sab, 8, 4),
  Uint16Array: () => new Uint16Array(sab, 8, 4),
  BigInt64Array: () => new BigInt64Array(sab, 8, 2),
  Float64Array: () => new Float64Array(sab, 8, 2),
  DataView: () => new DataView(sab, 8, 8),
};
for (const [name, make] of Object.entries(views)) {
  try {
    const memory = SharedMemory.pin(make(), 'memory');
    report[name] = { length: memory.length, byteOffset: memory.bytes.byteOffset, bytes: memory.bytes.byteLength };
    memory.free();
  } catch (error) {
    report[name] = `${error.name}: ${error.message}`;
  }
}
try {
  const [, , , length] = native().pinShared(new Float16Array(sab, 8, 4));
  report.addonFloat16 = { length };
} catch (error) {
  report.addonFloat16 = error.name;
}
console.log(JSON.stringify(report));

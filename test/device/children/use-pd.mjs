/**
 * DESIGN §Reliability 10, the worker: uses a PD of the main thread's uverbs
 * file (the same fd, so the same handles), registering 4 KiB MRs on it and
 * deregistering them as fast as it can, until the PD is gone.
 *
 * It first holds one MR for as long as the main thread has not been
 * refused `holdUntilRefusals` times: the destroy must meet a PD in use.
 * Then it churns: a PD with an MR on it, or locked by the worker's call, is
 * the kernel's EBUSY to the destroy (rdma_core.c, uverbs_try_lock_object;
 * ib_destroy_usecnt), and a use that meets the destroy's lock is EBUSY to
 * the worker, retried. A PD that no longer exists (ENOENT) ends the loop;
 * so does the main thread's stop flag (it gave up; end is { stopped }).
 *
 * `shared` (Int32Array over a SharedArrayBuffer) is live state both threads
 * can read while the other is busy in a synchronous loop: [REFUSALS] the
 * main thread's count, [STOP] its flag, [USES] and [BUSY] this worker's.
 * Posts { running } once an MR is held, { churning } once it is released,
 * then { uses, busy, end }. Deregistering an MR of its own is never refused
 * (nothing else uses it): if it were, the worker throws rather than leave
 * the MR on the PD.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_REG_MR } from '../../../dist/src/abi/methods.js';
import { UverbsError } from '../../../dist/src/errors.js';
import { providerFor, uhwFor } from '../../../dist/src/providers/index.js';
import { Dispatcher } from '../../../dist/src/transport/dispatch.js';
import { Scratch, UserMemory } from '../../../dist/src/transport/memory.js';
import { libcSys } from '../../../dist/src/transport/sys.js';

// the indices of `shared`, spelled the same in reliability.device.test.ts
const REFUSALS = 0;
const STOP = 1;
const USES = 2;
const BUSY = 3;

const { fd, driverId, release, pdHandle, shared: sharedBuffer, holdUntilRefusals } = workerData;
const shared = new Int32Array(sharedBuffer);
const sys = libcSys();
const scratch = new Scratch(sys);
const dispatch = new Dispatcher(sys, fd, driverId, scratch, { release });
const uhw = uhwFor(providerFor(driverId), 'regMr');
const memory = UserMemory.allocate(sys, 4096);
const args = { pdHandle, addr: memory.address, length: 4096, iova: memory.address, accessFlags: 0 };
const register = () => dispatch.invoke(UVERBS_METHOD_REG_MR, args, uhw).outputs.handle;
const deregister = (handle) => dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle });

const held = register();
Atomics.store(shared, USES, 1);
parentPort.postMessage({ running: true });
for (;;) {
  const refused = Atomics.load(shared, REFUSALS);
  if (refused >= holdUntilRefusals || Atomics.load(shared, STOP)) break;
  Atomics.wait(shared, REFUSALS, refused, 10);
}
deregister(held);
parentPort.postMessage({ churning: true });

let uses = 1;
let busy = 0;
let end;
while (end === undefined) {
  if (Atomics.load(shared, STOP)) {
    end = { stopped: true };
    break;
  }
  let handle;
  try {
    handle = register();
  } catch (error) {
    if (!(error instanceof UverbsError)) throw error;
    if (error.code === 'EBUSY') Atomics.store(shared, BUSY, ++busy);
    else end = { code: error.code, path: error.path, method: error.method };
    continue;
  }
  deregister(handle);
  Atomics.store(shared, USES, ++uses);
}
memory.free();
scratch.free();
parentPort.postMessage({ uses, busy, end });

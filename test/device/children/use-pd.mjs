/**
 * DESIGN §Reliability 10, the worker: uses a PD of the main thread's uverbs
 * file (the same fd, so the same handles), registering 4 KiB MRs on it and
 * deregistering them as fast as it can, until the PD is gone.
 *
 * It first holds one MR for as long as the main thread has not been
 * refused `holdUntilRefusals` times (a shared counter): the destroy must
 * meet a PD in use. Then it churns: a PD with an MR on it, or locked by the
 * worker's call, is the kernel's EBUSY to the destroy (rdma_core.c,
 * uverbs_try_lock_object; ib_destroy_usecnt), and a use that meets the
 * destroy's lock is EBUSY to the worker, retried. A PD that no longer exists
 * (ENOENT) ends the loop. Posts { running } once, then { uses, busy, end }.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { libcSys } from '../../../dist/ioctl/index.js';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_REG_MR } from '../../../dist/src/abi/methods.js';
import { Dispatcher, Scratch, UserMemory, UverbsError } from '../../../dist/src/index.js';
import { providerFor, uhwFor } from '../../../dist/src/providers/index.js';

const { fd, driverId, release, pdHandle, refusals, holdUntilRefusals } = workerData;
const refused = new Int32Array(refusals);
const sys = libcSys();
const dispatch = new Dispatcher(sys, fd, driverId, new Scratch(sys), { release });
const uhw = uhwFor(providerFor(driverId), 'regMr');
const memory = UserMemory.allocate(sys, 4096);
const args = { pdHandle, addr: memory.address, length: 4096, iova: memory.address, accessFlags: 0 };
const register = () => dispatch.invoke(UVERBS_METHOD_REG_MR, args, uhw).outputs.handle;
const deregister = (handle) => dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle });

const held = register();
parentPort.postMessage({ running: true });
while (Atomics.load(refused, 0) < holdUntilRefusals) Atomics.wait(refused, 0, Atomics.load(refused, 0), 10);
deregister(held);

let uses = 1;
let busy = 0;
let end;
for (;;) {
  try {
    deregister(register());
    uses++;
  } catch (error) {
    if (!(error instanceof UverbsError)) throw error;
    if (error.code === 'EBUSY') {
      busy++;
      continue;
    }
    end = { code: error.code, path: error.path, method: error.method };
    break;
  }
}
memory.free();
parentPort.postMessage({ uses, busy, end });

/**
 * DESIGN §Reliability 11, the child: run under a small RLIMIT_MEMLOCK and
 * without CAP_IPC_LOCK, registers 4 KiB MRs until the kernel refuses
 * (ib_umem_get: pinned pages past the limit are ENOMEM), frees them all,
 * and registers the same count again. Prints one JSON line.
 *
 *   prlimit --memlock=N:N setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock node pin-until-refused.mjs IBDEV
 */

import { readFileSync } from 'node:fs';
import { Context, UverbsError } from '../../../dist/src/index.js';

const status = () => readFileSync('/proc/self/status', 'utf8');
const vmPinKiB = () => Number(/^VmPin:\s+(\d+) kB$/m.exec(status())?.[1]);
const CAP_IPC_LOCK = 14n;
const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status())?.[1]}`);

/** Registers until refused; returns the MRs and the refusal. */
function pinAll(pd) {
  const mrs = [];
  for (;;) {
    try {
      mrs.push(pd.registerMemory(4096, { localWrite: true }));
    } catch (error) {
      if (!(error instanceof UverbsError)) throw error;
      return { mrs, refusal: { code: error.code, syscall: error.syscall, method: error.method } };
    }
    if (mrs.length > 100_000) throw new Error('no refusal after 100000 MRs: is RLIMIT_MEMLOCK set?');
  }
}

const ctx = Context.open(process.argv[2]);
const pd = ctx.allocPd();
const first = pinAll(pd);
const pinnedAtLimit = vmPinKiB();
for (const mr of first.mrs) mr.close();
const pinnedAfterFree = vmPinKiB();
const second = pinAll(pd);
ctx.close();
process.stdout.write(
  `${JSON.stringify({
    ipcLock: ((capEff >> CAP_IPC_LOCK) & 1n) === 1n,
    registered: first.mrs.length,
    refusal: first.refusal,
    pinnedAtLimit,
    pinnedAfterFree,
    again: second.mrs.length,
    refusalAgain: second.refusal,
    pinnedAtEnd: vmPinKiB(),
  })}\n`,
);

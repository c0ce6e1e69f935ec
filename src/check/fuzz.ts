/**
 * The model-guided fuzz: random but well-shaped ioctl and write commands
 * (every method and command the library encodes, with random arguments,
 * then up to four bytes overwritten), encoded as the dispatcher encodes
 * them (src/abi/compiled.ts), each sent to the device only when the
 * in-process kernel model (src/abi/kernel-model.ts) predicts the kernel
 * refuses it before any handler runs; the kernel's errno is compared with
 * that prediction.
 *
 * Never sent, and counted as such: commands the model says a handler would
 * run (they would create or destroy things), commands whose answer depends
 * on an object lookup (the model models structure, not the handle table),
 * commands whose pointers leave the library's own memory, commands an
 * overwritten byte turned into one the device has but the library has no
 * table for, and arguments the encoder refuses with one of its typed
 * argument errors. Any other exception from the encoder is a disagreement
 * (the library's, not the kernel's).
 */

import { compiledMethod, compiledWrite } from '../abi/compiled.js';
import { ib_uverbs_ex_write_cmds, ib_uverbs_write_cmds, rdma_user_ioctl_defines } from '../abi/constants.js';
import { modelDevice, validateIoctl, validateWrite } from '../abi/kernel-model.js';
import { releaseHas } from '../abi/layout.js';
import type { MethodSpec } from '../abi/method-spec.js';
import { METHODS } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { EFAULT } from '../errno.js';
import { KNOWN_METHODS } from '../probe/known-methods.js';
import type { ProbeResult } from '../probe/probe.js';
import { Scratch } from '../transport/memory.js';
import { type Context, sysOf } from '../verbs/context.js';
import type { Predict } from './abi-matrix.js';
import { compare, count, hex, newPart, type PartResult } from './report.js';
import { Rng } from './rng.js';
import { layoutValue, methodArgs } from './values.js';

/** The model's answer when the kernel's would depend on its handle table. */
const LOOKUP = -1;
/** Disagreements kept in full; past this many, only counted. */
const KEEP = 50;

/** The encoders' refusals of an argument (src/errors.ts): anything else they throw is a bug. */
const TYPED_REFUSALS = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);
export function typedRefusal(error: unknown): boolean {
  return (
    (error instanceof TypeError || error instanceof RangeError) &&
    TYPED_REFUSALS.has((error as { code?: unknown }).code as string)
  );
}

export interface FuzzOptions {
  readonly seed: number;
  /** Commands generated at most. */
  readonly iterations: number;
  /** Wall-clock budget in ms. */
  readonly budgetMs: number;
  readonly predict?: Predict | undefined;
}

/** Runs the fuzz on an open context whose device `found` describes (the probe's answer for it). */
export function fuzzCheck(ctx: Context, found: ProbeResult, options: FuzzOptions): PartResult {
  const part = newPart('fuzz');
  const release = found.kernel;
  const methodsHere = new Set(found.methods.filter((m) => m.supported).map((m) => m.method));
  const writesHere = new Set(found.writeCommands.filter((w) => w.supported).map((w) => w.command));
  // what this kernel and driver have: methods and attributes by release and by the probe's answer
  const methods: MethodSpec[] = METHODS.filter((m) => methodsHere.has(m.name)).map((m) => ({
    ...m,
    attrs: Object.fromEntries(Object.entries(m.attrs).filter(([, a]) => releaseHas(release, a.since))),
  }));
  const writes = Object.values(WRITE_COMMANDS).filter((w) => writesHere.has(w.name));
  const number = (w: { command: string; extended: boolean }) =>
    (w.extended ? ib_uverbs_ex_write_cmds : ib_uverbs_write_cmds)[w.command as never] as number;
  // what the device has but the library has no table for: an overwritten byte can land there, and then the
  // model cannot say (it would answer "no such method"); such commands are not sent
  const modeled = new Set([...METHODS.map((m) => m.name), ...Object.values(WRITE_COMMANDS).map((w) => w.name)]);
  const unmodeledMethods = new Set(
    KNOWN_METHODS.filter((m) => methodsHere.has(m.name) && !modeled.has(m.name)).map((m) => (m.object << 16) | m.id),
  );
  const unmodeledWrites = new Set(
    found.writeCommands
      .filter((w) => w.supported && !modeled.has(w.command))
      .map((w) => ((w.extended ? 0x8000_0000 : 0) | number(w)) >>> 0),
  );
  // the device's slot counts: its highest command, plus one
  const slots = (extended: boolean) =>
    Math.max(-1, ...found.writeCommands.filter((w) => w.supported && w.extended === extended).map(number)) + 1;

  const sys = sysOf(ctx);
  const scratch = new Scratch(sys, 64 * 1024);
  const driverId = ctx.driverId as number;
  /** The kernel may read only what the library mapped: anything else is left unsent. */
  let region: { address: bigint; bytes: Uint8Array } = { address: 0n, bytes: new Uint8Array(0) };
  const model = modelDevice(driverId, methods, writes, {
    readUser: (address, length) => {
      const at = address - region.address;
      if (at < 0n || at + BigInt(length) > BigInt(region.bytes.byteLength)) return undefined;
      return region.bytes.slice(Number(at), Number(at) + length);
    },
    lookup: () => LOOKUP,
    writeSlots: { legacy: slots(false), ex: slots(true) },
  });

  const rng = new Rng(options.seed);
  const deadline = Date.now() + options.budgetMs;
  try {
    for (let i = 1; i <= options.iterations && Date.now() < deadline; i++) {
      count(part, 'generated');
      scratch.reset();
      const first = scratch.take(8);
      region = { address: first.address - BigInt(first.bytes.byteOffset), bytes: new Uint8Array(first.bytes.buffer) };
      const ioctl = writes.length === 0 || (methods.length > 0 && rng.chance(0.5));
      const m = ioctl ? rng.pick(methods) : undefined;
      const c = ioctl ? undefined : rng.pick(writes);
      const what = (m ?? c)?.name as string;
      let bytes: Uint8Array;
      let address: bigint;
      try {
        if (m) {
          address = compiledMethod(m).encode(methodArgs(rng, m), undefined, undefined, driverId, scratch);
          const at = Number(address - region.address);
          const length = new DataView(region.bytes.buffer, region.bytes.byteOffset + at).getUint16(0, true);
          bytes = region.bytes.subarray(at, at + length);
        } else {
          const w = c as (typeof writes)[number];
          const request = layoutValue(rng, w.request);
          delete request.response;
          ({ bytes, address } = compiledWrite(w).encode(request as never, scratch, {}));
          const cut = rng.int(-16, 8);
          if (cut < 0) bytes = bytes.subarray(0, Math.max(8, bytes.byteLength + cut));
        }
      } catch (error) {
        if (!typedRefusal(error)) {
          compare(part, {
            case: `fuzz #${i} ${what}`,
            kind: ioctl ? 'ioctl' : 'write',
            predicted: 0,
            actual: 0,
            note: `the encoder threw ${(error as Error)?.name}: ${(error as Error)?.message}, not a typed refusal`,
          });
          continue;
        }
        count(part, 'encoder refused'); // the library refuses it before any syscall: nothing to compare
        continue;
      }
      const flips = rng.int(0, 4);
      for (let f = 0; f < flips; f++) bytes[rng.u32() % bytes.byteLength] = rng.int(0, 255);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const unmodeled = ioctl
        ? unmodeledMethods.has((view.getUint16(2, true) << 16) | view.getUint16(4, true))
        : unmodeledWrites.has(view.getUint32(0, true));
      if (unmodeled) {
        count(part, 'not modeled');
        continue;
      }
      let predicted = ioctl
        ? validateIoctl(model, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, bytes)
        : validateWrite(model, bytes);
      if (predicted === 0) {
        count(part, 'would run a handler');
        continue;
      }
      if (predicted === LOOKUP) {
        count(part, 'need a lookup');
        continue;
      }
      if (predicted === EFAULT) {
        count(part, 'outside our memory');
        continue;
      }
      const name = `fuzz #${i} ${what}`;
      if (options.predict) predicted = options.predict({ part: 'fuzz', case: name, bytes, predicted });
      const r = ioctl
        ? sys.ioctl(ctx.fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, address)
        : sys.write(ctx.fd, address, bytes.byteLength);
      const actual = r < 0 ? -r : 0;
      count(part, 'sent');
      const d = {
        case: name,
        kind: ioctl ? ('ioctl' as const) : ('write' as const),
        bytes: hex(bytes),
        predicted,
        actual,
      };
      if (predicted === actual) part.agreements++;
      else if (part.disagreements.length < KEEP) part.disagreements.push(d);
      else count(part, 'disagreements not kept');
    }
  } finally {
    scratch.free();
  }
  part.notes.push(`seed ${options.seed}`);
  return part;
}

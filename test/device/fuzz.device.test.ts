/**
 * A bounded fuzz run against the real kernel: random but well-shaped ioctl
 * and write commands (every method and command the library encodes, with
 * random arguments, then a few bytes flipped), encoded as the dispatcher
 * encodes them (the compiled forms, src/abi/compiled.ts), each sent to the device only
 * when the in-process kernel model (src/abi/kernel-model.ts) predicts the
 * kernel refuses it before any handler runs, and the kernel's errno compared
 * with that prediction. A disagreement fails with the seed and the bytes.
 *
 * Never sent, and counted as such: commands the model says a handler would
 * run (they would create or destroy things), commands whose answer depends
 * on an object lookup (an IDR handle or an fd: the model models structure,
 * not the handle table), commands whose pointers leave the library's own
 * memory (the kernel would read whatever is there), commands a flipped
 * byte turned into one the device has but the library has no table for, and
 * arguments the encoder refuses with one of its typed argument errors
 * (TypeError / RangeError with ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE or
 * ERR_OUT_OF_RANGE). Any other exception from the encoder fails the run.
 *
 * Bounds: UVERBS_FUZZ_COMMANDS (default 4000 generated) and
 * UVERBS_FUZZ_SECONDS (default 60); UVERBS_FUZZ_SEED repeats a run (default: a
 * fixed seed, so the suite is repeatable; `random` draws one and prints it).
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compiledMethod, compiledWrite } from '../../src/abi/compiled.js';
import { ib_uverbs_ex_write_cmds, ib_uverbs_write_cmds, rdma_user_ioctl_defines } from '../../src/abi/constants.js';
import { modelDevice, validateIoctl, validateWrite } from '../../src/abi/kernel-model.js';
import { releaseHas } from '../../src/abi/layout.js';
import type { MethodSpec } from '../../src/abi/method-spec.js';
import { METHODS } from '../../src/abi/methods.js';
import { WRITE_COMMANDS } from '../../src/abi/write-commands.js';
import { EFAULT } from '../../src/errno.js';
import { KNOWN_METHODS } from '../../src/probe/known-methods.js';
import { probe } from '../../src/probe/probe.js';
import { Scratch } from '../../src/transport/memory.js';
import { Context, sysOf } from '../../src/verbs/context.js';
import { layoutValue, methodArgs } from '../support/arbitraries.js';
import { fdCount, resources, TEST_DEVICE, VM_KERNEL } from './support.js';

const COMMANDS = Number(process.env.UVERBS_FUZZ_COMMANDS ?? 4000);
const SECONDS = Number(process.env.UVERBS_FUZZ_SECONDS ?? 60);
// a fixed seed by default, so `npm test` is repeatable; UVERBS_FUZZ_SEED=random explores
const SEED =
  process.env.UVERBS_FUZZ_SEED === 'random'
    ? Math.floor(Math.random() * 2 ** 31)
    : Number(process.env.UVERBS_FUZZ_SEED ?? 20261124);
/** The model's answer when the kernel's would depend on its handle table. */
const LOOKUP = -1;

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The encoders' refusals of an argument (src/errors.ts): anything else they throw is a bug. */
const TYPED_REFUSALS = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);
function typedRefusal(error: unknown): boolean {
  return (
    (error instanceof TypeError || error instanceof RangeError) &&
    TYPED_REFUSALS.has((error as { code?: unknown }).code as string)
  );
}

describe.runIf(TEST_DEVICE)(`fuzz against ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it(`random well-shaped commands get the model's errno (seed ${SEED})`, () => {
    const name = TEST_DEVICE as string;
    const found = probe(name);
    const release = found.kernel;
    const methodsHere = new Set(found.methods.filter((m) => m.supported).map((m) => m.method));
    const writesHere = new Set(found.writeCommands.filter((w) => w.supported).map((w) => w.command));
    // what this kernel and driver have: methods and attributes by release and by the probe's answer
    const methods: MethodSpec[] = METHODS.filter((m) => methodsHere.has(m.name)).map((m) => ({
      ...m,
      attrs: Object.fromEntries(Object.entries(m.attrs).filter(([, a]) => releaseHas(release, a.since))),
    }));
    const writes = Object.values(WRITE_COMMANDS).filter((w) => writesHere.has(w.name));
    // what the device has but the library has no table for: a flipped byte can land there, and then
    // the model cannot say (it would answer "no such method"); such commands are not sent
    const modeled = new Set([...METHODS.map((m) => m.name), ...Object.values(WRITE_COMMANDS).map((w) => w.name)]);
    const unmodeledMethods = new Set(
      KNOWN_METHODS.filter((m) => methodsHere.has(m.name) && !modeled.has(m.name)).map((m) => (m.object << 16) | m.id),
    );
    const unmodeledWrites = new Set(
      found.writeCommands
        .filter((w) => w.supported && !modeled.has(w.command))
        .map(
          (w) =>
            ((w.extended ? 0x8000_0000 : 0) |
              (w.extended ? ib_uverbs_ex_write_cmds : ib_uverbs_write_cmds)[w.command as never]) >>>
            0,
        ),
    );
    // the device's slot counts: its highest command, plus one (the probe knows every command, ours or not)
    const slots = (extended: boolean) =>
      Math.max(
        -1,
        ...found.writeCommands
          .filter((w) => w.supported && w.extended === extended)
          .map((w) => (extended ? ib_uverbs_ex_write_cmds : ib_uverbs_write_cmds)[w.command as never] as number),
      ) + 1;

    const fds = fdCount();
    const before = resources(name);
    const ctx = Context.open(name);
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
      lookup: (attr) => (attr.kind === 'idr' && attr.access === 'new' ? 0 : LOOKUP),
      writeSlots: { legacy: slots(false), ex: slots(true) },
    });

    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 0, maxLength: 4 });
    const ioctls = fc.constantFrom(...methods).chain((m) => methodArgs(m).map((args) => ({ m, args })));
    const cmds = fc.constantFrom(...writes).chain((c) => layoutValue(c.request).map((request) => ({ c, request })));
    const one = fc.oneof(
      fc.record({ kind: fc.constant('ioctl' as const), x: ioctls, flips }),
      fc.record({ kind: fc.constant('write' as const), y: cmds, flips, cut: fc.integer({ min: -16, max: 8 }) }),
    );

    const tally = { generated: 0, sent: 0, handler: 0, lookup: 0, pointer: 0, unmodeled: 0, encoderRefused: 0 };
    const errnos = new Map<number, number>();
    const deadline = Date.now() + SECONDS * 1000;
    try {
      for (const input of fc.sample(one, { numRuns: COMMANDS, seed: SEED })) {
        if (Date.now() > deadline) break;
        tally.generated++;
        scratch.reset();
        // every buffer of this command lands in the scratch's one 64 KiB mapping: that is what the kernel may read
        const first = scratch.take(8);
        region = { address: first.address - BigInt(first.bytes.byteOffset), bytes: new Uint8Array(first.bytes.buffer) };
        let bytes: Uint8Array;
        let address: bigint;
        try {
          if (input.kind === 'ioctl') {
            address = compiledMethod(input.x.m).encode(input.x.args, undefined, undefined, driverId, scratch);
            const at = Number(address - region.address);
            const length = new DataView(region.bytes.buffer, region.bytes.byteOffset + at).getUint16(0, true);
            bytes = region.bytes.subarray(at, at + length);
          } else {
            const request = { ...input.y.request };
            delete request.response;
            ({ bytes, address } = compiledWrite(input.y.c).encode(request, scratch, {}));
            if (input.cut < 0) bytes = bytes.subarray(0, Math.max(8, bytes.byteLength + input.cut));
          }
        } catch (error) {
          if (!typedRefusal(error)) {
            const what = input.kind === 'ioctl' ? input.x.m.name : input.y.c.name;
            throw new Error(
              `seed ${SEED}, command ${tally.generated}: the encoder threw on ${what}, not a typed refusal`,
              {
                cause: error,
              },
            );
          }
          tally.encoderRefused++; // the library refuses it before any syscall: nothing to compare
          continue;
        }
        for (const [at, value] of input.flips) bytes[at % bytes.byteLength] = value;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const unmodeled =
          input.kind === 'ioctl'
            ? unmodeledMethods.has((view.getUint16(2, true) << 16) | view.getUint16(4, true))
            : unmodeledWrites.has(view.getUint32(0, true));
        if (unmodeled) {
          tally.unmodeled++;
          continue;
        }
        const predicted =
          input.kind === 'ioctl'
            ? validateIoctl(model, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, bytes)
            : validateWrite(model, bytes);
        if (predicted === 0) {
          tally.handler++;
          continue;
        }
        if (predicted === LOOKUP) {
          tally.lookup++;
          continue;
        }
        if (predicted === EFAULT) {
          tally.pointer++;
          continue;
        }
        const r =
          input.kind === 'ioctl'
            ? sys.ioctl(ctx.fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, address)
            : sys.write(ctx.fd, address, bytes.byteLength);
        const actual = r < 0 ? -r : 0;
        tally.sent++;
        errnos.set(actual, (errnos.get(actual) ?? 0) + 1);
        if (actual !== predicted) {
          throw new Error(
            `seed ${SEED}, command ${tally.generated}: the kernel said ${actual}, the model ${predicted}; ${input.kind} bytes ${hex(bytes)}`,
          );
        }
      }
    } finally {
      scratch.free();
      ctx.close();
    }
    process.stderr.write(
      `fuzz ${name} ${VM_KERNEL} seed ${SEED}: ${tally.generated} generated, ${tally.sent} sent and agreed ` +
        `(errnos ${JSON.stringify(Object.fromEntries(errnos))}); not sent: ${tally.handler} would run a handler, ` +
        `${tally.lookup} need an object lookup, ${tally.pointer} point outside our memory, ` +
        `${tally.unmodeled} reach a command the device has and the library does not model, ${tally.encoderRefused} refused by the encoder (typed argument errors)\n`,
    );
    expect(tally.sent).toBeGreaterThan(Math.min(100, tally.generated / 10));
    expect(fdCount()).toBe(fds);
    expect(resources(name)).toBe(before);
  }, 300_000);
});

/**
 * Properties of the encoders against the in-process kernel model:
 * (a) every command the encoders emit passes the kernel's validation;
 * (b) decode(encode(x)) = x for every layout;
 * (c) mutated command bytes always get a defined errno, never an exception.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMethod } from '../src/abi/ioctl-command.js';
import { modelDevice, validateIoctl, validateWrite } from '../src/abi/kernel-model.js';
import { decode, encode } from '../src/abi/layout.js';
import { METHODS } from '../src/abi/methods.js';
import { encodeWrite } from '../src/abi/write-command.js';
import { WRITE_COMMANDS, type WriteCommand } from '../src/abi/write-commands.js';
import { EFAULT, EINVAL, ENOSPC, ENOTTY, EOPNOTSUPP, EPROTONOSUPPORT } from '../src/errno.js';
import { Scratch } from '../src/transport/memory.js';
import { layoutValue, methodArgs } from './support/arbitraries.js';
import { allLayouts } from './support/conformance.js';
import { FakeKernel } from './support/fake-kernel.js';

const RUNS = Number(process.env.UVERBS_PROPERTY_RUNS ?? 200);
const DRIVER = 14;
const DEFINED = new Set([0, EFAULT, EINVAL, ENOSPC, ENOTTY, EOPNOTSUPP, EPROTONOSUPPORT]);

function world() {
  const kernel = new FakeKernel();
  const model = modelDevice(DRIVER, METHODS, Object.values(WRITE_COMMANDS), {
    readUser: (a, n) => kernel.readUser(a, n),
  });
  return { kernel, model, scratch: new Scratch(kernel) };
}

/** Raises the fields a command has a floor for (`wqe_size`) to it: the encoder refuses less before any syscall. */
function atLeast(command: WriteCommand, request: Record<string, unknown>): void {
  for (const [field, least] of Object.entries(command.least ?? {})) {
    request[field] = Math.max(least, request[field] as number);
  }
}

describe('(a) what the encoders emit passes the kernel model', () => {
  it.each(METHODS.map((m) => [m.name, m] as const))('%s', (_, method) => {
    const { model, scratch } = world();
    fc.assert(
      fc.property(methodArgs(method), (args) => {
        scratch.reset();
        const header = encodeMethod(method, args, DRIVER, scratch).command.finish();
        expect(validateIoctl(model, 0xc0181b01, header.bytes)).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it.each(Object.values(WRITE_COMMANDS).map((c) => [c.name, c] as const))('%s', (_, command) => {
    const { model, scratch } = world();
    const unit = command.extended ? 8 : 4;
    const udata = command.udata
      ? fc.record({
          udataIn: fc
            .integer({ min: 0, max: 8 })
            .chain((n) => fc.uint8Array({ minLength: n * unit, maxLength: n * unit })),
          udataOutLength: fc.integer({ min: 0, max: 8 }).map((n) => n * unit),
        })
      : fc.constant({});
    fc.assert(
      fc.property(layoutValue(command.request), udata, (request, options) => {
        scratch.reset();
        delete request.response;
        atLeast(command, request);
        const encoded = encodeWrite(command, request as never, scratch, options);
        expect(validateWrite(model, encoded.buffer.bytes)).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('(b) decode(encode(x)) = x for every layout', () => {
  it.each(allLayouts().map((l) => [l.name, l] as const))('%s', (_, layout) => {
    fc.assert(
      fc.property(layoutValue(layout), (value) => {
        const bytes = new Uint8Array(layout.size + 16);
        encode(layout, value as never, bytes, 8);
        const back = decode(layout, bytes, 8);
        expect(pick(back, value)).toEqual(value);
      }),
      { numRuns: Math.max(20, RUNS / 4) },
    );
  });
});

/** The decoded struct restricted to the keys that were encoded (union arms left out). */
function pick(decoded: Record<string, unknown>, shape: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(shape)) {
    const d = decoded[k];
    out[k] =
      v && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v)
        ? pick(d as Record<string, unknown>, v as Record<string, unknown>)
        : typeof v === 'number' && typeof d === 'bigint'
          ? Number(d)
          : d;
  }
  return out;
}

describe('(c) mutated bytes always get a defined errno from the model', () => {
  const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 });

  it('ioctl commands', () => {
    const { model, scratch } = world();
    const seen = new Map<number, number>();
    const methods = fc.constantFrom(...METHODS).chain((m) => methodArgs(m).map((args) => [m, args] as const));
    fc.assert(
      fc.property(methods, mutation, ([method, args], flips) => {
        scratch.reset();
        const header = encodeMethod(method, args, DRIVER, scratch).command.finish();
        const bytes = header.bytes.slice();
        for (const [at, value] of flips) bytes[at % bytes.byteLength] = value;
        const errno = validateIoctl(model, 0xc0181b01, bytes);
        expect(DEFINED.has(errno)).toBe(true);
        seen.set(errno, (seen.get(errno) ?? 0) + 1);
      }),
      { numRuns: RUNS * 10 },
    );
    // the mutations reach the interesting answers, not just one
    expect([...seen.keys()]).toEqual(expect.arrayContaining([0, EINVAL, EPROTONOSUPPORT]));
  });

  it('write commands', () => {
    const { model, scratch } = world();
    const seen = new Map<number, number>();
    const commands = fc
      .constantFrom(...Object.values(WRITE_COMMANDS))
      .chain((c) => layoutValue(c.request).map((request) => [c, request] as const));
    fc.assert(
      fc.property(
        commands,
        mutation,
        fc.integer({ min: -24, max: 8 }),
        fc.boolean(),
        ([command, request], flips, resize, honest) => {
          scratch.reset();
          delete request.response;
          atLeast(command, request);
          const encoded = encodeWrite(command, request as never, scratch);
          let bytes = encoded.buffer.bytes.slice();
          for (const [at, value] of flips) bytes[at % bytes.byteLength] = value;
          if (resize < 0) bytes = bytes.subarray(0, Math.max(0, bytes.byteLength + resize));
          else if (resize > 0) bytes = Uint8Array.from([...bytes, ...new Uint8Array(resize)]);
          if (honest && !command.extended && bytes.byteLength >= 8) {
            // a short (or long) request whose word count matches its length: the kernel's ENOSPC path
            bytes = bytes.subarray(0, bytes.byteLength & ~3);
            new DataView(bytes.buffer, bytes.byteOffset).setUint16(4, bytes.byteLength / 4, true);
          }
          const errno = validateWrite(model, bytes);
          expect(DEFINED.has(errno)).toBe(true);
          seen.set(errno, (seen.get(errno) ?? 0) + 1);
        },
      ),
      { numRuns: RUNS * 10 },
    );
    expect([...seen.keys()]).toEqual(expect.arrayContaining([0, EINVAL, ENOSPC, EOPNOTSUPP]));
  });
});

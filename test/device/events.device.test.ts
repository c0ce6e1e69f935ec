/**
 * The async event fd on a real device: a device of the test's own kind on
 * a dummy netdev of its own, whose link the test takes down and up; the
 * port events arrive on the context's async event fd. Its own netdev, so
 * no other test sees a port go down.
 */

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { AsyncEvent, AsyncEventQueue } from '../../src/verbs/async-events.js';
import { Context } from '../../src/verbs/context.js';
import { findDevice } from '../../src/verbs/device.js';
import { fdCount, TEST_DEVICE, VM_KERNEL } from './support.js';

function run(...argv: string[]): void {
  execFileSync(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Events up to and including the first of `type`, waiting at most 10 s in all; GID changes may come first. */
function until(events: AsyncEventQueue, type: string): AsyncEvent[] {
  const seen: AsyncEvent[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const e = events.next(Math.max(1, deadline - Date.now()));
    if (e === undefined) break;
    seen.push(e);
    if (e.type === type) break;
  }
  return seen;
}

/** Every event that arrives within `ms`. */
function drain(events: AsyncEventQueue, ms: number): AsyncEvent[] {
  const seen: AsyncEvent[] = [];
  const deadline = Date.now() + ms;
  for (let left = ms; left > 0; left = deadline - Date.now()) {
    const e = events.next(left);
    if (e === undefined) break;
    seen.push(e);
  }
  return seen;
}

describe.runIf(TEST_DEVICE)(`async events on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  const kind = (TEST_DEVICE as string).replace(/\d+$/, '');

  it('the port goes down and up with its netdev: IB_EVENT_PORT_ERR, then IB_EVENT_PORT_ACTIVE, element = port', () => {
    const netdev = `uvev${process.pid}`;
    const ibdev = `${kind}ev${process.pid}`;
    run('ip', 'link', 'add', netdev, 'type', 'dummy');
    try {
      run('ip', 'link', 'set', netdev, 'up');
      run('rdma', 'link', 'add', ibdev, 'type', kind, 'netdev', netdev);
      try {
        const fds = fdCount();
        const device = findDevice(ibdev);
        expect(device).toBeDefined();
        {
          using ctx = Context.open(ibdev);
          const events = ctx.asyncEvents();
          expect(ctx.asyncEvents()).toBe(events);
          const port = ctx.queryPort(1).state;
          expect(port).toBe('ACTIVE');

          run('ip', 'link', 'set', netdev, 'down');
          const down = until(events, 'IB_EVENT_PORT_ERR');
          expect(down.at(-1)).toEqual({ type: 'IB_EVENT_PORT_ERR', element: 1n });
          expect(ctx.queryPort(1).state).not.toBe('ACTIVE');

          run('ip', 'link', 'set', netdev, 'up');
          const up = until(events, 'IB_EVENT_PORT_ACTIVE');
          expect(up.at(-1)).toEqual({ type: 'IB_EVENT_PORT_ACTIVE', element: 1n });
          // anything else that came is the GID table following the link (IB_EVENT_GID_CHANGE)
          for (const e of [...down, ...up].slice(0, -1)) {
            expect(['IB_EVENT_GID_CHANGE', 'IB_EVENT_PORT_ERR', 'IB_EVENT_PORT_ACTIVE']).toContain(e.type);
          }
          // and so is whatever follows PORT_ACTIVE (the GID table may still be catching up): nothing else
          for (const e of drain(events, 2_000)) expect(e).toEqual({ type: 'IB_EVENT_GID_CHANGE', element: 1n });
        }
        expect(fdCount()).toBe(fds);
      } finally {
        run('rdma', 'link', 'delete', ibdev);
      }
    } finally {
      run('ip', 'link', 'delete', netdev);
    }
  });

  it('for await over asyncEvents() ends, throwing nothing, when the context closes while it waits', async () => {
    const ctx = Context.open(TEST_DEVICE as string);
    const seen: AsyncEvent[] = [];
    const loop = (async () => {
      for await (const e of ctx.asyncEvents()) seen.push(e);
      return 'ended';
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    ctx.close();
    const outcome = await Promise.race([
      loop.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      new Promise((resolve) => setTimeout(() => resolve('pending'), 2_000)),
    ]);
    expect(outcome).toEqual({ value: 'ended' });
    for (const e of seen) expect(e.type).toBe('IB_EVENT_GID_CHANGE'); // nothing else happens to this port meanwhile
  });
});

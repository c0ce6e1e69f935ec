/**
 * Waits that settle, on a real device: a cq.wait() pending when its CQ,
 * context or channel closes rejects with UverbsClosedError and leaves
 * nothing that keeps the process alive (a child that must exit on its
 * own); and a timeout and an AbortSignal end a wait on the real channel
 * fd. (That a failed completion reports no opcode is shown on a real
 * device by mw.device.test.ts: a write through a revoked or unknown rkey.)
 */

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UverbsClosedError } from '../../src/errors.js';
import { Context } from '../../src/verbs/context.js';
import { COMPLETION_SIZE } from '../../src/verbs/work-request.js';
import { libraryDatapath, TEST_DEVICE, VM_KERNEL } from './support.js';

const name = TEST_DEVICE as string;
const child = fileURLToPath(new URL('./children/wait-then-close.mjs', import.meta.url));

// a CQ is polled through the library's datapath (rxe); without one (siw) cq.wait() is a typed "unsupported"
const datapath = libraryDatapath();

describe.runIf(TEST_DEVICE)(`waits on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  it.runIf(datapath).each(['cq', 'context', 'channel'])(
    'a wait pending when its %s closes rejects with UverbsClosedError, and the process then exits on its own',
    (what) => {
      const r = spawnSync(process.execPath, [child, name, what], { encoding: 'utf8', timeout: 15_000 });
      expect({ status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr }).toEqual({
        status: 0,
        signal: null,
        stdout: 'UverbsClosedError',
        stderr: '',
      });
    },
  );

  it.runIf(datapath)(
    'a timeout and an abort end a wait on the real channel; a close still rejects the next',
    async () => {
      using ctx = Context.open(name);
      const channel = ctx.createCompletionChannel();
      const cq = ctx.createCq({ cqe: 4, channel });
      const out = new Uint8Array(COMPLETION_SIZE);
      await expect(cq.wait(out, { timeout: 50 })).rejects.toMatchObject({
        name: 'UverbsTimeoutError',
        code: 'ETIMEDOUT',
      });
      const controller = new AbortController();
      const wait = cq.wait(out, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('enough')), 30);
      await expect(wait).rejects.toThrow('enough');
      await expect(cq.wait(out, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
      const pending = cq.wait(out);
      cq.close();
      await expect(pending).rejects.toBeInstanceOf(UverbsClosedError);
      channel.close();
    },
  );

  it('asyncEvents().wait() takes a timeout and a signal on the real fd', async () => {
    using ctx = Context.open(name);
    const events = ctx.asyncEvents();
    await expect(events.wait({ timeout: 30 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await expect(events.wait({ signal: AbortSignal.timeout(30) })).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});

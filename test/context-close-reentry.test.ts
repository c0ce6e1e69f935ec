/**
 * Closing a context from a getter of the arguments of a call on it, while that call is laid out:
 * the close frees the scratch arena and the fd under the outer command. It is refused
 * (ERR_INVALID_STATE), the context stays open and works on, and the outer call sends nothing.
 * Before, the write path threw a bare TypeError (it wrote into the freed arena) with the context
 * closed under it, and the ioctl path ERR_UVERBS_CLOSED.
 */

import { describe, expect, it } from 'vitest';
import { UVERBS_METHOD_PD_DESTROY } from '../src/abi/methods.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { Context } from '../src/verbs/context.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';

describe('a context closed from a getter of a call on it', () => {
  for (const path of ['write', 'ioctl'] as const) {
    it(`${path}: is refused with ERR_INVALID_STATE; the context stays open and nothing is sent`, () => {
      const sent: string[] = [];
      const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel(), trace: (e) => sent.push(e.method) });
      sent.length = 0;
      let nested: unknown;
      const handle = () => {
        try {
          ctx.close();
        } catch (error) {
          nested = error;
          throw error;
        }
        return 1;
      };
      const call =
        path === 'write'
          ? () =>
              ctx.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_DEALLOC_PD, {
                get pd_handle() {
                  return handle();
                },
              })
          : () =>
              ctx.dispatch.invoke(UVERBS_METHOD_PD_DESTROY, {
                get handle() {
                  return handle();
                },
              });
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
      expect(nested).toMatchObject({ code: 'ERR_INVALID_STATE' });
      expect(ctx.closed).toBe(false);
      expect(sent).toEqual([]);
      ctx.allocPd().close(); // the context works on
      expect(sent).toEqual(['IB_USER_VERBS_CMD_ALLOC_PD', 'UVERBS_METHOD_PD_DESTROY']);
      ctx.close();
      expect(ctx.closed).toBe(true);
    });
  }
});

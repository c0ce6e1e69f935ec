/**
 * The compiled encoders keep their slots per method, shared by every context (src/abi/compiled.ts).
 * A caller's getter can call the library again while a call is being laid out (the Dispatcher is
 * public: its arguments are the caller's objects). Such a nested call must not change what the
 * outer call sends or decodes: it takes the reference path, whose state is its own. Before, the
 * nested call refilled the shared slots, and the outer QP_CREATE went out with the nested call's
 * PD handle; the outer CREATE_CQ decoded the nested call's response.
 */

import { describe, expect, it } from 'vitest';
import { compiledMethod, compiledWrite } from '../src/abi/compiled.js';
import { UVERBS_METHOD_QP_CREATE } from '../src/abi/methods.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { Scratch } from '../src/transport/memory.js';
import { FakeKernel } from './support/fake-kernel.js';

/** The first mapping a fresh fake kernel makes: the scratch arena's (as test/compiled.test.ts). */
const ARENA = 0x7f00_0000_0000n;
const DRIVER = 14;

function world() {
  const kernel = new FakeKernel();
  return { kernel, scratch: new Scratch(kernel) };
}

/** The inline data of attribute `id` in the command at `address`. */
function attrData(kernel: FakeKernel, address: bigint, id: number): number | undefined {
  const head = new DataView(kernel.view(ARENA, 4 * 4096), Number(address - ARENA));
  for (let i = 0; i < head.getUint16(6, true); i++) {
    if (head.getUint16(24 + 16 * i, true) === id) return head.getUint32(24 + 16 * i + 8, true);
  }
  return undefined;
}

describe('a call made from a getter while another is laid out', () => {
  it('ioctl: the outer command keeps its own arguments (QP_CREATE, two contexts)', () => {
    const create = compiledMethod(UVERBS_METHOD_QP_CREATE);
    const outer = world();
    const inner = world();
    const common = {
      sendCqHandle: 2,
      recvCqHandle: 3,
      userHandle: 0n,
      type: 2,
      cap: { max_send_wr: 1, max_recv_wr: 1, max_send_sge: 1, max_recv_sge: 1, max_inline_data: 0 },
    };
    let nested = 0;
    const args = {
      pdHandle: 1,
      ...common,
      get srqHandle() {
        nested = Number(create.encode({ pdHandle: 100, ...common }, undefined, undefined, DRIVER, inner.scratch));
        expect(create.decode(undefined).handle).toBeTypeOf('number');
        return undefined;
      },
    };
    const address = create.encode(args, undefined, undefined, DRIVER, outer.scratch);
    expect(nested).toBeGreaterThan(0);
    const pd = UVERBS_METHOD_QP_CREATE.attrs.pdHandle.id;
    expect(attrData(inner.kernel, BigInt(nested), pd)).toBe(100);
    expect(attrData(outer.kernel, address, pd)).toBe(1);
  });

  it('write: the outer call decodes its own response (CREATE_CQ, two contexts)', () => {
    const command = WRITE_COMMANDS.IB_USER_VERBS_CMD_CREATE_CQ;
    const create = compiledWrite(command);
    const outer = world();
    const inner = world();
    /** The kernel's answer, written where the request's `response` points: cq_handle = `handle`. */
    const answer = (w: ReturnType<typeof world>, request: Uint8Array, handle: number) => {
      const response = new DataView(request.buffer, request.byteOffset).getBigUint64(8, true);
      const bytes = w.kernel.readUser(response, 8) as Uint8Array;
      new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, handle, true);
    };
    const request = {
      user_handle: 0n,
      comp_vector: 0,
      comp_channel: -1,
      get cqe() {
        const sent = create.encode({ user_handle: 0n, cqe: 4, comp_vector: 0, comp_channel: -1 }, inner.scratch, {});
        answer(inner, sent.bytes, 200);
        expect(create.decode().response?.cq_handle).toBe(200);
        return 4;
      },
    };
    const sent = create.encode(request, outer.scratch, {});
    answer(outer, sent.bytes, 7);
    expect(create.decode().response?.cq_handle).toBe(7);
  });
});

describe('a call on the same context from a getter of the arguments being laid out', () => {
  it('is refused with ERR_INVALID_STATE before it resets the scratch; the outer call sends nothing', async () => {
    const { Context } = await import('../src/verbs/context.js');
    const { FAKE_DEVICE } = await import('./support/fake-kernel.js');
    const { UVERBS_METHOD_PD_DESTROY } = await import('../src/abi/methods.js');
    const kernel = new FakeKernel();
    const sent: string[] = [];
    const ctx = Context.open(FAKE_DEVICE, { sys: kernel, trace: (e) => sent.push(e.method) });
    const pd = ctx.allocPd();
    sent.length = 0;
    let nested: unknown;
    const args = {
      get handle() {
        try {
          ctx.allocPd();
        } catch (error) {
          nested = error;
          throw error;
        }
        return pd.handle;
      },
    };
    expect(() => ctx.dispatch.invoke(UVERBS_METHOD_PD_DESTROY, args)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_STATE' }),
    );
    expect(nested).toMatchObject({ code: 'ERR_INVALID_STATE', message: expect.stringContaining('nothing was sent') });
    expect(sent).toEqual([]);
    // the context works on: the next calls are not refused
    ctx.allocPd().close();
    expect(sent).toEqual(['IB_USER_VERBS_CMD_ALLOC_PD', 'UVERBS_METHOD_PD_DESTROY']);
    ctx.close();
  });
});

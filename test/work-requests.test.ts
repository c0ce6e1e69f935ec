/**
 * Work requests and completions at their edges, on the host: a failed
 * completion's opcode, closed regions and windows in a work request, and
 * the memory-window opcodes (BIND_MW, LOCAL_INV, SEND_WITH_INV) as
 * resolveSend checks them.
 */

import { describe, expect, it } from 'vitest';
import { ib_wc_flags, ib_wc_opcode, ib_wc_status } from '../src/abi/kernel-internal.js';
import { encode } from '../src/abi/layout.js';
import { ib_uverbs_wc } from '../src/abi/structs.js';
import { UverbsClosedError } from '../src/errors.js';
import { Context } from '../src/verbs/context.js';
import {
  COMPLETION_SIZE,
  decodeCompletions,
  resolveRecv,
  resolveSend,
  type SendLimits,
} from '../src/verbs/work-request.js';
import { FAKE_DEVICE, FakeKernel } from './support/fake-kernel.js';
import { LIMITS } from './support/rxe-stand-ins.js';

function cqe(status: number, opcode: number, flags = 0) {
  const out = new Uint8Array(COMPLETION_SIZE);
  encode(
    ib_uverbs_wc,
    {
      wr_id: 5n,
      status,
      opcode,
      vendor_err: 0,
      byte_len: 0,
      invalidate_rkey: 0x1234,
      qp_num: 17,
      src_qp: 0,
      wc_flags: flags,
      pkey_index: 0,
      slid: 0,
      sl: 0,
      dlid_path_bits: 0,
      port_num: 1,
      reserved: 0,
    },
    out,
  );
  return out;
}

describe('a completion’s opcode', () => {
  it('is undefined for every status but success (the kernel leaves 0 there, which reads as IB_WC_SEND)', () => {
    for (const [name, status] of Object.entries(ib_wc_status)) {
      const [wc] = decodeCompletions(cqe(status as number, 0), 1);
      if (name === 'IB_WC_SUCCESS') expect(wc?.opcode).toBe('IB_WC_SEND');
      else expect([name, wc?.opcode]).toEqual([name, undefined]);
      expect(wc?.status).toBe(name);
    }
    const [unknown] = decodeCompletions(cqe(99, ib_wc_opcode.IB_WC_RDMA_WRITE), 1);
    expect([unknown?.status, unknown?.opcode]).toEqual([99, undefined]);
  });

  it('a successful receive with invalidate reports the invalidated rkey', () => {
    const [wc] = decodeCompletions(cqe(0, ib_wc_opcode.IB_WC_RECV, ib_wc_flags.IB_WC_WITH_INVALIDATE), 1);
    expect(wc).toMatchObject({ opcode: 'IB_WC_RECV', invalidatedRkey: 0x1234 });
    expect(wc).not.toHaveProperty('imm');
  });
});

function fixture() {
  const ctx = Context.open(FAKE_DEVICE, { sys: new FakeKernel() });
  const pd = ctx.allocPd();
  const limits: SendLimits = { ...LIMITS, pd };
  return { ctx, pd, limits };
}

describe('a closed region or window in a work request', () => {
  it('an SGE naming a closed MR is UverbsClosedError naming the MR and where it was (was a TypeError)', () => {
    const { ctx, pd, limits } = fixture();
    const open = pd.registerMemory(4096, { localWrite: true });
    const closed = pd.registerMemory(4096, { localWrite: true });
    const description = closed.description;
    closed.close();
    const wr = {
      opcode: 'SEND' as const,
      sg: [
        { mr: open, length: 8 },
        { mr: closed, length: 8 },
      ],
    };
    let error: unknown;
    try {
      resolveSend(wr, 'wrs[2]', limits);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsClosedError);
    expect((error as Error).message).toContain(description);
    expect((error as Error).message).toContain('wrs[2].sg[1].mr');
    expect(() => resolveRecv({ sg: [{ mr: closed, length: 8 }] }, 'wr', pd, 4)).toThrow(UverbsClosedError);
    ctx.close();
  });

  it('something that is not a MemoryRegion at all is still ERR_INVALID_ARG_TYPE', () => {
    const { ctx, limits } = fixture();
    expect(() => resolveSend({ opcode: 'SEND', sg: [{ mr: {} as never, length: 1 }] }, 'wr', limits)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    ctx.close();
  });

  it('a closed window: its rkey, a bind of it, and a BIND_MW naming it are UverbsClosedError', () => {
    const { ctx, pd, limits } = fixture();
    const mr = pd.registerMemory(4096, { localWrite: true, mwBind: true });
    const mw = pd.allocMw(2);
    const rkey = mw.rkey;
    expect(rkey).toBeGreaterThan(0);
    mw.close();
    expect(() => mw.rkey).toThrow(UverbsClosedError);
    expect(() => mw.bind({} as never, { mr, length: 8 })).toThrow(UverbsClosedError);
    expect(() => resolveSend({ opcode: 'BIND_MW', bind: { mw, mr, length: 8 } }, 'wrs[1]', limits)).toThrow(
      /MemoryWindow \d+ \(wrs\[1\]\.bind\.mw\) is closed/,
    );
    ctx.close();
  });
});

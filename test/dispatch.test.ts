/**
 * Dispatch with fallback, over a fake kernel that answers like the kernels
 * we meet: 7.x (REG_MR by ioctl), 6.1/6.12 (no REG_MR method:
 * EPROTONOSUPPORT), pre-ioctl kernels (ENOTTY), and kernels with neither.
 */

import { describe, expect, it } from 'vitest';
import {
  UVERBS_METHOD_PD_DESTROY,
  UVERBS_METHOD_QUERY_CONTEXT,
  UVERBS_METHOD_QUERY_PORT,
  UVERBS_METHOD_REG_MR,
} from '../src/abi/methods.js';
import { WRITE_COMMANDS } from '../src/abi/write-commands.js';
import { ENOENT, ENOSYS, ENOTTY, EOPNOTSUPP, EPROTONOSUPPORT } from '../src/errno.js';
import { UverbsError, UverbsUnsupportedError } from '../src/errors.js';
import { Dispatcher, type TraceEvent } from '../src/transport/dispatch.js';
import { Scratch } from '../src/transport/memory.js';
import { FakeKernel, type FakeKernelOptions } from './support/fake-kernel.js';

function setup(options: FakeKernelOptions = {}) {
  const kernel = new FakeKernel(options);
  const trace: TraceEvent[] = [];
  const dispatch = new Dispatcher(kernel, kernel.uverbsFd, 14, new Scratch(kernel), {
    trace: (e) => trace.push(e),
  });
  return { kernel, dispatch, trace };
}

const regMrArgs = { pdHandle: 7, addr: 0x1000n, length: 4096n, iova: 0x1000n, accessFlags: 1 };

describe('REG_MR on a kernel that has the ioctl method (7.x)', () => {
  it('goes through ioctl, returns the new handle and keys, and says so', () => {
    const { kernel, dispatch } = setup();
    const r = dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs);
    expect(r.path).toBe('ioctl');
    expect(dispatch.lastPath).toBe('ioctl');
    expect(dispatch.route(UVERBS_METHOD_REG_MR)).toBe('ioctl');
    expect(r.outputs.handle).toBe(1);
    expect(typeof r.outputs.lkey).toBe('number');
    expect(kernel.calls.map((c) => [c.syscall, c.errno])).toEqual([['ioctl', 0]]);
  });
});

describe('REG_MR on a kernel without the method (6.1, 6.12: EPROTONOSUPPORT)', () => {
  it('falls back to the legacy write, caches that, and goes straight to write next time', () => {
    const { kernel, dispatch, trace } = setup({ without: [UVERBS_METHOD_REG_MR] });
    const first = dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs);
    expect(first.path).toBe('write');
    expect(kernel.calls.map((c) => [c.syscall, c.errno])).toEqual([
      ['ioctl', EPROTONOSUPPORT],
      ['write', 0],
    ]);
    expect(kernel.calls[1]?.what).toBe(String(WRITE_COMMANDS.IB_USER_VERBS_CMD_REG_MR.command));
    // ib_uverbs_reg_mr_resp filled by the fake with offset+1: mr_handle@0, lkey@4, rkey@8
    expect(first.outputs).toEqual({ handle: 1, lkey: 5, rkey: 9 });
    expect(dispatch.route(UVERBS_METHOD_REG_MR)).toBe('write');

    const second = dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs);
    expect(second.path).toBe('write');
    expect(kernel.calls.slice(2).map((c) => c.syscall)).toEqual(['write']);
    expect(trace.map((t) => `${t.method}:${t.path}:${t.errno}`)).toEqual([
      `UVERBS_METHOD_REG_MR:ioctl:${EPROTONOSUPPORT}`,
      'IB_USER_VERBS_CMD_REG_MR:write:0',
      'IB_USER_VERBS_CMD_REG_MR:write:0',
    ]);
  });

  it('still uses ioctl for the methods the kernel has', () => {
    const { dispatch } = setup({ without: [UVERBS_METHOD_REG_MR] });
    dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs);
    expect(dispatch.invoke(UVERBS_METHOD_PD_DESTROY, { handle: 1 }).path).toBe('ioctl');
  });
});

describe('a kernel without the ioctl framework (ENOTTY)', () => {
  it('falls back once, then every method goes straight to write', () => {
    const { kernel, dispatch } = setup({ ioctl: false });
    expect(dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs).path).toBe('write');
    expect(dispatch.ioctlAvailable).toBe(false);
    const port = dispatch.invoke(UVERBS_METHOD_QUERY_PORT, { portNum: 1 });
    expect(port.path).toBe('write');
    expect(kernel.calls.map((c) => c.syscall)).toEqual(['ioctl', 'write', 'write']);
    // the legacy response sits where the ioctl one would; the ex-only fields are absent, never 0
    const resp = port.outputs.resp as { legacy_resp: Record<string, unknown>; active_speed_ex?: number };
    expect(resp.legacy_resp.port_cap_flags).toBe(1);
    expect(resp.active_speed_ex).toBeUndefined();
  });

  it('a method with no write form is a typed unsupported error carrying ENOTTY', () => {
    const { dispatch } = setup({ ioctl: false });
    const error = catchError(() => dispatch.invoke(UVERBS_METHOD_QUERY_CONTEXT, {}));
    expect(error).toBeInstanceOf(UverbsUnsupportedError);
    expect(error).toMatchObject({ code: 'ENOTTY', errno: ENOTTY, path: 'ioctl', unsupported: true });
  });
});

describe('a kernel with neither', () => {
  it.each([
    ['modern (EOPNOTSUPP)', EOPNOTSUPP, 'EOPNOTSUPP'],
    ['old (ENOSYS)', ENOSYS, 'ENOSYS'],
  ])('%s: a typed unsupported error, shaped like Node errors', (_, errno, code) => {
    const { dispatch } = setup({ ioctl: false, write: false, writeUnsupported: errno });
    const error = catchError(() => dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs));
    expect(error).toBeInstanceOf(UverbsUnsupportedError);
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({
      code,
      errno,
      syscall: 'write',
      object: 'UVERBS_OBJECT_MR',
      method: 'IB_USER_VERBS_CMD_REG_MR',
      path: 'write',
    });
    expect((error as Error).message).toBe(`UVERBS_OBJECT_MR.IB_USER_VERBS_CMD_REG_MR ${code} (write)`);
  });

  it('EPROTONOSUPPORT for a method without a write form is unsupported too', () => {
    const { dispatch } = setup({ without: [UVERBS_METHOD_QUERY_CONTEXT] });
    const error = catchError(() => dispatch.invoke(UVERBS_METHOD_QUERY_CONTEXT, {}));
    expect(error).toMatchObject({ code: 'EPROTONOSUPPORT', path: 'ioctl', unsupported: true });
  });
});

describe('bad arguments never reach the kernel', () => {
  it.each([
    ['a missing mandatory attribute', { ...regMrArgs, pdHandle: undefined }, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown attribute', { ...regMrArgs, colour: 1 }, 'ERR_INVALID_ARG_TYPE'],
    ['a handle that is not a u32', { ...regMrArgs, pdHandle: -1 }, 'ERR_OUT_OF_RANGE'],
    ['a length that is not an integer', { ...regMrArgs, length: 1.5 }, 'ERR_OUT_OF_RANGE'],
    ['a string where a number belongs', { ...regMrArgs, iova: '4096' }, 'ERR_INVALID_ARG_TYPE'],
  ])('%s', (_, args, code) => {
    const { kernel, dispatch } = setup();
    expect(() => dispatch.invoke(UVERBS_METHOD_REG_MR, args)).toThrow(expect.objectContaining({ code }));
    expect(kernel.calls).toEqual([]);
  });

  it('driver data of the wrong granularity is refused before write()', () => {
    const { kernel, dispatch } = setup({ without: [UVERBS_METHOD_REG_MR] });
    dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs); // settles the route on write
    const before = kernel.calls.length;
    expect(() => dispatch.invoke(UVERBS_METHOD_REG_MR, regMrArgs, { udataIn: new Uint8Array(3) })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(kernel.calls.length).toBe(before);
  });

  // DESIGN §Reliability 7: the posting commands' wqe_size covers the kernel's work-request struct, or no syscall
  it.each([
    ['IB_USER_VERBS_CMD_POST_SEND', 56],
    ['IB_USER_VERBS_CMD_POST_RECV', 16],
    ['IB_USER_VERBS_CMD_POST_SRQ_RECV', 16],
  ] as const)('%s with wqe_size below %i is refused before write()', (name, least) => {
    const { kernel, dispatch } = setup();
    const command = WRITE_COMMANDS[name];
    for (const wqe_size of [0, least - 8, least - 1]) {
      expect(() => dispatch.write(command, { wqe_size } as never)).toThrow(
        expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining(`${name} wqe_size`) }),
      );
    }
    expect(kernel.calls).toEqual([]);
    expect(command.least).toEqual({ wqe_size: least });
  });
});

describe('errors that are not "unsupported"', () => {
  it('keep the kernel errno, are UverbsError but not unsupported, and do not change the route', () => {
    const { dispatch } = setup({ staleHandles: [99] });
    const error = catchError(() => dispatch.invoke(UVERBS_METHOD_PD_DESTROY, { handle: 99 }));
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).not.toBeInstanceOf(UverbsUnsupportedError);
    expect(error).toMatchObject({ code: 'ENOENT', errno: ENOENT, syscall: 'ioctl', path: 'ioctl', unsupported: false });
    expect(dispatch.route(UVERBS_METHOD_PD_DESTROY)).toBeUndefined();
    expect(dispatch.invoke(UVERBS_METHOD_PD_DESTROY, { handle: 1 }).path).toBe('ioctl');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

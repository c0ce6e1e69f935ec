/**
 * The ABI core against a real kernel (inside `uverbs vm`): dispatch takes
 * the path each kernel offers, and the kernel's answers to malformed
 * commands are the ones the in-process model predicts.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ib_uverbs_access_flags, rdma_user_ioctl_defines } from '../../src/abi/constants.js';
import { uverbs_default_objects } from '../../src/abi/ids.js';
import { encodeMethod } from '../../src/abi/ioctl-command.js';
import { modelDevice, validateIoctl } from '../../src/abi/kernel-model.js';
import { decode, releaseHas } from '../../src/abi/layout.js';
import {
  UVERBS_METHOD_GET_CONTEXT,
  UVERBS_METHOD_MR_DESTROY,
  UVERBS_METHOD_PD_DESTROY,
  UVERBS_METHOD_QUERY_PORT,
  UVERBS_METHOD_QUERY_PORT_SPEED,
  UVERBS_METHOD_REG_MR,
} from '../../src/abi/methods.js';
import { siw_ureq_reg_mr, siw_uresp_reg_mr } from '../../src/abi/siw.js';
import { WRITE_COMMANDS } from '../../src/abi/write-commands.js';
import { MATRIX_CASES, matrixCommand } from '../../src/check/abi-matrix.js';
import { EINVAL, ENOENT } from '../../src/errno.js';
import { UserMemory } from '../../src/transport/memory.js';
import { driverIdOf, type Opened, openDevice, TEST_DEVICE, VM_KERNEL } from './support.js';

const IB_PORT_ACTIVE = 4;

describe.runIf(TEST_DEVICE)(`ABI core on ${TEST_DEVICE} (kernel ${VM_KERNEL})`, () => {
  let dev: Opened;
  const ibdev = TEST_DEVICE as string;

  beforeAll(() => {
    dev = openDevice(ibdev);
    // siw's GET_CONTEXT requires a UHW_OUT of at least 8 bytes (siw_uresp_alloc_ctx); rxe takes none.
    const udataOutLength = ibdev.startsWith('siw') ? 8 : undefined;
    const r = dev.dispatch.invoke(UVERBS_METHOD_GET_CONTEXT, { numCompVectors: true }, { udataOutLength });
    expect(r.path).toBe('ioctl');
    expect(r.outputs.numCompVectors).toBeGreaterThanOrEqual(1);
  });
  afterAll(() => dev?.close());

  it('QUERY_PORT goes through ioctl; fields this kernel lacks are undefined, never 0', () => {
    const r = dev.dispatch.invoke(UVERBS_METHOD_QUERY_PORT, { portNum: 1 });
    expect(r.path).toBe('ioctl');
    const resp = r.outputs.resp as { legacy_resp: { state: number; gid_tbl_len: number }; active_speed_ex?: number };
    expect(resp.legacy_resp.state).toBe(IB_PORT_ACTIVE);
    expect(resp.legacy_resp.gid_tbl_len).toBeGreaterThan(0);
    if (releaseHas(dev.release, '6.12')) expect(typeof resp.active_speed_ex).toBe('number');
    else expect(resp.active_speed_ex).toBeUndefined();
  });

  it('REG_MR: ioctl UVERBS_METHOD_REG_MR on 7.x, legacy write REG_MR on 6.1 and 6.12', () => {
    const pd = dev.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_ALLOC_PD, {});
    const pdHandle = pd.response?.pd_handle as number;
    using memory = UserMemory.allocate(dev.sys, 4096);
    // siw takes driver data for REG_MR (siw_ureq_reg_mr in, siw_uresp_reg_mr out); rxe none
    const siw = ibdev.startsWith('siw');
    const uhw = siw ? { udataIn: new Uint8Array(siw_ureq_reg_mr.size), udataOutLength: siw_uresp_reg_mr.size } : {};
    const mr = dev.dispatch.invoke(
      UVERBS_METHOD_REG_MR,
      {
        pdHandle,
        addr: memory.address,
        length: memory.length,
        iova: memory.address,
        accessFlags: ib_uverbs_access_flags.IB_UVERBS_ACCESS_LOCAL_WRITE,
      },
      uhw,
    );
    if (siw) expect(decode(siw_uresp_reg_mr, mr.udataOut as Uint8Array).stag).toBe(mr.outputs.lkey);
    expect(mr.path).toBe(VM_KERNEL === '7' ? 'ioctl' : 'write');
    expect(dev.dispatch.route(UVERBS_METHOD_REG_MR)).toBe(VM_KERNEL === '7' ? 'ioctl' : 'write');
    expect(typeof mr.outputs.lkey).toBe('number');
    if (VM_KERNEL !== '7') {
      // the first call tried ioctl and the kernel said EPROTONOSUPPORT
      const tried = dev.trace.filter((t) => t.method === 'UVERBS_METHOD_REG_MR');
      expect(tried.map((t) => t.errno)).toEqual([93]);
    }
    expect(dev.dispatch.invoke(UVERBS_METHOD_MR_DESTROY, { handle: mr.outputs.handle }).path).toBe('ioctl');
    expect(dev.dispatch.invoke(UVERBS_METHOD_PD_DESTROY, { handle: pdHandle }).path).toBe('ioctl');
  });

  // 6.x has no such method; 7.x has it, and its handler asks the driver, which neither rxe nor siw implements.
  // A decoded QUERY_PORT_SPEED reply is therefore checked on no device of this suite.
  it('QUERY_PORT_SPEED: absent before 7.x (EPROTONOSUPPORT); on 7.x the method exists and rxe and siw decline (EOPNOTSUPP)', () => {
    const before = dev.trace.length;
    expect(() => dev.dispatch.invoke(UVERBS_METHOD_QUERY_PORT_SPEED, { portNum: 1 })).toThrow(
      expect.objectContaining({
        code: VM_KERNEL === '7' ? 'EOPNOTSUPP' : 'EPROTONOSUPPORT',
        unsupported: true,
        syscall: 'ioctl',
        method: 'UVERBS_METHOD_QUERY_PORT_SPEED',
      }),
    );
    // the kernel's own answer to this one ioctl, not a cached route
    expect(dev.trace.slice(before).map((t) => [t.method, t.path, t.errno])).toEqual([
      ['UVERBS_METHOD_QUERY_PORT_SPEED', 'ioctl', VM_KERNEL === '7' ? 95 : 93],
    ]);
  });

  describe('malformed commands get the errno the model predicts', () => {
    const model = () =>
      modelDevice(driverIdOf(ibdev), [UVERBS_METHOD_QUERY_PORT], [], {
        readUser: () => undefined,
      });
    // the cases are uverbs check's (src/check/abi-matrix.ts): one list for the suite and the command
    const cases = MATRIX_CASES.map((c) => [c.name, c] as const);
    it.each(cases)('%s', (_, c) => {
      const header = matrixCommand(c, driverIdOf(ibdev), dev.scratch);
      const predicted = validateIoctl(model(), rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, header.bytes);
      const r = dev.sys.ioctl(dev.fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, header.address);
      const actual = r < 0 ? -r : 0;
      expect({ actual, predicted }).toEqual({ actual: c.expected, predicted: c.expected });
    });

    // the matrix's handle cells (rdma_core.c, rdma_lookup_get_uobject): no such handle ENOENT, another type's EINVAL
    it('handles: another object type’s is EINVAL, one that does not exist ENOENT, the right one is destroyed', () => {
      const pd = dev.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_ALLOC_PD, {}).response?.pd_handle as number;
      const types = new Map<bigint, number>([[BigInt(pd), uverbs_default_objects.UVERBS_OBJECT_PD]]);
      const model = modelDevice(driverIdOf(ibdev), [UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_PD_DESTROY], [], {
        lookup: (attr, handle) => {
          const type = types.get(handle);
          if (type === undefined) return ENOENT;
          return 'object' in attr && attr.object !== type ? EINVAL : 0;
        },
      });
      const cases = [
        ['a PD handle where an MR belongs', UVERBS_METHOD_MR_DESTROY, pd, EINVAL],
        ['a handle nothing has', UVERBS_METHOD_PD_DESTROY, pd + 1000, ENOENT],
        ['the PD’s own', UVERBS_METHOD_PD_DESTROY, pd, 0],
        ['the PD’s, once destroyed', UVERBS_METHOD_PD_DESTROY, pd, ENOENT],
      ] as const;
      const seen = cases.map(([what, method, handle]) => {
        dev.scratch.reset();
        const header = encodeMethod(method, { handle }, driverIdOf(ibdev), dev.scratch).command.finish();
        const predicted = validateIoctl(model, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, header.bytes);
        const r = dev.sys.ioctl(dev.fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, header.address);
        if (r === 0) types.delete(BigInt(handle));
        return [what, method, handle, r < 0 ? -r : 0, predicted];
      });
      expect(seen).toEqual(cases.map((c) => [...c, c[3]]));
    });
  });
});

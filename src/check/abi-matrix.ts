/**
 * The ABI validation matrix: commands the kernel must refuse (and one it
 * must accept), each with the errno the in-process model
 * (src/abi/kernel-model.ts) predicts, sent raw to the device and the
 * kernel's answer compared. The structural cases edit an encoded
 * QUERY_PORT(port 1) (header at 0, PORT_NUM attribute at 24, RESP at 40);
 * the handle cases send PD_DESTROY and MR_DESTROY with a handle of another
 * type, of nothing, the right one, and the right one once destroyed
 * (rdma_core.c, rdma_lookup_get_uobject).
 */

import { rdma_user_ioctl_defines } from '../abi/constants.js';
import { uverbs_default_objects } from '../abi/ids.js';
import { encodeMethod } from '../abi/ioctl-command.js';
import { modelDevice, validateIoctl } from '../abi/kernel-model.js';
import { UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_PD_DESTROY, UVERBS_METHOD_QUERY_PORT } from '../abi/methods.js';
import { WRITE_COMMANDS } from '../abi/write-commands.js';
import { EINVAL, ENOENT, EPROTONOSUPPORT } from '../errno.js';
import { Scratch } from '../transport/memory.js';
import { type Context, sysOf } from '../verbs/context.js';
import { compare, hex, newPart, type PartResult } from './report.js';

/**
 * A hook that may replace the model's prediction for a raw command before it
 * is sent (the check's own tests plant a disagreement with it). It returns
 * the errno to expect.
 */
export type Predict = (c: { part: 'abi' | 'fuzz'; case: string; bytes: Uint8Array; predicted: number }) => number;

/** An edit of the encoded QUERY_PORT(port 1) command, and the errno every kernel answers to it. */
export interface MatrixCase {
  readonly name: string;
  readonly mutate: (v: DataView) => void;
  readonly expected: number;
}

/** The structural cases (uverbs_ioctl.c: ib_uverbs_ioctl, ib_uverbs_cmd_verbs, uverbs_set_attr, uverbs_process_attr). */
export const MATRIX_CASES: readonly MatrixCase[] = [
  { name: 'well formed', mutate: () => {}, expected: 0 },
  { name: 'length off by 16', mutate: (v) => v.setUint16(0, v.getUint16(0, true) + 16, true), expected: EINVAL },
  { name: 'reserved1 nonzero', mutate: (v) => v.setUint32(8, 1, true), expected: EPROTONOSUPPORT },
  { name: 'reserved2 nonzero', mutate: (v) => v.setUint32(20, 1, true), expected: EPROTONOSUPPORT },
  { name: 'wrong driver_id', mutate: (v) => v.setUint32(16, v.getUint32(16, true) + 1, true), expected: EINVAL },
  { name: 'unknown method', mutate: (v) => v.setUint16(4, 0x0ff0, true), expected: EPROTONOSUPPORT },
  {
    name: 'unknown attribute marked mandatory',
    mutate: (v) => v.setUint16(24, 0x0777, true),
    expected: EPROTONOSUPPORT,
  },
  {
    name: 'unknown attribute, optional (ignored: then PORT_NUM is missing)',
    mutate: (v) => {
      v.setUint16(24, 0x0777, true);
      v.setUint16(28, 0, true);
    },
    expected: EINVAL,
  },
  { name: 'duplicate attribute', mutate: (v) => v.setUint16(40, v.getUint16(24, true), true), expected: EINVAL },
  { name: 'attribute reserved nonzero', mutate: (v) => v.setUint16(24 + 6, 1, true), expected: EINVAL },
  { name: 'const attribute of 4 bytes', mutate: (v) => v.setUint16(24 + 2, 4, true), expected: EINVAL },
];

/** The encoded, edited QUERY_PORT of `c`, in `scratch` (reset first): its bytes and address. */
export function matrixCommand(
  c: MatrixCase,
  driverId: number,
  scratch: Scratch,
): { bytes: Uint8Array; address: bigint } {
  scratch.reset();
  const header = encodeMethod(UVERBS_METHOD_QUERY_PORT, { portNum: 1 }, driverId, scratch).command.finish();
  c.mutate(new DataView(header.bytes.buffer, header.bytes.byteOffset, header.bytes.byteLength));
  return header;
}

/**
 * Runs the matrix on `ctx`. Each case is two comparisons: the model's
 * prediction against the case's documented errno (the model's own
 * conformance), and the kernel's answer against the prediction.
 */
export function abiCheck(ctx: Context, predict?: Predict): PartResult {
  const part = newPart('abi');
  const sys = sysOf(ctx);
  const driverId = ctx.driverId as number;
  const scratch = new Scratch(sys);
  const send = (name: string, bytes: Uint8Array, address: bigint, modelSays: number): number => {
    const predicted = predict ? predict({ part: 'abi', case: name, bytes, predicted: modelSays }) : modelSays;
    const r = sys.ioctl(ctx.fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, address);
    const actual = r < 0 ? -r : 0;
    compare(part, { case: name, kind: 'ioctl', bytes: hex(bytes), predicted, actual });
    return actual;
  };
  try {
    const model = modelDevice(driverId, [UVERBS_METHOD_QUERY_PORT], [], { readUser: () => undefined });
    for (const c of MATRIX_CASES) {
      const { bytes, address } = matrixCommand(c, driverId, scratch);
      const modelSays = validateIoctl(model, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, bytes);
      const name = `QUERY_PORT: ${c.name}`;
      compare(part, {
        case: `${name} (model vs documented)`,
        kind: 'ioctl',
        bytes: hex(bytes),
        predicted: c.expected,
        actual: modelSays,
      });
      send(name, bytes, address, modelSays);
    }

    // the handle cells: a PD made by a raw command (the library's object model does not know it)
    const pd = ctx.dispatch.write(WRITE_COMMANDS.IB_USER_VERBS_CMD_ALLOC_PD, {}).response?.pd_handle as number;
    const types = new Map<bigint, number>([[BigInt(pd), uverbs_default_objects.UVERBS_OBJECT_PD]]);
    const handles = modelDevice(driverId, [UVERBS_METHOD_MR_DESTROY, UVERBS_METHOD_PD_DESTROY], [], {
      lookup: (attr, handle) => {
        const type = types.get(handle);
        if (type === undefined) return ENOENT;
        return 'object' in attr && attr.object !== type ? EINVAL : 0;
      },
    });
    const cases = [
      ['MR_DESTROY of a PD handle', UVERBS_METHOD_MR_DESTROY, pd, EINVAL],
      ['PD_DESTROY of a handle nothing has', UVERBS_METHOD_PD_DESTROY, pd + 1000, ENOENT],
      ['PD_DESTROY of the PD', UVERBS_METHOD_PD_DESTROY, pd, 0],
      ['PD_DESTROY of the PD, once destroyed', UVERBS_METHOD_PD_DESTROY, pd, ENOENT],
    ] as const;
    for (const [name, method, handle, expected] of cases) {
      scratch.reset();
      const { bytes, address } = encodeMethod(method, { handle }, driverId, scratch).command.finish();
      const modelSays = validateIoctl(handles, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, bytes);
      compare(part, {
        case: `${name} (model vs documented)`,
        kind: 'ioctl',
        bytes: hex(bytes),
        predicted: expected,
        actual: modelSays,
      });
      if (send(name, bytes, address, modelSays) === 0) types.delete(BigInt(handle));
    }
  } finally {
    scratch.free();
  }
  return part;
}

/**
 * Readable results and errors that say what happened, over the fake kernel:
 * a device name that names no device is ENODEV with the devices there are;
 * a device node that cannot be opened is the open's error with the file.
 */

import { describe, expect, it } from 'vitest';
import { ENOENT } from '../src/errno.js';
import { UverbsError } from '../src/errors.js';
import { Context } from '../src/verbs/context.js';
import { resolveDevice } from '../src/verbs/device.js';
import { FAKE_DEVICE as DEVICE, FakeKernel } from './support/fake-kernel.js';

/** A kernel whose device node is gone (the module unloaded, the node never made). */
class MissingNode extends FakeKernel {
  override open(): number {
    return -ENOENT;
  }
}

describe('Context.open: errors that say what happened', () => {
  it('a name that names no device is ENODEV, before any syscall, naming the devices there are', () => {
    const kernel = new FakeKernel();
    let error: unknown;
    try {
      Context.open('mlx5_0', { sys: kernel });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({ code: 'ENODEV', errno: 19, object: 'mlx5_0', method: 'open' });
    expect((error as Error).message).toMatch(/mlx5_0/);
    expect(kernel.calls).toEqual([]);
  });

  it('the ENODEV message lists the devices there are, by ib name and node', () => {
    const siw = { ...DEVICE, name: 'siw0', node: 'uverbs1', path: '/dev/infiniband/uverbs1' };
    expect(resolveDevice('uverbs1', [DEVICE, siw])).toBe(siw);
    expect(() => resolveDevice('mlx5_0', [DEVICE, siw])).toThrow(
      "mlx5_0.open ENODEV (open): no uverbs device is called 'mlx5_0'; the uverbs devices are rxe0 (uverbs0), siw0 (uverbs1)",
    );
    expect(() => resolveDevice('mlx5_0', [])).toThrow(/lists no uverbs devices/);
  });

  it('a device node that cannot be opened: syscall open, the file, not an ioctl', () => {
    const kernel = new MissingNode();
    let error: unknown;
    try {
      Context.open(DEVICE, { sys: kernel });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UverbsError);
    expect(error).toMatchObject({
      code: 'ENOENT',
      syscall: 'open',
      path: 'open',
      file: DEVICE.path,
      object: DEVICE.name,
    });
    expect((error as Error).message).toContain(DEVICE.path);
  });
});

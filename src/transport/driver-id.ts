/**
 * The `driver_id` every RDMA_VERBS_IOCTL header must carry, asked of the
 * kernel itself. uverbs_ioctl.c checks `driver_id` before it looks the
 * method up, so a command for a method that does not exist answers EINVAL
 * under a wrong driver id and EPROTONOSUPPORT under the right one; nothing
 * runs either way. (rdma-core reads the same number over netlink,
 * RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID.)
 */

import { rdma_driver_id, rdma_user_ioctl_defines } from '../abi/constants.js';
import { uverbs_default_objects } from '../abi/ids.js';
import { IoctlCommand } from '../abi/ioctl-command.js';
import { EINVAL, ENOTTY, EPROTONOSUPPORT } from '../errno.js';
import { UverbsError } from '../errors.js';
import type { Scratch } from './memory.js';
import type { Sys } from './sys.js';

/** A method id no kernel defines (core method ids are small). */
const NO_SUCH_METHOD = 0x0ff0;

/** Candidates: the known drivers first, then the rest of a small range for drivers newer than our headers. */
function candidates(): number[] {
  const known: number[] = [...new Set(Object.values(rdma_driver_id))];
  const rest = Array.from({ length: 64 }, (_, i) => i).filter((i) => !known.includes(i));
  return [...known, ...rest];
}

/** The device's driver id, or undefined when the kernel has no ioctl framework (ENOTTY). */
export function detectDriverId(sys: Sys, fd: number, scratch: Scratch): number | undefined {
  for (const id of candidates()) {
    scratch.reset();
    const header = new IoctlCommand(uverbs_default_objects.UVERBS_OBJECT_DEVICE, NO_SUCH_METHOD, id, scratch).finish();
    const r = sys.ioctl(fd, rdma_user_ioctl_defines.RDMA_VERBS_IOCTL, header.address);
    const errno = r < 0 ? -r : 0;
    if (errno === EPROTONOSUPPORT) return id;
    if (errno === ENOTTY) return undefined;
    if (errno !== EINVAL) {
      throw new UverbsError({
        errno,
        syscall: 'ioctl',
        object: 'UVERBS_OBJECT_DEVICE',
        method: 'driver_id probe',
        path: 'ioctl',
      });
    }
  }
  throw new UverbsError({
    errno: EINVAL,
    syscall: 'ioctl',
    object: 'UVERBS_OBJECT_DEVICE',
    method: 'driver_id probe',
    path: 'ioctl',
  });
}

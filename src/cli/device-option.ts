/** The `-d DEV` option of the commands that open a device (its own module: `usage.ts` is loaded by every command). */

import { type DeviceInfo, listDevices, resolveDevice } from '../verbs/device.js';
import { UsageError } from './usage.js';

/**
 * The device a command's `-d` names (ib name or uverbs node); one that names
 * none is a usage mistake whose message lists the devices there are
 * ({@link resolveDevice}'s ENODEV).
 */
export function deviceOption(command: string, nameOrNode: string, devices = listDevices()): DeviceInfo {
  try {
    return resolveDevice(nameOrNode, devices);
  } catch (error) {
    throw new UsageError(`uverbs ${command}: ${(error as Error).message}`);
  }
}

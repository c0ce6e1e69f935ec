import { type DeviceInfo, listDevices, resolveDevice } from '../verbs/device.js';

/** A command-line mistake: reported on stderr, exit status 2. */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError';
  }
}

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

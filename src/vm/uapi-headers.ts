/**
 * Kernel uapi header sets to prove layouts against: the system's own
 * linux-libc-dev when it is the 6.1 series, and Debian's linux-libc-dev from
 * trixie (6.12) and sid (7.x) through the private apt.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { UapiRelease } from '../abi/layout.js';
import { cacheDir, PrivateApt, type Progress } from './apt.js';
import { runTool, TOOL_TIMEOUT } from './tools.js';

/** Which Debian suite carries linux-libc-dev of each uapi release we prove. */
export const UAPI_SUITES: Record<UapiRelease, string> = {
  '6.1': 'bookworm',
  '6.12': 'trixie',
  '7.2': 'sid',
};

export interface UapiHeaderSet {
  release: UapiRelease;
  /** linux-libc-dev package version actually used, e.g. `6.12.117-1`. */
  version: string;
  /** Include directories, in order (the arch directory second). */
  includeDirs: string[];
  origin: 'system' | 'downloaded';
}

function systemLibcDev(): string | undefined {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    return runTool('dpkg-query', ['-W', '-f=${Version}', 'linux-libc-dev'], { timeout: TOOL_TIMEOUT.query })
      .stdout.toString()
      .trim();
  } catch {
    return undefined;
  }
}

function seriesOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

export function uapiHeaders(release: UapiRelease, progress?: Progress): UapiHeaderSet {
  const system = systemLibcDev();
  if (system && seriesOf(system) === release && existsSync('/usr/include/rdma/ib_user_verbs.h')) {
    return { release, version: system, includeDirs: ['/usr/include'], origin: 'system' };
  }
  const apt = new PrivateApt(UAPI_SUITES[release], { progress });
  const version = apt.version('linux-libc-dev');
  const want = release === '7.2' ? '7.' : `${release}.`;
  if (!version.startsWith(want)) {
    throw new Error(`${UAPI_SUITES[release]} carries linux-libc-dev ${version}, not the ${release} series`);
  }
  const root = cacheDir('unpacked', `linux-libc-dev_${version}`);
  apt.unpack('linux-libc-dev', version, root);
  const inc = join(root, 'usr', 'include');
  return { release, version, includeDirs: [inc, join(inc, 'x86_64-linux-gnu')], origin: 'downloaded' };
}

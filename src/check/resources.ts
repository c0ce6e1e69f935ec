/**
 * `rdma res show` counts of one device (pd, cq, qp, cm_id, mr, ctx, srq):
 * what the kernel holds for all processes; the check compares them at the
 * start and the end of a run, when no other process uses the device.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

export type ResourceCounts = Record<string, number>;
export type ResourceReader = () => ResourceCounts;

/** The counts in `rdma res show` output for `ibdev` (its `N: ibdev: pd 1 cq 2 ...` line). */
export function parseRdmaRes(output: string, ibdev: string): ResourceCounts | undefined {
  const line = output.split('\n').find((l) => l.includes(` ${ibdev}: `) || l.startsWith(`${ibdev}: `));
  if (line === undefined) return undefined;
  return Object.fromEntries([...line.matchAll(/ ([a-z_]+) (\d+)/g)].map((m) => [m[1] as string, Number(m[2])]));
}

/**
 * A reader of `ibdev`'s counts, or the reason there is none (no `rdma`
 * tool, or it does not list the device).
 */
export function rdmaResReader(ibdev: string): ResourceReader | { reason: string } {
  const read = (): ResourceCounts => {
    const out = execFileSync('rdma', ['res', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const counts = parseRdmaRes(out, ibdev);
    if (counts === undefined) throw new Error(`'rdma res show' has no line for ${ibdev}`);
    return counts;
  };
  try {
    read();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return {
      reason: e.code === 'ENOENT' ? "no 'rdma' tool (iproute2) on PATH" : `rdma res show: ${e.message.split('\n')[0]}`,
    };
  }
  return read;
}

export function sameCounts(a: ResourceCounts, b: ResourceCounts): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

export function showCounts(c: ResourceCounts): string {
  return Object.entries(c)
    .map(([k, v]) => `${k} ${v}`)
    .join(' ');
}

/** The number of file descriptors this process has open (/proc/self/fd). */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

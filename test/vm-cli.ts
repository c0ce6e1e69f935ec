/**
 * Runs the built `uverbs` CLI as a child process, for the `uverbs vm` host
 * tests (test/vm*.test.ts). Asynchronous, so a VM run of many seconds does
 * not block the test worker.
 */

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const CLI = resolve('dist/src/cli/main.js');

/** Whether this machine can boot a guest at all. */
export const HAS_QEMU = existsSync('/usr/bin/qemu-system-x86_64');

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time of the whole CLI run. */
  seconds: number;
}

export function uverbsIn(
  cwd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {},
): Promise<CliRun> {
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('close', (status, signal) =>
      done({ status, signal, stdout, stderr, seconds: (Date.now() - started) / 1000 }),
    );
  });
}

export function uverbs(...args: string[]): Promise<CliRun> {
  return uverbsIn(process.cwd(), args);
}

/** True while `pid` is a live process (a zombie waiting for its reaper counts as dead). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the state follows the parenthesised command name, which may itself hold spaces or parentheses
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The direct children of `pid`, from /proc. */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  } catch {
    return [];
  }
  return text
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .map((child) => {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${child}/comm`, 'utf8').trim();
      } catch {}
      return { pid: child, comm };
    });
}

/** Polls `test` every 100 ms until it holds or `seconds` pass; returns whether it held. */
export async function waitFor(test: () => boolean, seconds: number): Promise<boolean> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    if (test()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Every program the harness starts goes through this module, so that none
 * of them outlives it or runs without a time limit.
 *
 * - QEMU ({@link spawnTied}, asynchronous) runs under
 *   `setpriv --pdeathsig KILL`: when the harness's thread that started it
 *   exits, however it exits (SIGKILL included), the kernel kills QEMU. While
 *   the harness lives, it also kills QEMU itself on SIGINT, SIGTERM and
 *   SIGHUP and on its own --timeout (run.ts).
 * - The tools that prepare the VM ({@link runTool}, synchronous: apt-get,
 *   debootstrap, make, dpkg-deb, tar, cpio, ...) run under
 *   `setpriv --pdeathsig TERM timeout --kill-after=10 SECONDS`. timeout(1)
 *   gives the tool a process group of its own and, when the time is up or
 *   when it gets SIGTERM (from the death signal: the harness is gone),
 *   signals that whole group (debootstrap's dpkg and wget, make's compilers)
 *   and SIGKILLs it 10 seconds later. A synchronous run blocks the event
 *   loop, so a JavaScript signal handler could not run meanwhile; the
 *   harness installs none while it prepares, so a signal ends it with the
 *   default action, and the death signal ends the tool.
 *
 * Between fork and the prctl in setpriv there is a window of a few
 * instructions in which the harness's death is not yet noticed.
 */

import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { ToolError } from './errors.js';

/** Time limits, in seconds, for each kind of work the harness hands to a tool. */
export const TOOL_TIMEOUT = {
  /** `apt-get update` of one suite's package lists. */
  aptUpdate: 600,
  /** `apt-get download` of one package (7.x's modules package is ~100 MB). */
  aptDownload: 1800,
  /** apt-cache, depmod, modprobe --show-depends, modinfo: local queries. */
  query: 120,
  /** debootstrap of a minimal chroot with a compiler (about a minute on a good mirror). */
  debootstrap: 1800,
  /** make of the out-of-tree siw.ko (about 10 s). */
  make: 900,
  /** dpkg-deb, tar, xz, zstd, gzip, cpio, find, cp: unpacking and packing on local disk. */
  local: 600,
} as const;

/** After the time limit (or the harness's death), how long the tool has to exit before SIGKILL. */
const KILL_AFTER_SECONDS = 10;

export interface ToolOptions {
  /** Seconds the tool may run; then it and everything it started are stopped. */
  timeout: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes for its stdin (otherwise /dev/null). */
  input?: string | Uint8Array;
  /** false: return a failing exit status instead of throwing (the caller reads `status`). */
  check?: boolean;
}

export interface ToolResult {
  stdout: Buffer;
  stderr: string;
  status: number;
}

/** coreutils timeout(1)'s own exit statuses: time ran out (124), or the KILL that followed (128 + 9). */
const TIMED_OUT = [124, 137];
/** timeout(1) could not find the command: status 127 and its own message (worded by the locale). */
const NOT_STARTED = /^timeout: /m;

/**
 * Runs a tool to completion with a time limit, tied to the harness's life;
 * returns its output. A failing status (unless `check: false`), a timeout or
 * a missing tool is a {@link ToolError}.
 */
export function runTool(command: string, args: readonly string[], options: ToolOptions): ToolResult {
  const started = Date.now();
  const r = spawnSync(
    'setpriv',
    [
      '--pdeathsig',
      'TERM',
      '--',
      'timeout',
      `--kill-after=${KILL_AFTER_SECONDS}`,
      String(options.timeout),
      command,
      ...args,
    ],
    {
      cwd: options.cwd,
      env: options.env,
      input: options.input,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 30,
      // a backstop should timeout(1) itself hang
      timeout: (options.timeout + KILL_AFTER_SECONDS + 20) * 1000,
      killSignal: 'SIGKILL',
    },
  );
  const stderr = r.stderr?.toString() ?? '';
  const details = { command, args, status: r.status, signal: r.signal, stderr };
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new ToolError('ENOENT', { ...details, command: 'setpriv' }, 'not found (util-linux): cannot run tools');
    }
    if (code === 'ETIMEDOUT') throw new ToolError('ETIMEDOUT', details, `did not stop after ${options.timeout}s`);
    throw new ToolError('ERR_UVERBS_TOOL_FAILED', details, `could not be run: ${r.error.message}`);
  }
  const status = r.status ?? 128;
  if (TIMED_OUT.includes(status) && Date.now() - started >= options.timeout * 1000) {
    throw new ToolError('ETIMEDOUT', details, `ran out of time after ${options.timeout}s`);
  }
  if (status === 127 && NOT_STARTED.test(stderr)) throw new ToolError('ENOENT', details, 'not found');
  if (status !== 0 && options.check !== false) {
    throw new ToolError('ERR_UVERBS_TOOL_FAILED', details, `failed with status ${status}`);
  }
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr, status };
}

/** setpriv's own message (worded by the locale) when it cannot execute the program it was given. */
export const TIED_NOT_STARTED = /^setpriv: /m;

/**
 * Spawns a long-lived program (QEMU) that the kernel kills when the harness
 * dies. If the program cannot be executed, setpriv exits 127 with
 * {@link TIED_NOT_STARTED} on stderr.
 */
export function spawnTied(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return spawn('setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], options);
}

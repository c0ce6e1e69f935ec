/**
 * Runs one command inside a QEMU (TCG) guest booted from a Debian kernel,
 * with rxe0 (and siw0 where built) on a virtio NIC, the host root shared
 * read-only, and the command's output streamed back over virtio-serial.
 *
 * Exit status: the command's own, or one of VM_EXIT for the harness.
 */

import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import { invalidArgValue } from '../errors.js';
import type { Progress } from './apt.js';
import { kernelFilesFromPath, openCustomKernel } from './custom-kernel.js';
import { buildDebugKernel, debugKernelFiles } from './debug-kernel.js';
import { buildInitramfs, type Initramfs } from './initramfs.js';
import { fetchKernel, KERNEL_SERIES, type Kernel, type KernelSeries } from './kernels.js';
import { linksFile, NODE_COUNT, NODE_ENV_NAMES, nodeEnv, nodeNics, nodeWires, wiresFile } from './nodes.js';
import { type GuestShare, qemuArgs, type WireNic } from './qemu.js';
import { buildSiw } from './siw.js';
import { spawnTied, TIED_NOT_STARTED } from './tools.js';

/** The longest --timeout a timer can keep: 2^31 - 1 ms, in whole seconds (about 24.8 days). */
const MAX_TIMEOUT_SECONDS = 2_147_483;

/** Exit statuses of the harness itself (a command's own status passes through). */
export const VM_EXIT = {
  /** The guest died before the command finished: kernel panic, init failure. */
  GUEST_FAILED: 123,
  /** The command (or the boot) outran --timeout. */
  TIMEOUT: 124,
  /** The host could not prepare the VM: missing tool or package, download failure. */
  SETUP_FAILED: 125,
} as const;

export type RdmaDevice = 'rxe' | 'siw';
export const RDMA_DEVICES: readonly RdmaDevice[] = ['rxe', 'siw'];

/**
 * The kernel to boot: one of Debian's series, the debug kernel (built once,
 * debug-kernel.ts), or one the user built: a build tree or a bzImage or
 * vmlinux file, with its modules directory (custom-kernel.ts).
 */
export type KernelChoice = KernelSeries | 'debug' | { path: string; modules?: string };

export interface VmOptions {
  kernel: KernelChoice;
  devs: RdmaDevice[];
  memory: string;
  smp: number;
  /** Seconds for the whole run, boot included. */
  timeout: number;
  /**
   * Seconds a guest that has not started the command yet may print nothing
   * on its console before it is taken for hung, stopped, and booted again
   * like one that crashed booting (default {@link BOOT_STALL_SECONDS}).
   */
  bootStall?: number;
  /** Host directories the guest may write (mounted at the same path). */
  writable: string[];
  /** Extra environment for the command: names are shell identifiers; values reach it verbatim. */
  env: Record<string, string>;
  cwd: string;
  progress: Progress;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Save the guest's whole serial console here. */
  consoleLog?: string;
}

export interface VmResult {
  status: number;
  /** Kernel release the guest ran. */
  release: string;
  /** Guest uptime when the command started: kernel boot, modules, mounts, links. */
  bootSeconds?: number;
  /** Host wall time of the whole run: downloads (if any), QEMU start, boot (every attempt), command, power-off. */
  totalSeconds: number;
  /** Guest seconds the command ran. */
  commandSeconds?: number;
  /** The guest's dmesg after the command, when it got that far. */
  dmesg?: string;
  /** Why the harness failed, when status is a VM_EXIT value set by the harness. */
  failure?: string;
}

/** Single-quotes a word for the guest's sh, unless it is plainly safe; `'` becomes `'\''`. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** What the guest's sh takes as a variable name (POSIX: a name is letters, digits and underscores, not led by a digit). */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Characters a share path must not hold: the guest reads its share list
 * with `read -r tag path mode`, one line per share, so whitespace would
 * split the path and a newline would start another share.
 */
const UNSAFE_IN_SHARE = /[\s\p{Cc}]/u;

/** Where the guest sees the results share (guest-init.ts mounts it there), and the `uverbs` launcher in it. */
const GUEST_RESULTS = '/run/uverbs';
const GUEST_BIN = `${GUEST_RESULTS}/bin`;

const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * npm and npx in the guest: no network (user networking with restrict=on)
 * and a read-only tree. Offline, a package that is not here fails at once
 * (ENOTCACHED) instead of waiting on a registry; `npx uverbs` in this
 * package's directory links the package into npx's cache (under the guest's
 * /tmp), where lifecycle scripts would rebuild it (`prepare`) and bin links
 * would chmod its read-only files, so neither runs, and npx finds `uverbs`
 * on PATH. The caller's --env overrides any of them.
 */
const GUEST_NPM_ENV = {
  npm_config_offline: 'true',
  npm_config_update_notifier: 'false',
  npm_config_ignore_scripts: 'true',
  npm_config_bin_links: 'false',
};

/**
 * Checks everything of `options` that reaches QEMU's command line or the
 * guest's shell, before anything is prepared. Throws ERR_INVALID_ARG_VALUE.
 */
function checkOptions(command: string[], options: VmOptions): void {
  if (
    !Array.isArray(command) ||
    command.length === 0 ||
    command.some((a) => typeof a !== 'string' || a.includes('\0'))
  ) {
    throw invalidArgValue('command', 'must be a non-empty list of strings without NUL', command);
  }
  for (const [name, value] of Object.entries(options.env)) {
    if (!SHELL_NAME.test(name)) {
      throw invalidArgValue('env', 'has a name that is not a shell identifier ([A-Za-z_][A-Za-z0-9_]*)', name);
    }
    if (typeof value !== 'string' || value.includes('\0')) {
      throw invalidArgValue(`env.${name}`, 'must be a string without NUL', value);
    }
  }
  const k = options.kernel;
  if (typeof k === 'object' && k !== null) {
    for (const [name, value] of [
      ['kernel.path', k.path],
      ['kernel.modules', k.modules ?? 'unset'],
    ] as const) {
      if (typeof value !== 'string' || value === '' || value.includes('\0')) {
        throw invalidArgValue(name, 'must be a non-empty path without NUL', value);
      }
    }
  } else if (k !== 'debug' && !KERNEL_SERIES.includes(k)) {
    throw invalidArgValue('kernel', `must be one of ${KERNEL_SERIES.join(', ')}, 'debug' or { path, modules }`, k);
  }
  for (const d of options.devs) {
    if (!RDMA_DEVICES.includes(d)) throw invalidArgValue('devs', `must list only ${RDMA_DEVICES.join(', ')}`, d);
  }
  if (!/^\d+[MG]?$/i.test(options.memory)) {
    throw invalidArgValue('memory', 'must be a size such as 2G or 1536M', options.memory);
  }
  if (!Number.isInteger(options.smp) || options.smp < 1 || options.smp > 64) {
    throw invalidArgValue('smp', 'must be an integer from 1 to 64', options.smp);
  }
  // setTimeout's limit is 2^31 - 1 ms: past it Node fires at once, and every run would "time out"
  if (!Number.isFinite(options.timeout) || options.timeout <= 0 || options.timeout > MAX_TIMEOUT_SECONDS) {
    throw invalidArgValue(
      'timeout',
      `must be a positive number of seconds, at most ${MAX_TIMEOUT_SECONDS}`,
      options.timeout,
    );
  }
}

/**
 * This package's directory and its `uverbs` bin (package.json "bin"),
 * found from this file, or undefined when it is not inside the package.
 */
function ownPackage(): { root: string; bin: string } | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; bin?: Record<string, string> };
      const bin = pkg.bin?.uverbs;
      if (pkg.name === 'uverbs' && typeof bin === 'string') return { root: dir, bin: join(dir, bin) };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** A unix socket QEMU connects to (chardev socket, client mode); bytes go to `sink`. */
function listen(path: string, sink: NodeJS.WritableStream): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('data', (chunk) => sink.write(chunk));
    });
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/**
 * A file the guest wrote into its results share, read without trusting it:
 * the guest may have put a FIFO (a read would block the harness for ever),
 * a symlink (to /dev/zero, or to a host file) or a huge file there instead.
 * Only a regular file is read, at most `max` bytes; anything else is absent.
 */
function readGuestFile(path: string, max: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const bytes = Buffer.alloc(max);
    let length = 0;
    for (let n = -1; n !== 0 && length < max; length += n) n = readSync(fd, bytes, length, max - length, null);
    return bytes.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

/** A number the guest's init wrote (seconds since boot, or an exit status); undefined unless it is one. */
function readNumber(path: string): number | undefined {
  const text = readGuestFile(path, 64);
  if (text === undefined || !/^\s*\d+(\.\d+)?\s*$/.test(text)) return undefined;
  return Number.parseFloat(text);
}

/** The command's exit status as the guest reported it: an integer 0..255, else absent (the guest died first). */
function readStatus(path: string): number | undefined {
  const n = readNumber(path);
  return n !== undefined && Number.isInteger(n) && n <= 255 ? n : undefined;
}

/** What the guest may leave in the console log or dmesg files: enough for any real run. */
const GUEST_LOG_MAX = 32 * 1024 * 1024;

/** What every boot of one run uses, prepared once: the kernel, its initramfs, the shares. */
interface Prepared {
  kernel: Kernel;
  initramfs: Initramfs;
  shares: GuestShare[];
  /** This package's `uverbs` bin, put on the guest's PATH. */
  bin?: string;
  /** When the run began (Date.now()), downloads and earlier attempts included. */
  started: number;
  /** --timeout as given: what all boot attempts together may take. */
  limit: number;
}

/** One node of `--nodes 2`, as bootOnce needs it (nodes.ts). */
interface NodeBoot {
  index: number;
  nics: WireNic[];
  /** The guest's /run/uverbs/wires and /run/uverbs/links. */
  wires: string;
  links: string;
  env: Record<string, string>;
  /** The private directory of the wire sockets: removed, like the run directory, when a signal ends the harness. */
  wireDir: string;
  /** Aborted when the other node failed: this guest is stopped (SIGKILL to its QEMU). */
  signal: AbortSignal;
}

async function bootOnce(
  command: string[],
  options: VmOptions,
  { kernel, initramfs, shares, bin, started, limit }: Prepared,
  node?: NodeBoot,
): Promise<VmResult & { commandStarted: boolean }> {
  const run = mkdtempSync(join(tmpdir(), 'uverbs-vm-'));
  const servers: Server[] = [];
  try {
    const env: Record<string, string> = {
      PATH: GUEST_PATH,
      HOME: '/tmp',
      LANG: process.env.LANG ?? 'C.UTF-8',
      TERM: process.env.TERM ?? 'dumb',
      UVERBS_IN_VM: '1',
      UVERBS_VM_KERNEL: typeof options.kernel === 'object' ? 'custom' : options.kernel,
      UVERBS_TEST_DEVICE: options.devs.includes('rxe') ? 'rxe0' : 'siw0',
      ...GUEST_NPM_ENV,
      ...options.env,
      ...node?.env,
    };
    if (bin) {
      // the package's own CLI as `uverbs`, first on PATH: the command runs this package, not an npm lookup
      mkdirSync(join(run, 'bin'));
      writeFileSync(
        join(run, 'bin', 'uverbs'),
        `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(bin)} "$@"\n`,
      );
      chmodSync(join(run, 'bin', 'uverbs'), 0o755);
      env.PATH = `${GUEST_BIN}:${env.PATH}`;
    }
    const script = [
      ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
      `cd ${shellQuote(options.cwd)} || exit 125`,
      `exec ${command.map(shellQuote).join(' ')}`,
      '',
    ].join('\n');
    writeFileSync(join(run, 'command'), script);
    writeFileSync(join(run, 'links'), node ? node.links : options.devs.map((d) => `${d}0 ${d}\n`).join(''));
    if (node) writeFileSync(join(run, 'wires'), node.wires);
    writeFileSync(join(run, 'shares'), shares.map((s) => `${s.tag} ${s.dir} ${s.readonly ? 'ro' : 'rw'}\n`).join(''));

    servers.push(await listen(join(run, 'stdout.sock'), options.stdout));
    servers.push(await listen(join(run, 'stderr.sock'), options.stderr));

    const args = qemuArgs({
      kernel: kernel.vmlinux ?? kernel.vmlinuz,
      initrd: initramfs.path,
      run,
      shares,
      memory: options.memory,
      smp: options.smp,
      wires: node?.nics,
    });
    options.progress(
      `vm: ${node ? `node${node.index}: ` : ''}booting ${kernel.release} (${options.devs.map((d) => `${d}0`).join(', ') || 'no RDMA links'}${node ? ` on ${node.nics.length === 1 ? 'a wire' : `${node.nics.length} wires`} to node${1 - node.index}` : ''})`,
    );
    // tied to this process: the kernel kills QEMU when the harness dies, even by SIGKILL
    const qemu = spawnTied('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let qemuErr = '';
    qemu.stdout?.on('data', (c) => {
      qemuErr += c;
    });
    qemu.stderr?.on('data', (c) => {
      qemuErr += c;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      qemu.kill('SIGKILL');
    }, options.timeout * 1000);
    // a guest hung before its command (seen once under TCG: a 7.x console empty until --timeout, 900 s):
    // stopped once its console has been silent for bootStall seconds, and booted again by the caller
    let hung = false;
    const stall = (options.bootStall ?? BOOT_STALL_SECONDS) * 1000;
    let consoleSize = -1;
    let quietSince = Date.now();
    const watchdog = setInterval(
      () => {
        if (existsSync(join(run, 'started'))) return clearInterval(watchdog);
        const size = fileSize(join(run, 'console.log'));
        if (size !== consoleSize) {
          consoleSize = size;
          quietSince = Date.now();
        } else if (Date.now() - quietSince >= stall) {
          hung = true;
          clearInterval(watchdog);
          qemu.kill('SIGKILL');
        }
      },
      Math.min(1000, stall / 2),
    );
    let stopped: string | undefined;
    const stop = () => {
      stopped = String(node?.signal.reason ?? 'stopped');
      qemu.kill('SIGKILL');
    };
    if (node?.signal.aborted) stop();
    else node?.signal.addEventListener('abort', stop, { once: true });
    // QEMU is in our process group, but `timeout`, a CI runner or `kill` signal only us: the guest
    // must not outlive this process (an orphaned QEMU keeps running, holding CPU, until killed)
    const relay = (signal: NodeJS.Signals) => {
      qemu.kill('SIGKILL');
      rmSync(run, { recursive: true, force: true });
      if (node) rmSync(node.wireDir, { recursive: true, force: true });
      process.kill(process.pid, signal);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.once(s, relay);
    const exit = await new Promise<number | null>((resolve) => {
      qemu.once('error', () => resolve(-1));
      qemu.once('exit', (code) => resolve(code));
    });
    clearTimeout(timer);
    clearInterval(watchdog);
    node?.signal.removeEventListener('abort', stop);
    for (const s of signals) process.off(s, relay);
    // let the sockets drain what QEMU wrote last
    await new Promise((r) => setTimeout(r, 50));

    const totalSeconds = (Date.now() - started) / 1000;
    const console = readGuestFile(join(run, 'console.log'), GUEST_LOG_MAX) ?? '';
    if (options.consoleLog) writeFileSync(options.consoleLog, console);
    const status = readStatus(join(run, 'status'));
    const commandStart = readNumber(join(run, 'started'));
    const commandEnd = readNumber(join(run, 'finished'));
    const dmesg = readGuestFile(join(run, 'dmesg'), GUEST_LOG_MAX);
    const base = {
      release: kernel.release,
      totalSeconds,
      bootSeconds: commandStart,
      commandStarted: commandStart !== undefined,
      commandSeconds: commandStart !== undefined && commandEnd !== undefined ? commandEnd - commandStart : undefined,
      dmesg,
    };
    if (timedOut) {
      return { ...base, status: VM_EXIT.TIMEOUT, failure: `timed out after ${limit}s${tail(console)}` };
    }
    if (exit === -1) return { ...base, status: VM_EXIT.SETUP_FAILED, failure: 'cannot start setpriv (util-linux)' };
    if (exit === 127 && TIED_NOT_STARTED.test(qemuErr)) {
      return { ...base, status: VM_EXIT.SETUP_FAILED, failure: `cannot start qemu-system-x86_64: ${qemuErr.trim()}` };
    }
    if (hung && status === undefined) {
      const seconds = stall / 1000;
      return {
        ...base,
        status: VM_EXIT.GUEST_FAILED,
        failure: `${HUNG_BOOTING} (console silent ${seconds}s)${tail(console)}`,
      };
    }
    if (status === undefined && stopped !== undefined) {
      return { ...base, status: VM_EXIT.GUEST_FAILED, failure: `stopped: ${stopped}` };
    }
    if (status === undefined) {
      const panic = /Kernel panic[^\n]*/.exec(console)?.[0];
      const fatal = /uverbs-init: FATAL: [^\n]*/.exec(console)?.[0];
      const why = panic ?? fatal ?? (qemuErr.trim() || `qemu exited with ${exit} before the command finished`);
      return { ...base, status: VM_EXIT.GUEST_FAILED, failure: `${why}${tail(console)}` };
    }
    return { ...base, status };
  } finally {
    for (const s of servers) s.close();
    rmSync(run, { recursive: true, force: true });
  }
}

/** Boots before giving up when the guest crashes before the command starts. */
const BOOT_ATTEMPTS = 3;

/**
 * Seconds of console silence after which a guest that has not started its
 * command is taken for hung. A boot prints all along (kernel, then init);
 * under TCG on a loaded 2-core host the longest quiet stretch seen is a few
 * seconds, a KASAN debug kernel's boot included.
 */
export const BOOT_STALL_SECONDS = 180;

/** How a hung boot is reported (and recognised for another attempt). */
const HUNG_BOOTING = 'the guest hung while booting';

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Runs `command` in a fresh guest. Under multi-threaded TCG the guest
 * kernel's int3-based live patching of its own text occasionally races
 * between vCPUs and oopses during boot (seen on 7.2 about one boot in eight:
 * "Oops: int3" in set_next_task_fair). Single-threaded TCG avoids it but
 * makes the datapath ~40x slower, so instead a guest that dies before the
 * command has started (nothing ran) is booted again, and says so on stderr;
 * so is one whose console stays silent for `bootStall` seconds before the
 * command starts (hung). A guest that dies after the command started is
 * reported as it is.
 *
 * What reaches QEMU's command line or the guest's shell is checked first,
 * before anything is prepared: --env names must be shell identifiers, share
 * paths (the writable directories, and the caller's directory or this
 * package's when the guest would hide them) must hold no whitespace or
 * control characters; ERR_INVALID_ARG_VALUE otherwise.
 */
export async function runInVm(command: string[], options: VmOptions): Promise<VmResult> {
  checkOptions(command, options);
  const prepared = prepare(options);
  // one deadline for every boot attempt: --timeout bounds the whole run from the first boot, retries included
  const deadline = Date.now() + options.timeout * 1000;
  for (let attempt = 1; ; attempt++) {
    const left = Math.max((deadline - Date.now()) / 1000, 0.001);
    const { commandStarted, ...result } = await bootOnce(command, { ...options, timeout: left }, prepared);
    if (!crashedBooting(result, commandStarted) || attempt === BOOT_ATTEMPTS || Date.now() >= deadline) return result;
    options.stderr.write(
      `uverbs vm: the guest did not boot (${crashCause(result)}); booting again (${attempt + 1}/${BOOT_ATTEMPTS})\n`,
    );
  }
}

/** A guest that died of a kernel crash, or hung, before its command started: nothing ran, so it may boot again. */
function crashedBooting(result: VmResult, commandStarted: boolean): boolean {
  return (
    result.status === VM_EXIT.GUEST_FAILED &&
    !commandStarted &&
    (/Oops|Kernel panic/.test(result.failure ?? '') || (result.failure ?? '').startsWith(HUNG_BOOTING))
  );
}

function crashCause(result: VmResult): string {
  return (
    /(Oops: [^\n]*|Kernel panic[^\n]*|the guest hung while booting[^\n]*)/.exec(result.failure ?? '')?.[1] ??
    'guest crash'
  );
}

/** One node's result in {@link runNodesInVm}. */
export interface VmNodeResult extends VmResult {
  /** 0 or 1. */
  node: number;
}

export interface VmNodesResult {
  /** 0 when every node's command exited 0; else the first node's (in node order) that did not. */
  status: number;
  nodes: VmNodeResult[];
  /** Host wall time of the whole run. */
  totalSeconds: number;
}

/**
 * The status of a multi-node run: 0 only when every node's is 0, else the
 * first non-zero one in node order (a harness status such as
 * {@link VM_EXIT}.TIMEOUT passes through like a command's own).
 */
export function nodesStatus(nodes: readonly Pick<VmNodeResult, 'node' | 'status'>[]): number {
  return [...nodes].sort((a, b) => a.node - b.node).find((n) => n.status !== 0)?.status ?? 0;
}

/** One line naming every node's status: `node0: exit 0; node1: exit 1 (why)`. */
export function nodesStatusLine(nodes: readonly Pick<VmNodeResult, 'node' | 'status' | 'failure'>[]): string {
  return nodes
    .map((n) => `node${n.node}: exit ${n.status}${n.failure ? ` (${n.failure.split('\n')[0]})` : ''}`)
    .join('; ');
}

/**
 * Runs `command` on two guests of one kernel joined by virtual wires
 * (nodes.ts: unix datagram sockets in a private directory, removed after;
 * never the host's network). Each node's output lines reach
 * `options.stdout` / `options.stderr` prefixed with `[node0] ` or
 * `[node1] `; progress lines name the node. The command runs with
 * UVERBS_NODE, UVERBS_NODES, UVERBS_NODE_ADDR, UVERBS_PEER_ADDR and the
 * per-device addresses set (nodes.ts); `options.env` may not set those
 * (ERR_INVALID_ARG_VALUE). With `consoleLog`, node N's console goes to
 * `consoleLog.nodeN`.
 *
 * When one guest fails (dies, or outruns `timeout`), the other is stopped,
 * and both results are returned: no QEMU outlives the call. A node whose
 * command merely exits (with any status) does not stop the other. A guest
 * kernel crash before either command started boots both again, as
 * {@link runInVm} does for one.
 */
export async function runNodesInVm(command: string[], options: VmOptions): Promise<VmNodesResult> {
  checkOptions(command, options);
  for (const name of Object.keys(options.env)) {
    if (NODE_ENV_NAMES.test(name)) throw invalidArgValue('env', 'has a name that --nodes sets for each node', name);
  }
  const wires = nodeWires(options.devs);
  // a TMPDIR too long for a unix socket path fails here, before anything is downloaded or booted
  nodeNics(join(tmpdir(), 'uverbs-wire-XXXXXX'), wires, 0);
  const prepared = prepare(options);
  const nodes = Array.from({ length: NODE_COUNT }, (_, i) => i);
  const deadline = Date.now() + options.timeout * 1000;
  for (let attempt = 1; ; attempt++) {
    const left = Math.max((deadline - Date.now()) / 1000, 0.001);
    // a fresh private directory per attempt: QEMU binds its wire sockets there (mkdtemp: mode 0700)
    const dir = mkdtempSync(join(tmpdir(), 'uverbs-wire-'));
    const outputs = nodes.map((i) => ({
      stdout: prefixLines(`[node${i}] `, options.stdout),
      stderr: prefixLines(`[node${i}] `, options.stderr),
    }));
    let results: (VmNodeResult & { commandStarted: boolean })[];
    try {
      const stop = new AbortController();
      results = await Promise.all(
        nodes.map(async (i) => {
          const result = await bootOnce(
            command,
            {
              ...options,
              timeout: left,
              ...outputs[i],
              consoleLog: options.consoleLog && `${options.consoleLog}.node${i}`,
            },
            prepared,
            {
              index: i,
              nics: nodeNics(dir, wires, i),
              wires: wiresFile(wires, i),
              links: linksFile(wires, i),
              env: nodeEnv(wires, i),
              wireDir: dir,
              signal: stop.signal,
            },
          );
          // the harness failed this guest (died, timed out): the other one is stopped, not left waiting on its peer
          if (result.failure && !stop.signal.aborted) stop.abort(`node${i} failed: ${result.failure.split('\n')[0]}`);
          return { ...result, node: i };
        }),
      );
    } finally {
      for (const o of outputs) {
        o.stdout.flush();
        o.stderr.flush();
      }
      rmSync(dir, { recursive: true, force: true });
    }
    const crashed = results.find((r) => crashedBooting(r, r.commandStarted));
    const done = (): VmNodesResult => {
      const list = results.map(({ commandStarted: _, ...r }) => r);
      return { status: nodesStatus(list), nodes: list, totalSeconds: (Date.now() - prepared.started) / 1000 };
    };
    if (!crashed || results.some((r) => r.commandStarted) || attempt === BOOT_ATTEMPTS || Date.now() >= deadline) {
      return done();
    }
    options.stderr.write(
      `uverbs vm: node${crashed.node} did not boot (${crashCause(crashed)}); booting both again (${attempt + 1}/${BOOT_ATTEMPTS})\n`,
    );
  }
}

/**
 * A stream that writes each line to `sink` with `prefix` before it. A line
 * still without its newline is held until `flush()` (or the stream's end)
 * writes it, with one.
 */
export function prefixLines(prefix: string, sink: NodeJS.WritableStream): Writable & { flush(): void } {
  let pending = '';
  // a character split across two chunks stays one character
  const decoder = new StringDecoder('utf8');
  const flush = () => {
    pending += decoder.end();
    if (pending) sink.write(`${prefix}${pending}\n`);
    pending = '';
  };
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: Buffer | string, _encoding, callback) {
      const lines = (pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split('\n');
      pending = lines.pop() ?? '';
      if (lines.length) sink.write(lines.map((l) => `${prefix}${l}\n`).join(''));
      callback();
    },
    final(callback) {
      flush();
      callback();
    },
  });
  return Object.assign(stream, { flush });
}

/** What every boot of one run shares, after the checks of what reaches the guest: kernel, initramfs, shares. */
function prepare(options: VmOptions): Prepared {
  const cwd = realpathSync(options.cwd);
  const writable = options.writable.map((d) => realpathSync(d));
  const own = ownPackage();
  const shares = guestShares(cwd, writable, own ? [own.root] : []);
  for (const s of shares) {
    if (!UNSAFE_IN_SHARE.test(s.dir)) continue;
    const name = !s.readonly ? 'writable' : s.dir === cwd ? 'cwd' : 'the uverbs package directory';
    throw invalidArgValue(
      name,
      'must not contain whitespace or control characters when the guest mounts it (its share list is read one "tag path mode" line at a time)',
      s.dir,
    );
  }
  const started = Date.now();
  const { kernel, extra } = prepareKernel(options.kernel, options.devs, options.progress);
  return {
    kernel,
    initramfs: buildInitramfs(kernel, extra, options.progress),
    shares,
    bin: own?.bin,
    started,
    limit: options.timeout,
  };
}

/**
 * The kernel and any out-of-tree modules for it. Debian's kernels lack
 * siw, built out of tree (siw.ts); the debug kernel and the user's are
 * checked for what the harness and `devs` need before anything boots
 * (KernelConfigError) and bring their own siw.
 */
function prepareKernel(
  choice: KernelChoice,
  devs: RdmaDevice[],
  progress: Progress,
): { kernel: Kernel; extra: string[] } {
  if (typeof choice === 'object') {
    return { kernel: openCustomKernel(kernelFilesFromPath(choice.path, choice.modules), devs, progress), extra: [] };
  }
  if (choice === 'debug')
    return { kernel: openCustomKernel(debugKernelFiles(buildDebugKernel(progress)), devs, progress), extra: [] };
  const kernel = fetchKernel(choice, progress);
  return { kernel, extra: devs.includes('siw') ? buildSiw(kernel, progress) : [] };
}

/** Host paths the guest covers with its own tmpfs: the host's files there are invisible unless shared. */
const GUEST_TMPFS = ['/tmp', '/run', '/var/tmp', '/dev/shm'];

function under(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * The 9p shares beyond the root: every writable directory, and read-only
 * the caller's directory and any of `visible` (this package's directory,
 * whose `uverbs` the guest runs) that lie under a path the guest hides (a
 * checkout in /tmp). Parents come first so nested mounts land on top of them.
 */
export function guestShares(cwd: string, writable: string[], visible: string[] = []): GuestShare[] {
  const list = writable.map((dir) => ({ dir, readonly: false }));
  // shortest first: a directory inside one already shared needs no share of its own
  for (const dir of [cwd, ...visible].sort((a, b) => a.length - b.length)) {
    const hidden = GUEST_TMPFS.some((t) => under(dir, t));
    if (hidden && !list.some((s) => under(dir, s.dir))) list.push({ dir, readonly: true });
  }
  return list.sort((a, b) => a.dir.length - b.dir.length).map((s, i) => ({ ...s, tag: `uverbs.share${i}` }));
}

function tail(console: string): string {
  const lines = console.trimEnd().split('\n').slice(-15);
  return lines.length ? `\n--- guest console (last ${lines.length} lines) ---\n${lines.join('\n')}` : '';
}

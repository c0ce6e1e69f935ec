/**
 * `uverbs vm [options] -- COMMAND [ARGS...]`, `uverbs vm --nodes 2 ...`,
 * and, inside the guests of `--nodes 2`, `uverbs vm barrier NAME`.
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BARRIER_PORT, BARRIER_TIMEOUT, barrier } from '../vm/barrier.js';
import { buildDebugKernel } from '../vm/debug-kernel.js';
import { KERNEL_SERIES, type KernelSeries } from '../vm/kernels.js';
import { NODE_COUNT, NODE_ENV_NAMES } from '../vm/nodes.js';
import {
  type KernelChoice,
  nodesStatusLine,
  RDMA_DEVICES,
  type RdmaDevice,
  runInVm,
  runNodesInVm,
  VM_EXIT,
} from '../vm/run.js';
import { json } from './output.js';
import { UsageError } from './usage.js';

export const VM_HELP = `Usage: uverbs vm [options] -- COMMAND [ARGS...]
       uverbs vm --nodes 2 [options] -- COMMAND [ARGS...]
       uverbs vm barrier NAME [--timeout SEC] [--json]   (inside a --nodes 2 guest)

Boots a Linux kernel (Debian's, the debug kernel or your own) under QEMU (software emulation, no KVM needed) with
the RDMA modules loaded and rxe0 (and siw0) on a virtio NIC, shares this
machine's root read-only, runs COMMAND in the current directory inside the
guest, streams its output, and exits with COMMAND's exit status. In the
guest, \`uverbs\` on PATH is this package's own CLI, and npm and npx run
offline, without lifecycle scripts or bin links (the tree is read-only and
there is no network): \`npx uverbs\` in this package's directory runs it, a
package that is not installed fails at once (ENOTCACHED).

Options:
  -k, --kernel SERIES   6.1 (bookworm, default), 6.12 (trixie) or 7 (sid)
  -k, --kernel debug    Debian's 6.1 source built once with KASAN, lockdep,
                        fault injection (failslab, fail_page_alloc, fail-nth),
                        debugfs and the RDMA stack (rxe, siw) built in; the
                        first run builds it (20 min 45 s on two CPUs here);
                        later runs use the newest build, asking apt nothing
      --rebuild-debug   with --kernel debug: ask apt for bookworm's current
                        linux-source-6.1 and build it first, even when a
                        build is cached (make is incremental)
  -k, --kernel PATH     a kernel you built: a build tree (arch/x86/boot/bzImage,
                        .config) or a bzImage or vmlinux file; its .config (or
                        config-RELEASE beside the image) is checked first for
                        what the harness and --devs need, and a missing option
                        is named; siw is the kernel's own (CONFIG_RDMA_SIW)
      --modules DIR     with --kernel PATH: its modules, where
                        make modules_install INSTALL_MOD_PATH=DIR put them
                        (DIR, or DIR/lib/modules/RELEASE)
      --devs LIST       RDMA links to create: rxe, siw or rxe,siw (default: rxe)
      --mem SIZE        guest memory (default: 2G)
      --smp N           guest CPUs (default: 2)
      --timeout SEC     give up after SEC seconds, boot included (default: 900)
  -w, --writable DIR    let the guest write DIR (repeatable; default: none); its
                        path may not hold whitespace or control characters
  -e, --env NAME=VALUE  set a variable for COMMAND (repeatable); NAME is a shell
                        identifier, VALUE reaches COMMAND verbatim
      --timing          print boot and run times to stderr
      --dmesg           print the guest's kernel log to stderr afterwards
      --console FILE    save the guest's whole serial console to FILE (with
                        --nodes 2: FILE.node0 and FILE.node1)
      --nodes 2         boot two guests of the kernel joined by virtual wires
                        and run COMMAND on both (see Two nodes below)
      --json            after the run, its result as JSON on stdout
                        ({"schema": 1, "status", "nodes": [{"node", "status",
                        "release", "bootSeconds", "commandSeconds",
                        "totalSeconds", "failure"}]}); COMMAND's output then
                        goes to stderr
  -q, --quiet           no progress messages
  -h, --help            this help

Two nodes (--nodes 2): both guests keep their restricted user-net eth0; each
RDMA device gets a wire of its own between them (rdma_cm picks the device by
address): rxe0 on the first wire NIC, 10.11.0.0/24, siw0 (with --devs
rxe,siw) on the second, 10.12.0.0/24; node0 is .1, node1 is .2 (with no
RDMA device, one plain wire, 10.11.0.0/24). A wire is a pair of unix
datagram sockets between the two QEMUs (-netdev dgram) in a private
temporary directory, removed after: no multicast group, no host address,
nothing reaches the host's network. COMMAND runs on both with:
  UVERBS_NODE           0 or 1
  UVERBS_NODES          2
  UVERBS_NODE_ADDR      this node's address on the first wire (10.11.0.N)
  UVERBS_PEER_ADDR      the other node's address there
  UVERBS_NODE_ADDR_RXE0, UVERBS_PEER_ADDR_RXE0, UVERBS_NODE_ADDR_SIW0,
  UVERBS_PEER_ADDR_SIW0 the addresses on each device's wire
(--env may not set these). Output lines are prefixed [node0] / [node1]; at
the end each node's status is printed on stderr, and the exit status is 0
only when both exited 0, else the first non-zero one (node0's first). When
one guest dies or times out, the other is stopped and both statuses are
reported. The two TCG guests share this machine's CPUs: each boots about as
slowly as both together would.

  uverbs vm barrier NAME [--timeout SEC] [--json]
Inside a --nodes 2 guest: waits until the other node reaches the barrier
NAME too (node0 listens on its first-wire address, TCP port ${BARRIER_PORT}; node1
connects, retrying until node0 is there). Exit status 0 when both met, 1
when the peer did not come within SEC seconds (default ${BARRIER_TIMEOUT}) or is at
another barrier, 2 for a usage mistake.

Exit status: COMMAND's own; 2 for a usage mistake (an option, an --env name
or a share path the guest cannot be given safely); ${VM_EXIT.GUEST_FAILED} if the guest died
first (kernel panic, init failure); ${VM_EXIT.TIMEOUT} on timeout; ${VM_EXIT.SETUP_FAILED} if the VM could
not be prepared (missing tool or package, download failure, a tool over its
time limit, an untrusted cache, a --kernel PATH lacking a CONFIG option the
harness or --devs needs).

Kernels, modules and the initramfs are cached under $UVERBS_CACHE_DIR
(default: $XDG_CACHE_HOME/uverbs or ~/.cache/uverbs); a second run
downloads nothing; the debug kernel is built once there, under
kernels/debug-VERSION-HASH (tree, build.log, modules), and reused until
--rebuild-debug. uverbs builds siw and
the debug kernel as root in a chroot there, so the cache must be owned by
you and writable by no one else.`;

export async function vmCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'barrier') return barrierCommand(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      kernel: { type: 'string', short: 'k', default: '6.1' },
      modules: { type: 'string' },
      'rebuild-debug': { type: 'boolean', default: false },
      devs: { type: 'string', default: 'rxe' },
      mem: { type: 'string', default: '2G' },
      smp: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '900' },
      writable: { type: 'string', short: 'w', multiple: true, default: [] },
      env: { type: 'string', short: 'e', multiple: true, default: [] },
      timing: { type: 'boolean', default: false },
      dmesg: { type: 'boolean', default: false },
      console: { type: 'string' },
      nodes: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${VM_HELP}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('uverbs vm: no COMMAND given (uverbs vm -- COMMAND ...)');
  const kernel = kernelChoice(values.kernel, values.modules);
  if (values['rebuild-debug'] && kernel !== 'debug') {
    throw new UsageError(`uverbs vm: --rebuild-debug goes with --kernel debug (got --kernel ${values.kernel})`);
  }
  const devs = values.devs.split(',').filter(Boolean) as RdmaDevice[];
  for (const d of devs) {
    if (!RDMA_DEVICES.includes(d)) throw new UsageError(`uverbs vm: --devs takes rxe and/or siw (got '${d}')`);
  }
  const smp = Number(values.smp);
  const timeout = Number(values.timeout);
  if (!Number.isInteger(smp) || smp < 1 || smp > 64) throw new UsageError(`uverbs vm: --smp must be 1..64`);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`uverbs vm: --timeout must be positive seconds`);
  if (!/^\d+[MG]?$/i.test(values.mem)) throw new UsageError(`uverbs vm: --mem takes a size such as 2G or 1536M`);
  // no prototype: a name like __proto__ is a variable like any other, not a property of Object.prototype
  const env: Record<string, string> = Object.create(null);
  for (const e of values.env) {
    const at = e.indexOf('=');
    if (at <= 0) throw new UsageError(`uverbs vm: --env takes NAME=VALUE (got '${e}')`);
    env[e.slice(0, at)] = e.slice(at + 1);
  }
  const nodes = values.nodes === undefined ? 1 : Number(values.nodes);
  if (nodes !== 1 && nodes !== NODE_COUNT) {
    throw new UsageError(`uverbs vm: --nodes takes ${NODE_COUNT} (or 1, the default) (got '${values.nodes}')`);
  }
  if (nodes > 1) {
    if (values['rebuild-debug']) {
      throw new UsageError('uverbs vm: --rebuild-debug builds a kernel: run it without --nodes first');
    }
    for (const name of Object.keys(env)) {
      if (NODE_ENV_NAMES.test(name)) {
        throw new UsageError(`uverbs vm: --env ${name}: --nodes sets it for each node`);
      }
    }
  }
  const progress = values.quiet ? () => {} : (line: string) => process.stderr.write(`uverbs ${line}\n`);
  const options = {
    kernel,
    devs,
    memory: values.mem,
    smp,
    timeout,
    writable: values.writable,
    env,
    cwd: process.cwd(),
    progress,
    // with --json, stdout is the result's alone
    stdout: values.json ? process.stderr : process.stdout,
    stderr: process.stderr,
    consoleLog: values.console,
  };
  if (nodes > 1) {
    try {
      const run = await runNodesInVm(positionals, options);
      for (const n of run.nodes) {
        if (n.failure) process.stderr.write(`uverbs vm: node${n.node}: ${n.failure}\n`);
        if (values.dmesg && n.dmesg) process.stderr.write(prefix(`[node${n.node}] `, n.dmesg));
        if (values.timing) process.stderr.write(`uverbs vm: node${n.node}: ${timing(n)}\n`);
      }
      process.stderr.write(`uverbs vm: ${nodesStatusLine(run.nodes)}\n`);
      if (values.json) {
        process.stdout.write(json({ schema: 1, status: run.status, nodes: run.nodes.map(resultJson) }));
      }
      return run.status;
    } catch (error) {
      return prepareFailed(error);
    }
  }
  let result: Awaited<ReturnType<typeof runInVm>>;
  try {
    // runInVm then boots the newest build: the one just made
    if (values['rebuild-debug']) buildDebugKernel(progress, { rebuild: true });
    result = await runInVm(positionals, options);
  } catch (error) {
    return prepareFailed(error);
  }
  if (result.failure) process.stderr.write(`uverbs vm: ${result.failure}\n`);
  if (values.dmesg && result.dmesg) process.stderr.write(result.dmesg);
  if (values.timing) process.stderr.write(`uverbs vm: ${timing(result)}\n`);
  if (values.json) process.stdout.write(json({ schema: 1, status: result.status, nodes: [resultJson(result)] }));
  return result.status;
}

function prefix(text: string, lines: string): string {
  return lines
    .trimEnd()
    .split('\n')
    .map((l) => `${text}${l}\n`)
    .join('');
}

type RunResult = Awaited<ReturnType<typeof runInVm>> & { node?: number };

function timing(r: RunResult): string {
  const f = (n: number | undefined) => (n === undefined ? '?' : n.toFixed(2));
  return `kernel ${r.release}: boot ${f(r.bootSeconds)}s, command ${f(r.commandSeconds)}s, round trip ${f(r.totalSeconds)}s`;
}

function resultJson(r: RunResult) {
  return {
    node: r.node ?? 0,
    status: r.status,
    release: r.release,
    bootSeconds: r.bootSeconds ?? null,
    commandSeconds: r.commandSeconds ?? null,
    totalSeconds: r.totalSeconds,
    failure: r.failure ?? null,
  };
}

function prepareFailed(error: unknown): number {
  // runInVm checks what reaches QEMU and the guest's shell before preparing anything: those are usage mistakes
  if ((error as { code?: string }).code === 'ERR_INVALID_ARG_VALUE') {
    throw new UsageError(`uverbs vm: ${(error as Error).message}`);
  }
  // a kernel of the user's that lacks what the harness or --devs needs: the message names the options
  if ((error as { code?: string }).code === 'ERR_UVERBS_KERNEL_CONFIG') {
    process.stderr.write(`uverbs vm: ${(error as Error).message}\n`);
    return VM_EXIT.SETUP_FAILED;
  }
  process.stderr.write(`uverbs vm: cannot prepare the VM: ${(error as Error).message}\n`);
  return VM_EXIT.SETUP_FAILED;
}

export const BARRIER_HELP = `Usage: uverbs vm barrier NAME [--timeout SEC] [--json]

Inside a guest of \`uverbs vm --nodes 2\`: waits until the other node reaches
the barrier NAME (1-200 printable ASCII characters, no spaces). node0
($UVERBS_NODE=0) listens on $UVERBS_NODE_ADDR, TCP port ${BARRIER_PORT}; node1
connects to $UVERBS_PEER_ADDR, retrying until node0 listens. Barriers are
met one at a time, in the same order on both nodes.

Options:
      --timeout SEC   give up after SEC seconds (default: ${BARRIER_TIMEOUT})
      --json          {"schema": 1, "name", "node", "seconds"} on stdout
  -h, --help          this help

Exit status: 0 when both nodes reached NAME; 1 when the peer did not come
in time (ERR_UVERBS_BARRIER_TIMEOUT) or reached another barrier
(ERR_UVERBS_BARRIER_MISMATCH); 2 for a usage mistake (no NAME, a bad
--timeout, not inside a --nodes guest).`;

async function barrierCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      timeout: { type: 'string', default: String(BARRIER_TIMEOUT) },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${BARRIER_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('uverbs vm barrier: takes one NAME');
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new UsageError(`uverbs vm barrier: --timeout must be positive seconds (got '${values.timeout}')`);
  }
  if (process.env.UVERBS_NODE !== '0' && process.env.UVERBS_NODE !== '1') {
    throw new UsageError('uverbs vm barrier: $UVERBS_NODE is not 0 or 1 (run it inside uverbs vm --nodes 2)');
  }
  let result: Awaited<ReturnType<typeof barrier>>;
  try {
    result = await barrier(positionals[0] as string, { timeout });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_INVALID_ARG_VALUE') {
      throw new UsageError(`uverbs vm barrier: ${(error as Error).message}`);
    }
    throw error;
  }
  if (values.json) process.stdout.write(json({ schema: 1, ...result }));
  return 0;
}

/**
 * --kernel and --modules: a series, `debug`, or a path (anything with a
 * slash, or an existing file or directory) resolved against the current
 * directory. --modules goes only with a path.
 */
function kernelChoice(kernel: string, modules: string | undefined): KernelChoice {
  const series = KERNEL_SERIES.includes(kernel as KernelSeries) || kernel === 'debug';
  if (series || !(kernel.includes('/') || existsSync(kernel))) {
    if (!series) {
      throw new UsageError(
        `uverbs vm: --kernel must be one of ${KERNEL_SERIES.join(', ')}, debug, or the path of a kernel build tree, bzImage or vmlinux (got '${kernel}')`,
      );
    }
    if (modules !== undefined)
      throw new UsageError(`uverbs vm: --modules goes with --kernel PATH (got --kernel ${kernel})`);
    return kernel as KernelSeries | 'debug';
  }
  if (!existsSync(kernel)) throw new UsageError(`uverbs vm: --kernel ${kernel}: no such file or directory`);
  if (modules !== undefined && !existsSync(modules)) {
    throw new UsageError(`uverbs vm: --modules ${modules}: no such directory`);
  }
  return { path: resolve(kernel), ...(modules === undefined ? {} : { modules: resolve(modules) }) };
}

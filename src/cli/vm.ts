/**
 * `uverbs vm [options] -- COMMAND [ARGS...]`
 */

import { parseArgs } from 'node:util';
import { KERNEL_SERIES, type KernelSeries } from '../vm/kernels.js';
import { RDMA_DEVICES, type RdmaDevice, runInVm, VM_EXIT } from '../vm/run.js';
import { UsageError } from './usage.js';

export const VM_HELP = `Usage: uverbs vm [options] -- COMMAND [ARGS...]

Boots a Debian kernel under QEMU (software emulation, no KVM needed) with
the RDMA modules loaded and rxe0 (and siw0) on a virtio NIC, shares this
machine's root read-only, runs COMMAND in the current directory inside the
guest, streams its output, and exits with COMMAND's exit status. In the
guest, \`uverbs\` on PATH is this package's own CLI, and npm and npx run
offline, without lifecycle scripts or bin links (the tree is read-only and
there is no network): \`npx uverbs\` in this package's directory runs it, a
package that is not installed fails at once (ENOTCACHED).

Options:
  -k, --kernel SERIES   6.1 (bookworm, default), 6.12 (trixie) or 7 (sid)
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
      --console FILE    save the guest's whole serial console to FILE
  -q, --quiet           no progress messages
  -h, --help            this help

Exit status: COMMAND's own; 2 for a usage mistake (an option, an --env name
or a share path the guest cannot be given safely); ${VM_EXIT.GUEST_FAILED} if the guest died
first (kernel panic, init failure); ${VM_EXIT.TIMEOUT} on timeout; ${VM_EXIT.SETUP_FAILED} if the VM could
not be prepared (missing tool or package, download failure, a tool over its
time limit, an untrusted cache).

Kernels, modules and the initramfs are cached under $UVERBS_CACHE_DIR
(default: $XDG_CACHE_HOME/uverbs or ~/.cache/uverbs); a second run
downloads nothing. uverbs builds siw as root in a chroot there, so the
cache must be owned by you and writable by no one else.`;

export async function vmCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      kernel: { type: 'string', short: 'k', default: '6.1' },
      devs: { type: 'string', default: 'rxe' },
      mem: { type: 'string', default: '2G' },
      smp: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '900' },
      writable: { type: 'string', short: 'w', multiple: true, default: [] },
      env: { type: 'string', short: 'e', multiple: true, default: [] },
      timing: { type: 'boolean', default: false },
      dmesg: { type: 'boolean', default: false },
      console: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${VM_HELP}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('uverbs vm: no COMMAND given (uverbs vm -- COMMAND ...)');
  const kernel = values.kernel as KernelSeries;
  if (!KERNEL_SERIES.includes(kernel)) {
    throw new UsageError(`uverbs vm: --kernel must be one of ${KERNEL_SERIES.join(', ')} (got '${values.kernel}')`);
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
  const progress = values.quiet ? () => {} : (line: string) => process.stderr.write(`uverbs ${line}\n`);
  let result: Awaited<ReturnType<typeof runInVm>>;
  try {
    result = await runInVm(positionals, {
      kernel,
      devs,
      memory: values.mem,
      smp,
      timeout,
      writable: values.writable,
      env,
      cwd: process.cwd(),
      progress,
      stdout: process.stdout,
      stderr: process.stderr,
      consoleLog: values.console,
    });
  } catch (error) {
    // runInVm checks what reaches QEMU and the guest's shell before preparing anything: those are usage mistakes
    if ((error as { code?: string }).code === 'ERR_INVALID_ARG_VALUE') {
      throw new UsageError(`uverbs vm: ${(error as Error).message}`);
    }
    process.stderr.write(`uverbs vm: cannot prepare the VM: ${(error as Error).message}\n`);
    return VM_EXIT.SETUP_FAILED;
  }
  if (result.failure) process.stderr.write(`uverbs vm: ${result.failure}\n`);
  if (values.dmesg && result.dmesg) process.stderr.write(result.dmesg);
  if (values.timing) {
    const f = (n: number | undefined) => (n === undefined ? '?' : n.toFixed(2));
    process.stderr.write(
      `uverbs vm: kernel ${result.release}: boot ${f(result.bootSeconds)}s, command ${f(result.commandSeconds)}s, round trip ${f(result.totalSeconds)}s\n`,
    );
  }
  return result.status;
}

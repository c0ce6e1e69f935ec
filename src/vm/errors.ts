/**
 * The harness's own errors, Node-shaped: a stable string `code`, and what
 * it was about (`path`, `command`). Bad arguments to {@link runInVm} are the
 * library's `ERR_INVALID_ARG_VALUE` TypeErrors (src/errors.ts).
 */

/**
 * The cache directory (or a directory inside it, or one above it) could be
 * changed by someone other than the user running the harness. The harness
 * runs `make` as root in a chroot under it and boots kernels from it, so it
 * refuses to use it.
 */
export class UntrustedCacheError extends Error {
  readonly code = 'ERR_UVERBS_UNTRUSTED_CACHE';
  /** The directory refused. */
  readonly path: string;
  /** Why, in words: `owned by uid 65534, not 0`, `writable by group or others (mode 0777)`. */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(`refusing the uverbs cache directory ${path}: ${reason} (set UVERBS_CACHE_DIR to a directory of your own)`);
    this.path = path;
    this.reason = reason;
  }

  override get name(): string {
    return 'UntrustedCacheError';
  }
}

export type ToolErrorCode = 'ERR_UVERBS_TOOL_FAILED' | 'ETIMEDOUT' | 'ENOENT';

/** An external tool the harness runs (apt-get, debootstrap, make, ...) failed, ran out of time or is missing. */
export class ToolError extends Error {
  readonly code: ToolErrorCode;
  readonly command: string;
  readonly args: readonly string[];
  /** Exit status, when the tool exited. */
  readonly status: number | null;
  /** The signal that ended it, when one did. */
  readonly signal: NodeJS.Signals | null;
  /** Its stderr (the last 4000 characters). */
  readonly stderr: string;

  constructor(
    code: ToolErrorCode,
    details: {
      command: string;
      args: readonly string[];
      status: number | null;
      signal: NodeJS.Signals | null;
      stderr: string;
    },
    why: string,
  ) {
    const stderr = details.stderr.slice(-4000);
    super(`${details.command} ${why}${stderr.trim() ? `:\n${stderr.trimEnd()}` : ''}`);
    this.code = code;
    this.command = details.command;
    this.args = details.args;
    this.status = details.status;
    this.signal = details.signal;
    this.stderr = stderr;
  }

  override get name(): string {
    return 'ToolError';
  }
}

/** The VM cannot be prepared: the package archive lacks something, or a tool's output is not what it should be. */
export class VmSetupError extends Error {
  readonly code = 'ERR_UVERBS_VM_SETUP';

  override get name(): string {
    return 'VmSetupError';
  }
}

/** One thing a kernel's configuration lacks ({@link KernelConfigError}). */
export interface KernelConfigProblem {
  /** The kernel option, `CONFIG_RDMA_SIW`. */
  option: string;
  /** The module it builds, when it is a tristate (`siw`). */
  module?: string;
  /** What needs it: `--devs siw`, `the harness (9p root share)`. */
  neededFor: string;
  /**
   * `not set`: neither built in nor a module; `no modules`: a module, but
   * no modules directory was given; `module missing`: a module the modules
   * directory does not hold.
   */
  problem: 'not set' | 'no modules' | 'module missing';
}

/**
 * A kernel the user gave (`uverbs vm --kernel PATH`) lacks something the
 * harness or the asked-for RDMA devices need; found in its configuration
 * before anything boots. The message names every missing option:
 * `kernel 6.12.0-custom lacks CONFIG_RDMA_SIW (needed for --devs siw)`.
 */
export class KernelConfigError extends Error {
  readonly code = 'ERR_UVERBS_KERNEL_CONFIG';
  /** The kernel's release. */
  readonly release: string;
  /** The configuration the options were looked up in (a .config, or the modules directory). */
  readonly source: string;
  readonly problems: readonly KernelConfigProblem[];

  constructor(release: string, source: string, problems: readonly KernelConfigProblem[]) {
    const of = (kind: KernelConfigProblem['problem']) => problems.filter((p) => p.problem === kind);
    const parts: string[] = [];
    const unset = of('not set');
    if (unset.length) parts.push(`lacks ${unset.map((p) => `${p.option} (needed for ${p.neededFor})`).join(', ')}`);
    const unloadable = of('no modules');
    if (unloadable.length) {
      parts.push(
        `builds ${unloadable.map((p) => p.option).join(', ')} as modules but no modules were given (--modules DIR, as make modules_install INSTALL_MOD_PATH=DIR left them)`,
      );
    }
    for (const p of of('module missing')) {
      parts.push(
        `builds ${p.option} as a module but its modules directory has no ${p.module} (needed for ${p.neededFor})`,
      );
    }
    super(`kernel ${release} ${parts.join('; ')} (configuration: ${source})`);
    this.release = release;
    this.source = source;
    this.problems = problems;
  }

  override get name(): string {
    return 'KernelConfigError';
  }
}

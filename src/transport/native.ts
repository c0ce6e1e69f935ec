/**
 * The native addon (native/addon.c): every mapping JS sees (rings, and the
 * anonymous memory behind MRs and command buffers), post send / recv, CQ
 * polling, fd readiness on the event loop. Loaded on first use, from a
 * local build or the prebuilt binary the package ships (`nativeCandidates`);
 * the library's memory comes from it.
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque handle the addon made; JS cannot make one or read through it. */
export type NativeHandle = { readonly __native: unique symbol };

export interface NativeLayout {
  readonly sgeWords: number;
  readonly wcSize: number;
  readonly sendWqeSize: number;
  readonly recvWqeSize: number;
  readonly sgeSize: number;
  readonly statusFull: number;
  readonly statusBadWr: number;
  /** siw: an opcode or flag with no user SQE (siw_queue.h). */
  readonly statusUnsupported: number;
  readonly siwSqeSize: number;
  readonly siwRqeSize: number;
  readonly siwCqeSize: number;
  readonly send: Readonly<
    Record<
      | 'wrId'
      | 'opcode'
      | 'flags'
      | 'imm'
      | 'remoteAddr'
      | 'rkey'
      | 'compareAdd'
      | 'swap'
      | 'flush'
      | 'flushLength'
      | 'udQpn'
      | 'udQkey'
      | 'udAhNum'
      | 'inline'
      | 'inlineOffset'
      | 'inlineLength'
      | 'invalidateRkey'
      | 'mwLength'
      | 'mwMrLkey'
      | 'mwMwRkey'
      | 'mwAccess'
      | 'numSge'
      | 'words',
      number
    >
  >;
  readonly recv: Readonly<Record<'wrId' | 'numSge' | 'words', number>>;
  readonly kinds: Readonly<Record<'raw' | 'rxeCq' | 'rxeSq' | 'rxeRq' | 'siwCq' | 'siwSq' | 'siwRq', number>>;
}

export interface Native {
  /**
   * A driver ring mapped from `fd`; throws { errno, syscall: 'mmap' } when mmap fails. `slots`: a siw
   * ring's slot count (from its create response), checked against `length`.
   */
  mapRing(
    fd: number,
    offset: bigint,
    length: number,
    kind: number,
    slots?: number,
  ): [NativeHandle, ArrayBuffer, bigint];
  /** Zeroed private memory, `length` a multiple of the page size; throws { errno, syscall: 'mmap' }. */
  mapAnonymous(length: number): [NativeHandle, ArrayBuffer, bigint];
  allocRing(slots: number, log2ElemSize: number, kind: number): [NativeHandle, ArrayBuffer, bigint];
  /** Detaches the mapping's ArrayBuffer and releases its memory (the range stays reserved while any buffer over it lives). */
  unmap(mapping: NativeHandle): void;
  /**
   * Holds a SharedArrayBuffer (strongly, until `unpin`) for memory registered
   * in place: [pin, the buffer, byteOffset, byteLength, address of the view's
   * first byte]. A view over an ArrayBuffer, or an empty view: TypeError.
   */
  pinShared(view: ArrayBufferView): [NativeHandle, SharedArrayBuffer, number, number, bigint];
  /** Drops the hold `pinShared` took; idempotent. */
  unpin(pin: NativeHandle): void;
  /**
   * A regular file's bytes [offset, offset + length), MAP_SHARED, page-rounded;
   * `offset` page-aligned, the range inside the file; throws { errno, syscall }.
   */
  mapFile(fd: number, offset: bigint, length: number, writable: boolean): [NativeHandle, ArrayBuffer, bigint];
  /**
   * Writes `count` WQEs (all or none) and rings the doorbell (fd >= 0):
   * posted (bits 0-15) + rxe_post_status << 16 (bits 16-23) + the
   * doorbell's errno << 24 (0: rung; EINTR and EAGAIN retried first). A
   * failed doorbell still reports the WQEs posted: they are in the ring.
   */
  postSend(
    sq: NativeHandle,
    desc: BigUint64Array,
    count: number,
    inline: Uint8Array | null,
    fd: number,
    qpHandle: number,
  ): number;
  postRecv(rq: NativeHandle, desc: BigUint64Array, count: number): number;
  pollCq(cq: NativeHandle, out: Uint8Array, max: number): number;
  /** A siw ring of `slots` elements in zeroed anonymous memory, for tests that play the driver. */
  allocSiwRing(slots: number, kind: number): [NativeHandle, ArrayBuffer, bigint];
  /** siw's postSend (native/siw_queue.h): the same result word; status `statusUnsupported` too. */
  siwPostSend(
    sq: NativeHandle,
    desc: BigUint64Array,
    count: number,
    inline: Uint8Array | null,
    fd: number,
    qpHandle: number,
  ): number;
  /** Receive WQEs into a siw RQ or SRQ ring: posted + status << 16. */
  siwPostRecv(rq: NativeHandle, desc: BigUint64Array, count: number): number;
  /** siw CQEs as `struct ib_uverbs_wc` into `out`; each CQE's slot handed back. */
  siwPollCq(cq: NativeHandle, out: Uint8Array, max: number): number;
  /** Arms a siw CQ through its mapped `siw_cq_ctrl` (no syscall). */
  siwArmCq(cq: NativeHandle, solicitedOnly: boolean): void;
  waitReadable(fd: number, callback: (status: number) => void): NativeHandle;
  cancelWait(watch: NativeHandle): void;
  readonly layout: NativeLayout;
}

/** The package root: the nearest directory up from here whose package.json is uverbs'. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'uverbs') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('uverbs: cannot find the package root');
    dir = parent;
  }
}

/**
 * The C library this process runs on, as a prebuild's tag names it, on
 * Linux; else undefined. First from the text of /usr/bin/ldd (glibc's is a
 * script that names "GNU C Library", musl's is its loader, which names
 * musl): one small file read. Failing that, 'glibc' when Node's diagnostic
 * report gives a glibc version (a whole report: milliseconds), else 'musl'
 * (Alpine's Node reports none).
 */
function libc(): 'glibc' | 'musl' | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const ldd = readFileSync('/usr/bin/ldd', 'latin1');
    if (ldd.includes('GNU C Library')) return 'glibc';
    if (ldd.includes('musl')) return 'musl';
  } catch {
    // no ldd (a minimal image): the report says
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** Where `npm run build:native` (node-gyp) puts the addon: the first candidate. */
function localBuild(root: string): string {
  return join(root, 'build', 'Release', 'uverbs.node');
}

/**
 * Where the addon may be, in the order node-gyp-build looks: a local build
 * (`build/Release/uverbs.node`, what `npm run build:native` or a build at
 * install makes), then the binary the package ships for this platform, laid
 * out as prebuildify does: `prebuilds/<platform>-<arch>/node.napi.<libc>.node`
 * (N-API, NAPI_VERSION 8 in binding.gyp, so one binary serves every Node the
 * package supports).
 */
export function nativeCandidates(root: string = packageRoot()): string[] {
  const candidates = [localBuild(root)];
  const c = libc();
  if (c !== undefined)
    candidates.push(join(root, 'prebuilds', `${process.platform}-${process.arch}`, `node.napi.${c}.node`));
  return candidates;
}

let loaded: Native | undefined;

/**
 * The addon: the first of `nativeCandidates()` that exists. A clear error
 * (code ERR_UVERBS_NATIVE) naming the paths looked at and what to do when
 * none exists or the one found does not load.
 */
export function native(): Native {
  if (loaded !== undefined) return loaded;
  const root = packageRoot();
  // a local build is looked for first, and alone: naming the prebuilt binary asks which C library
  // this is (libc(): a whole diagnostic report, milliseconds on a host and tens under emulation)
  const built = localBuild(root);
  const candidates = existsSync(built) ? [built] : nativeCandidates(root);
  const path = candidates.find((p) => existsSync(p));
  const todo =
    `build it from source: \`npm rebuild uverbs\` in your project (runs node-gyp: needs python3, make and a C compiler),` +
    ` or \`npm run build:native\` in a checkout of uverbs`;
  if (path === undefined) {
    throw Object.assign(
      new Error(
        `uverbs: the native datapath is not built and no prebuilt binary matches ${process.platform}-${process.arch}` +
          ` (${libc() ?? 'no libc tag'}); looked for ${candidates.join(', ')}; ${todo}`,
      ),
      { code: 'ERR_UVERBS_NATIVE' },
    );
  }
  try {
    loaded = createRequire(import.meta.url)(path) as Native;
  } catch (cause) {
    throw Object.assign(
      new Error(`uverbs: the native datapath ${path} does not load (${(cause as Error).message}); ${todo}`, { cause }),
      { code: 'ERR_UVERBS_NATIVE' },
    );
  }
  return loaded;
}

/**
 * Node's module compile cache for the CLI's own process (Node 22.1 and
 * later; Node 20 has none). V8 loads the code it finds there, and Node
 * checks only a checksum, so the directory must be one no other user can
 * write: in a shared temporary directory another user could otherwise make
 * the cache directory first and plant the code a root `uverbs` runs.
 *
 * Where: $NODE_COMPILE_CACHE when set (the user's own choice; Node reads it
 * itself); otherwise `uverbs-compile-cache-UID` in the OS's temporary
 * directory, made with mode 0700 and used only if it is a real directory
 * (not a link) owned by this effective user with no group or other
 * permission bits, in a temporary directory owned by this user or root
 * that others either cannot write or that has the sticky bit. Anything
 * else: no cache. NODE_DISABLE_COMPILE_CACHE=1
 * turns it off (Node's own rule).
 */

import { lstatSync, mkdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The private cache directory under `base`, made if missing; undefined when it is not ours alone. */
export function privateCacheDir(base: string = tmpdir()): string | undefined {
  const uid = process.geteuid?.();
  if (uid === undefined) return undefined;
  const dir = join(base, `uverbs-compile-cache-${uid}`);
  try {
    // a base another user owns, or others may write without the sticky bit, lets them rename our
    // directory aside, after the checks below and before Node opens it, and put theirs in its place
    const b = statSync(base);
    if (b.uid !== uid && b.uid !== 0) return undefined;
    if ((b.mode & 0o022) !== 0 && (b.mode & 0o1000) === 0) return undefined;
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Turns the cache on where it is safe (see above); the directory used, or undefined. */
export function enableCompileCache(): string | undefined {
  const enable = (module as { enableCompileCache?: (dir?: string) => { directory?: string } }).enableCompileCache;
  if (enable === undefined || process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const dir = process.env.NODE_COMPILE_CACHE ? undefined : privateCacheDir();
  if (dir === undefined && !process.env.NODE_COMPILE_CACHE) return undefined;
  return enable(dir).directory;
}

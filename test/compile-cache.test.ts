// src/cli/compile-cache.ts: V8 runs what it finds in the compile cache, so the CLI uses a
// directory only when no other user can write it
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { privateCacheDir } from '../src/cli/compile-cache.js';

const bases: string[] = [];
afterEach(() => {
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
});
function base(): string {
  const b = mkdtempSync(join(tmpdir(), 'uverbs-cc-'));
  chmodSync(b, 0o1777); // a shared /tmp: anyone may make entries
  bases.push(b);
  return b;
}
const uid = process.geteuid?.() as number;
const mine = (b: string) => join(b, `uverbs-compile-cache-${uid}`);

describe('the CLI compile cache directory', () => {
  it('is made private (0700, ours) when missing, and used again', () => {
    const b = base();
    expect(privateCacheDir(b)).toBe(mine(b));
    const st = lstatSync(mine(b));
    expect([st.isDirectory(), st.uid, st.mode & 0o777]).toEqual([true, uid, 0o700]);
    expect(privateCacheDir(b)).toBe(mine(b));
  });

  it('is refused when someone made it writable by others first', () => {
    const b = base();
    mkdirSync(mine(b));
    chmodSync(mine(b), 0o777);
    expect(privateCacheDir(b)).toBeUndefined();
  });

  it('is refused in a temporary directory others may write without the sticky bit (they could swap it)', () => {
    const b = base();
    chmodSync(b, 0o777);
    expect(privateCacheDir(b)).toBeUndefined();
  });

  it('is refused when it is a link (to a directory of ours or not)', () => {
    const b = base();
    const target = join(b, 'elsewhere');
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, mine(b));
    expect(privateCacheDir(b)).toBeUndefined();
  });

  it.skipIf(uid !== 0)('is refused in a temporary directory another user owns (needs root to chown)', () => {
    const b = base();
    chmodSync(b, 0o755);
    chownSync(b, 65534, 65534);
    expect(privateCacheDir(b)).toBeUndefined();
  });

  it.skipIf(uid !== 0)('is refused when another user owns it, even with mode 0700 (needs root to chown)', () => {
    const b = base();
    mkdirSync(mine(b), { mode: 0o700 });
    chownSync(mine(b), 65534, 65534);
    expect(privateCacheDir(b)).toBeUndefined();
  });
});

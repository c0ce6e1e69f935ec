/**
 * The private apt reads the system's sources to find its mirror, never
 * writes them, and picks the entry that serves the system's own codename.
 */

import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDir, debianMirror, PrivateApt, parseDeb822, parseOneLine } from '../src/vm/apt.js';

/** Runs `fn` with a fresh temporary directory, restoring UVERBS_CACHE_DIR and removing the directory after. */
function withCacheParent(prefix: string, fn: (parent: string) => void): void {
  const parent = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  const saved = process.env.UVERBS_CACHE_DIR;
  try {
    fn(parent);
  } finally {
    if (saved === undefined) delete process.env.UVERBS_CACHE_DIR;
    else process.env.UVERBS_CACHE_DIR = saved;
    rmSync(parent, { recursive: true, force: true });
  }
}

const DEB822 = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
`;

describe('apt sources', () => {
  it('parses deb822 stanzas, skipping deb-src and disabled ones', () => {
    const s = parseDeb822(DEB822);
    expect(s.map((x) => x.uri)).toEqual(['http://mirror.example/debian', 'http://mirror.example/debian-security']);
    expect(s[0]?.signedBy).toBe('/usr/share/keyrings/debian-archive-keyring.gpg');
  });

  it('parses one-line entries with options', () => {
    const s = parseOneLine(
      'deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian trixie main contrib\n# deb http://no.example x y\n',
    );
    expect(s).toEqual([
      { uri: 'http://one.example/debian', suites: ['trixie'], components: ['main', 'contrib'], signedBy: '/k.gpg' },
    ]);
  });

  it('chooses the source that serves the codename itself, not -security', () => {
    const m = debianMirror(parseDeb822(DEB822).reverse(), 'bookworm');
    expect(m.uri).toBe('http://mirror.example/debian');
  });

  it('says clearly when no source serves the codename', () => {
    expect(() => debianMirror(parseDeb822(DEB822), 'trixie')).toThrow(/no apt source serves 'trixie main'/);
  });
});

describe('names inside the cache', () => {
  it('a part that would climb out of the cache, or is no plain name, is refused before anything is made', () =>
    withCacheParent('uverbs-cache-names-', (root) => {
      process.env.UVERBS_CACHE_DIR = root;
      // a version as a hostile index might spell it: 'unpacked/linux-libc-dev_7.0/../../../../etc'
      for (const bad of ['..', 'linux-libc-dev_7.0/../../../../etc', '.hidden', 'a b', 'x$(id)']) {
        expect(() => cacheDir('unpacked', bad), bad).toThrow(
          expect.objectContaining({ code: 'ERR_UVERBS_UNTRUSTED_CACHE' }),
        );
      }
      expect(cacheDir('unpacked', 'linux-libc-dev_7.2.13-1')).toBe(join(root, 'unpacked', 'linux-libc-dev_7.2.13-1'));
      expect(readdirSync(join(root, 'unpacked'))).toEqual(['linux-libc-dev_7.2.13-1']);
    }));
});

describe('the cache root', () => {
  it('is made 0700, and an existing one of ours is tightened to 0700 (its chroots keep a world-writable /tmp and setuid binaries)', () =>
    withCacheParent('uverbs-cache-mode-', (parent) => {
      process.env.UVERBS_CACHE_DIR = join(parent, 'new');
      cacheDir('kernels');
      expect(statSync(join(parent, 'new')).mode & 0o777).toBe(0o700);
      expect(statSync(join(parent, 'new', 'kernels')).mode & 0o777).toBe(0o700);
      mkdirSync(join(parent, 'old'));
      chmodSync(join(parent, 'old'), 0o755);
      process.env.UVERBS_CACHE_DIR = join(parent, 'old');
      cacheDir();
      expect(statSync(join(parent, 'old')).mode & 0o777).toBe(0o700);
    }));
});

describe('the private apt', () => {
  it("runs none of the system's update hooks (they act on the system's state)", () =>
    withCacheParent('uverbs-apt-hooks-', (root) => {
      process.env.UVERBS_CACHE_DIR = root;
      const mirror = { uri: 'http://mirror.example/debian', suites: ['bookworm'], components: ['main'] };
      const apt = new PrivateApt('bookworm', { mirror });
      const config = execFileSync('apt-config', [...apt.options, 'dump'], { encoding: 'utf8' });
      expect(config).not.toMatch(/^APT::Update::(Pre|Post)-Invoke(-Success)?:: /m);
      expect(config).toMatch(/^Dir::Etc::sourcelist ".*sources\.list";$/m); // the private state, still applied
    }));
});

describe('the cache checks come first', () => {
  it('a symlink inside the cache is refused, and nothing is made under an untrusted directory', () =>
    withCacheParent('uverbs-cache-first-', (parent) => {
      process.env.UVERBS_CACHE_DIR = join(parent, 'cache');
      mkdirSync(join(parent, 'elsewhere'));
      cacheDir();
      symlinkSync(join(parent, 'elsewhere'), join(parent, 'cache', 'kernels'));
      expect(() => cacheDir('kernels', '6.1')).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_UNTRUSTED_CACHE' }));
      expect(existsSync(join(parent, 'elsewhere', '6.1'))).toBe(false);
      // a shared, non-sticky directory above a cache that does not exist yet: refused before anything is made
      mkdirSync(join(parent, 'shared'));
      chmodSync(join(parent, 'shared'), 0o777);
      process.env.UVERBS_CACHE_DIR = join(parent, 'shared', 'a', 'cache');
      expect(() => cacheDir()).toThrow(expect.objectContaining({ code: 'ERR_UVERBS_UNTRUSTED_CACHE' }));
      expect(existsSync(join(parent, 'shared', 'a'))).toBe(false);
    }));
});

/**
 * A private apt: Debian packages from other suites, fetched through the
 * mirror the system already uses, without touching the system's apt state.
 *
 * - The mirror comes from the system's own sources (deb822 `.sources` and
 *   one-line `.list` files): the entry that serves the system's codename.
 *   No host name is written anywhere in this code.
 * - Each suite gets its own sources list, lists directory and archive cache
 *   under the uverbs cache folder (`-o Dir::Etc::SourceList=...`,
 *   `-o Dir::State::Lists=...`); nothing under /etc/apt or /var/lib/apt is
 *   read for state or written.
 */

import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UntrustedCacheError, VmSetupError } from './errors.js';
import { runTool, TOOL_TIMEOUT } from './tools.js';

const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

function mode(m: number): string {
  return (m & 0o7777).toString(8).padStart(4, '0');
}

/**
 * Refuses a cache directory someone else could change: the harness boots
 * kernels from it and runs `make` as root in a chroot under it. It must be
 * owned by the current user and writable by nobody else.
 */
function trustDirectory(dir: string, uid: number): void {
  const st = statSync(dir);
  if (st.uid !== uid) throw new UntrustedCacheError(dir, `owned by uid ${st.uid}, not by uid ${uid} running uverbs`);
  if (st.mode & WRITABLE_BY_OTHERS) {
    throw new UntrustedCacheError(dir, `writable by group or others (mode ${mode(st.mode)})`);
  }
}

/** Whoever can rename an entry of a directory above the cache can swap the cache: root's or ours, or sticky. */
function trustAncestors(dir: string, uid: number): void {
  for (let up = dirname(dir); ; up = dirname(up)) {
    const st = statSync(up);
    if (st.uid !== 0 && st.uid !== uid) {
      throw new UntrustedCacheError(up, `a directory above the cache owned by uid ${st.uid}, neither root nor ${uid}`);
    }
    if (st.mode & WRITABLE_BY_OTHERS && !(st.mode & STICKY)) {
      throw new UntrustedCacheError(
        up,
        `a directory above the cache writable by group or others without the sticky bit (mode ${mode(st.mode)})`,
      );
    }
    if (dirname(up) === up) return;
  }
}

/** What a directory name inside the cache may be: Debian's package-name and version characters and '_', nothing else. */
const CACHE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+~:-]*$/;

/**
 * A Debian version as `deb-version(7)` spells it ([epoch:]upstream[-revision]);
 * anything else from a suite's index is refused before it names a file.
 */
const DEBIAN_VERSION = /^(\d+:)?[0-9][A-Za-z0-9.+~-]*$/;

/**
 * A directory in the cache (made if missing): under `$UVERBS_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/uverbs`, else `~/.cache/uverbs`. The cache root, every
 * directory from it down to the one returned, and the directories above it
 * are checked first ({@link UntrustedCacheError}).
 */
export function cacheDir(...parts: string[]): string {
  const root = resolve(
    process.env.UVERBS_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'uverbs'),
  );
  const uid = process.getuid?.();
  if (uid !== undefined && !existsSync(root)) {
    // nothing is made under a directory someone else could swap: check what already exists above first
    let existing = dirname(root);
    while (!existsSync(existing)) existing = dirname(existing);
    trustAncestors(join(realpathSync(existing), 'uverbs-cache'), uid);
  }
  mkdirSync(root, { recursive: true, mode: 0o700 });
  let dir = realpathSync(root);
  if (uid !== undefined) {
    trustAncestors(dir, uid);
    trustDirectory(dir, uid);
    // nobody else even looks in: the chroots under it keep debootstrap's world-writable /tmp and its setuid binaries
    if (statSync(dir).mode & 0o077) chmodSync(dir, 0o700);
  }
  const names = parts.flatMap((p) => p.split('/')).filter(Boolean);
  // a name from outside (a package version from a suite's index) never climbs out of the cache
  const bad = names.find((part) => !CACHE_NAME.test(part));
  if (bad !== undefined)
    throw new UntrustedCacheError(join(dir, ...parts), `not a plain file name: ${JSON.stringify(bad)}`);
  for (const part of names) {
    dir = join(dir, part);
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    // below the root every part is a directory of ours: a symlink there would lead the checks elsewhere
    if (lstatSync(dir).isSymbolicLink()) throw new UntrustedCacheError(dir, 'a symbolic link inside the cache');
    if (uid !== undefined) trustDirectory(dir, uid);
  }
  return dir;
}

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** Parses deb822 `.sources` text (stanzas separated by blank lines). */
export function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)}\n${line.trim()}`);
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m?.[1] && m[2] !== undefined) {
        last = m[1].toLowerCase();
        fields.set(last, m[2].trim());
      }
    }
    const types = (fields.get('types') ?? '').split(/\s+/);
    if (!types.includes('deb') || fields.get('enabled') === 'no') continue;
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
      out.push({
        uri,
        suites: (fields.get('suites') ?? '').split(/\s+/).filter(Boolean),
        components: (fields.get('components') ?? '').split(/\s+/).filter(Boolean),
        signedBy: fields.get('signed-by'),
      });
    }
  }
  return out;
}

/** Parses one-line `deb [opts] uri suite comp...` entries. */
export function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m?.[2] || !m[3]) continue;
    const signed = /signed-by=(\S+)/.exec(m[1] ?? '');
    out.push({
      uri: m[2],
      suites: [m[3]],
      components: (m[4] ?? '').split(/\s+/).filter(Boolean),
      signedBy: signed?.[1],
    });
  }
  return out;
}

/** Every enabled `deb` source of the system, from /etc/apt (read only). */
export function systemSources(etc = '/etc/apt'): AptSource[] {
  const sources: AptSource[] = [];
  const main = join(etc, 'sources.list');
  if (existsSync(main)) sources.push(...parseOneLine(readFileSync(main, 'utf8')));
  const dir = join(etc, 'sources.list.d');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const text = readFileSync(join(dir, name), 'utf8');
      if (name.endsWith('.sources')) sources.push(...parseDeb822(text));
      else if (name.endsWith('.list')) sources.push(...parseOneLine(text));
    }
  }
  return sources;
}

/** The system's Debian codename (`bookworm`), from /etc/os-release. */
export function systemCodename(osRelease = '/etc/os-release'): string {
  const text = existsSync(osRelease) ? readFileSync(osRelease, 'utf8') : '';
  const m = /^VERSION_CODENAME=(\S+)/m.exec(text);
  if (!m?.[1]) throw new VmSetupError(`cannot tell the Debian codename from ${osRelease}`);
  return m[1];
}

/**
 * The Debian archive mirror the system uses: the source serving the
 * system's codename itself (not -security / -updates) with `main`.
 */
export function debianMirror(sources = systemSources(), codename = systemCodename()): AptSource {
  const hit = sources.find((s) => s.suites.includes(codename) && s.components.includes('main'));
  if (!hit) {
    throw new VmSetupError(
      `no apt source serves '${codename} main'; uverbs fetches other suites through the mirror the system already uses`,
    );
  }
  return hit;
}

export type Progress = (line: string) => void;

/** One suite of the Debian archive, with its own apt state under the cache. */
export class PrivateApt {
  readonly suite: string;
  readonly root: string;
  readonly #mirror: AptSource;
  readonly #progress: Progress;

  constructor(suite: string, options: { mirror?: AptSource; progress?: Progress } = {}) {
    this.suite = suite;
    this.#mirror = options.mirror ?? debianMirror();
    this.#progress = options.progress ?? (() => {});
    this.root = cacheDir('apt', suite);
    mkdirSync(join(this.root, 'lists', 'partial'), { recursive: true });
    mkdirSync(join(this.root, 'archives', 'partial'), { recursive: true });
    mkdirSync(join(this.root, 'parts'), { recursive: true });
    const signed = this.#mirror.signedBy ? ` signed-by=${this.#mirror.signedBy}` : '';
    writeFileSync(join(this.root, 'sources.list'), `deb [arch=amd64${signed}] ${this.#mirror.uri} ${suite} main\n`);
    // the system's apt.conf.d hooks (PackageKit, appstream, docker-clean) act on the system's state:
    // none of them may run for an update of this private state
    writeFileSync(
      join(this.root, 'no-hooks.conf'),
      ['Pre-Invoke', 'Post-Invoke', 'Post-Invoke-Success'].map((h) => `#clear APT::Update::${h};\n`).join(''),
    );
  }

  /** apt options that confine apt to this suite's private state. */
  get options(): string[] {
    const o = (k: string, v: string) => ['-o', `${k}=${v}`];
    return [
      '-c',
      join(this.root, 'no-hooks.conf'),
      ...o('Dir::Etc::SourceList', join(this.root, 'sources.list')),
      ...o('Dir::Etc::SourceParts', join(this.root, 'parts')),
      ...o('Dir::State::Lists', join(this.root, 'lists')),
      ...o('Dir::Cache', join(this.root, 'cache')),
      ...o('Dir::Cache::Archives', join(this.root, 'archives')),
      ...o('APT::Architectures', 'amd64'),
      ...o('APT::Sandbox::User', 'root'),
      ...o('Debug::NoLocking', '1'),
    ];
  }

  /** Runs `apt-get update` for this suite unless its lists are fresher than `maxAgeHours`. */
  update(maxAgeHours = 24): void {
    const lists = join(this.root, 'lists');
    const fresh = readdirSync(lists).some(
      (f) => f.includes('_Packages') && Date.now() - statSync(join(lists, f)).mtimeMs < maxAgeHours * 3600e3,
    );
    if (fresh) return;
    this.#progress(`apt: updating package lists for ${this.suite}`);
    runTool('apt-get', [...this.options, '-q', 'update'], { timeout: TOOL_TIMEOUT.aptUpdate });
  }

  /** The candidate version of a package in this suite. */
  version(pkg: string): string {
    this.update();
    const out = runTool('apt-cache', [...this.options, 'show', '--no-all-versions', pkg], {
      timeout: TOOL_TIMEOUT.query,
    }).stdout.toString();
    const m = /^Version:\s*(\S+)/m.exec(out);
    if (!m?.[1]) throw new VmSetupError(`package ${pkg} not found in ${this.suite}`);
    if (!DEBIAN_VERSION.test(m[1]))
      throw new VmSetupError(`${pkg} in ${this.suite} has a malformed version ${JSON.stringify(m[1])}`);
    return m[1];
  }

  /** Direct dependencies of a package (alternatives included), as apt-cache lists them. */
  depends(pkg: string): string[] {
    this.update();
    const out = runTool('apt-cache', [...this.options, 'depends', '--no-recommends', '--no-suggests', pkg], {
      timeout: TOOL_TIMEOUT.query,
    }).stdout.toString();
    return [...out.matchAll(/^\s*\|?(?:Pre)?Depends:\s*(\S+)/gm)].map((m) => m[1] as string);
  }

  /**
   * Downloads (once) and extracts (once) a package's files into `root`.
   * Directory symlinks already there are kept: a chroot's merged /usr
   * (`/lib -> usr/lib`) survives a package that ships files under /lib,
   * which `dpkg-deb -x` would break.
   */
  unpack(pkg: string, version: string, root: string): void {
    const stamp = join(root, `.uverbs-unpacked-${pkg}_${version}`);
    if (existsSync(stamp)) return;
    const deb = this.download(pkg, version);
    this.#progress(`apt: unpacking ${pkg} ${version}`);
    mkdirSync(root, { recursive: true });
    runTool('sh', ['-c', 'dpkg-deb --fsys-tarfile "$0" | tar -x --keep-directory-symlink -C "$1"', deb, root], {
      timeout: TOOL_TIMEOUT.local,
    });
    writeFileSync(stamp, '');
  }

  /**
   * Downloads `pkg` (candidate version unless given) into the cache, once;
   * returns the .deb path. A second call for the same version downloads nothing.
   */
  download(pkg: string, version = this.version(pkg)): string {
    const dir = cacheDir('debs');
    const want = `${pkg}_${version.replace(/^\d+:/, '')}_`;
    const cached = readdirSync(dir).find((f) => f.startsWith(want) && f.endsWith('.deb'));
    if (cached) return join(dir, cached);
    this.#progress(`apt: downloading ${pkg} ${version} (${this.suite})`);
    const tmp = join(this.root, 'download');
    mkdirSync(tmp, { recursive: true });
    runTool('apt-get', [...this.options, '-q', 'download', `${pkg}=${version}`], {
      cwd: tmp,
      timeout: TOOL_TIMEOUT.aptDownload,
    });
    const got = readdirSync(tmp).find((f) => f.startsWith(want) && f.endsWith('.deb'));
    if (!got) throw new VmSetupError(`apt-get download ${pkg}=${version} left no .deb`);
    renameSync(join(tmp, got), join(dir, got));
    return join(dir, got);
  }
}

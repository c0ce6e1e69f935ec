/**
 * QEMU option strings: every value the harness puts into one of QEMU's
 * option lists is escaped the way QEMU parses it (`,,` is a literal comma),
 * so a path cannot end its own option and add another.
 */

import { describe, expect, it } from 'vitest';
import { qemuArgs, qemuOptions } from '../src/vm/qemu.js';

/** QEMU's own option-list parsing (util/qemu-option.c): `,` separates, `,,` is a literal comma. */
function parseQemuOptions(text: string): [string, string][] {
  const out: [string, string][] = [];
  let part = '';
  const parts: string[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',') {
      if (text[i + 1] === ',') {
        part += ',';
        i++;
      } else {
        parts.push(part);
        part = '';
      }
    } else part += text[i];
  }
  parts.push(part);
  for (const [i, p] of parts.entries()) {
    const at = p.indexOf('=');
    // the first element without '=' is the option's implied key (driver, backend, size)
    out.push(at < 0 ? [i === 0 ? '' : p, i === 0 ? p : 'on'] : [p.slice(0, at), p.slice(at + 1)]);
  }
  return out;
}

describe('QEMU option strings', () => {
  it.each([
    '/plain/dir',
    '/tmp/x,path=/etc',
    '/tmp/x,,path=/etc',
    '/tmp/trailing,',
    ',leading',
    '/tmp/a,readonly=off,security_model=passthrough',
  ])('%j comes back as exactly one path= value, itself', (path) => {
    const parsed = parseQemuOptions(qemuOptions('local', { id: 'share0', path, security_model: 'none' }));
    expect(parsed).toEqual([
      ['', 'local'],
      ['id', 'share0'],
      ['path', path],
      ['security_model', 'none'],
    ]);
  });

  it('every option value of a whole command line is escaped: run directory, shares', () => {
    const run = '/tmp/run,path=/etc';
    const shareDir = '/tmp/share,readonly=off';
    const args = qemuArgs({
      kernel: '/cache/vmlinux',
      initrd: '/cache/initrd.cpio',
      run,
      shares: [{ tag: 'uverbs.share0', dir: shareDir, readonly: true }],
      memory: '2G',
      smp: 2,
    });
    const values = (flag: string) => args.flatMap((a, i) => (args[i - 1] === flag ? [parseQemuOptions(a)] : []));
    const paths = [...values('-fsdev'), ...values('-chardev')].map((o) => o.filter(([k]) => k === 'path'));
    for (const p of paths) expect(p).toHaveLength(1);
    expect(paths.map((p) => p[0]?.[1])).toEqual([
      '/',
      run,
      shareDir,
      `${run}/console.log`,
      `${run}/stdout.sock`,
      `${run}/stderr.sock`,
    ]);
    const share = values('-fsdev')[2] as [string, string][];
    expect(share.filter(([k]) => k === 'readonly')).toEqual([['readonly', 'on']]);
  });
});

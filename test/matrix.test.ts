/**
 * `uverbs matrix` and the probe files it reads: rendering (text, Markdown,
 * a standalone HTML page with every string escaped), probes of the wrong
 * schema or without features refused with a clear error, `uverbs diff`
 * reading schema 1 and 2 alike (and diffing features), and the CLI's exit
 * statuses (the built CLI, as `npm test` builds it first).
 */

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diffProbes, readProbe } from '../src/probe/diff.js';
import { FEATURE_NAMES, type FeatureAnswer } from '../src/probe/features.js';
import { buildMatrix, escapeHtml, renderHtml, renderMarkdown, renderText } from '../src/probe/matrix.js';
import { PROBE_SCHEMA } from '../src/probe/probe.js';
import { uverbs } from './vm-cli.js';

/** A probe as `uverbs probe --json` writes it, with just what the matrix and diff read. */
function probeJson(kernel: string, device: string, features?: FeatureAnswer[], schema: number = PROBE_SCHEMA) {
  return {
    schema,
    kernel,
    device: { name: device, node: 'uverbs0', driver: device.replace(/\d+$/, ''), driverId: 14, driverAbiVersion: 2 },
    objects: [
      { object: 'UVERBS_OBJECT_COMP_CHANNEL', supported: schema !== 1, ...(schema === 1 ? {} : { via: ['write'] }) },
    ],
    methods: [],
    writeCommands: [
      { command: 'IB_USER_VERBS_CMD_CREATE_COMP_CHANNEL', extended: false, supported: true, errno: 'ENOSPC' },
    ],
    capabilities: { deviceCapFlags: [], raw: '0x0', path: 'write-ex' },
    ...(features ? { features } : {}),
  };
}

const answer = (name: string, supported: FeatureAnswer['supported'], how = 'made it', errno?: string) =>
  ({ name, supported, how, ...(errno ? { errno } : {}) }) as FeatureAnswer;

const A = probeJson('6.1.0-41-amd64', 'rxe0', [answer('QP_UD', true), answer('ODP', false, 'no caps')]);
const B = probeJson('7.2.13-amd64', 'siw0', [
  answer('QP_UD', false, 'QP_CREATE answered <EOPNOTSUPP> & "more"', 'EOPNOTSUPP'),
  answer('ODP', 'unknown', "it's <b>unclear</b>"),
  answer('NEW_<FEATURE>', true),
]);

describe('the matrix', () => {
  const m = buildMatrix([A, B], ['a.json', 'b.json']);

  it('one column per probe, one row per feature (known names first, then new ones), yes / no / ? / -', () => {
    expect(m.rows).toEqual([...FEATURE_NAMES, 'NEW_<FEATURE>']);
    const text = renderText(m);
    expect(text).toMatch(/^feature\s+6\.1\.0-41-amd64 rxe0\s+7\.2\.13-amd64 siw0$/m);
    expect(text).toMatch(/^QP_UD\s+yes\s+no$/m);
    expect(text).toMatch(/^ODP\s+no\s+\?$/m);
    expect(text).toMatch(/^QP_RC\s+-\s+-$/m);
    expect(text).toMatch(/^NEW_<FEATURE>\s+-\s+yes$/m);
  });

  it('Markdown: a table with a header separator, | escaped', () => {
    const md = renderMarkdown(buildMatrix([probeJson('6.1|x', 'rxe0', [answer('QP_UD', true)])]));
    const lines = md.split('\n');
    expect(lines[0]).toBe('| feature | 6.1\\|x rxe0 |');
    expect(lines[1]).toBe('| --- | --- |');
    expect(lines).toContain('| QP_UD | yes |');
  });

  it('HTML: one standalone page, inline CSS, no script, every string escaped, the how and errno in the title', () => {
    const html = renderHtml(m);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    expect(html).not.toContain('<EOPNOTSUPP>');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('NEW_<FEATURE>');
    expect(html).toContain('NEW_&#60;FEATURE&#62;');
    expect(html).toContain('title="QP_CREATE answered &#60;EOPNOTSUPP&#62; &#38; &#34;more&#34; [EOPNOTSUPP]">no</td>');
    expect(html).toContain('title="it&#39;s &#60;b&#62;unclear&#60;/b&#62;">?</td>');
    expect(escapeHtml(`<>&"'`)).toBe('&#60;&#62;&#38;&#34;&#39;');
    const loop = { ...answer('REG_MR_IOCTL', false, 'an RDMA WRITE failed'), completion: 'IB_WC_REM_ACCESS_ERR' };
    expect(renderHtml(buildMatrix([probeJson('7.2', 'rxe0', [loop])]))).toContain(
      'title="an RDMA WRITE failed [IB_WC_REM_ACCESS_ERR]">no</td>',
    );
  });

  it('text and Markdown: control characters in a probe are escaped, never sent to the terminal', () => {
    const evil = probeJson('6.1\u001b[2J', 'rxe0\u0007', [answer('QP_UD', true), answer('NEW\u001b]0;x\u0007', true)]);
    for (const out of [renderText(buildMatrix([evil])), renderMarkdown(buildMatrix([evil]))]) {
      // no control character but the line breaks
      expect([...out].filter((ch) => ch !== '\n' && (ch < ' ' || (ch >= '\u007f' && ch <= '\u009f')))).toEqual([]);
      expect(out).toContain('6.1\\x1b[2J rxe0\\x07');
      expect(out).toContain('NEW\\x1b]0;x\\x07');
    }
  });

  it('the legend says what yes means for every kind of answer (not only "made and destroyed")', () => {
    for (const out of [renderText(m), renderMarkdown(m)]) {
      expect(out).toMatch(/yes: .*work request completed.*device's own report.*how/);
    }
  });

  it('a feature entry that is not { name, supported, how }, or a device without its driver, is refused naming what', () => {
    const entry = (f: unknown) => buildMatrix([{ ...A, features: [f] }], ['f.json']);
    expect(() => entry({ name: 7, supported: true, how: 'x' })).toThrow(/f\.json: .*feature/);
    expect(() => entry({ name: 'QP_UD', supported: 'yes', how: 'x' })).toThrow(/f\.json: .*feature/);
    expect(() => entry({ name: 'QP_UD', supported: true })).toThrow(/f\.json: .*feature/);
    expect(() => entry({ name: 'QP_UD', supported: true, how: 'x', errno: 5 })).toThrow(/f\.json: .*feature/);
    expect(() => entry({ name: 'QP_UD', supported: true, how: 'x', detail: [1] })).toThrow(/f\.json: .*feature/);
    expect(() => entry(null)).toThrow(/f\.json: .*feature/);
    expect(() => readProbe({ ...A, device: { ...A.device, driver: 3 } })).toThrow(/driver/);
  });

  it('a probe of another schema, or one made without --deep, is refused with a clear error', () => {
    expect(() => buildMatrix([{ ...A, schema: 3 }], ['new.json'])).toThrow(
      'new.json: not a uverbs probe (schema 1 or 2): schema 3',
    );
    expect(() => buildMatrix([{ hello: 1 }], ['x.json'])).toThrow(/x\.json: not a uverbs probe/);
    expect(() => buildMatrix([probeJson('6.1', 'rxe0')], ['plain.json'])).toThrow(
      /plain\.json: a probe without features .*--deep/,
    );
    expect(() => buildMatrix([probeJson('6.1', 'rxe0', undefined, 1)], ['old.json'])).toThrow(/without features/);
  });
});

describe('uverbs diff reads schema 1 and 2', () => {
  it('a schema 1 probe is read as schema 2 judges objects: no difference from the schemas alone', () => {
    const old = probeJson('6.1', 'rxe0', undefined, 1);
    expect(readProbe(old).objects).toEqual([{ object: 'UVERBS_OBJECT_COMP_CHANNEL', supported: true, via: ['write'] }]);
    const d = diffProbes(old, probeJson('6.1', 'rxe0', [answer('QP_UD', true)]));
    expect([d.onlyA, d.onlyB]).toEqual([[], []]);
  });

  it('features are diffed where both probes were deep', () => {
    const d = diffProbes(A, B);
    expect(d.onlyA).toContainEqual({ kind: 'feature', name: 'QP_UD' });
    expect(d.onlyB).toContainEqual({ kind: 'feature', name: 'NEW_<FEATURE>' });
    expect(() => diffProbes(A, { ...B, schema: 7 })).toThrow(/schema 1 or 2/);
    // the 'feature' kind is new in diff schema 2
    expect(d.schema).toBe(2);
  });
});

describe('uverbs matrix (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uverbs-matrix-'));
  const a = join(dir, 'a.json');
  const b = join(dir, 'b.json');
  writeFileSync(a, JSON.stringify(A));
  writeFileSync(b, JSON.stringify(B));

  it('prints the matrix; --format markdown|html; -o FILE; --json', async () => {
    const text = await uverbs('matrix', a, b);
    expect([text.status, text.stderr]).toEqual([0, '']);
    expect(text.stdout).toMatch(/^QP_UD\s+yes\s+no$/m);
    const md = await uverbs('matrix', '--format', 'markdown', a, b);
    expect(md.stdout).toBe(renderMarkdown(buildMatrix([A, B])));
    const out = join(dir, 'm.html');
    const html = await uverbs('matrix', '-f', 'html', '-o', out, a, b);
    expect([html.status, html.stdout]).toEqual([0, '']);
    expect(readFileSync(out, 'utf8')).toBe(renderHtml(buildMatrix([A, B])));
    const json = JSON.parse((await uverbs('matrix', '--json', a, b)).stdout);
    expect(json.schema).toBe(1);
    expect(json.rows.find((r: { feature: string }) => r.feature === 'QP_UD').cells[1]).toEqual({
      supported: false,
      how: 'QP_CREATE answered <EOPNOTSUPP> & "more"',
      errno: 'EOPNOTSUPP',
    });
    // completion, object and detail are kept
    const full = join(dir, 'full.json');
    const rich = {
      ...answer('REG_MR_IOCTL', false, 'an RDMA WRITE failed'),
      completion: 'IB_WC_REM_ACCESS_ERR',
      object: 'UVERBS_METHOD_REG_MR',
      detail: ['QUERY_MR reports iova 0x0'],
    };
    writeFileSync(full, JSON.stringify(probeJson('7.2', 'rxe0', [rich])));
    const j2 = JSON.parse((await uverbs('matrix', '--json', full)).stdout);
    expect(j2.rows.find((r: { feature: string }) => r.feature === 'REG_MR_IOCTL').cells[0]).toEqual({
      supported: false,
      how: 'an RDMA WRITE failed',
      completion: 'IB_WC_REM_ACCESS_ERR',
      object: 'UVERBS_METHOD_REG_MR',
      detail: ['QUERY_MR reports iova 0x0'],
    });
    const help = await uverbs('matrix', '--help');
    expect([help.status, help.stdout]).toEqual([0, expect.stringContaining('Usage: uverbs matrix')]);
    expect((await uverbs('--help')).stdout).toMatch(/^ {2}matrix /m);
  });

  it('usage mistakes: exit 2, the reason on stderr, nothing on stdout', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...A, schema: 9 }));
    writeFileSync(join(dir, 'badfeature.json'), JSON.stringify({ ...A, features: [{ name: 'QP_UD', supported: 1 }] }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    for (const [args, reason] of [
      [[], /no probe files/],
      [[join(dir, 'missing.json')], /cannot read .*missing\.json/],
      [[broken], /cannot read .*broken\.json/],
      [[bad], /bad\.json: not a uverbs probe \(schema 1 or 2\): schema 9/],
      [['--format', 'pdf', a], /--format must be text, markdown or html/],
      [['--json', '--format', 'html', a], /--json and --format/],
      [['--json', '-fhtml', a], /--json and --format/],
      [['--json', '--format=markdown', a], /--json and --format/],
      [[join(dir, 'badfeature.json')], /badfeature\.json: .*feature/],
      [['--bogus', a], /bogus/],
    ] as [string[], RegExp][]) {
      const r = await uverbs('matrix', ...args);
      expect([args.join(' '), r.status, r.stdout]).toEqual([args.join(' '), 2, '']);
      expect(r.stderr).toMatch(reason);
    }
  });
});

describe('columns', () => {
  it('are sorted by kernel release (numbers as numbers), then device, whatever order the files come in', () => {
    const p = (k: string, d: string) => probeJson(k, d, [answer('QP_RC', true)]);
    const m = buildMatrix([
      p('7.2.13-amd64', 'rxe0'),
      p('6.12.117+deb13-amd64', 'siw0'),
      p('6.1.0-41-amd64', 'siw0'),
      p('6.12.117+deb13-amd64', 'rxe0'),
      p('6.1.0-41-amd64', 'rxe0'),
    ]);
    expect(m.columns.map((c) => `${c.kernel} ${c.device}`)).toEqual([
      '6.1.0-41-amd64 rxe0',
      '6.1.0-41-amd64 siw0',
      '6.12.117+deb13-amd64 rxe0',
      '6.12.117+deb13-amd64 siw0',
      '7.2.13-amd64 rxe0',
    ]);
  });
});

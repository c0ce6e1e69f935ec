/**
 * A kernel × feature table across saved deep probes (`uverbs probe --deep
 * --json`): one column per probe (kernel release and device, sorted by
 * release, numbers as numbers, then device; so a shell glob's order does
 * not matter), one row per feature (FEATURE_NAMES order, then any name a newer
 * probe has that this library does not know), cells yes / no / ? (could
 * not tell) and - (the probe did not ask). As text, Markdown, or one
 * standalone HTML page (inline CSS, no scripts, every string escaped; each
 * cell's title says how it was known and the errno or work completion
 * status that decided it).
 */

import { table } from '../cli/output.js';
import { readProbe } from './diff.js';
import { FEATURE_NAMES, type FeatureAnswer } from './features.js';
import type { ProbeResult } from './probe.js';

export type MatrixFormat = 'text' | 'markdown' | 'html';
export const MATRIX_FORMATS: readonly MatrixFormat[] = ['text', 'markdown', 'html'];

export interface MatrixColumn {
  kernel: string;
  device: string;
  driver: string;
  /** Answers by feature name. */
  answers: Map<string, FeatureAnswer>;
}

export interface Matrix {
  columns: MatrixColumn[];
  /** Feature names, one per row. */
  rows: string[];
}

/**
 * The matrix of `probes` (parsed JSON, each named by `names[i]` in errors):
 * TypeError for one that is not a probe, or was not deep (no `features`).
 */
export function buildMatrix(probes: readonly unknown[], names: readonly string[] = []): Matrix {
  const columns = probes.map((value, i): MatrixColumn => {
    const label = names[i] ?? `probe ${i + 1}`;
    let p: ProbeResult;
    try {
      p = readProbe(value);
    } catch (error) {
      throw new TypeError(`${label}: ${(error as Error).message}`);
    }
    if (p.features === undefined) {
      throw new TypeError(`${label}: a probe without features (made without --deep: run 'uverbs probe --deep --json')`);
    }
    return {
      kernel: p.kernel,
      device: p.device.name,
      driver: p.device.driver,
      answers: new Map(p.features.map((f) => [f.name, f])),
    };
  });
  columns.sort(
    (a, b) =>
      a.kernel.localeCompare(b.kernel, 'en', { numeric: true }) ||
      a.device.localeCompare(b.device, 'en', { numeric: true }),
  );
  const known: string[] = [...FEATURE_NAMES];
  const extra = [...new Set(columns.flatMap((c) => [...c.answers.keys()]))].filter((n) => !known.includes(n));
  return { columns, rows: [...known, ...extra] };
}

/** A cell: yes, no, ? (unknown), - (not asked). */
export function cell(answer: FeatureAnswer | undefined): string {
  if (answer === undefined) return '-';
  return answer.supported === true ? 'yes' : answer.supported === false ? 'no' : '?';
}

const LEGEND =
  "yes: shown to work (an object made and destroyed, a work request completed, an rdma_cm_id made, or the device's own report, as each answer's how says); no: the kernel or device said no; ?: could not tell; -: not asked";

/** A probe's string for a terminal or Markdown: control characters (C0, DEL, C1) as `\xHH`. */
export function escapeControl(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it escapes
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function heading(c: MatrixColumn): string {
  return `${c.kernel} ${c.device}`;
}

export function renderText(m: Matrix): string {
  const rows = [['feature', ...m.columns.map(heading)].map(escapeControl)];
  for (const name of m.rows) rows.push([escapeControl(name), ...m.columns.map((c) => cell(c.answers.get(name)))]);
  return `${table(rows)}\n\n${LEGEND}\n`;
}

/** Markdown: `|` and backslashes escaped in every cell, control characters as `\xHH`. */
export function renderMarkdown(m: Matrix): string {
  const esc = (s: string) => escapeControl(s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' '));
  const line = (cells: string[]) => `| ${cells.map(esc).join(' | ')} |`;
  const out = [line(['feature', ...m.columns.map(heading)]), `|${' --- |'.repeat(m.columns.length + 1)}`];
  for (const name of m.rows) out.push(line([name, ...m.columns.map((c) => cell(c.answers.get(name)))]));
  return `${out.join('\n')}\n\n${LEGEND}\n`;
}

/** Text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const CSS = `body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:center}
th{background:#f3f3f3}
td.name{text-align:left;font-family:monospace}
td.yes{background:#d9f2d9}
td.no{background:#f7d7d7}
td.unknown{background:#f7f0c8}
td.absent{color:#999}
p.legend{color:#555}`;

export function renderHtml(m: Matrix): string {
  const e = escapeHtml;
  const head = m.columns.map((c) => `<th>${e(c.kernel)}<br>${e(c.device)} (${e(c.driver)})</th>`).join('');
  const body = m.rows
    .map((name) => {
      const cells = m.columns
        .map((c) => {
          const a = c.answers.get(name);
          const text = cell(a);
          const cls =
            a === undefined ? 'absent' : a.supported === true ? 'yes' : a.supported === false ? 'no' : 'unknown';
          const decided = a?.errno ?? a?.completion;
          const title = a === undefined ? 'not asked' : `${a.how}${decided ? ` [${decided}]` : ''}`;
          return `<td class="${cls}" title="${e(title)}">${e(text)}</td>`;
        })
        .join('');
      return `<tr><td class="name">${e(name)}</td>${cells}</tr>`;
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>uverbs feature matrix</title>
<style>
${CSS}
</style>
</head>
<body>
<h1>uverbs feature matrix</h1>
<table>
<thead><tr><th>feature</th>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table>
<p class="legend">${e(LEGEND)}. Hover a cell for how it was known.</p>
</body>
</html>
`;
}

export function renderMatrix(m: Matrix, format: MatrixFormat): string {
  return format === 'markdown' ? renderMarkdown(m) : format === 'html' ? renderHtml(m) : renderText(m);
}

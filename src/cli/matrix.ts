/**
 * `uverbs matrix A.json B.json ... [--format text|markdown|html] [-o FILE] [--json]`.
 */

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildMatrix, MATRIX_FORMATS, type Matrix, type MatrixFormat, renderMatrix } from '../probe/matrix.js';
import { json } from './output.js';
import { loadJson } from './probe.js';
import { UsageError } from './usage.js';

export const MATRIX_HELP = `Usage: uverbs matrix PROBE.json... [--format text|markdown|html] [-o FILE] [--json]

A kernel x feature table across saved 'uverbs probe --deep --json'
results: one column per file (kernel release and device, sorted by
release, then device), one row per feature; cells yes, no, ? (could not tell) and -
(not asked). The HTML is one standalone page (inline CSS, no scripts);
hovering a cell shows how it was known and the errno.

Options:
  -f, --format FMT   text (default), markdown or html
  -o, --output FILE  write there instead of stdout
      --json         the matrix as JSON ({"schema": 1, ...}; each cell the
                     probe's answer: supported, how, errno, object,
                     completion, detail)
  -h, --help         this help`;

function asJson(m: Matrix): string {
  return json({
    schema: 1,
    columns: m.columns.map((c) => ({ kernel: c.kernel, device: c.device, driver: c.driver })),
    rows: m.rows.map((name) => ({
      feature: name,
      cells: m.columns.map((c) => {
        const a = c.answers.get(name);
        if (a === undefined) return null;
        const { supported, how, errno, object, completion, detail } = a;
        return { supported, how, errno, object, completion, detail };
      }),
    })),
  });
}

export function matrixCommand(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      format: { type: 'string', short: 'f', default: 'text' },
      output: { type: 'string', short: 'o' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${MATRIX_HELP}\n`);
    return 0;
  }
  const format = values.format as MatrixFormat;
  if (!MATRIX_FORMATS.includes(format)) {
    throw new UsageError(`uverbs matrix: --format must be text, markdown or html, not '${values.format}'`);
  }
  // -f, -fhtml, --format, --format=html (any spelling parseArgs takes)
  if (values.json && argv.some((a) => a.startsWith('-f') || a.startsWith('--format'))) {
    throw new UsageError('uverbs matrix: --json and --format are two outputs: give one');
  }
  if (positionals.length === 0) throw new UsageError(`uverbs matrix: no probe files\n\n${MATRIX_HELP}`);
  const probes = positionals.map((p) => loadJson('matrix', p));
  let m: Matrix;
  try {
    m = buildMatrix(probes, positionals);
  } catch (error) {
    throw new UsageError(`uverbs matrix: ${(error as Error).message}`);
  }
  const text = values.json ? asJson(m) : renderMatrix(m, format);
  if (values.output === undefined) process.stdout.write(text);
  else writeFileSync(values.output, text);
  return 0;
}

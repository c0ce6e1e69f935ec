/** Output for the inspection commands: aligned tables for people, versioned JSON for programs. */

/** Rows as aligned columns; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] as number))).join('  '))
    .join('\n');
}

/** JSON with bigints as decimal strings and byte arrays as hex; two-space indent, trailing newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v),
    2,
  )}\n`;
}

/** A value as a human reads it: hex for big numbers and flags, `-` for what the kernel did not return. */
export function show(value: unknown): string {
  if (value === undefined) return '-';
  if (typeof value === 'bigint') return value > 0xffffn ? `0x${value.toString(16)}` : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(show).join(',');
  return String(value);
}

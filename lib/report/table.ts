/** A plain text table: columns padded to their widest cell, two spaces apart; the last one (a message) as it is. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const last = header.length - 1;
  const widths = header.slice(0, last).map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < last ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

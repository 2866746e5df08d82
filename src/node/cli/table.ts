/**
 * Docker's table layout (text/tabwriter with padding 3): each column as wide as its widest cell plus
 * three spaces (at least 10), the last column unpadded.
 */
export function formatTable (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(Math.max(widths[i]! + 3, 10))).join('').trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

export function capitalize (s: string): string {
  return s === '' ? s : s[0]!.toUpperCase() + s.slice(1)
}

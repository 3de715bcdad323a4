import { createRequire } from 'node:module';

// cli-table3 loads on the first table drawn: a `--json` run never needs it.
const require = createRequire(import.meta.url);

/** A plain terminal table (no colours, so it reads the same in logs and CI). */
export function renderTable(head: string[], rows: (string | number)[][], alignRight = true): string {
  const cells = rows.map((row) => row.map(String));
  const aligns = head.map((_, i): 'left' | 'right' => (alignRight && i > 0 ? 'right' : 'left'));
  return renderPlainTable(head, cells, aligns) ?? renderWithCliTable(head, cells, aligns);
}

/** The table as cli-table3 draws it (any text: its width rules, wrapping and missing cells). */
export function renderWithCliTable(head: string[], rows: string[][], aligns: ('left' | 'right')[]): string {
  const Table = require('cli-table3') as typeof import('cli-table3');
  const table = new Table({ head, style: { head: [], border: [], compact: true }, colAligns: aligns });
  for (const row of rows) table.push(row);
  return table.toString();
}

/** Printable ASCII: one column per character, nothing cli-table3 would wrap or measure otherwise. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

/**
 * The usual table (a heading, at least one row, every row as long as the heading, printable ASCII only)
 * drawn here, byte for byte what cli-table3 draws (test/report/table.test.ts); `undefined` for anything
 * else. Loading cli-table3 and its width tables cost a table-drawing command ~30 ms of CPU under load.
 */
export function renderPlainTable(head: string[], rows: string[][], aligns: ('left' | 'right')[]): string | undefined {
  if (head.length === 0 || rows.length === 0) return undefined;
  const widths: number[] = [];
  for (const cell of head) {
    if (!PLAIN_TEXT.test(cell)) return undefined;
    widths.push(cell.length);
  }
  for (const row of rows) {
    if (row.length !== head.length) return undefined;
    for (let i = 0; i < row.length; i++) {
      const cell = row[i]!;
      if (!PLAIN_TEXT.test(cell)) return undefined;
      if (cell.length > widths[i]!) widths[i] = cell.length;
    }
  }
  const rule = (left: string, middle: string, right: string) => left + widths.map((width) => '─'.repeat(width + 2)).join(middle) + right;
  const line = (row: string[]) => `│${row.map((cell, i) => ` ${aligns[i] === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)} `).join('│')}│`;
  return [rule('┌', '┬', '┐'), line(head), rule('├', '┼', '┤'), ...rows.map(line), rule('└', '┴', '┘')].join('\n');
}

/** `0.4567` -> `45.67%`. */
export function percent(ratio: number, digits = 2): string {
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** Integers with thousands separators, stable across locales. */
export function count(value: number): string {
  return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Formats a token count the way the flags accept it: 1048576 -> "1M", null -> "inf". */
export function formatTokenCount(tokens: number | null): string {
  if (tokens === null) return 'inf';
  for (const [suffix, size] of [['G', 2 ** 30], ['M', 2 ** 20], ['k', 2 ** 10]] as const) {
    if (tokens >= size && tokens % size === 0) return `${tokens / size}${suffix}`;
  }
  return String(tokens);
}

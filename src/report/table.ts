import { createRequire } from 'node:module';

// cli-table3 loads on the first table drawn: a `--json` run never needs it.
const require = createRequire(import.meta.url);

/** A plain terminal table (no colours, so it reads the same in logs and CI). */
export function renderTable(head: string[], rows: (string | number)[][], alignRight = true): string {
  const Table = require('cli-table3') as typeof import('cli-table3');
  const table = new Table({
    head,
    style: { head: [], border: [], compact: true },
    colAligns: head.map((_, i) => (alignRight && i > 0 ? 'right' : 'left')),
  });
  for (const row of rows) table.push(row.map(String));
  return table.toString();
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

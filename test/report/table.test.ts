import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderPlainTable, renderTable, renderWithCliTable } from '../../src/report/table.js';
import { runs } from '../helpers/runs.js';

/** Cells of the shapes tables hold (numbers, percentages, names, blanks), with odd spacing and some non-ASCII. */
const cell = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', '.', '%', ',', '-', ' ', ':', '(', ')', '~', '|') , maxLength: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', '  x  ', 'lru', '1M', '5.60%', '1,234,567') },
  { weight: 1, arbitrary: fc.constantFrom('é', '─', '→', '\t', 'a\nb', '✓', '\u001b[1m') },
);

describe('renderTable', () => {
  it('draws its plain tables byte for byte as cli-table3 does', () => {
    let drawn = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 }), fc.array(fc.array(cell, { maxLength: 6 }), { maxLength: 6 }), fc.boolean(), (columns, rowCount, grid, alignRight) => {
        const head = (grid[0] ?? []).slice(0, columns);
        const rows = grid.slice(1, rowCount + 1).map((row) => (row.length >= head.length || rowCount % 2 ? row.slice(0, Math.max(head.length, 1)) : row));
        const aligns = head.map((_, i): 'left' | 'right' => (alignRight && i > 0 ? 'right' : 'left'));
        const plain = renderPlainTable(head, rows, aligns);
        if (plain !== undefined) drawn++;
        expect(renderTable(head, rows, alignRight)).toBe(renderWithCliTable(head, rows, aligns));
        if (plain !== undefined) expect(plain).toBe(renderWithCliTable(head, rows, aligns));
      }),
      { numRuns: runs(3000) },
    );
    expect(drawn).toBeGreaterThan(100);
  });

  it('draws a replay table as before', () => {
    const head = ['policy', 'capacity', 'hit rate'];
    const rows = [['lru', '1M', '5.60%'], ['belady-long-name', '16M', '']];
    expect(renderTable(head, rows)).toBe(
      ['┌──────────────────┬──────────┬──────────┐', '│ policy           │ capacity │ hit rate │', '├──────────────────┼──────────┼──────────┤', '│ lru              │       1M │    5.60% │', '│ belady-long-name │      16M │          │', '└──────────────────┴──────────┴──────────┘'].join('\n'),
    );
  });
});

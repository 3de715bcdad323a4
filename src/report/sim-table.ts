import type { SimReport } from '../types.js';
import { count, percent, renderTable } from './table.js';

/** The terminal view of `kvflow simulate`: one row per setup, speedups against the first setup. */
export function renderSimTable(report: SimReport): string {
  const reference = report.results[0]?.setup;
  const rows = report.results.map((r) => [
    r.setup,
    seconds(r.workflowLatency.mean),
    seconds(r.e2e.p50),
    seconds(r.e2e.p99),
    seconds(r.ttft.p50),
    seconds(r.tpot.p50),
    seconds(r.makespan),
    percent(r.gpuHitRate, 1),
    percent(r.cpuHitRate, 1),
    count(r.recomputedTokens),
    count(r.prefetchedTokens),
    seconds(r.stallSeconds),
    reference === undefined ? '' : `${(r.speedup[reference] ?? 1).toFixed(2)}x`,
  ]);
  const head = [
    'setup', 'workflow mean', 'e2e p50', 'e2e p99', 'ttft p50', 'tpot p50', 'makespan', 'gpu hit', 'cpu hit',
    'recomputed', 'prefetched', 'stall', `vs ${reference ?? '-'}`,
  ];
  return renderTable(head, rows);
}

/** Seconds for people: `0.042` -> `42.0 ms`, `12.3456` -> `12.35 s`. */
export function seconds(value: number): string {
  if (value === 0) return '0';
  return value < 1 ? `${(value * 1000).toFixed(1)} ms` : `${value.toFixed(2)} s`;
}

import type { SimReport } from '../types.js';
import { count, percent, renderTable } from './table.js';

/**
 * The terminal view of `kvflow simulate`: a line saying what ran (workload, GPU, model, engine profile),
 * then one row per setup with speedups against the first setup. Every time column has one unit, in its
 * heading.
 */
export function renderSimTable(report: SimReport): string {
  const reference = report.results[0]?.setup;
  const results = report.results;
  const times = [
    durationColumn('workflow mean', results.map((r) => (r.workflows > 0 ? r.workflowLatency.mean : null))),
    durationColumn('e2e p50', results.map((r) => r.e2e.p50)),
    durationColumn('e2e p99', results.map((r) => r.e2e.p99)),
    durationColumn('ttft p50', results.map((r) => r.ttft.p50)),
    durationColumn('tpot p50', results.map((r) => r.tpot.p50)),
    durationColumn('makespan', results.map((r) => r.makespan)),
  ];
  const stall = durationColumn('stall', results.map((r) => r.stallSeconds));
  const rows = results.map((r, i) => [
    r.setup,
    ...times.map((column) => column.cells[i]!),
    percent(r.gpuHitRate, 1),
    percent(r.cpuHitRate, 1),
    count(r.recomputedTokens),
    count(r.prefetchedTokens),
    stall.cells[i]!,
    reference === undefined ? '' : `${(r.speedup[reference] ?? 1).toFixed(2)}x`,
  ]);
  const head = [
    'setup', ...times.map((column) => column.head), 'gpu hit', 'cpu hit', 'recomputed (tokens)', 'prefetched (tokens)', stall.head,
    `vs ${reference ?? '-'}`,
  ];
  return `${simHeading(report.config)}\n${renderTable(head, rows)}`;
}

/** `simulate: trace FILE (azure, 300 requests) on 1 x H100-SXM, Llama-3.1-8B, engine sglang-0.4, 1 replica`. */
export function simHeading(config: Record<string, unknown>): string {
  const workload = (config.workload ?? {}) as Record<string, unknown>;
  const hardware = (config.hardware ?? {}) as Record<string, unknown>;
  const serving = (config.serving ?? {}) as Record<string, unknown>;
  const requests = typeof workload.requests === 'number' ? `${count(workload.requests)} requests` : undefined;
  const skipped = typeof workload.skippedLines === 'number' && workload.skippedLines > 0 ? `${count(workload.skippedLines)} invalid line${workload.skippedLines === 1 ? '' : 's'} skipped` : undefined;
  const what =
    workload.trace !== undefined
      ? `trace ${String(workload.trace)} (${[workload.format, requests, skipped].filter(Boolean).join(', ')})`
      : `workload ${String(workload.name ?? workload.spec)} (${[workload.spec, workload.seed !== undefined ? `seed ${String(workload.seed)}` : undefined, requests].filter(Boolean).join(', ')})`;
  const replicas = typeof serving.replicas === 'number' ? `, ${serving.replicas} replica${serving.replicas === 1 ? '' : 's'}` : '';
  return `simulate: ${what} on ${String(hardware.gpuCount ?? 1)} x ${String(hardware.gpu)}, ${String(hardware.model)}, engine ${String(hardware.engine)}${replicas}`;
}

/**
 * Durations in one unit per column: ms when every value is below a second, else s. The unit goes in the
 * heading, so a column never mixes `0` with `26.84 s`. `null` (nothing to measure) prints `-`.
 */
export function durationColumn(name: string, values: readonly (number | null)[]): { head: string; cells: string[] } {
  const ms = values.every((value) => value === null || value < 1);
  const cell = (value: number | null) => (value === null ? '-' : ms ? (value * 1000).toFixed(1) : value.toFixed(2));
  return { head: `${name} (${ms ? 'ms' : 's'})`, cells: values.map(cell) };
}

/**
 * `kvflow sweep --report`: one page per grid. Simulate grids: each metric against the first swept value,
 * small multiples by setup, a line per combination of the other swept values. Replay grids: hit rate and
 * evictions against capacity per policy, a panel per run. Both: a table of every run, scrolling inside its
 * box with the label column fixed.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ReplayReport } from '../replay/replay-suite.js';
import type { SimReport, SimResult } from '../types.js';
import { evictionsSpec, hitRateCapacitySpec, identicalPolicies, type CapacityRow } from './chart-capacity.js';
import { renderSvg } from './chart-render.js';
import { CHART_CONFIG, CHART_WIDTH, legendColumns, NUMBER_FORMAT, placeholderSpec, setupColor, setupDashes } from './chart-theme.js';
import { formatSeconds, renderPage, section, simpleTableHtml, type RenderedChart } from './page.js';
import { identicalNoteHtml } from './replay-html.js';
import { runFacts } from './html.js';
import { shortLabel, shortValue, varyingKeys } from './sweep-labels.js';
import { count, formatTokenCount, percent } from './table.js';

/** What the report needs of a sweep: the grid's identity and every run's parameters and report. */
export interface SweepReportInput {
  grid: { name: string; kind: 'simulate' | 'replay'; file: string; description?: string };
  runs: { index: number; params: Record<string, unknown>; report: SimReport | ReplayReport }[];
}

export async function renderSweepReport(input: SweepReportInput): Promise<string> {
  return input.grid.kind === 'simulate' ? simulateSweepHtml(input) : replaySweepHtml(input);
}

// ---------------------------------------------------------------------------------------------------
// Simulate grids

/** A metric of the small multiples: how to read it from a result and how to show it. */
interface Metric {
  id: string;
  title: string;
  axis: string;
  format: string;
  value: (result: SimResult, first: SimResult | undefined) => number;
}

const latencyOf = (r: SimResult) => (r.workflows > 0 ? r.workflowLatency.mean : r.e2e.mean);

const METRICS: Metric[] = [
  { id: 'latency', title: 'Mean workflow latency', axis: 'Mean latency (s)', format: NUMBER_FORMAT, value: latencyOf },
  { id: 'ttft', title: 'Time to first token (p50)', axis: 'TTFT p50 (s)', format: NUMBER_FORMAT, value: (r) => r.ttft.p50 },
  { id: 'gpu-hit', title: 'GPU hit rate', axis: 'GPU hit rate', format: '.0%', value: (r) => r.gpuHitRate },
  {
    id: 'speedup',
    title: 'Speedup over the first setup',
    axis: 'Speedup (×)',
    format: '.2f',
    value: (r, first) => (first ? (r.speedup[first.setup] ?? 1) : 1),
  },
];

interface SimPoint {
  setup: string;
  x: string;
  series: string;
  value: number;
  run: string;
}

async function simulateSweepHtml(input: SweepReportInput): Promise<string> {
  const keys = varyingKeys(input.runs);
  const [xKey, ...seriesKeys] = keys;
  const setups = [...new Set(input.runs.flatMap((run) => (run.report as SimReport).results.map((r) => r.setup)))];
  const xValues = [...new Set(input.runs.map((run) => (xKey ? shortValue(xKey, run.params[xKey]) : 'all runs')))];
  const series = [...new Set(input.runs.map((run) => shortLabel(run.params, seriesKeys, run.index)))].map((label) =>
    seriesKeys.length === 0 ? 'all' : label,
  );
  const charts: RenderedChart[] = [];
  for (const metric of METRICS) {
    const points: SimPoint[] = input.runs.flatMap((run) => {
      const results = (run.report as SimReport).results;
      return results.map((result) => ({
        setup: result.setup,
        x: xKey ? shortValue(xKey, run.params[xKey]) : 'all runs',
        series: seriesKeys.length === 0 ? 'all' : shortLabel(run.params, seriesKeys, run.index),
        value: metric.value(result, results[0]),
        run: shortLabel(run.params, keys, run.index),
      }));
    });
    const sameAs = identicalSeries(points);
    const same = [...sameAs].map(([later, first]) => `${later} equals ${first} (dashed)`);
    charts.push({
      id: `sweep-${metric.id}`,
      title: `${metric.title} against ${xKey ?? 'run'}`,
      caption:
        `One panel per setup; x: ${xKey ?? 'the run'}` +
        (seriesKeys.length > 0 ? `; one line per ${seriesKeys.join(' and ')}.` : '.') +
        (same.length > 0 ? ` Identical lines: ${same.join('; ')}.` : '') +
        ' Hover a point for its run.',
      svg: await renderSvg(
        smallMultiplesSpec(points, setups, xValues, xKey ?? 'run', [...new Set(series)], metric, sameAs),
        `chart-sweep-${metric.id}`,
      ),
    });
  }
  const first = input.runs[0]?.report as SimReport | undefined;
  const facts = runFacts(first?.config ?? {});
  return renderPage({
    title: `kvflow sweep: ${input.grid.name}`,
    facts: [
      ['Grid', `${input.grid.file} (${input.runs.length} simulate runs)`],
      ['Swept', keys.join(', ') || 'nothing (one run)'],
      ['Workload', keys.includes('workload') || keys.includes('trace') ? 'swept' : facts.workload],
      ['GPU', keys.includes('gpu') ? 'swept' : facts.gpu],
      ['Model', keys.includes('model') ? 'swept' : facts.model],
      ['Engine profile', facts.engineProfile],
      ['Setups', setups.join(', ')],
    ],
    summary: [
      section(
        'Summary',
        (input.grid.description ? `<p class="finding">${escapeText(input.grid.description)}</p>` : '') +
          simulateTableHtml(input, keys) +
          '<p class="note">Latency: mean workflow latency (mean request latency for traces without workflows). ' +
          'Speedup: the first setup’s latency over this one’s, in the same run. The table scrolls sideways inside its box.</p>',
        'summary',
      ),
    ],
    charts,
    config: { grid: input.grid.name, file: input.grid.file, runs: input.runs.map((run) => shortLabel(run.params, keys, run.index)) },
  });
}

/** Series whose every point equals an earlier series' point for point, mapped to that series. */
function identicalSeries(points: readonly SimPoint[]): Map<string, string> {
  const bySeries = new Map<string, string[]>();
  for (const p of points) bySeries.set(p.series, [...(bySeries.get(p.series) ?? []), `${p.setup}\u0000${p.x}\u0000${p.value}`]);
  const firstBy = new Map<string, string>();
  const sameAs = new Map<string, string>();
  for (const [series, values] of bySeries) {
    const key = JSON.stringify(values);
    const first = firstBy.get(key);
    if (first === undefined) firstBy.set(key, series);
    else sameAs.set(series, first);
  }
  return sameAs;
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Panels by setup (up to three a row), x the swept value, a line per series, sharing the page width. */
function smallMultiplesSpec(
  points: SimPoint[],
  setups: string[],
  xValues: string[],
  xTitle: string,
  series: string[],
  metric: Metric,
  sameAs: ReadonlyMap<string, string>,
): TopLevelSpec {
  if (points.length === 0) return placeholderSpec('No results.');
  const columns = Math.max(1, Math.min(3, setups.length));
  const width = Math.floor((CHART_WIDTH - (columns - 1) * 30) / columns);
  return {
    config: CHART_CONFIG,
    data: { values: points },
    facet: { field: 'setup', type: 'nominal', sort: setups, title: null, header: { labelLimit: width } },
    columns,
    spec: {
      width,
      height: 170,
      mark: { type: 'line', point: { filled: true, size: 55 } },
      encoding: {
        x: { field: 'x', type: 'ordinal', sort: xValues, title: xTitle, axis: { labelAngle: 0, labelLimit: Math.max(60, width / Math.max(1, xValues.length)) } },
        y: { field: 'value', type: 'quantitative', title: metric.axis, axis: { format: metric.format } },
        color: {
          field: 'series',
          type: 'nominal',
          title: null,
          sort: series,
          scale: { domain: series, range: series.map((_, i) => setupColor(i)) },
          legend: series.length > 1 ? { columns: legendColumns(series) } : null,
        },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          title: null,
          sort: series,
          scale: { domain: series, range: setupDashes(series, sameAs) },
          legend: series.length > 1 ? { columns: legendColumns(series) } : null,
        },
        tooltip: [
          { field: 'setup', type: 'nominal', title: 'Setup' },
          { field: 'run', type: 'nominal', title: 'Run' },
          { field: 'value', type: 'quantitative', title: metric.axis, format: metric.format === NUMBER_FORMAT ? '.4~r' : metric.format },
        ],
      },
    },
    resolve: { scale: { y: 'shared' } },
  } as TopLevelSpec;
}

function simulateTableHtml(input: SweepReportInput, keys: string[]): string {
  const head = ['Run · setup', ...keys, 'Latency', 'TTFT p50', 'TPOT p50', 'Makespan', 'GPU hit', 'CPU hit', 'Stall', 'Speedup'];
  const rows = input.runs.flatMap((run) => {
    const results = (run.report as SimReport).results;
    return results.map((r) => ({
      cells: [
        `${shortLabel(run.params, keys, run.index)} · ${r.setup}`,
        ...keys.map((key) => shortValue(key, run.params[key])),
        formatSeconds(latencyOf(r)),
        formatSeconds(r.ttft.p50),
        formatSeconds(r.tpot.p50),
        formatSeconds(r.makespan),
        percent(r.gpuHitRate, 1),
        percent(r.cpuHitRate, 1),
        formatSeconds(r.stallSeconds),
        `${(results[0] ? (r.speedup[results[0].setup] ?? 1) : 1).toFixed(2)}×`,
      ],
    }));
  });
  return simpleTableHtml('Every run and setup', head, rows);
}

// ---------------------------------------------------------------------------------------------------
// Replay grids

async function replaySweepHtml(input: SweepReportInput): Promise<string> {
  const keys = varyingKeys(input.runs);
  const groupKeys = keys.filter((key) => key !== 'capacity');
  const rows: CapacityRow[] = input.runs.flatMap((run) =>
    (run.report as ReplayReport).results.map((r) => ({
      group: groupKeys.length > 0 ? shortLabel(run.params, groupKeys, run.index) : '',
      capacityTokens: r.capacityTokens,
      policy: r.policy,
      hitRate: r.hitRate,
      evictions: r.evictions,
    })),
  );
  const sameAs = identicalPolicies(rows);
  const charts: RenderedChart[] = [
    {
      id: 'sweep-hit-rate-capacity',
      title: 'Hit rate against cache capacity',
      caption:
        'Share of prompt tokens found in the GPU cache per policy' +
        (groupKeys.length > 0 ? `, one panel per ${groupKeys.join(' and ')}` : '') +
        '. Shaded: the gap between LRU and Belady (the offline optimum).',
      svg: await renderSvg(hitRateCapacitySpec(rows), 'chart-sweep-hit-rate-capacity'),
    },
    {
      id: 'sweep-evictions',
      title: 'Evictions against cache capacity',
      caption: 'Pages evicted from the GPU cache per policy and capacity.',
      svg: await renderSvg(evictionsSpec(rows), 'chart-sweep-evictions'),
    },
  ];
  const traces = [...new Set(input.runs.map((run) => (run.report as ReplayReport).trace.path))];
  const head = ['Run · capacity', ...groupKeys, 'Policy', 'Hit rate', 'Hit tokens', 'Evictions'];
  const tableRows = input.runs.flatMap((run) =>
    (run.report as ReplayReport).results.map((r) => ({
      cells: [
        `${shortLabel(run.params, groupKeys, run.index)} · ${formatTokenCount(r.capacityTokens)}`,
        ...groupKeys.map((key) => shortValue(key, run.params[key])),
        r.policy,
        percent(r.hitRate),
        count(r.hitTokens),
        count(r.evictions),
      ],
    })),
  );
  return renderPage({
    title: `kvflow sweep: ${input.grid.name}`,
    facts: [
      ['Grid', `${input.grid.file} (${input.runs.length} replay runs)`],
      ['Swept', keys.join(', ') || 'nothing (one run)'],
      ['Trace', traces.length === 1 ? traces[0] : `${traces.length} traces`],
      ['Policies', [...new Set(rows.map((r) => r.policy))].join(', ')],
    ],
    summary: [
      section(
        'Summary',
        (input.grid.description ? `<p class="finding">${escapeText(input.grid.description)}</p>` : '') +
          identicalNoteHtml(sameAs) +
          simpleTableHtml('Every run, capacity and policy', head, tableRows),
        'summary',
      ),
    ],
    charts,
    config: { grid: input.grid.name, file: input.grid.file, runs: input.runs.map((run) => shortLabel(run.params, keys, run.index)) },
  });
}

import type { SimReport, SimResult, SimTimeline } from '../types.js';
import { setupColor, setupDashes } from './chart-theme.js';
import { identicalSetups, renderCharts, setupOrder } from './charts.js';
import { escapeHtml, formatSeconds, renderPage, section } from './page.js';
import { count, percent } from './table.js';

export { escapeHtml, flattenConfig, formatSeconds } from './page.js';

/** Options for {@link renderHtmlReport}. */
export interface HtmlReportOptions {
  /** Page title and heading; defaults to "kvflow simulate: WORKLOAD". */
  title?: string;
}

/**
 * Renders a simulation report as one self-contained HTML page: a header naming the workload, GPU, model
 * and engine profile, the summary, the charts, and the configuration folded at the end. Inline CSS and
 * SVG, no scripts or external resources. Deterministic: the same input gives byte-identical output.
 */
export async function renderHtmlReport(
  report: SimReport,
  timelines: SimTimeline[],
  options: HtmlReportOptions = {},
): Promise<string> {
  const setups = setupOrder(report, timelines);
  const sameAs = identicalSetups(report.results, timelines);
  const facts = runFacts(report.config);
  const title = options.title ?? `kvflow simulate: ${facts.workload ?? 'simulation report'}`;
  const charts = await renderCharts(report, timelines, sameAs);
  return renderPage({
    title,
    facts: [
      ['Workload', facts.workload],
      ['GPU', facts.gpu],
      ['Model', facts.model],
      ['Engine profile', facts.engineProfile],
      ['Setups', setups.join(', ')],
    ],
    summary: [section('Summary', summaryHtml(report.results, setups, sameAs), 'summary')],
    charts,
    config: report.config,
  });
}

/** What ran, read from a simulate report's config (every field optional: sweeps and tests pass less). */
export function runFacts(config: Record<string, unknown>): {
  workload?: string;
  gpu?: string;
  model?: string;
  engineProfile?: string;
} {
  const workload = asRecord(config.workload);
  const hardware = asRecord(config.hardware);
  const engine = asRecord(config.engine);
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined;
  const workloadName = text(workload?.name) ?? text(workload?.trace) ?? text(workload?.spec) ?? text(config.workload);
  const requests = typeof workload?.requests === 'number' ? `${count(workload.requests)} requests` : undefined;
  const gpuCount = typeof hardware?.gpuCount === 'number' && hardware.gpuCount > 1 ? `${hardware.gpuCount}× ` : '';
  const gpu = text(hardware?.gpu) ?? text(asRecord(config.gpu)?.name) ?? text(config.gpu);
  const result: ReturnType<typeof runFacts> = {};
  const named = [workloadName, requests].filter((part) => part !== undefined).join(', ');
  if (named) result.workload = named;
  if (gpu) result.gpu = `${gpuCount}${gpu}`;
  const model = text(hardware?.model) ?? text(config.model);
  if (model) result.model = model;
  const profile =
    text(hardware?.engineProfile) ?? text(config.engineProfile) ?? text(engine?.profile) ?? text(engine?.name);
  if (profile) result.engineProfile = profile;
  return result;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

const formatPercent = (ratio: number): string => (Number.isFinite(ratio) ? percent(ratio, 1) : '—');
const formatCount = (value: number): string => (Number.isFinite(value) ? count(value) : '—');
const formatSpeedup = (ratio: number): string => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—');

// ---------------------------------------------------------------------------------------------------
// Summary tables

/** Which way a column improves; neutral columns are not highlighted. */
type Better = 'lower' | 'higher' | 'neutral';

/** One numeric column of a summary table, under a group heading ('' for a column that stands alone). */
interface Column {
  group: string;
  label: string;
  value: (result: SimResult) => number | undefined;
  format: (value: number) => string;
  better: Better;
}

function column(
  group: string,
  label: string,
  better: Better,
  format: (value: number) => string,
  value: (result: SimResult) => number | undefined,
): Column {
  return { group, label, better, format, value };
}

/** Columns of the latency table; one speedup column per setup that results compare against. */
function latencyColumns(speedupBases: readonly string[]): Column[] {
  return [
    column('', 'Requests', 'neutral', formatCount, (r) => r.requests),
    column('', 'Workflows', 'neutral', formatCount, (r) => r.workflows),
    column('', 'Makespan', 'lower', formatSeconds, (r) => r.makespan),
    ...(['mean', 'p50', 'p90', 'p99'] as const).map((stat) =>
      column('Workflow latency', stat, 'lower', formatSeconds, (r) => r.workflowLatency[stat]),
    ),
    column('TTFT', 'p50', 'lower', formatSeconds, (r) => r.ttft.p50),
    column('TTFT', 'p99', 'lower', formatSeconds, (r) => r.ttft.p99),
    column('TPOT', 'p50', 'lower', formatSeconds, (r) => r.tpot.p50),
    ...speedupBases.map((base) => column('Speedup', `vs ${base}`, 'higher', formatSpeedup, (r) => r.speedup[base])),
  ];
}

/** Columns of the cache and transfer table. */
const CACHE_COLUMNS: Column[] = [
  column('Hit rate', 'GPU', 'higher', formatPercent, (r) => r.gpuHitRate),
  column('Hit rate', 'CPU', 'higher', formatPercent, (r) => r.cpuHitRate),
  column('Tokens', 'recomputed', 'lower', formatCount, (r) => r.recomputedTokens),
  column('Tokens', 'loaded', 'neutral', formatCount, (r) => r.loadedTokens),
  column('Tokens', 'prefetched', 'neutral', formatCount, (r) => r.prefetchedTokens),
  column('Tokens', 'wasted', 'lower', formatCount, (r) => r.wastedPrefetchTokens),
  column('', 'Stall', 'lower', formatSeconds, (r) => r.stallSeconds),
  column('Link utilisation', 'h2d', 'neutral', formatPercent, (r) => r.linkUtilization.h2d),
  column('Link utilisation', 'd2h', 'neutral', formatPercent, (r) => r.linkUtilization.d2h),
];

/** Setups that any result reports a speedup against, in report order (unknown setups last, by first use). */
function speedupBases(results: readonly SimResult[], setups: readonly string[]): string[] {
  const bases = new Set(results.flatMap((r) => Object.keys(r.speedup)));
  const rank = (setup: string) => {
    const i = setups.indexOf(setup);
    return i < 0 ? setups.length : i;
  };
  return [...bases].sort((a, b) => rank(a) - rank(b));
}

/**
 * Indexes of the rows holding a column's best value (ties all win). Empty for neutral columns, fewer
 * than two known values, or when every value is the same.
 */
export function bestRows(values: readonly (number | undefined)[], better: Better): Set<number> {
  if (better === 'neutral') return new Set();
  const known = values.flatMap((v, i) => (v !== undefined && Number.isFinite(v) ? [{ row: i, value: v }] : []));
  if (known.length < 2) return new Set();
  const sign = better === 'lower' ? 1 : -1;
  const ranked = [...known].sort((a, b) => sign * (a.value - b.value));
  const best = ranked[0]?.value;
  if (best === ranked[ranked.length - 1]?.value) return new Set();
  return new Set(known.filter((k) => k.value === best).map((k) => k.row));
}

/** Two header rows: group headings spanning their columns, then the column labels. */
function tableHeadHtml(columns: readonly Column[]): string {
  const groupRow = ['<th rowspan="2" scope="col">Setup</th>'];
  const labelRow: string[] = [];
  for (let i = 0; i < columns.length; ) {
    const column = columns[i] as Column;
    if (column.group === '') {
      groupRow.push(`<th rowspan="2" scope="col">${escapeHtml(column.label)}</th>`);
      i += 1;
      continue;
    }
    let span = 0;
    while (columns[i + span]?.group === column.group) {
      labelRow.push(`<th scope="col">${escapeHtml(columns[i + span]?.label ?? '')}</th>`);
      span += 1;
    }
    groupRow.push(`<th colspan="${span}" scope="colgroup" class="group">${escapeHtml(column.group)}</th>`);
    i += span;
  }
  return `<thead><tr>${groupRow.join('')}</tr><tr>${labelRow.join('')}</tr></thead>`;
}

/** One summary table: a row per setup, best value per column highlighted. */
function summaryTableHtml(
  caption: string,
  results: readonly SimResult[],
  columns: readonly Column[],
  setups: readonly string[],
  sameAs?: ReadonlyMap<string, string>,
): string {
  const values = columns.map((column) => results.map((r) => column.value(r)));
  const best = columns.map((column, c) => bestRows(values[c] ?? [], column.better));
  const body = results
    .map((result, row) => {
      const cells = columns.map((column, c) => {
        const value = values[c]?.[row];
        const text = value === undefined ? '—' : column.format(value);
        return best[c]?.has(row) ? `<td class="best">${escapeHtml(text)}</td>` : `<td>${escapeHtml(text)}</td>`;
      });
      return `<tr><th scope="row">${setupLabelHtml(result.setup, setups, sameAs)}</th>${cells.join('')}</tr>`;
    })
    .join('\n');
  return (
    `<div class="table-wrap"><table class="summary"><caption>${escapeHtml(caption)}</caption>` +
    `${tableHeadHtml(columns)}<tbody>\n${body}\n</tbody></table></div>`
  );
}

// ---------------------------------------------------------------------------------------------------
// Summary

/** A setup's name behind its chart colour and dash, as in the charts' legends. */
function setupLabelHtml(setup: string, setups: readonly string[], sameAs?: ReadonlyMap<string, string>): string {
  const index = Math.max(0, setups.indexOf(setup));
  const dash = setupDashes(setups, sameAs)[index] ?? [1, 0];
  const style = dash[1] === 0 ? 'solid' : dash[0]! <= 2 ? 'dotted' : 'dashed';
  const swatch = `<span class="dash" style="border-top-color:${setupColor(index)};border-top-style:${style}"></span>`;
  return `${swatch}${escapeHtml(setup)}`;
}

/** One sentence with the headline: the fastest setup and how it compares with the first one. */
function findingHtml(results: readonly SimResult[]): string {
  const latency = (r: SimResult) => (r.workflows > 0 ? r.workflowLatency.mean : r.e2e.mean);
  const what = results.some((r) => r.workflows > 0) ? 'mean workflow latency' : 'mean request latency';
  const first = results[0];
  if (!first) return '';
  const best = results.reduce((a, b) => (latency(b) < latency(a) ? b : a));
  const ratio = best.speedup[first.setup];
  const versus =
    best.setup === first.setup || ratio === undefined
      ? ''
      : `, ${ratio.toFixed(2)}× faster than ${first.setup} (${formatSeconds(latency(first))})`;
  return (
    `<p class="finding"><strong>${escapeHtml(best.setup)}</strong> has the lowest ${what}: ` +
    `${escapeHtml(formatSeconds(latency(best)))}${escapeHtml(versus)}.</p>`
  );
}

/** Says which setups produced identical results, and how the charts tell them apart. */
function identicalHtml(sameAs: ReadonlyMap<string, string>): string {
  if (sameAs.size === 0) return '';
  const groups = new Map<string, string[]>();
  for (const [setup, first] of sameAs) groups.set(first, [...(groups.get(first) ?? [first]), setup]);
  const sentences = [...groups.values()].map(
    (members) => `${members.join(' and ')} produced identical results on this workload`,
  );
  return (
    `<p class="identical">${escapeHtml(sentences.join('; '))}: their lines coincide, so the later ones are drawn ` +
    'dashed or dotted over the first.</p>'
  );
}

function summaryHtml(
  results: readonly SimResult[],
  setups: readonly string[],
  sameAs: ReadonlyMap<string, string>,
): string {
  if (results.length === 0) return '<p class="empty">No results.</p>';
  return [
    findingHtml(results),
    identicalHtml(sameAs),
    summaryTableHtml('Latency and speedup', results, latencyColumns(speedupBases(results, setups)), setups, sameAs),
    summaryTableHtml('Cache and transfers', results, CACHE_COLUMNS, setups, sameAs),
    '<p class="note">Highlighted: the best value in its column. ' +
      'Speedup vs X is X’s mean workflow latency divided by this setup’s (above 1: this setup is faster).</p>',
  ].join('\n');
}

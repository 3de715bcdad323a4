import type { SimReport, SimResult, SimTimeline } from '../types.js';
import { setupColor } from './chart-theme.js';
import { renderCharts, setupOrder, type RenderedChart } from './charts.js';
import { count, percent } from './table.js';

/** Options for {@link renderHtmlReport}. */
export interface HtmlReportOptions {
  /** Page title and heading; defaults to "kvflow simulation report". */
  title?: string;
}

const DEFAULT_TITLE = 'kvflow simulation report';

/**
 * Renders a simulation report as one self-contained HTML page: config, summary tables and five inline
 * SVG charts, with inline CSS and no scripts or external resources. Deterministic: the same input gives
 * byte-identical output.
 */
export async function renderHtmlReport(
  report: SimReport,
  timelines: SimTimeline[],
  options: HtmlReportOptions = {},
): Promise<string> {
  const title = options.title ?? DEFAULT_TITLE;
  const setups = setupOrder(report, timelines);
  const charts = await renderCharts(report, timelines);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    '<header>',
    `<h1>${escapeHtml(title)}</h1>`,
    setupLegendHtml(setups),
    '</header>',
    section('Configuration', configHtml(report.config)),
    section('Summary', summaryHtml(report.results, setups)),
    ...charts.map(chartHtml),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Text and number formatting

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Up to three significant digits without trailing zeros: 123, 45.6, 1.23. */
function threeDigits(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** A duration for people: `850 µs`, `12.3 ms`, `4.56 s`, `1,234 s`; `—` when unknown. */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  const abs = Math.abs(seconds);
  if (abs === 0) return '0 s';
  if (abs < 1e-3) return `${threeDigits(seconds * 1e6)} µs`;
  if (abs < 1) return `${threeDigits(seconds * 1e3)} ms`;
  if (abs < 100) return `${threeDigits(seconds)} s`;
  return `${count(seconds)} s`;
}

const formatPercent = (ratio: number): string => (Number.isFinite(ratio) ? percent(ratio, 1) : '—');
const formatCount = (value: number): string => (Number.isFinite(value) ? count(value) : '—');
const formatSpeedup = (ratio: number): string => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—');

// ---------------------------------------------------------------------------------------------------
// Configuration

/**
 * Flattens a config object to `[key, value]` rows in insertion order: nested objects (and arrays of
 * objects) become dotted keys, arrays of plain values are listed inline.
 */
export function flattenConfig(config: Record<string, unknown>, prefix = ''): [string, string][] {
  const rows: [string, string][] = [];
  for (const [key, value] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value === undefined) continue;
    if (Array.isArray(value) && value.some(isObject)) {
      rows.push(...flattenConfig(Object.fromEntries(value.entries()), path));
    } else if (isObject(value) && Object.keys(value).length > 0) {
      rows.push(...flattenConfig(value, path));
    } else {
      rows.push([path, configValue(value)]);
    }
  }
  return rows;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A leaf config value as text; big integers get thousands separators. */
function configValue(value: unknown): string {
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) >= 10_000 ? count(value) : String(value);
  }
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(configValue).join(', ')}]`;
  if (isObject(value)) return '{}';
  return String(value);
}

/** The config as key/value tables, split into up to three side-by-side columns. */
function configHtml(config: Record<string, unknown>): string {
  const rows = flattenConfig(config);
  if (rows.length === 0) return '<p class="empty">No configuration recorded.</p>';
  const columns = Math.min(3, Math.ceil(rows.length / 6));
  const perColumn = Math.ceil(rows.length / columns);
  const tables: string[] = [];
  for (let start = 0; start < rows.length; start += perColumn) {
    const body = rows
      .slice(start, start + perColumn)
      .map(([key, value]) => `<tr><th scope="row">${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`)
      .join('');
    tables.push(`<table class="config"><tbody>${body}</tbody></table>`);
  }
  return `<div class="config-grid">${tables.join('')}</div>`;
}

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

/** A setup's name behind a swatch of its chart colour. */
function setupLabelHtml(setup: string, setups: readonly string[]): string {
  const swatch = `<span class="swatch" style="background:${setupColor(Math.max(0, setups.indexOf(setup)))}"></span>`;
  return `${swatch}${escapeHtml(setup)}`;
}

/** One summary table: a row per setup, best value per column highlighted. */
function summaryTableHtml(
  caption: string,
  results: readonly SimResult[],
  columns: readonly Column[],
  setups: readonly string[],
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
      return `<tr><th scope="row">${setupLabelHtml(result.setup, setups)}</th>${cells.join('')}</tr>`;
    })
    .join('\n');
  return (
    `<div class="table-wrap"><table class="summary"><caption>${escapeHtml(caption)}</caption>` +
    `${tableHeadHtml(columns)}<tbody>\n${body}\n</tbody></table></div>`
  );
}

function summaryHtml(results: readonly SimResult[], setups: readonly string[]): string {
  if (results.length === 0) return '<p class="empty">No results.</p>';
  return [
    summaryTableHtml('Latency and speedup', results, latencyColumns(speedupBases(results, setups)), setups),
    summaryTableHtml('Cache and transfers', results, CACHE_COLUMNS, setups),
    '<p class="note">Highlighted: the best value in its column. ' +
      'Speedup vs X is X’s mean workflow latency divided by this setup’s.</p>',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Page structure

function section(title: string, body: string): string {
  return `<section>\n<h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

/** The setups in report order with their chart colours. */
function setupLegendHtml(setups: readonly string[]): string {
  if (setups.length === 0) return '';
  const items = setups.map((setup) => `<li>${setupLabelHtml(setup, setups)}</li>`).join('');
  return `<ul class="setups" aria-label="Setups">${items}</ul>`;
}

/** A chart as a figure; the SVG comes from vega, which escapes its own text. */
function chartHtml(chart: RenderedChart): string {
  return (
    `<section id="${escapeHtml(chart.id)}">\n<h2>${escapeHtml(chart.title)}</h2>\n` +
    `<figure>\n${chart.svg}\n<figcaption>${escapeHtml(chart.caption)}</figcaption>\n</figure>\n</section>`
  );
}

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2937; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 0 0 12px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 16px 0; }
.setups { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; margin: 0; color: #374151; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; }
.config-grid { display: flex; flex-wrap: wrap; gap: 0 32px; align-items: flex-start; }
.config th { text-align: left; font-weight: normal; color: #6b7280; white-space: nowrap; }
.config td { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
.config tr + tr > * { border-top: 1px solid #f1f2f4; }
.table-wrap { overflow-x: auto; margin-bottom: 12px; }
.summary { width: 100%; font-size: 13px; }
.summary caption { text-align: left; font-weight: 600; padding: 4px 0 6px; }
.summary thead th { font-weight: 600; color: #4b5563; text-align: right; white-space: normal; border-bottom: 1px solid #d1d5db; }
.summary thead th.group { text-align: center; border-bottom: 1px solid #e5e7eb; }
.summary thead th:first-child, .summary tbody th { text-align: left; }
.summary tbody th { font-weight: 600; white-space: nowrap; }
.summary td { text-align: right; white-space: nowrap; }
.summary tbody tr + tr > * { border-top: 1px solid #f1f2f4; }
.summary td.best { background: #e7f5ec; color: #14532d; font-weight: 600; }
.note, .empty, figcaption { color: #6b7280; font-size: 13px; margin: 4px 0 0; }
figure { margin: 0; }
figure svg { display: block; max-width: 100%; height: auto; }
`.trim();

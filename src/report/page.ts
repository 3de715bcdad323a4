/**
 * The page every kvflow HTML report shares (simulate, replay, sweep): a header naming what ran, the
 * summary first, full-width charts, the configuration folded at the end. Self-contained: inline CSS and
 * SVG, no script and nothing fetched, so it opens offline and in any mail or CI artefact viewer.
 */
import { count } from './table.js';

/** A chart ready for the page: inline SVG with its heading and caption (plain text, not yet escaped). */
export interface RenderedChart {
  /** Stable slug, used for anchors and to scope the SVG's ids. */
  id: string;
  title: string;
  caption: string;
  svg: string;
}

export interface PageInput {
  title: string;
  /** What ran, shown under the title: workload, GPU, model, engine profile, ... (empty values are left out). */
  facts: [label: string, value: string | undefined][];
  /** Sections before the charts (the summary), as HTML. */
  summary: string[];
  charts: RenderedChart[];
  /** Everything the run was configured with, folded at the end. */
  config: Record<string, unknown>;
}

export function renderPage(page: PageInput): string {
  const facts = page.facts.filter((fact): fact is [string, string] => fact[1] !== undefined && fact[1] !== '');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    '<header>',
    `<h1>${escapeHtml(page.title)}</h1>`,
    facts.length > 0
      ? `<dl class="facts">${facts.map(([label, value]) => `<div><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd></div>`).join('')}</dl>`
      : '',
    page.charts.length > 1 ? chartIndexHtml(page.charts) : '',
    '</header>',
    ...page.summary,
    ...page.charts.map(chartHtml),
    configSectionHtml(page.config),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** A titled card. `body` is HTML. */
export function section(title: string, body: string, id?: string): string {
  const anchor = id === undefined ? '' : ` id="${escapeHtml(id)}"`;
  return `<section${anchor}>\n<h2>${escapeHtml(title)}</h2>\n${body}\n</section>`;
}

/** Links to the charts, so a long report is one click from any of them. */
function chartIndexHtml(charts: readonly RenderedChart[]): string {
  const links = charts.map((chart) => `<li><a href="#${escapeHtml(chart.id)}">${escapeHtml(chart.title)}</a></li>`);
  return `<nav aria-label="Charts"><ul class="chart-index">${links.join('')}</ul></nav>`;
}

/** A chart as a figure; the SVG comes from vega, which escapes its own text. */
function chartHtml(chart: RenderedChart): string {
  return (
    `<section id="${escapeHtml(chart.id)}" class="chart">\n<h2>${escapeHtml(chart.title)}</h2>\n` +
    `<figure>\n${chart.svg}\n<figcaption>${escapeHtml(chart.caption)}</figcaption>\n</figure>\n</section>`
  );
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

/** The configuration, folded: one two-column table of dotted keys, in a grid that reflows to the width. */
function configSectionHtml(config: Record<string, unknown>): string {
  const rows = flattenConfig(config);
  const body =
    rows.length === 0
      ? '<p class="empty">No configuration recorded.</p>'
      : `<table class="config"><tbody>${rows
          .map(([key, value]) => `<tr><th scope="row">${escapeHtml(key)}</th><td>${escapeHtml(value)}</td></tr>`)
          .join('')}</tbody></table>`;
  return (
    `<section id="configuration">\n<details>\n<summary><h2>Configuration</h2> ` +
    `<span class="note">${rows.length} settings (click to show)</span></summary>\n${body}\n</details>\n</section>`
  );
}

// ---------------------------------------------------------------------------------------------------
// Style

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: #1f2937; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 24px; margin: 0 0 10px; overflow-wrap: anywhere; }
h2 { font-size: 17px; margin: 0 0 12px; }
header { margin-bottom: 8px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 0 0 10px; }
.facts div { min-width: 0; }
.facts dt { font-size: 12px; color: #6b7280; text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.chart-index { list-style: none; display: flex; flex-wrap: wrap; gap: 2px 16px; padding: 0; margin: 0; font-size: 13px; }
.chart-index a { color: #2563eb; text-decoration: none; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 14px 0; min-width: 0; }
.setups { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; padding: 0; margin: 0 0 8px; color: #374151; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; vertical-align: baseline; }
.dash { display: inline-block; width: 22px; height: 0; border-top: 2.5px solid; margin-right: 6px; vertical-align: middle; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; }
details > summary { cursor: pointer; list-style-position: outside; }
details > summary h2 { display: inline; margin: 0; }
.config { margin-top: 10px; columns: 2 420px; display: block; }
.config tbody { display: block; }
.config tr { display: flex; break-inside: avoid; border-top: 1px solid #f1f2f4; }
.config th { flex: 0 0 45%; text-align: left; font-weight: normal; color: #6b7280; overflow-wrap: anywhere; }
.config td { flex: 1 1 auto; min-width: 0; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; max-width: 100%; margin-bottom: 12px; border: 1px solid #eef0f3; border-radius: 6px; }
.summary { width: 100%; font-size: 13px; }
.summary caption { text-align: left; font-weight: 600; padding: 6px 8px; }
.summary thead th { font-weight: 600; color: #4b5563; text-align: right; white-space: normal; border-bottom: 1px solid #d1d5db; background: #fff; }
.summary thead th.group { text-align: center; border-bottom: 1px solid #e5e7eb; }
.summary thead th:first-child, .summary tbody th { text-align: left; }
.summary tbody th { font-weight: 600; white-space: nowrap; }
.summary th:first-child { position: sticky; left: 0; background: #fff; z-index: 1; box-shadow: 1px 0 0 #e5e7eb; }
.summary td { text-align: right; white-space: nowrap; }
.summary tbody tr + tr > * { border-top: 1px solid #f1f2f4; }
.summary td.best { background: #e7f5ec; color: #14532d; font-weight: 600; }
.finding { font-size: 15px; margin: 0 0 12px; }
.note, .empty, figcaption { color: #6b7280; font-size: 13px; margin: 4px 0 0; }
.identical { background: #fff7e6; border-left: 3px solid #f59e0b; padding: 6px 10px; margin: 8px 0; color: #78350f; }
figure { margin: 0; }
figure svg { display: block; width: 100%; height: auto; }
`.trim();

/**
 * A plain summary table in a box that scrolls sideways by itself (the page never does), its first
 * column (the row labels) fixed while the rest scrolls. Cells are text; `best` marks highlighted cells.
 */
export function simpleTableHtml(
  caption: string,
  head: readonly string[],
  rows: readonly { cells: readonly string[]; best?: ReadonlySet<number> }[],
): string {
  const headHtml = head.map((label) => `<th scope="col">${escapeHtml(label)}</th>`).join('');
  const body = rows
    .map(({ cells, best }) => {
      const [first = '', ...rest] = cells;
      const tds = rest.map((cell, i) => (best?.has(i + 1) ? `<td class="best">${escapeHtml(cell)}</td>` : `<td>${escapeHtml(cell)}</td>`));
      return `<tr><th scope="row">${escapeHtml(first)}</th>${tds.join('')}</tr>`;
    })
    .join('\n');
  return (
    `<div class="table-wrap"><table class="summary"><caption>${escapeHtml(caption)}</caption>` +
    `<thead><tr>${headHtml}</tr></thead><tbody>\n${body}\n</tbody></table></div>`
  );
}

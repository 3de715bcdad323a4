import type { TopLevelSpec } from 'vega-lite';

/** Plot-area width of every chart, in pixels; the y axis adds about 60 px. */
export const CHART_WIDTH = 720;

/** d3 format for plain-number axes: `0.1`, `20`, `1,200` (no SI prefixes, no exponents). */
export const NUMBER_FORMAT = ',~r';

/** Fixed categorical palette (Tableau 10) for setups; setup `i` in report order gets colour `i`, cycling. */
export const SETUP_COLORS = [
  '#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2',
  '#b279a2', '#eeca3b', '#ff9da6', '#9d755d', '#bab0ac',
] as const;

/** The colour of the setup at `index` in report order. */
export function setupColor(index: number): string {
  return SETUP_COLORS[index % SETUP_COLORS.length] ?? SETUP_COLORS[0];
}

/** Vega-lite config shared by all charts: fonts, sizes and a quiet frame. */
export const CHART_CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  background: 'white',
  padding: 8,
  view: { stroke: '#e5e7eb' },
  axis: {
    labelFontSize: 11,
    labelColor: '#4b5563',
    titleFontSize: 12,
    titleFontWeight: 'normal',
    titleColor: '#374151',
    gridColor: '#eef0f3',
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', orient: 'top', labelLimit: 200 },
  header: { labelFontSize: 12, labelColor: '#374151', labelFontWeight: 'bold' },
  line: { strokeWidth: 1.75 },
} as const;

/** The `color` channel for a `setup` field: same colour per setup in every chart, legend in report order. */
export function setupColorEncoding(setups: readonly string[]) {
  return {
    field: 'setup',
    type: 'nominal',
    title: 'Setup',
    sort: [...setups],
    scale: { domain: [...setups], range: setups.map((_, i) => setupColor(i)) },
  } as const;
}

/** A chart that says there is nothing to plot, so every section still shows a (vega-rendered) figure. */
export function placeholderSpec(message: string, height = 80): TopLevelSpec {
  return {
    config: CHART_CONFIG,
    width: CHART_WIDTH,
    height,
    data: { values: [{ message }] },
    mark: { type: 'text', fontSize: 13, color: '#6b7280' },
    encoding: { text: { field: 'message', type: 'nominal' } },
  };
}

/** Keeps at most `max` items, evenly strided, always including the first and last. */
export function downsample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  const step = (items.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => items[Math.round(i * step)] as T);
}

import type { TopLevelSpec } from 'vega-lite';

/**
 * Plot-area width of every chart, in pixels. With the y axis (about 70 px) and padding the SVG is about
 * as wide as the page's content column at 1280 px, and the page scales it to that column exactly.
 */
export const CHART_WIDTH = 980;

/** Longest legend label, in pixels; longer ones are cut with an ellipsis (the full text is in the tooltip). */
const LEGEND_LABEL_LIMIT = 210;

/**
 * Legend columns that fit in the plot width, so a legend with many series grows down, never sideways.
 * Vega sizes every column to the widest label, estimated here at 6.5 px per character (11 px font).
 */
export function legendColumns(labels: readonly string[], width = CHART_WIDTH): number {
  const widest = Math.min(LEGEND_LABEL_LIMIT, Math.max(24, ...labels.map((label) => label.length * 6.5)));
  return Math.max(1, Math.min(labels.length, Math.floor(width / (widest + 44))));
}

/** d3 format for plain-number axes: `0.1`, `20`, `1,200` (no SI prefixes, no exponents). */
export const NUMBER_FORMAT = ',~r';

/**
 * Categorical palette for setups (Tableau 20's dark and light pairs, dark first): 20 distinct colours
 * before any repeats; past 20 the line dash pattern tells repeated colours apart.
 */
export const SETUP_COLORS = [
  '#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#79706e',
  '#9ecae9', '#ffbf79', '#88d27a', '#ff9d98', '#83bcb6', '#d6a5c9', '#f2cf5b', '#d8b5a5', '#fcbfd2', '#bab0ac',
] as const;

/** The colour of the setup at `index` in report order. */
export function setupColor(index: number): string {
  return SETUP_COLORS[index % SETUP_COLORS.length] ?? SETUP_COLORS[0];
}

/** Dash patterns: solid first; a setup drawn over an identical one, or a repeated colour, gets the next. */
const DASHES: number[][] = [[1, 0], [7, 4], [2, 3], [10, 3, 2, 3]];

/**
 * The dash of every setup: a setup identical to an earlier one (`sameAs`) gets a different dash than that
 * one, so both lines stay visible; otherwise setups past the palette's length dash by palette cycle.
 */
export function setupDashes(setups: readonly string[], sameAs: ReadonlyMap<string, string> = new Map()): number[][] {
  const membersSoFar = new Map<string, number>();
  return setups.map((setup, i) => {
    const first = sameAs.get(setup);
    let rank = Math.floor(i / SETUP_COLORS.length);
    if (first !== undefined) {
      rank = (membersSoFar.get(first) ?? 0) + 1;
      membersSoFar.set(first, rank);
    }
    return DASHES[rank % DASHES.length]!;
  });
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
  legend: {
    labelFontSize: 11,
    titleFontSize: 12,
    titleFontWeight: 'normal',
    orient: 'top',
    direction: 'horizontal',
    labelLimit: LEGEND_LABEL_LIMIT,
    symbolStrokeWidth: 2.5,
    symbolSize: 160,
  },
  aria: true,
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
    legend: { columns: legendColumns(setups) },
  } as const;
}

/** The `strokeDash` channel for a `setup` field, sharing the colour legend (see {@link setupDashes}). */
export function setupDashEncoding(setups: readonly string[], sameAs?: ReadonlyMap<string, string>) {
  return {
    field: 'setup',
    type: 'nominal',
    title: 'Setup',
    sort: [...setups],
    scale: { domain: [...setups], range: setupDashes(setups, sameAs) },
    legend: { columns: legendColumns(setups) },
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

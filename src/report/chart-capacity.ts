import type { TopLevelSpec } from 'vega-lite';
import { CHART_CONFIG, CHART_WIDTH, legendColumns, NUMBER_FORMAT, placeholderSpec, setupColor, setupDashes } from './chart-theme.js';
import { formatTokenCount } from './table.js';

/** One replay result for the capacity charts: `group` is a small-multiple panel ('' when there is one). */
export interface CapacityRow {
  group: string;
  capacityTokens: number | null;
  policy: string;
  hitRate: number;
  evictions: number;
}

/** Capacities in ascending order, unbounded last, as axis labels ("512k", "16M", "inf"). */
export function capacityOrder(rows: readonly CapacityRow[]): string[] {
  const values = [...new Set(rows.map((r) => r.capacityTokens))];
  values.sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
  return values.map(formatTokenCount);
}

/** Policies in first-seen order, each with a fixed colour. */
function policyColor(policies: readonly string[]) {
  return {
    field: 'policy',
    type: 'nominal',
    title: 'Policy',
    sort: [...policies],
    scale: { domain: [...policies], range: policies.map((_, i) => setupColor(i)) },
    legend: { columns: legendColumns(policies) },
  } as const;
}

/** Policies dashed where their results equal an earlier policy's, sharing the colour legend. */
function policyDash(policies: readonly string[], sameAs: ReadonlyMap<string, string>) {
  return {
    field: 'policy',
    type: 'nominal',
    title: 'Policy',
    sort: [...policies],
    scale: { domain: [...policies], range: setupDashes(policies, sameAs) },
    legend: { columns: legendColumns(policies) },
  } as const;
}

/**
 * Policies whose hit rate and evictions equal an earlier policy's at every capacity in every group,
 * mapped to that policy: their lines coincide, so they are dashed and the report says so.
 */
export function identicalPolicies(rows: readonly CapacityRow[]): Map<string, string> {
  const fingerprints = new Map<string, string>();
  for (const policy of new Set(rows.map((r) => r.policy))) {
    const own = rows
      .filter((r) => r.policy === policy)
      .map((r) => [r.group, r.capacityTokens, r.hitRate, r.evictions]);
    fingerprints.set(policy, JSON.stringify(own));
  }
  const firstBy = new Map<string, string>();
  const sameAs = new Map<string, string>();
  for (const [policy, key] of fingerprints) {
    const first = firstBy.get(key);
    if (first === undefined) firstBy.set(key, policy);
    else sameAs.set(policy, first);
  }
  return sameAs;
}

/** Small-multiple layout: one panel per group, up to three per row, sharing the page width. */
function panels(groups: readonly string[]): { columns: number; width: number } {
  const columns = Math.max(1, Math.min(3, groups.length));
  return { columns, width: Math.floor((CHART_WIDTH - (columns - 1) * 40) / columns) };
}

/**
 * Hit rate against cache capacity, a line per policy, the band between LRU and Belady shaded: how much of
 * the gap between the usual policy and the offline optimum a policy closes. One panel per group.
 */
export function hitRateCapacitySpec(rows: readonly CapacityRow[]): TopLevelSpec {
  if (rows.length === 0) return placeholderSpec('No replay results.');
  const capacities = capacityOrder(rows);
  const policies = [...new Set(rows.map((r) => r.policy))];
  const groups = [...new Set(rows.map((r) => r.group))];
  const points = rows.map((r) => ({ ...r, capacity: formatTokenCount(r.capacityTokens), kind: 'point' }));
  const gap = gapBand(rows);
  const x = { field: 'capacity', type: 'ordinal', sort: capacities, title: 'GPU cache capacity (tokens)', axis: { labelAngle: 0 } } as const;
  const y = { field: 'hitRate', type: 'quantitative', title: 'Hit rate (share of prompt tokens)', axis: { format: '.0%' } } as const;
  const layers = [
    ...(gap.length > 0
      ? [
          {
            transform: [{ filter: "datum.kind === 'gap'" }],
            mark: { type: 'area', color: '#f59e0b', opacity: 0.18 },
            encoding: {
              x,
              y: { field: 'lru', type: 'quantitative' },
              y2: { field: 'belady' },
              tooltip: [
                { field: 'capacity', type: 'nominal', title: 'Capacity' },
                { field: 'lru', type: 'quantitative', title: 'LRU hit rate', format: '.2%' },
                { field: 'belady', type: 'quantitative', title: 'Belady hit rate', format: '.2%' },
              ],
            },
          },
        ]
      : []),
    {
      transform: [{ filter: "datum.kind === 'point'" }],
      mark: { type: 'line', point: { filled: true, size: 60 } },
      encoding: {
        x,
        y,
        color: policyColor(policies),
        strokeDash: policyDash(policies, identicalPolicies(rows)),
        tooltip: [
          { field: 'policy', type: 'nominal', title: 'Policy' },
          { field: 'capacity', type: 'nominal', title: 'Capacity' },
          { field: 'hitRate', type: 'quantitative', title: 'Hit rate', format: '.2%' },
          { field: 'evictions', type: 'quantitative', title: 'Evictions', format: ',' },
        ],
      },
    },
  ];
  return faceted([...gap, ...points], groups, layers);
}

/** Evictions against capacity, a line per policy (log scale when they span decades). */
export function evictionsSpec(rows: readonly CapacityRow[]): TopLevelSpec {
  if (rows.length === 0) return placeholderSpec('No replay results.');
  const capacities = capacityOrder(rows);
  const policies = [...new Set(rows.map((r) => r.policy))];
  const groups = [...new Set(rows.map((r) => r.group))];
  const positive = rows.map((r) => r.evictions).filter((e) => e > 0);
  const log = positive.length > 0 && Math.max(...positive) / Math.min(...positive) > 100;
  const points = rows
    .map((r) => ({ ...r, capacity: formatTokenCount(r.capacityTokens), kind: 'point' }))
    .filter((r) => !log || r.evictions > 0);
  const layers = [
    {
      mark: { type: 'line', point: { filled: true, size: 60 } },
      encoding: {
        x: { field: 'capacity', type: 'ordinal', sort: capacities, title: 'GPU cache capacity (tokens)', axis: { labelAngle: 0 } },
        y: {
          field: 'evictions',
          type: 'quantitative',
          title: log ? 'Pages evicted (log scale)' : 'Pages evicted',
          scale: log ? { type: 'log' } : {},
          axis: { format: NUMBER_FORMAT },
        },
        color: policyColor(policies),
        strokeDash: policyDash(policies, identicalPolicies(rows)),
        tooltip: [
          { field: 'policy', type: 'nominal', title: 'Policy' },
          { field: 'capacity', type: 'nominal', title: 'Capacity' },
          { field: 'evictions', type: 'quantitative', title: 'Evictions', format: ',' },
        ],
      },
    },
  ];
  return faceted(points, groups, layers);
}

/** LRU's and Belady's hit rate per (group, capacity), where both ran. */
function gapBand(rows: readonly CapacityRow[]): Record<string, unknown>[] {
  const band = new Map<string, { group: string; capacity: string; lru?: number; belady?: number }>();
  for (const r of rows) {
    if (r.policy !== 'lru' && r.policy !== 'belady') continue;
    const capacity = formatTokenCount(r.capacityTokens);
    const key = `${r.group}\u0000${capacity}`;
    const entry = band.get(key) ?? { group: r.group, capacity };
    entry[r.policy] = r.hitRate;
    band.set(key, entry);
  }
  return [...band.values()]
    .filter((e) => e.lru !== undefined && e.belady !== undefined)
    .map((e) => ({ ...e, kind: 'gap' }));
}

/** A layered chart, one panel per group (a plain layer when there is a single unnamed group). */
function faceted(values: Record<string, unknown>[], groups: readonly string[], layer: unknown[]): TopLevelSpec {
  if (groups.length <= 1) {
    return { config: CHART_CONFIG, width: CHART_WIDTH, height: 280, data: { values }, layer } as TopLevelSpec;
  }
  const { columns, width } = panels(groups);
  return {
    config: CHART_CONFIG,
    data: { values },
    facet: { field: 'group', type: 'nominal', sort: [...groups], title: null, header: { labelLimit: width } },
    columns,
    spec: { width, height: 220, layer },
  } as TopLevelSpec;
}

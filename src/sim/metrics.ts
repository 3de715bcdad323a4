import type { LatencySummary } from '../types.js';

/**
 * Mean and percentiles with linear interpolation between closest ranks (numpy's default), so numbers
 * match what users compute from the raw samples. An empty sample gives zeros.
 */
export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { mean: 0, p50: 0, p90: 0, p99: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    mean: sum / sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
  };
}

/** The q-quantile of ascending `sorted`. */
export function percentile(sorted: Float64Array, q: number): number {
  const rank = q * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.min(low + 1, sorted.length - 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** Keeps at most `limit` evenly spaced items, always the first and the last. */
export function thin<T>(items: readonly T[], limit: number): T[] {
  return Array.from(thinnedPositions(items.length, limit), (position) => items[position]!);
}

/**
 * The positions `thin` keeps out of `count` items, ascending and distinct: lets a producer that knows
 * its count in advance build only the kept items.
 */
export function thinnedPositions(count: number, limit: number): Int32Array {
  if (count <= limit) return Int32Array.from({ length: count }, (_, i) => i);
  const kept = new Int32Array(limit);
  const step = (count - 1) / (limit - 1);
  for (let i = 0; i < limit; i++) kept[i] = Math.round(i * step);
  return kept;
}

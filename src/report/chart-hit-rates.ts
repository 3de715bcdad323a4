import type { TopLevelSpec } from 'vega-lite';
import type { SimResult } from '../types.js';
import { CHART_CONFIG, CHART_WIDTH, placeholderSpec, setupColorEncoding } from './chart-theme.js';

const GPU_HIT = 'GPU hit rate';
const CPU_HIT = 'CPU hit rate';

/** Grouped bars: GPU and CPU hit rate side by side for every setup, each bar labelled with its value. */
export function hitRateSpec(results: readonly SimResult[], setups: readonly string[]): TopLevelSpec {
  const rows = results.flatMap((r) => [
    { setup: r.setup, metric: GPU_HIT, rate: r.gpuHitRate },
    { setup: r.setup, metric: CPU_HIT, rate: r.cpuHitRate },
  ]).filter((row) => Number.isFinite(row.rate));
  if (rows.length === 0) return placeholderSpec('No results to compare.');
  // Head-room above the tallest bar for its label; a floor of 10% keeps an all-zero chart readable.
  const yDomain: number[] = [0, Math.min(1, Math.max(0.1, ...rows.map((row) => row.rate * 1.12)))];
  const encoding = {
    x: {
      field: 'metric',
      type: 'nominal',
      sort: [GPU_HIT, CPU_HIT],
      title: null,
      axis: { labelAngle: 0, labelFontSize: 12 },
    },
    xOffset: { field: 'setup', type: 'nominal', sort: [...setups] },
    y: {
      field: 'rate',
      type: 'quantitative',
      title: 'Hit rate (% of prompt tokens)',
      scale: { domain: yDomain },
      axis: { format: '.0%' },
    },
    color: setupColorEncoding(setups),
  } as const;
  return {
    config: CHART_CONFIG,
    width: CHART_WIDTH,
    height: 240,
    data: { values: rows },
    encoding,
    layer: [
      {
        mark: { type: 'bar', cornerRadiusEnd: 2 },
        encoding: {
          tooltip: [
            { field: 'setup', type: 'nominal', title: 'Setup' },
            { field: 'metric', type: 'nominal', title: 'Tier' },
            { field: 'rate', type: 'quantitative', title: 'Hit rate', format: '.2%' },
          ],
        },
      },
      {
        mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 10 },
        encoding: { color: { value: '#374151' }, text: { field: 'rate', type: 'quantitative', format: '.1%' } },
      },
    ],
  };
}

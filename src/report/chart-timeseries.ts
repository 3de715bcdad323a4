import type { TopLevelSpec } from 'vega-lite';
import type { SimTimeline } from '../types.js';
import {
  CHART_CONFIG,
  CHART_WIDTH,
  downsample,
  NUMBER_FORMAT,
  placeholderSpec,
  setupColorEncoding,
} from './chart-theme.js';

/** Samples kept per setup on a time-series line. */
const MAX_SAMPLES = 600;
const GIB = 2 ** 30;

const GPU_TIER = 'GPU cache (HBM)';
const CPU_TIER = 'CPU cache (host DRAM)';
const H2D = 'Host → GPU (h2d)';
const D2H = 'GPU → host (d2h)';

/** One point of a faceted time series: `panel` picks the row, `setup` the line. */
interface SeriesPoint {
  setup: string;
  panel: string;
  t: number;
  value: number;
}

/** Occupied slots over time as a fraction of each tier's capacity; tiers with no slots are left out. */
export function occupancyPoints(timelines: readonly SimTimeline[]): SeriesPoint[] {
  return timelines.flatMap((tl) =>
    downsample(tl.samples, MAX_SAMPLES).flatMap((s) => [
      ...(tl.gpuSlots > 0 ? [{ setup: tl.setup, panel: GPU_TIER, t: s.t, value: s.gpuPages / tl.gpuSlots }] : []),
      ...(tl.cpuSlots > 0 ? [{ setup: tl.setup, panel: CPU_TIER, t: s.t, value: s.cpuPages / tl.cpuSlots }] : []),
    ]),
  );
}

/** Cumulative link traffic over time, in GiB, per direction. */
export function trafficPoints(timelines: readonly SimTimeline[]): SeriesPoint[] {
  return timelines.flatMap((tl) =>
    downsample(tl.samples, MAX_SAMPLES).flatMap((s) => [
      { setup: tl.setup, panel: H2D, t: s.t, value: s.h2dBytes / GIB },
      { setup: tl.setup, panel: D2H, t: s.t, value: s.d2hBytes / GIB },
    ]),
  );
}

/** Lines per setup, one row of panels per `panels` entry, sharing the time axis. */
function panelledLinesSpec(
  points: SeriesPoint[],
  panels: string[],
  setups: readonly string[],
  y: { title: string; format: string; domain?: [number, number] },
): TopLevelSpec {
  return {
    config: CHART_CONFIG,
    width: CHART_WIDTH,
    height: 150,
    data: { values: points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.value)) },
    mark: { type: 'line' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'Simulated time (s)', axis: { format: NUMBER_FORMAT } },
      y: {
        field: 'value',
        type: 'quantitative',
        title: y.title,
        axis: { format: y.format },
        ...(y.domain ? { scale: { domain: y.domain } } : {}),
      },
      color: setupColorEncoding(setups),
      row: {
        field: 'panel',
        type: 'nominal',
        sort: panels,
        title: null,
        header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelPadding: 4 },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** GPU and CPU cache occupancy over simulated time, one panel per tier. */
export function occupancySpec(timelines: readonly SimTimeline[], setups: readonly string[]): TopLevelSpec {
  const points = occupancyPoints(timelines);
  if (points.length === 0) return placeholderSpec('No occupancy samples recorded.');
  return panelledLinesSpec(points, [GPU_TIER, CPU_TIER], setups, {
    title: 'Slots occupied',
    format: '.0%',
    domain: [0, 1],
  });
}

/** Cumulative host-to-GPU and GPU-to-host traffic over simulated time, one panel per direction. */
export function trafficSpec(timelines: readonly SimTimeline[], setups: readonly string[]): TopLevelSpec {
  const points = trafficPoints(timelines);
  if (points.length === 0) return placeholderSpec('No link traffic samples recorded.');
  return panelledLinesSpec(points, [H2D, D2H], setups, { title: 'Transferred (GiB)', format: NUMBER_FORMAT });
}

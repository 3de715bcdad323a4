import type { TopLevelSpec } from 'vega-lite';
import type { SimSample, SimTimeline } from '../types.js';
import {
  CHART_CONFIG,
  CHART_WIDTH,
  downsample,
  NUMBER_FORMAT,
  placeholderSpec,
  setupColorEncoding,
  setupDashEncoding,
} from './chart-theme.js';

/** Samples kept per setup on a time-series line. */
const MAX_SAMPLES = 600;
/** Points per (setup, panel) line that carry a tooltip. */
const MAX_HOVER_POINTS = 100;
/** Time bins of the link-utilisation chart. */
const UTILISATION_BINS = 80;

const GPU_TIER = 'GPU cache (HBM)';
const CPU_TIER = 'CPU cache (host DRAM)';
const H2D = 'Host → GPU (h2d)';
const D2H = 'GPU → host (d2h)';
const RUNNING = 'Running (prefilling or decoding)';
const QUEUED = 'Queued (waiting for admission)';

/** One point of a faceted time series: `panel` picks the row, `setup` the line; `hover` dots get a tooltip. */
export interface SeriesPoint {
  setup: string;
  panel: string;
  t: number;
  value: number;
  hover?: boolean;
}

/** Marks every k-th point of each (setup, panel) line as a hover point, at most {@link MAX_HOVER_POINTS}. */
function withHover(points: SeriesPoint[]): SeriesPoint[] {
  const lines = new Map<string, SeriesPoint[]>();
  for (const p of points) {
    const key = `${p.setup}\u0000${p.panel}`;
    const line = lines.get(key) ?? [];
    line.push(p);
    lines.set(key, line);
  }
  for (const line of lines.values()) for (const p of downsample(line, MAX_HOVER_POINTS)) p.hover = true;
  return points;
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
  const GIB = 2 ** 30;
  return timelines.flatMap((tl) =>
    downsample(tl.samples, MAX_SAMPLES).flatMap((s) => [
      { setup: tl.setup, panel: H2D, t: s.t, value: s.h2dBytes / GIB },
      { setup: tl.setup, panel: D2H, t: s.t, value: s.d2hBytes / GIB },
    ]),
  );
}

/** Linear interpolation of a cumulative sample field at time `t` (samples ascending in time). */
function cumulativeAt(samples: readonly SimSample[], t: number, pick: (s: SimSample) => number): number {
  let lo = 0;
  let hi = samples.length - 1;
  if (t <= samples[0]!.t) return pick(samples[0]!);
  if (t >= samples[hi]!.t) return pick(samples[hi]!);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (samples[mid]!.t <= t) lo = mid;
    else hi = mid;
  }
  const a = samples[lo]!;
  const b = samples[hi]!;
  const span = b.t - a.t;
  return span > 0 ? pick(a) + ((pick(b) - pick(a)) * (t - a.t)) / span : pick(b);
}

/**
 * Link utilisation over time: busy seconds per time bin over the bin's length (and the replicas' links),
 * per direction. Busy time is counted when a transfer is issued, so a bin can read high just before the
 * transfer runs; the value is capped at 100%.
 */
export function utilisationPoints(timelines: readonly SimTimeline[]): SeriesPoint[] {
  return timelines.flatMap((tl) => {
    const samples = tl.samples.filter((s) => s.h2dBusy !== undefined && s.d2hBusy !== undefined);
    if (samples.length < 2) return [];
    const start = samples[0]!.t;
    const end = samples[samples.length - 1]!.t;
    if (!(end > start)) return [];
    const width = (end - start) / UTILISATION_BINS;
    const links = tl.replicas ?? 1;
    const points: SeriesPoint[] = [];
    for (let i = 0; i < UTILISATION_BINS; i++) {
      const from = start + i * width;
      const to = from + width;
      for (const [panel, pick] of [[H2D, (s: SimSample) => s.h2dBusy!], [D2H, (s: SimSample) => s.d2hBusy!]] as const) {
        const busy = cumulativeAt(samples, to, pick) - cumulativeAt(samples, from, pick);
        points.push({ setup: tl.setup, panel, t: from + width / 2, value: Math.min(1, busy / (width * links)) });
      }
    }
    return points;
  });
}

/** Running and queued requests over time (summed over replicas). */
export function queuePoints(timelines: readonly SimTimeline[]): SeriesPoint[] {
  return timelines.flatMap((tl) =>
    downsample(tl.samples, MAX_SAMPLES).flatMap((s) =>
      s.running === undefined || s.waiting === undefined
        ? []
        : [
            { setup: tl.setup, panel: RUNNING, t: s.t, value: s.running },
            { setup: tl.setup, panel: QUEUED, t: s.t, value: s.waiting },
          ],
    ),
  );
}

/** Lines per setup, one row of panels per `panels` entry, sharing the time axis; dots on the lines show values. */
function panelledLinesSpec(
  points: SeriesPoint[],
  panels: string[],
  setups: readonly string[],
  y: { title: string; format: string; domain?: [number, number]; interpolate?: 'step-after' | 'linear' },
  sameAs?: ReadonlyMap<string, string>,
): TopLevelSpec {
  const x = { field: 't', type: 'quantitative', title: 'Simulated time (s)', axis: { format: NUMBER_FORMAT } } as const;
  const yEncoding = {
    field: 'value',
    type: 'quantitative',
    title: y.title,
    axis: { format: y.format },
    ...(y.domain ? { scale: { domain: [...y.domain] } } : {}),
  } as const;
  return {
    config: CHART_CONFIG,
    data: { values: withHover(points.filter((p) => Number.isFinite(p.t) && Number.isFinite(p.value))) },
    facet: {
      row: {
        field: 'panel',
        type: 'nominal',
        sort: panels,
        title: null,
        header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelPadding: 4 },
      },
    },
    spec: {
      width: CHART_WIDTH,
      height: 140,
      layer: [
        {
          mark: { type: 'line', interpolate: y.interpolate ?? 'linear' },
          encoding: { x, y: yEncoding, color: setupColorEncoding(setups), strokeDash: setupDashEncoding(setups, sameAs) },
        },
        {
          transform: [{ filter: 'datum.hover' }],
          mark: { type: 'point', filled: true, size: 50, opacity: 0 },
          encoding: {
            x,
            y: yEncoding,
            color: { ...setupColorEncoding(setups), legend: null },
            tooltip: [
              { field: 'setup', type: 'nominal', title: 'Setup' },
              { field: 'panel', type: 'nominal', title: 'Series' },
              { field: 't', type: 'quantitative', title: 'Time (s)', format: '.4~r' },
              { field: 'value', type: 'quantitative', title: y.title, format: y.format === '.0%' ? '.1%' : '.4~r' },
            ],
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** GPU and CPU cache occupancy over simulated time, one panel per tier. */
export function occupancySpec(timelines: readonly SimTimeline[], setups: readonly string[], sameAs?: ReadonlyMap<string, string>): TopLevelSpec {
  const points = occupancyPoints(timelines);
  if (points.length === 0) return placeholderSpec('No occupancy samples recorded.');
  return panelledLinesSpec(points, [GPU_TIER, CPU_TIER], setups, { title: 'Slots occupied', format: '.0%', domain: [0, 1] }, sameAs);
}

/** Cumulative host-to-GPU and GPU-to-host traffic over simulated time, one panel per direction. */
export function trafficSpec(timelines: readonly SimTimeline[], setups: readonly string[], sameAs?: ReadonlyMap<string, string>): TopLevelSpec {
  const points = trafficPoints(timelines);
  if (points.length === 0) return placeholderSpec('No link traffic samples recorded.');
  return panelledLinesSpec(points, [H2D, D2H], setups, { title: 'Transferred (GiB)', format: NUMBER_FORMAT }, sameAs);
}

/** Link utilisation per time bin, one panel per direction. */
export function utilisationSpec(timelines: readonly SimTimeline[], setups: readonly string[], sameAs?: ReadonlyMap<string, string>): TopLevelSpec {
  const points = utilisationPoints(timelines);
  if (points.length === 0) return placeholderSpec('No link samples recorded.');
  return panelledLinesSpec(points, [H2D, D2H], setups, { title: 'Link busy', format: '.0%', domain: [0, 1], interpolate: 'step-after' }, sameAs);
}

/** Running and queued requests over simulated time. */
export function queueSpec(timelines: readonly SimTimeline[], setups: readonly string[], sameAs?: ReadonlyMap<string, string>): TopLevelSpec {
  const points = queuePoints(timelines);
  if (points.length === 0) return placeholderSpec('No queue samples recorded.');
  return panelledLinesSpec(points, [RUNNING, QUEUED], setups, { title: 'Requests', format: NUMBER_FORMAT, interpolate: 'step-after' }, sameAs);
}

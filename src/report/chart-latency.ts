import type { TopLevelSpec } from 'vega-lite';
import type { SimTimeline } from '../types.js';
import {
  CHART_CONFIG,
  CHART_WIDTH,
  downsample,
  legendColumns,
  NUMBER_FORMAT,
  placeholderSpec,
  setupColorEncoding,
  setupDashEncoding,
} from './chart-theme.js';

/** Above this many workflow instances the per-workflow chart switches from dots to a box-and-strip plot. */
export const MAX_WORKFLOW_DOTS = 64;
/** Points kept per setup on a CDF line; enough for a smooth curve, small enough for a light SVG. */
const MAX_CDF_POINTS = 800;
/** Ticks kept per setup in the strip under the box plot; the boxes themselves use every point. */
const MAX_STRIP_TICKS = 1000;

/** One point of an empirical CDF: `fraction` of the setup's samples are <= `seconds`. */
export interface CdfPoint {
  setup: string;
  seconds: number;
  fraction: number;
}

/** The empirical CDF of `values` (non-finite values dropped), thinned to at most `maxPoints` points. */
export function empiricalCdf(setup: string, values: readonly number[], maxPoints = MAX_CDF_POINTS): CdfPoint[] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const points = sorted.map((seconds, i) => ({ setup, seconds, fraction: (i + 1) / sorted.length }));
  return downsample(points, maxPoints);
}

/** True when the positive values span more than `decades` powers of ten, so a log axis reads better. */
export function spansDecades(values: readonly number[], decades = 2): boolean {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!(v > 0) || !Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return max / min > 10 ** decades;
}

/** A seconds axis: log when the data spans > 2 decades (non-positive values are then left out). */
function secondsScale(values: readonly number[]): { log: boolean; scale: Record<string, unknown> } {
  const log = spansDecades(values);
  return { log, scale: log ? { type: 'log' } : { zero: false, nice: true } };
}

/** Points per setup that carry a tooltip on a line chart (invisible dots on the line). */
export const MAX_TOOLTIP_POINTS = 120;

/** Which latency a CDF shows. */
export interface CdfMetric {
  /** Axis title, e.g. 'End-to-end request latency'. */
  label: string;
  values: (timeline: SimTimeline) => readonly number[];
}

/**
 * A CDF: one step line per setup, dashed where a setup is identical to an earlier one (`sameAs`), with
 * invisible dots along each line that show the value on hover.
 */
export function cdfSpec(
  timelines: readonly SimTimeline[],
  setups: readonly string[],
  metric: CdfMetric,
  sameAs?: ReadonlyMap<string, string>,
): TopLevelSpec {
  const all = timelines.flatMap((t) => metric.values(t));
  const { log, scale } = secondsScale(all);
  const points = timelines
    .flatMap((t) => empiricalCdf(t.setup, metric.values(t)))
    .filter((p) => !log || p.seconds > 0);
  if (points.length === 0) return placeholderSpec(`No ${metric.label.toLowerCase()} recorded.`);
  const hoverPoints = setups.flatMap((setup) => downsample(points.filter((p) => p.setup === setup), MAX_TOOLTIP_POINTS));
  const x = {
    field: 'seconds',
    type: 'quantitative',
    title: log ? `${metric.label} (s, log scale)` : `${metric.label} (s)`,
    scale,
    axis: { format: NUMBER_FORMAT },
  } as const;
  const y = {
    field: 'fraction',
    type: 'quantitative',
    title: 'Share of requests at or below',
    scale: { domain: [0, 1] as number[] },
    axis: { format: '.0%' },
  } as const;
  return {
    config: CHART_CONFIG,
    width: CHART_WIDTH,
    height: 260,
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: { x, y, color: setupColorEncoding(setups), strokeDash: setupDashEncoding(setups, sameAs) },
      },
      {
        data: { values: hoverPoints },
        mark: { type: 'point', filled: true, size: 60, opacity: 0 },
        encoding: {
          x,
          y,
          color: { ...setupColorEncoding(setups), legend: null },
          tooltip: [
            { field: 'setup', type: 'nominal', title: 'Setup' },
            { field: 'seconds', type: 'quantitative', title: `${metric.label} (s)`, format: '.4~r' },
            { field: 'fraction', type: 'quantitative', title: 'Share at or below', format: '.1%' },
          ],
        },
      },
    ],
  };
}

/** End-to-end latency CDF (kept for callers of the single-chart API). */
export function latencyCdfSpec(timelines: readonly SimTimeline[], setups: readonly string[]): TopLevelSpec {
  return cdfSpec(timelines, setups, { label: 'End-to-end request latency', values: (t) => t.e2e });
}

/** One workflow instance's latency under one setup. */
interface WorkflowPoint {
  setup: string;
  workflow: string;
  seconds: number;
}

/** Workflow ids, slowest first by mean latency over setups (ties by id), so setups compare along one curve. */
function workflowsBySlowest(points: readonly WorkflowPoint[]): string[] {
  const totals = new Map<string, { sum: number; n: number }>();
  for (const p of points) {
    const total = totals.get(p.workflow) ?? { sum: 0, n: 0 };
    total.sum += p.seconds;
    total.n += 1;
    totals.set(p.workflow, total);
  }
  const mean = (id: string) => {
    const t = totals.get(id);
    return t ? t.sum / t.n : 0;
  };
  return [...totals.keys()].sort((a, b) => mean(b) - mean(a) || (a < b ? -1 : a > b ? 1 : 0));
}

/** How many distinct workflow instances with a finite latency the timelines hold. */
export function countWorkflows(timelines: readonly SimTimeline[]): number {
  return new Set(workflowPoints(timelines).map((p) => p.workflow)).size;
}

/** Every finite workflow latency, tagged with its setup. */
function workflowPoints(timelines: readonly SimTimeline[]): WorkflowPoint[] {
  return timelines.flatMap((t) =>
    t.workflowLatency
      .filter((w) => Number.isFinite(w.seconds))
      .map((w) => ({ setup: t.setup, workflow: w.workflow, seconds: w.seconds })),
  );
}

/**
 * Per-workflow latency: a dot per (workflow, setup) for up to {@link MAX_WORKFLOW_DOTS} workflows, otherwise
 * a box plot per setup over a strip of every workflow's latency.
 */
export function workflowLatencySpec(timelines: readonly SimTimeline[], setups: readonly string[]): TopLevelSpec {
  const points = workflowPoints(timelines);
  if (points.length === 0) return placeholderSpec('No workflow latencies recorded.');
  const workflows = workflowsBySlowest(points);
  return workflows.length <= MAX_WORKFLOW_DOTS
    ? workflowDotSpec(points, workflows, setups)
    : workflowBoxSpec(points, setups);
}

const WORKFLOW_TOOLTIP: { field: string; type: 'nominal' | 'quantitative'; title: string; format?: string }[] = [
  { field: 'workflow', type: 'nominal', title: 'Workflow' },
  { field: 'setup', type: 'nominal', title: 'Setup' },
  { field: 'seconds', type: 'quantitative', title: 'Latency (s)', format: '.4~r' },
];

function workflowDotSpec(points: WorkflowPoint[], workflows: string[], setups: readonly string[]): TopLevelSpec {
  return {
    config: CHART_CONFIG,
    width: CHART_WIDTH,
    height: 260,
    data: { values: points },
    mark: { type: 'point', filled: true, size: 42, opacity: 0.85 },
    encoding: {
      x: {
        field: 'workflow',
        type: 'nominal',
        title: 'Workflow instance (slowest first)',
        sort: workflows,
        axis: { labelAngle: -90, labelLimit: 90, labelFontSize: workflows.length > 32 ? 9 : 11 },
      },
      y: { field: 'seconds', type: 'quantitative', title: 'Workflow latency (s)', axis: { format: NUMBER_FORMAT } },
      color: setupColorEncoding(setups),
      shape: { field: 'setup', type: 'nominal', sort: [...setups], title: 'Setup', legend: { columns: legendColumns(setups) } },
      tooltip: WORKFLOW_TOOLTIP,
    },
  };
}

/** Each setup's points sorted by latency and evenly thinned, so the strip keeps the distribution's shape. */
function thinStrip(points: readonly WorkflowPoint[], setups: readonly string[]): WorkflowPoint[] {
  return setups.flatMap((setup) =>
    downsample(
      points.filter((p) => p.setup === setup).sort((a, b) => a.seconds - b.seconds),
      MAX_STRIP_TICKS,
    ),
  );
}

function workflowBoxSpec(points: WorkflowPoint[], setups: readonly string[]): TopLevelSpec {
  const { log, scale } = secondsScale(points.map((p) => p.seconds));
  const plotted = log ? points.filter((p) => p.seconds > 0) : points;
  const shared = {
    x: {
      field: 'seconds',
      type: 'quantitative',
      title: log ? 'Workflow latency (s, log scale)' : 'Workflow latency (s)',
      scale,
      axis: { format: NUMBER_FORMAT, tickCount: 10 },
    },
    y: { field: 'setup', type: 'nominal', title: null, sort: [...setups] },
    color: { ...setupColorEncoding(setups), legend: null },
  } as const;
  return {
    config: CHART_CONFIG,
    width: CHART_WIDTH,
    height: { step: 48 },
    data: { values: plotted },
    layer: [
      {
        data: { values: thinStrip(plotted, setups) },
        mark: { type: 'tick', opacity: 0.45, thickness: 1, size: 34 },
        encoding: { ...shared, tooltip: WORKFLOW_TOOLTIP },
      },
      {
        mark: {
          type: 'boxplot',
          extent: 'min-max',
          size: 18,
          box: { fillOpacity: 0.35, stroke: '#1f2937', strokeWidth: 1 },
          median: { color: '#111827', thickness: 2 },
          rule: { color: '#1f2937' },
          ticks: { color: '#1f2937', size: 10 },
        },
        encoding: shared,
      },
    ],
  };
}

import type { TopLevelSpec } from 'vega-lite';
import type { SimReport, SimTimeline } from '../types.js';
import { hitRateSpec } from './chart-hit-rates.js';
import { countWorkflows, latencyCdfSpec, MAX_WORKFLOW_DOTS, workflowLatencySpec } from './chart-latency.js';
import { renderSvg } from './chart-render.js';
import { occupancySpec, trafficSpec } from './chart-timeseries.js';

/** One figure of the HTML report: an inline SVG with its heading and caption (plain text, not yet escaped). */
export interface RenderedChart {
  /** Stable slug, used for anchors and to scope the SVG's ids. */
  id: string;
  title: string;
  caption: string;
  svg: string;
}

/** Setups in report order (results first, then any setup that only has a timeline), each once. */
export function setupOrder(report: SimReport, timelines: readonly SimTimeline[]): string[] {
  return [...new Set([...report.results.map((r) => r.setup), ...timelines.map((t) => t.setup)])];
}

/** Renders the report's five charts, in page order, with setup colours consistent across all of them. */
export async function renderCharts(report: SimReport, timelines: readonly SimTimeline[]): Promise<RenderedChart[]> {
  const setups = setupOrder(report, timelines);
  const figures: { id: string; title: string; caption: string; spec: TopLevelSpec }[] = [
    {
      id: 'latency-cdf',
      title: 'Request latency distribution',
      caption: 'Empirical CDF of end-to-end request latency; a curve further left means faster requests.',
      spec: latencyCdfSpec(timelines, setups),
    },
    {
      id: 'workflow-latency',
      title: 'Per-workflow latency',
      caption:
        countWorkflows(timelines) > MAX_WORKFLOW_DOTS
          ? 'End-to-end latency of every workflow instance (ticks) per setup; boxes span the quartiles, ' +
            'the bar inside is the median, whiskers reach the fastest and slowest instance.'
          : 'End-to-end latency of each workflow instance under each setup, slowest instances first.',
      spec: workflowLatencySpec(timelines, setups),
    },
    {
      id: 'occupancy',
      title: 'Cache occupancy over time',
      caption: 'Occupied KV cache slots as a share of each tier’s capacity.',
      spec: occupancySpec(timelines, setups),
    },
    {
      id: 'link-traffic',
      title: 'Link traffic over time',
      caption: 'Cumulative bytes moved between host memory and GPU, per direction.',
      spec: trafficSpec(timelines, setups),
    },
    {
      id: 'hit-rates',
      title: 'Cache hit rates',
      caption: 'Share of prompt tokens served from the GPU cache and from the CPU cache.',
      spec: hitRateSpec(report.results, setups),
    },
  ];
  const charts: RenderedChart[] = [];
  for (const { spec, ...figure } of figures) {
    charts.push({ ...figure, svg: await renderSvg(spec, `chart-${figure.id}`) });
  }
  return charts;
}

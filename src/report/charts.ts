import type { TopLevelSpec } from 'vega-lite';
import type { SimReport, SimResult, SimTimeline } from '../types.js';
import { hitRateSpec } from './chart-hit-rates.js';
import { cdfSpec, countWorkflows, MAX_WORKFLOW_DOTS, workflowLatencySpec } from './chart-latency.js';
import { renderSvg } from './chart-render.js';
import { agentTimelineSpec } from './chart-timeline.js';
import { occupancySpec, queueSpec, trafficSpec, utilisationSpec } from './chart-timeseries.js';
import type { RenderedChart } from './page.js';

export type { RenderedChart } from './page.js';

/** Setups in report order (results first, then any setup that only has a timeline), each once. */
export function setupOrder(report: SimReport, timelines: readonly SimTimeline[]): string[] {
  return [...new Set([...report.results.map((r) => r.setup), ...timelines.map((t) => t.setup)])];
}

/**
 * Setups whose results (every metric but the name and speedups) and request latencies equal an earlier
 * setup's, mapped to that first setup. Their lines would coincide, so the charts dash them and the
 * summary says so.
 */
export function identicalSetups(results: readonly SimResult[], timelines: readonly SimTimeline[]): Map<string, string> {
  const fingerprint = (setup: string): string => {
    const result = results.find((r) => r.setup === setup);
    const timeline = timelines.find((t) => t.setup === setup);
    const { setup: _name, speedup: _speedup, ...metrics } = result ?? ({} as Partial<SimResult>);
    return JSON.stringify([metrics, timeline?.e2e ?? null, timeline?.ttft ?? null]);
  };
  const firstBy = new Map<string, string>();
  const sameAs = new Map<string, string>();
  for (const setup of new Set([...results.map((r) => r.setup), ...timelines.map((t) => t.setup)])) {
    const key = fingerprint(setup);
    const first = firstBy.get(key);
    if (first === undefined) firstBy.set(key, setup);
    else sameAs.set(setup, first);
  }
  return sameAs;
}

/** The simulate report's charts, in page order, with setup colours and dashes consistent across all. */
export async function renderCharts(
  report: SimReport,
  timelines: readonly SimTimeline[],
  sameAs: ReadonlyMap<string, string> = identicalSetups(report.results, timelines),
): Promise<RenderedChart[]> {
  const setups = setupOrder(report, timelines);
  const figures: { id: string; title: string; caption: string; spec: TopLevelSpec }[] = [
    {
      id: 'latency-cdf',
      title: 'End-to-end latency distribution',
      caption: 'Empirical CDF of each request’s end-to-end latency (arrival to last token); further left is faster. Hover a line for values.',
      spec: cdfSpec(timelines, setups, { label: 'End-to-end request latency', values: (t) => t.e2e }, sameAs),
    },
    {
      id: 'ttft-cdf',
      title: 'Time to first token (TTFT) distribution',
      caption: 'Empirical CDF of arrival to first output token: queueing, loading and prefill.',
      spec: cdfSpec(timelines, setups, { label: 'Time to first token', values: (t) => t.ttft ?? [] }, sameAs),
    },
    {
      id: 'tpot-cdf',
      title: 'Time per output token (TPOT) distribution',
      caption: 'Empirical CDF of decode time per output token after the first (requests with more than one output token).',
      spec: cdfSpec(timelines, setups, { label: 'Time per output token', values: (t) => t.tpot ?? [] }, sameAs),
    },
    {
      id: 'workflow-latency',
      title: 'Per-workflow latency',
      caption:
        countWorkflows(timelines) > MAX_WORKFLOW_DOTS
          ? 'End-to-end latency of every workflow instance (ticks) per setup; boxes span the quartiles, ' +
            'the bar inside is the median, whiskers reach the fastest and slowest instance.'
          : 'End-to-end latency of each workflow instance under each setup (colour and shape), slowest instances first.',
      spec: workflowLatencySpec(timelines, setups),
    },
    {
      id: 'agent-timeline',
      title: 'Agent timeline',
      caption:
        'The first workflow instances, one row each, one panel per setup: every agent step queued (grey), loaded its ' +
        'prefix from the CPU on demand (red), prefilled (blue) and decoded (green); markers show when an agent’s ' +
        'prompt was prefetched to the GPU, loaded on demand, or had pages evicted. Hover for the agent and times.',
      spec: agentTimelineSpec(timelines, setups),
    },
    {
      id: 'queue',
      title: 'Running and queued requests over time',
      caption: 'Requests in the batch (prefilling or decoding) and requests waiting for admission, summed over replicas.',
      spec: queueSpec(timelines, setups, sameAs),
    },
    {
      id: 'occupancy',
      title: 'GPU and CPU cache occupancy over time',
      caption: 'Occupied KV cache slots as a share of each tier’s capacity.',
      spec: occupancySpec(timelines, setups, sameAs),
    },
    {
      id: 'link-utilisation',
      title: 'Link utilisation over time',
      caption: 'Share of each time bin the host↔GPU link spent moving KV, per direction (busy time counted when a transfer is issued).',
      spec: utilisationSpec(timelines, setups, sameAs),
    },
    {
      id: 'link-traffic',
      title: 'Cumulative link traffic',
      caption: 'Bytes moved between host memory and GPU so far, per direction.',
      spec: trafficSpec(timelines, setups, sameAs),
    },
    {
      id: 'hit-rates',
      title: 'Cache hit rates',
      caption: 'Share of prompt tokens served from the GPU cache and loaded from the CPU cache.',
      spec: hitRateSpec(report.results, setups),
    },
  ];
  const charts: RenderedChart[] = [];
  for (const { spec, ...figure } of figures) {
    charts.push({ ...figure, svg: await renderSvg(spec, `chart-${figure.id}`) });
  }
  return charts;
}

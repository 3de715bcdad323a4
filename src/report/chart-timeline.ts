import type { TopLevelSpec } from 'vega-lite';
import type { SimTimeline, StepSpan } from '../types.js';
import { CHART_CONFIG, CHART_WIDTH, NUMBER_FORMAT, placeholderSpec } from './chart-theme.js';

/** The phases of an agent step, in the order a request goes through them, with their colours. */
const PHASES = [
  ['queued', '#d1d5db'],
  ['loading from CPU on demand', '#e45756'],
  ['prefill (computing the prompt)', '#4c78a8'],
  ['decode (generating)', '#54a24b'],
] as const;

/** Prompt events drawn over the bars, with their marker shapes. */
const EVENTS = [
  ['prompt prefetched to GPU', 'triangle-up'],
  ['prompt loaded on demand', 'diamond'],
  ['prompt page evicted from GPU', 'cross'],
] as const;

/** One bar (a phase of a step) or marker (a prompt event) on the timeline; `kind` tells which. */
interface TimelineDatum {
  kind: 'phase' | 'event';
  setup: string;
  workflow: string;
  agent: string;
  /** The phase (bars) or the event (markers): separate fields, so each gets its own legend. */
  phase?: string;
  event?: string;
  start: number;
  end: number;
  request?: string;
  detail?: string;
}

/** The phases of one step, skipping those that did not happen or took no time. */
function phaseData(setup: string, step: StepSpan): TimelineDatum[] {
  const admitted = step.admitted;
  const queuedUntil = Number.isFinite(step.loadStart) ? step.loadStart : admitted;
  const bounds: [string, number, number][] = [
    [PHASES[0][0], step.arrival, queuedUntil],
    [PHASES[1][0], step.loadStart, admitted],
    [PHASES[2][0], admitted, step.firstToken],
    [PHASES[3][0], step.firstToken, step.done],
  ];
  const detail = `${step.inputTokens} tokens, ${step.hitTokens} GPU hits, ${step.loadedTokens} loaded`;
  return bounds
    .filter(([, start, end]) => Number.isFinite(start) && Number.isFinite(end) && end > start)
    .map(([label, start, end]) => ({
      kind: 'phase',
      setup,
      workflow: step.workflow,
      agent: step.agent,
      phase: label,
      start,
      end,
      request: step.request,
      detail,
    }));
}

/** Every bar and marker for one setup's timeline. */
export function timelineData(timeline: SimTimeline): TimelineDatum[] {
  const steps = timeline.steps ?? [];
  const phases = steps.flatMap((step) => phaseData(timeline.setup, step));
  const loads = steps
    .filter((step) => Number.isFinite(step.loadStart))
    .map((step): TimelineDatum => ({
      kind: 'event',
      setup: timeline.setup,
      workflow: step.workflow,
      agent: step.agent,
      event: EVENTS[1][0],
      start: step.loadStart,
      end: step.loadStart,
    }));
  const prompts = (timeline.promptEvents ?? []).map((event): TimelineDatum => ({
    kind: 'event',
    setup: timeline.setup,
    workflow: event.workflow,
    agent: event.agent,
    event: event.kind === 'prefetched' ? EVENTS[0][0] : EVENTS[2][0],
    start: event.t,
    end: event.t,
  }));
  return [...phases, ...loads, ...prompts];
}

/**
 * The agent timeline: per setup a panel, per workflow instance a row, each agent step a run of bars
 * (queued, loading on demand, prefill, decode) with markers where its prompt was prefetched, loaded on
 * demand or evicted. Events outside the steps' time range are left out so the bars stay readable.
 */
export function agentTimelineSpec(timelines: readonly SimTimeline[], setups: readonly string[]): TopLevelSpec {
  const data = timelines.flatMap(timelineData);
  const bars = data.filter((d) => d.kind === 'phase');
  if (bars.length === 0) return placeholderSpec('No agent steps recorded.');
  // Loops, not Math.min(...starts): a long simulation has more steps than a call takes arguments.
  let from = Infinity;
  let to = -Infinity;
  for (const bar of bars) {
    if (bar.start < from) from = bar.start;
    if (bar.end > to) to = bar.end;
  }
  const values = data.filter((d) => d.start >= from && d.start <= to);
  const workflows = [...new Set(bars.map((d) => d.workflow))];
  const x = {
    field: 'start',
    type: 'quantitative',
    title: 'Simulated time (s)',
    scale: { domain: [from, to] as number[], nice: false },
    axis: { format: NUMBER_FORMAT },
  } as const;
  const y = { field: 'workflow', type: 'nominal', title: 'Workflow instance', sort: workflows } as const;
  return {
    config: CHART_CONFIG,
    data: { values },
    facet: {
      row: {
        field: 'setup',
        type: 'nominal',
        sort: [...setups],
        title: null,
        header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelPadding: 4 },
      },
    },
    spec: {
      width: CHART_WIDTH,
      height: Math.max(36, workflows.length * 20),
      layer: [
        {
          transform: [{ filter: "datum.kind === 'phase'" }],
          mark: { type: 'bar', height: { band: 0.75 } },
          encoding: {
            x,
            x2: { field: 'end' },
            y,
            color: {
              field: 'phase',
              type: 'nominal',
              title: 'Step phase',
              scale: { domain: PHASES.map(([p]) => p), range: PHASES.map(([, c]) => c) },
              legend: { columns: 4, labelLimit: 260 },
            },
            tooltip: [
              { field: 'workflow', type: 'nominal', title: 'Workflow' },
              { field: 'agent', type: 'nominal', title: 'Agent' },
              { field: 'request', type: 'nominal', title: 'Request' },
              { field: 'phase', type: 'nominal', title: 'Phase' },
              { field: 'start', type: 'quantitative', title: 'From (s)', format: '.4~r' },
              { field: 'end', type: 'quantitative', title: 'To (s)', format: '.4~r' },
              { field: 'detail', type: 'nominal', title: 'Prompt' },
            ],
          },
        },
        {
          transform: [{ filter: "datum.kind === 'event'" }],
          mark: { type: 'point', filled: true, size: 55, color: '#111827', opacity: 0.85 },
          encoding: {
            x,
            y,
            shape: {
              field: 'event',
              type: 'nominal',
              title: 'Prompt event',
              scale: { domain: EVENTS.map(([e]) => e), range: EVENTS.map(([, s]) => s) },
              legend: { columns: 3, labelLimit: 260, orient: 'bottom' },
            },
            tooltip: [
              { field: 'workflow', type: 'nominal', title: 'Workflow' },
              { field: 'agent', type: 'nominal', title: 'Agent' },
              { field: 'event', type: 'nominal', title: 'Event' },
              { field: 'start', type: 'quantitative', title: 'At (s)', format: '.4~r' },
            ],
          },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

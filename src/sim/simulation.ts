import { computeNextUse } from '../cache/next-use.js';
import { SteRequestTracker, steTagKey } from '../graph/ste-requests.js';
import { InputError } from '../errors.js';
import {
  GLOBAL_SESSION,
  type LatencySummary,
  type PromptEvent,
  type SimResult,
  type SimTimeline,
  type StepSpan,
  type SteSource,
  type TraceRequest,
} from '../types.js';
import { EventQueue } from './event-queue.js';
import { summarize, thinnedPositions } from './metrics.js';
import { Replica, type ReplicaOptions } from './replica.js';
import { createRouter, type RouterName } from './router.js';
import type { Setup } from './setups.js';
import { SimRequest } from './sim-request.js';

/** Everything about one engine replica except the setup, which varies per run. */
export type EngineOptions = Omit<ReplicaOptions, 'setup' | 'nextUse' | 'policy'>;

export interface SimulationOptions {
  setup: Setup;
  engine: EngineOptions;
  replicas: number;
  router: RouterName;
  /** Multiplies open-loop arrival times `t` (2 = half the request rate). */
  timeScale: number;
  /** A fresh STE source for this run (the client's declared graph); without it STE is unknown. */
  ste?: SteSource;
  /** Called as requests complete. */
  onProgress?: (completed: number) => void;
  /** Per request, whether it belongs to a warm-up round: it runs but stays out of the latency figures. */
  warmup?: readonly boolean[];
}

/** Latency figures over one set of requests. */
export interface RunLatencies {
  workflows: number;
  workflowLatency: LatencySummary;
  e2e: LatencySummary;
  ttft: LatencySummary;
  tpot: LatencySummary;
}

export interface SimulationRun {
  /** The setup's result without `speedup`, `warm` and `all`, which need the other setups. */
  result: Omit<SimResult, 'speedup' | 'warm' | 'all'>;
  /** Latencies over every request, and over warm requests only when warm-up rounds were left out. */
  latencies: { all: RunLatencies; warm: RunLatencies | undefined };
  timeline: SimTimeline;
}

const MAX_SAMPLES = 400;
/** Workflow instances (first by position in the request list) whose steps the agent timeline draws. */
export const TIMELINE_WORKFLOWS = 8;
/** Agent steps drawn per workflow instance (its first ones), so single steps stay visible. */
export const TIMELINE_STEPS = 12;
/** Requests drawn on the agent timeline when the workload has no workflows. */
const TIMELINE_REQUESTS = 40;
/** Prompt events kept for the agent timeline (collected until the drawn steps are done). */
const MAX_PROMPT_EVENTS = 1500;

/**
 * Replays requests through engine replicas on one logical clock. Open-loop requests arrive at `t`;
 * closed-loop ones `think` seconds after the last of their `after` completes. The step graph advances as
 * requests arrive (the agent runs: STE 0) and complete, and every replica hears the new STE values.
 */
export function runSimulation(requests: readonly TraceRequest[], options: SimulationOptions): SimulationRun {
  const events = new EventQueue();
  const ste = options.ste;
  const sims = requests.map(
    (request, index) =>
      new SimRequest(request, index, steTagKey(ste, request)),
  );
  const dependents = dependencyLists(requests);
  const remaining = requests.map((request) => request.after?.length ?? 0);
  const readyAt = requests.map(() => 0);

  // The replicas serve one stream between them: a learning policy may learn from all of it (PolicyContext.shared).
  const shared = new Map<unknown, unknown>();
  const policies = Array.from({ length: options.replicas }, () => options.setup.policy({ gpuSlots: options.engine.gpuSlots, shared }));
  const nextUse = policies[0]!.usesNextUse ? computeNextUse(requests) : undefined;
  const featured = featuredAgents(sims);
  const promptEvents: PromptEvent[] = [];
  const onPromptEvent = (kind: PromptEvent['kind'], agentKey: string): void => {
    for (const { workflow, agent } of featured.get(agentKey) ?? []) {
      const last = promptEvents[promptEvents.length - 1];
      if (last && last.t === events.now && last.kind === kind && last.workflow === workflow && last.agent === agent) continue;
      if (promptEvents.length < MAX_PROMPT_EVENTS) promptEvents.push({ t: events.now, kind, workflow, agent });
    }
  };
  const hooks = {
    onFirstToken: () => {},
    onComplete: (request: SimRequest) => complete(request),
    ...(featured.size > 0 && { onPromptEvent, followsPrompt: (agentKey: string) => featured.has(agentKey) }),
  };
  const replicas = policies.map(
    (policy, id) => new Replica(id, events, hooks, { ...options.engine, setup: options.setup, policy, ...(nextUse && { nextUse }) }),
  );
  const router = createRouter(options.router);
  // One sample per arrival and per completion: 2 per request. The timeline keeps MAX_SAMPLES of them,
  // evenly spaced, so only those are taken (reading every replica 2N times was ~6% of a Mooncake run).
  const samples: SimTimeline['samples'] = [];
  const keptSamples = thinnedPositions(2 * requests.length, MAX_SAMPLES);
  let sampleCount = 0;
  // STE only moves eviction order (a policy's applySte) and prefetching: when neither listens, following it
  // would change nothing.
  const steHeard = options.setup.prefetch || policies.some((policy) => policy.applySte !== undefined);
  const steTracker = ste && steHeard ? new SteRequestTracker(ste, requests) : undefined;
  const publishSte = (changes: ReadonlyMap<string, number | undefined> | undefined): void => {
    if (changes && changes.size > 0) for (const replica of replicas) replica.updateSte(changes);
  };
  let completed = 0;

  const sample = (): void => {
    if (sampleCount++ !== keptSamples[samples.length]) return;
    let gpuPages = 0;
    let cpuPages = 0;
    let h2dBytes = 0;
    let d2hBytes = 0;
    let h2dBusy = 0;
    let d2hBusy = 0;
    let running = 0;
    let waiting = 0;
    for (const replica of replicas) {
      gpuPages += replica.cache.gpuUsed;
      cpuPages += replica.cache.cpuUsed;
      h2dBytes += replica.h2d.bytes;
      d2hBytes += replica.d2h.bytes;
      h2dBusy += replica.h2d.busySeconds;
      d2hBusy += replica.d2h.busySeconds;
      running += replica.runningCount;
      waiting += replica.waitingCount;
    }
    samples.push({ t: events.now, gpuPages, cpuPages, h2dBytes, d2hBytes, h2dBusy, d2hBusy, running, waiting });
  };
  const arrive = (request: SimRequest): void => {
    request.arrival = events.now;
    if (steTracker) publishSte(steTracker.begin(request.request));
    router.route(request, replicas).enqueue(request);
    sample();
  };
  const release = (index: number): void => {
    const t = requests[index]!.t;
    const at = Math.max(readyAt[index]!, t === undefined ? 0 : t * options.timeScale, events.now);
    events.at(at, () => arrive(sims[index]!));
  };
  function complete(request: SimRequest): void {
    completed++;
    steTracker?.end(request.request, steTracker.isLastOfWorkflow(request.request, request.index));
    for (const dependent of dependents[request.index]!) {
      readyAt[dependent] = Math.max(readyAt[dependent]!, events.now + (requests[dependent]!.think ?? 0));
      if (--remaining[dependent]! === 0) release(dependent);
    }
    if (steTracker) publishSte(steTracker.changes());
    sample();
    options.onProgress?.(completed);
  }

  requests.forEach((_, index) => remaining[index] === 0 && release(index));
  events.run();
  if (completed !== requests.length) {
    const stuck = sims.find((request) => request.phase !== 'done');
    throw new Error(`simulation ended with ${requests.length - completed} requests unfinished (first: ${stuck?.request.id})`);
  }
  const run = summarizeRun(options, sims, replicas, samples);
  run.timeline.steps = stepSpans(sims);
  const drawnUntil = Math.max(0, ...run.timeline.steps.map((step) => step.done));
  run.timeline.promptEvents = promptEvents.filter((event) => event.t <= drawnUntil);
  return run;
}

/** The requests the agent timeline draws: those of the first few workflow instances, or the first requests. */
function featuredRequests(sims: readonly SimRequest[]): SimRequest[] {
  const withWorkflow = sims.filter((sim) => sim.request.workflow !== undefined);
  if (withWorkflow.length === 0) return sims.slice(0, TIMELINE_REQUESTS);
  const steps = new Map<string, number>();
  const featured: SimRequest[] = [];
  for (const sim of withWorkflow) {
    const workflow = sim.request.workflow!;
    const seen = steps.get(workflow);
    if (seen === undefined && steps.size >= TIMELINE_WORKFLOWS) continue;
    if ((seen ?? 0) >= TIMELINE_STEPS) continue;
    steps.set(workflow, (seen ?? 0) + 1);
    featured.push(sim);
  }
  return featured;
}

/** The featured requests' agents by STE key, each with the workflow instances whose rows show its events. */
function featuredAgents(sims: readonly SimRequest[]): Map<string, { workflow: string; agent: string }[]> {
  const byKey = new Map<string, { workflow: string; agent: string }[]>();
  for (const sim of featuredRequests(sims)) {
    const { agentKey } = sim;
    if (agentKey === undefined) continue;
    const workflow = sim.request.workflow ?? GLOBAL_SESSION;
    const rows = byKey.get(agentKey) ?? [];
    if (!rows.some((row) => row.workflow === workflow)) rows.push({ workflow, agent: sim.request.agent ?? agentKey });
    byKey.set(agentKey, rows);
  }
  return byKey;
}

function stepSpans(sims: readonly SimRequest[]): StepSpan[] {
  return featuredRequests(sims).map((sim) => ({
    workflow: sim.request.workflow ?? 'requests',
    agent: sim.request.agent ?? sim.request.id,
    request: sim.request.id,
    arrival: sim.arrival,
    loadStart: sim.loadStart,
    admitted: sim.admitted,
    firstToken: sim.firstToken,
    done: sim.done,
    hitTokens: sim.hitTokens,
    loadedTokens: sim.loadedTokens,
    inputTokens: sim.inputLength,
  }));
}

function dependencyLists(requests: readonly TraceRequest[]): number[][] {
  const indexOf = new Map(requests.map((request, index) => [request.id, index]));
  const dependents = requests.map((): number[] => []);
  requests.forEach((request, index) => {
    for (const id of request.after ?? []) {
      const before = indexOf.get(id);
      if (before === undefined) throw new InputError(`request ${request.id}: after: unknown request "${id}"`);
      dependents[before]!.push(index);
    }
  });
  return dependents;
}

function summarizeRun(
  options: SimulationOptions,
  sims: readonly SimRequest[],
  replicas: readonly Replica[],
  samples: SimTimeline['samples'],
): SimulationRun {
  let first = Infinity;
  let last = 0;
  let input = 0;
  let hit = 0;
  let loaded = 0;
  let recomputed = 0;
  for (const request of sims) {
    first = Math.min(first, request.arrival);
    last = Math.max(last, request.done);
    input += request.inputLength;
    hit += request.hitTokens;
    loaded += request.loadedTokens;
    recomputed += request.recomputedTokens;
  }
  const all = collectLatencies(sims, () => true);
  const warmup = options.warmup;
  const warmCount = warmup ? sims.reduce((count, request) => count + (warmup[request.index] ? 0 : 1), 0) : sims.length;
  const warm = warmup && warmCount > 0 && warmCount < sims.length ? collectLatencies(sims, (request) => !warmup[request.index]) : undefined;
  const makespan = sims.length > 0 ? last - first : 0;
  const { e2e, ttft, tpot, workflowLatency } = all;
  const sum = (pick: (replica: Replica) => number) => replicas.reduce((total, replica) => total + pick(replica), 0);
  const blockSize = options.engine.blockSize;
  const linkSeconds = makespan * replicas.length;
  const shown = warm?.summary ?? all.summary;
  const result: Omit<SimResult, 'speedup' | 'warm' | 'all'> = {
    setup: options.setup.name,
    requests: sims.length,
    workflows: all.summary.workflows,
    makespan,
    workflowLatency: shown.workflowLatency,
    e2e: shown.e2e,
    ttft: shown.ttft,
    tpot: shown.tpot,
    gpuHitRate: input > 0 ? hit / input : 0,
    cpuHitRate: input > 0 ? loaded / input : 0,
    recomputedTokens: recomputed,
    loadedTokens: loaded,
    prefetchedTokens: sum((r) => r.prefetcher?.stats.prefetchedPages ?? 0) * blockSize,
    wastedPrefetchTokens: sum((r) => r.prefetcher?.stats.wastedPages ?? 0) * blockSize,
    stallSeconds: sum((r) => r.stallSeconds),
    linkUtilization: {
      h2d: linkSeconds > 0 ? sum((r) => r.h2d.busySeconds) / linkSeconds : 0,
      d2h: linkSeconds > 0 ? sum((r) => r.d2h.busySeconds) / linkSeconds : 0,
    },
  };
  const timeline: SimTimeline = {
    setup: options.setup.name,
    e2e,
    workflowLatency,
    samples,
    ttft,
    tpot,
    replicas: replicas.length,
    gpuSlots: options.engine.gpuSlots * replicas.length,
    cpuSlots: (options.setup.cpuTier ? options.engine.cpuSlots : 0) * replicas.length,
  };
  return { result, latencies: { all: all.summary, warm: warm?.summary }, timeline };
}

/** Latency samples and summaries over the requests `include` picks; a workflow spans its picked requests. */
function collectLatencies(sims: readonly SimRequest[], include: (request: SimRequest) => boolean) {
  const e2e: number[] = [];
  const ttft: number[] = [];
  const tpot: number[] = [];
  const spans = new Map<string, { start: number; end: number }>();
  for (const request of sims) {
    if (!include(request)) continue;
    e2e.push(request.done - request.arrival);
    ttft.push(request.firstToken - request.arrival);
    const output = request.request.outputLength;
    if (output > 1) tpot.push((request.done - request.firstToken) / (output - 1));
    const workflow = request.request.workflow;
    if (workflow !== undefined) {
      const span = spans.get(workflow) ?? { start: Infinity, end: 0 };
      span.start = Math.min(span.start, request.arrival);
      span.end = Math.max(span.end, request.done);
      spans.set(workflow, span);
    }
  }
  const workflowLatency = [...spans].map(([workflow, span]) => ({ workflow, seconds: span.end - span.start }));
  const summary: RunLatencies = {
    workflows: spans.size,
    workflowLatency: summarize(workflowLatency.map((w) => w.seconds)),
    e2e: summarize(e2e),
    ttft: summarize(ttft),
    tpot: summarize(tpot),
  };
  return { e2e, ttft, tpot, workflowLatency, summary };
}

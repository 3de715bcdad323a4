import { computeNextUse } from '../cache/next-use.js';
import { SteChangeFeed } from '../graph/ste-feed.js';
import { InputError } from '../errors.js';
import { GLOBAL_SESSION, type SimResult, type SimTimeline, type SteSource, type TraceRequest } from '../types.js';
import { EventQueue } from './event-queue.js';
import { summarize, thin } from './metrics.js';
import { Replica, type ReplicaOptions } from './replica.js';
import { createRouter, type RouterName } from './router.js';
import type { Setup } from './setups.js';
import { SimRequest } from './sim-request.js';

/** Everything about one engine replica except the setup, which varies per run. */
export type EngineOptions = Omit<ReplicaOptions, 'setup' | 'nextUse'>;

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
}

export interface SimulationRun {
  /** The setup's result without `speedup`, which needs the other setups. */
  result: Omit<SimResult, 'speedup'>;
  timeline: SimTimeline;
}

const MAX_SAMPLES = 400;

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
      new SimRequest(request, index, request.agent === undefined ? undefined : tagKey(ste, request)),
  );
  const dependents = dependencyLists(requests);
  const remaining = requests.map((request) => request.after?.length ?? 0);
  const readyAt = requests.map(() => 0);
  const lastOfWorkflow = new Map<string, number>();
  requests.forEach((request, index) => lastOfWorkflow.set(request.workflow ?? GLOBAL_SESSION, index));

  const nextUse = options.setup.policy === 'belady' ? computeNextUse(requests) : undefined;
  const hooks = { onFirstToken: () => {}, onComplete: (request: SimRequest) => complete(request) };
  const replicas = Array.from(
    { length: options.replicas },
    (_, id) => new Replica(id, events, hooks, { ...options.engine, setup: options.setup, ...(nextUse && { nextUse }) }),
  );
  const router = createRouter(options.router);
  const samples: SimTimeline['samples'] = [];
  const steFeed = ste ? new SteChangeFeed(ste) : undefined;
  let completed = 0;

  const publishSte = (): void => {
    const changes = steFeed?.take();
    if (changes && changes.size > 0) for (const replica of replicas) replica.updateSte(changes);
  };
  const sample = (): void => {
    let gpuPages = 0;
    let cpuPages = 0;
    let h2dBytes = 0;
    let d2hBytes = 0;
    for (const replica of replicas) {
      gpuPages += replica.cache.gpuUsed;
      cpuPages += replica.cache.cpuUsed;
      h2dBytes += replica.h2d.bytes;
      d2hBytes += replica.d2h.bytes;
    }
    samples.push({ t: events.now, gpuPages, cpuPages, h2dBytes, d2hBytes });
  };
  const arrive = (request: SimRequest): void => {
    request.arrival = events.now;
    const { agent } = request.request;
    const workflow = request.request.workflow ?? GLOBAL_SESSION;
    if (ste && agent !== undefined) {
      ste.begin(workflow, agent);
      publishSte();
    }
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
    const { agent } = request.request;
    const workflow = request.request.workflow ?? GLOBAL_SESSION;
    if (ste && agent !== undefined) {
      ste.end(workflow, agent);
      if (lastOfWorkflow.get(workflow) === request.index) ste.finish(workflow);
    }
    for (const dependent of dependents[request.index]!) {
      readyAt[dependent] = Math.max(readyAt[dependent]!, events.now + (requests[dependent]!.think ?? 0));
      if (--remaining[dependent]! === 0) release(dependent);
    }
    publishSte();
    sample();
    options.onProgress?.(completed);
  }

  requests.forEach((_, index) => remaining[index] === 0 && release(index));
  events.run();
  if (completed !== requests.length) {
    const stuck = sims.find((request) => request.phase !== 'done');
    throw new Error(`simulation ended with ${requests.length - completed} requests unfinished (first: ${stuck?.request.id})`);
  }
  return summarizeRun(options, sims, replicas, samples);
}

function tagKey(ste: SteSource | undefined, request: TraceRequest): string {
  const { workflow = GLOBAL_SESSION, agent } = request;
  return ste?.tagKey ? ste.tagKey(workflow, agent!) : agent!;
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
  const e2e: number[] = [];
  const ttft: number[] = [];
  const tpot: number[] = [];
  const spans = new Map<string, { start: number; end: number }>();
  for (const request of sims) {
    first = Math.min(first, request.arrival);
    last = Math.max(last, request.done);
    input += request.inputLength;
    hit += request.hitTokens;
    loaded += request.loadedTokens;
    recomputed += request.recomputedTokens;
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
  const makespan = sims.length > 0 ? last - first : 0;
  const workflowLatency = [...spans].map(([workflow, span]) => ({ workflow, seconds: span.end - span.start }));
  const sum = (pick: (replica: Replica) => number) => replicas.reduce((total, replica) => total + pick(replica), 0);
  const blockSize = options.engine.blockSize;
  const linkSeconds = makespan * replicas.length;
  const result: Omit<SimResult, 'speedup'> = {
    setup: options.setup.name,
    requests: sims.length,
    workflows: spans.size,
    makespan,
    workflowLatency: summarize(workflowLatency.map((w) => w.seconds)),
    e2e: summarize(e2e),
    ttft: summarize(ttft),
    tpot: summarize(tpot),
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
    samples: thin(samples, MAX_SAMPLES),
    gpuSlots: options.engine.gpuSlots * replicas.length,
    cpuSlots: (options.setup.cpuTier ? options.engine.cpuSlots : 0) * replicas.length,
  };
  return { result, timeline };
}

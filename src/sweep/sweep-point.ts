/**
 * One run of a sweep, as `kvflow simulate` or `kvflow replay` would do it with the same flags. Runs on a
 * piscina worker (sweep-task.ts) or in-process; either way the output is the same, so a sweep's result does
 * not depend on how many workers ran it. Wall-clock fields (replay's `seconds`) are dropped for that reason.
 */
import { replaySuite, type ReplayReport } from '../replay/replay-suite.js';
import { loadSteSource, loadWorkload, type LoadedWorkload, type WorkloadFlags } from '../config/workload-input.js';
import { chooseGraph, requestsFor } from '../config/graph-source.js';
import { resolveSimulation, simulateInputOf } from '../config/simulation-input.js';
import { REPLAY_FIELDS } from '../config/replay-fields.js';
import { describeReplayInput, replayedRequests } from '../config/replay-input.js';
import { simulate } from '../sim/simulate.js';
import type { SimReport, SimTimeline, Trace } from '../types.js';
import { readTrace } from '../workload/trace.js';
import type { SimulatePoint, SweepRun, ReplayPoint } from './sweep-grid.js';
import { resolvePolicies } from '../config/policy-spec.js';

export interface SweepRunOutput {
  index: number;
  report: SimReport | ReplayReport;
  /** Simulate runs only, and only when asked (for the HTML report). */
  timelines?: SimTimeline[];
}

export async function runSweepPoint(run: SweepRun, options: { timelines: boolean }): Promise<SweepRunOutput> {
  const where = `runs.${run.index}`;
  if (run.kind === 'simulate') {
    const { report, timelines } = await runSimulatePoint(run.config, where);
    return { index: run.index, report, ...(options.timelines && { timelines }) };
  }
  return { index: run.index, report: await runReplayPoint(run.config, where) };
}

async function runSimulatePoint(point: SimulatePoint, where: string): Promise<{ report: SimReport; timelines: SimTimeline[] }> {
  const run = await resolveSimulation(point, {
    source: 'grid',
    setupsWhere: `${where}: setups`,
    policyWhere: `${where}: policy`,
    load: cachedWorkload,
  });
  return simulate(simulateInputOf(run));
}

async function runReplayPoint(point: ReplayPoint, where: string): Promise<ReplayReport> {
  const policySpecs = point.policy ?? REPLAY_FIELDS.policy.default;
  const graph = await chooseGraph(point.graph, {
    ...(point.workflow !== undefined && (point.graph ?? 'declared') === 'declared' && { declared: await loadSteSource(point.workflow) }),
    learnsAgents: policySpecs.includes('ste-learned'),
    where: `${where}: graph`,
    needs: 'a workflow spec (workflow)',
  });
  const read = await cachedTrace(point);
  const trace = { ...read, requests: requestsFor(graph, replayedRequests(read.requests, point)) };
  const policies = await resolvePolicies(policySpecs, { where: `${where}: policy` });
  const report = replaySuite(trace, {
    policies: policies.map((choice) => choice.create),
    capacities: point.capacity ?? REPLAY_FIELDS.capacity.default,
    ...(graph.steSource && { steSource: graph.steSource }),
  });
  describeReplayInput(report, point, read.skipped);
  // Wall time differs run to run; a sweep's output must not.
  return { trace: report.trace, results: report.results.map(({ seconds: _seconds, ...result }) => result) as ReplayReport['results'] };
}

// A worker runs many points of one grid, often on the same workload: parse each input once per thread.
const workloads = new Map<string, Promise<LoadedWorkload>>();
const traces = new Map<string, Promise<Trace>>();

function cachedWorkload(flags: WorkloadFlags): Promise<LoadedWorkload> {
  return memo(workloads, JSON.stringify(flags), () => loadWorkload(flags));
}

function cachedTrace(point: ReplayPoint): Promise<Trace> {
  const options = {
    format: point.format ?? 'auto',
    ...(point.blockSize !== undefined && { blockSize: point.blockSize }),
    skipInvalid: point.skipInvalid ?? false,
    ...(point.tokenizer !== undefined && { tokenizer: point.tokenizer }),
  };
  return memo(traces, JSON.stringify([point.trace, options]), () => readTrace(point.trace!, options));
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (!value) {
    value = load();
    cache.set(key, value);
    value.catch(() => cache.delete(key));
  }
  return value;
}

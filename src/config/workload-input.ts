import { AgentStepGraph } from '../graph/graph.js';
import { chooseGraph, requestsFor, type GraphSource } from './graph-source.js';
import { WorkflowSte } from '../graph/workflow-ste.js';
import type { SteSource, TraceFormat, TraceRequest } from '../types.js';
import type { WorkflowSpec } from '../workload/spec.js';
import { readTrace } from '../workload/trace.js';
import { retimeSessions, sessionsStartName, type SessionsStart } from '../workload/sessions-start.js';

/** Requests to run, where they came from, and the declared step graph if there is one. */
export interface LoadedWorkload {
  requests: TraceRequest[];
  blockSize: number;
  /** A fresh STE source per run, from the declared workflow graph. */
  steSource?: () => SteSource;
  /** Per request, its workflow round (specs only): what `--warmup-rounds` leaves out. */
  rounds?: number[];
  /** For the report's config. */
  description: Record<string, unknown>;
}

export interface WorkloadFlags {
  workload?: string;
  trace?: string;
  format?: TraceFormat | 'auto';
  blockSize?: number;
  skipInvalid?: boolean;
  /** Tokenizer of text traces (see ReadTraceOptions.tokenizer). */
  tokenizer?: string;
  seed: number;
  /** Re-times the sessions of the workload (`--sessions-start`). */
  sessionsStart?: SessionsStart;
}

/** A workflow spec expanded with the seed, or a trace file read whole; sessions re-timed if asked. */
export async function loadWorkload(flags: WorkloadFlags): Promise<LoadedWorkload> {
  const workload = await loadUntimed(flags);
  if (!flags.sessionsStart) return workload;
  return {
    ...workload,
    requests: retimeSessions(workload.requests, flags.sessionsStart, flags.seed),
    description: { ...workload.description, sessionsStart: sessionsStartName(flags.sessionsStart) },
  };
}

async function loadUntimed(flags: WorkloadFlags): Promise<LoadedWorkload> {
  if (flags.workload !== undefined) {
    // Loaded only for a spec: they bring zod, which a trace needs only for a bad line.
    const [{ loadWorkflowSpec }, { generateRequests }, { stepRound }] = await Promise.all([
      import('../workload/spec.js'),
      import('../workload/generate.js'),
      import('../workload/instance-run.js'),
    ]);
    const spec = await loadWorkflowSpec(flags.workload);
    const requests = generateRequests(spec, { seed: flags.seed });
    return {
      requests,
      blockSize: spec.blockSize,
      steSource: steSourceFor(spec),
      rounds: requests.map((request) => stepRound(request.id)),
      description: { spec: flags.workload, name: spec.name, seed: flags.seed, requests: requests.length },
    };
  }
  const trace = await readTrace(flags.trace!, {
    format: flags.format ?? 'auto',
    ...(flags.blockSize !== undefined && { blockSize: flags.blockSize }),
    skipInvalid: flags.skipInvalid ?? false,
    ...(flags.tokenizer !== undefined && { tokenizer: flags.tokenizer }),
  });
  return {
    requests: trace.requests,
    blockSize: trace.requests[0]!.blockSize,
    description: { trace: trace.path, format: trace.format, requests: trace.requests.length, skippedLines: trace.skipped },
  };
}

/** STE for the cache from a spec's declared graph: a fresh tracker per run. */
export function steSourceFor(spec: WorkflowSpec): () => SteSource {
  const graph = AgentStepGraph.fromSpec(spec);
  return () => new WorkflowSte(graph, { shareAgents: spec.shareAgents });
}

/** `--workflow SPEC` for replay: the spec's graph gives STE to the `ste` policy. */
export async function loadSteSource(path: string): Promise<() => SteSource> {
  const { loadWorkflowSpec } = await import('../workload/spec.js');
  return steSourceFor(await loadWorkflowSpec(path));
}

/**
 * Chooses where STE comes from (config/graph-source.ts): the declared graph (a workflow spec), a graph
 * learned online from the requests themselves (each request gets an agent from the ones before it), or none.
 */
export async function withGraph(workload: LoadedWorkload, graph: GraphSource | undefined): Promise<LoadedWorkload> {
  const choice = await chooseGraph(graph, { declared: workload.steSource, where: '--graph', needs: 'a workflow spec (--workload or --workflow)' });
  const { steSource: _declared, ...rest } = workload;
  return {
    ...rest,
    ...(choice.steSource && { steSource: choice.steSource }),
    ...(choice.annotator && { requests: requestsFor(choice, workload.requests) }),
    ...(choice.source === 'learned' && { description: { ...workload.description, graph: 'learned' } }),
  };
}

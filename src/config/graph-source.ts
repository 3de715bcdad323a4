/**
 * Where STE comes from, chosen once for `replay`, `simulate` and `sweep`: the declared graph of a workflow
 * spec, a graph learned online from the requests themselves, or none. A learned graph (and a policy that
 * learns agents itself, `ste-learned`) needs each request's agent inferred from the requests before it,
 * so requests are annotated here, always in replay order.
 */
import { InputError } from '../errors.js';
import type { AgentAnnotator } from '../graph/learner.js';
import type { SteSource, TraceRequest } from '../types.js';
import { replayOrder } from '../workload/request-order.js';

export const GRAPH_SOURCES = ['declared', 'learned', 'none'] as const;
export type GraphSource = (typeof GRAPH_SOURCES)[number];

/** The choice made: the source, a fresh STE source per run (if any), and whether requests need agents inferred. */
export interface GraphChoice {
  readonly source: GraphSource;
  readonly steSource?: () => SteSource;
  /** A fresh agent annotator, present when requests get inferred agents (the learner's modules load only then). */
  readonly annotator?: () => AgentAnnotator;
}

export interface GraphOptions {
  /** The declared graph, when a workflow spec was given. */
  declared?: (() => SteSource) | undefined;
  /** Runs a policy that identifies agents itself (`ste-learned`): requests get agents whatever the source. */
  learnsAgents?: boolean;
  /** Labels the error when `declared` is asked for without a spec (`--graph`, `grid.json: runs.3`). */
  where: string;
  /** What that error says is missing: `--workflow SPEC`, `a workflow spec (--workload or --workflow)`. */
  needs: string;
}

/**
 * Declared when there is a spec, else none, unless `requested` says otherwise. The graph learner's modules
 * load here only when a graph is learned or agents are inferred (a plain replay needs neither).
 */
export async function chooseGraph(requested: GraphSource | undefined, options: GraphOptions): Promise<GraphChoice> {
  const source = requested ?? (options.declared ? 'declared' : 'none');
  if (source === 'declared' && !options.declared) throw InputError.flag(options.where, `declared needs ${options.needs}`);
  const learner = source === 'learned' || options.learnsAgents === true ? await import('../graph/learner.js') : undefined;
  const annotator = learner && { annotator: () => new learner.AgentAnnotator() };
  if (source === 'declared') return { source, steSource: options.declared, ...annotator };
  if (source === 'learned') return { source, steSource: () => new learner!.OnlineGraphLearner(), ...annotator };
  return { source, ...annotator };
}

/** The requests a run sees: in replay order with inferred agents when the choice needs them, else as given. */
export function requestsFor(choice: GraphChoice, requests: readonly TraceRequest[]): TraceRequest[] {
  return choice.annotator ? choice.annotator().annotateAll(replayOrder(requests)) : (requests as TraceRequest[]);
}

/** Agents inferred as requests stream in (a stream is already in replay order, or replay falls back to memory). */
export async function* annotateStream(newAnnotator: () => AgentAnnotator, requests: AsyncIterable<TraceRequest>): AsyncGenerator<TraceRequest> {
  const annotator = newAnnotator();
  for await (const request of requests) yield annotator.annotate(request);
}

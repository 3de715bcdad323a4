import { GLOBAL_SESSION, type SteSource } from '../types.js';
import { SteChangeFeed } from './ste-feed.js';

/** What the tracker reads of a request: whose call it is. */
export interface SteRequest {
  readonly workflow?: string | undefined;
  readonly agent?: string | undefined;
}

/** The key a request's fixed-prompt pages are tagged with: the source's `tagKey`, else the agent's name. */
export function steTagKey(source: SteSource | undefined, request: SteRequest): string | undefined {
  const { agent } = request;
  if (agent === undefined) return undefined;
  return source?.tagKey ? source.tagKey(request.workflow ?? GLOBAL_SESSION, agent) : agent;
}

/**
 * Keeps an STE source up to date as a driver runs requests, for cache-only replay (replay/replay.ts) and
 * the simulator (sim/simulation.ts): a request's agent begins when it starts and ends when it is done,
 * its workflow finishes after the workflow's last request (requests without a workflow form one global
 * session), and what changed is handed back for the driver to pass on (to the policy's `applySte`, or to
 * every replica). Requests without an agent leave the source alone.
 */
export class SteRequestTracker {
  readonly source: SteSource;
  readonly #feed: SteChangeFeed;
  readonly #lastOfWorkflow = new Map<string, number>();

  /** `requests` in the driver's order (only their last of each workflow is read; empty: never finish). */
  constructor(source: SteSource, requests: readonly SteRequest[]) {
    this.source = source;
    this.#feed = new SteChangeFeed(source);
    requests.forEach((request, index) => this.#lastOfWorkflow.set(request.workflow ?? GLOBAL_SESSION, index));
  }

  /** True when request number `index` is its workflow's last. */
  isLastOfWorkflow(request: SteRequest, index: number): boolean {
    return this.#lastOfWorkflow.get(request.workflow ?? GLOBAL_SESSION) === index;
  }

  /** The request started: its agent begins. Returns what changed since the last look (undefined: nothing, or no agent). */
  begin(request: SteRequest): ReadonlyMap<string, number | undefined> | undefined {
    if (request.agent === undefined) return undefined;
    this.source.begin(request.workflow ?? GLOBAL_SESSION, request.agent);
    return this.#feed.take();
  }

  /** The request is done: its agent ends, and with `finishesWorkflow` its workflow finishes (see `changes`). */
  end(request: SteRequest, finishesWorkflow: boolean): void {
    if (request.agent === undefined) return;
    const workflow = request.workflow ?? GLOBAL_SESSION;
    this.source.end(workflow, request.agent);
    if (finishesWorkflow) this.source.finish(workflow);
  }

  /** What changed since the last look (undefined: nothing). */
  changes(): ReadonlyMap<string, number | undefined> | undefined {
    return this.#feed.take();
  }

  tagKey(request: SteRequest): string | undefined {
    return steTagKey(this.source, request);
  }
}

import { DEFAULT_BLOCK_SIZE, type ReplayResult, type SteSource, type Trace, type TraceSummary } from '../types.js';
import { computeNextUse, type NextUseIndex } from '../cache/next-use.js';
import type { PolicyFactory } from '../cache/policy.js';
import type { ExplainRun } from './explain.js';
import { replayOrder } from '../workload/request-order.js';
import { replayTrace } from './replay.js';

export interface ReplaySuiteOptions {
  /** One factory per policy: every (capacity, policy) run gets a fresh object. */
  policies: readonly PolicyFactory[];
  /** Token capacities; `null` is unbounded. */
  capacities: readonly (number | null)[];
  /** A fresh STE source per run of a policy with `applySte` (each replay starts from an empty workflow state). */
  steSource?: () => SteSource;
  /** Called after each request of each run with (runs done, requests done in this run). */
  onProgress?: (requestsDone: number) => void;
}

/** The JSON document of `kvflow replay --json`. */
export interface ReplayReport {
  trace: TraceSummary;
  results: ReplayResult[];
  /** With `--explain`: each (capacity, policy) run's misses attributed (docs/replay-explain.md). */
  explain?: ExplainRun[];
}

/**
 * Replays one trace for every (capacity, policy) pair, sharing the parsed trace and Belady's next-use
 * index between runs. Results come capacity by capacity, policies in the given order.
 */
export function replaySuite(trace: Trace, options: ReplaySuiteOptions): ReplayReport {
  const requests = replayOrder(trace.requests);
  const blockSize = requests[0]?.blockSize ?? DEFAULT_BLOCK_SIZE;
  let nextUse: NextUseIndex | undefined;
  const results: ReplayResult[] = [];
  let done = 0;
  for (const capacityTokens of options.capacities) {
    for (const makePolicy of options.policies) {
      const slots = capacityTokens === null ? Infinity : Math.floor(capacityTokens / blockSize);
      const policy = makePolicy({ gpuSlots: slots });
      if (policy.usesNextUse) nextUse ??= computeNextUse(requests);
      const ste = policy.applySte ? options.steSource?.() : undefined;
      const base = done;
      results.push(
        replayTrace(requests, {
          policy,
          capacityTokens,
          blockSize,
          ...(nextUse && { nextUse }),
          ...(ste && { ste }),
          onProgress: (n) => options.onProgress?.(base + n),
          progressEvery: 1024,
        }),
      );
      done += requests.length;
      options.onProgress?.(done);
    }
  }
  return { trace: summarizeTrace(trace), results };
}

export function summarizeTrace(trace: Trace): TraceSummary {
  let inputTokens = 0;
  let pages = 0;
  for (const request of trace.requests) {
    inputTokens += request.inputLength;
    pages += request.blocks.length;
  }
  return { path: trace.path, requests: trace.requests.length, inputTokens, pages };
}

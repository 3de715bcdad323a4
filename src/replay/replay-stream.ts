import { InputError } from '../errors.js';
import type { ReplayResult, SteSource, TraceRequest, TraceSummary } from '../types.js';
import { LfuPolicy, LruPolicy, type EvictionPolicy, type PolicyFactory } from '../cache/policy.js';
import type { ReplayReport } from './replay-suite.js';
import type { PrefixEncoding } from './prefix-encoding.js';
import { CacheReplayer } from './replay.js';

export interface StreamReplayOptions {
  /** One factory per policy: every (capacity, policy) run gets a fresh object. */
  policies: readonly PolicyFactory[];
  capacities: readonly (number | null)[];
  /**
   * A fresh STE source per run of a policy with `applySte`. Its instances are never told they finished
   * (that needs the future).
   */
  steSource?: () => SteSource;
  /** Called every 4096 requests read, and once per run of a policy that reads the future. */
  onProgress?: (requestsDone: number) => void;
}

/** The stream's `t` went backwards: the replay order needs a sort, which a single pass cannot do. */
export class NeedsSortError extends Error {
  override readonly name = 'NeedsSortError';
}

/**
 * Replays a trace in one pass without holding it: every (capacity, policy) pair except those that read the
 * future (`usesNextUse`, e.g. Belady) runs as requests stream by, so memory follows the caches, not the
 * trace. For the others the pass also records each request's pages as dense prefix ids (4 bytes per page
 * reference, no objects), then one backward pass over them gives every reference its next use, and they
 * replay from that encoding.
 *
 * Results equal `replaySuite`'s on the same trace. Replay order is file order, which is the replay
 * semantics' stable sort by `t` whenever `t` never decreases; if it does, this throws `NeedsSortError`.
 * `requests` come one at a time (`streamTrace`) or in batches (`streamTraceBatches`), in file order.
 */
export async function replayStream(
  path: string,
  requests: AsyncIterable<TraceRequest | readonly TraceRequest[]>,
  options: StreamReplayOptions,
): Promise<ReplayReport> {
  warmUpClock();
  const onlineRuns: { replayer: CacheReplayer; seconds: number; warmUp: EvictionPolicy | undefined }[] = [];
  const offline = options.policies.map((makePolicy) => makePolicy().usesNextUse === true);
  // Its module (and the prefix interner's) loads only when a policy reads the future.
  const encoding: PrefixEncoding | undefined = offline.includes(true) ? new (await import('./prefix-encoding.js')).PrefixEncoding() : undefined;
  const summary: TraceSummary = { path, requests: 0, inputTokens: 0, pages: 0 };
  let blockSize = 0;
  let lastT = -Infinity;
  let allTimed = true;

  /** Checks request `r` (the first one also sets up the runs); throws before anything of its batch is replayed. */
  const checkRequest = (request: TraceRequest, r: number) => {
    if (r === 0) {
      blockSize = request.blockSize;
      for (const capacityTokens of options.capacities) {
        for (const [p, makePolicy] of options.policies.entries()) {
          if (offline[p]) continue;
          const policy = makePolicy({ gpuSlots: capacityTokens === null ? Infinity : Math.floor(capacityTokens / blockSize) });
          const ste = policy.applySte ? options.steSource?.() : undefined;
          const replayer = new CacheReplayer([], { policy, capacityTokens, blockSize, ...(ste && { ste }) });
          // One warm-up per process is enough (the kernel's code is shared); the first run that can have it does.
          const warmUp = kernelWarmedUp ? undefined : warmUpPolicy(policy);
          if (warmUp) kernelWarmedUp = true;
          onlineRuns.push({ replayer, seconds: 0, warmUp });
        }
      }
    }
    if (request.blockSize !== blockSize) {
      throw new InputError(`request ${request.id}: block_size ${request.blockSize} differs from ${blockSize}`);
    }
    if (request.t === undefined) allTimed = false;
    else if (allTimed && request.t < lastT) throw new NeedsSortError(`request ${request.id}: t goes backwards`);
    else lastT = request.t;
  };
  /**
   * A batch (or one request) through every online run, run by run: each run's `seconds` is the time of its
   * steps, with one clock read per batch rather than two per request (a fresh process runs the clock's
   * code unoptimised too, inside the figure). Runs are independent, so their order within a batch changes nothing.
   */
  const replayBatch = (batch: readonly TraceRequest[]) => {
    const first = summary.requests;
    for (let i = 0; i < batch.length; i++) checkRequest(batch[i]!, first + i);
    for (const run of onlineRuns) {
      const replayer = run.replayer;
      const started = performance.now();
      if (run.warmUp) {
        warmUpKernel(run.warmUp, batch, blockSize);
        run.warmUp = undefined;
      }
      for (let i = 0; i < batch.length; i++) replayer.step(batch[i]!, first + i, undefined, 0, false);
      run.seconds += performance.now() - started;
    }
    for (let i = 0; i < batch.length; i++) {
      const request = batch[i]!;
      encoding?.add(request);
      summary.requests++;
      summary.inputTokens += request.inputLength;
      summary.pages += request.blocks.length;
      if (summary.requests % 4096 === 0) options.onProgress?.(summary.requests);
    }
  };
  // A batch costs one await, not one per request (streamTraceBatches: a chunk of the file at a time).
  for await (const item of requests) replayBatch(isBatch(item) ? item : [item]);

  const offlineResults: ReplayResult[] = [];
  if (encoding) {
    const nextUse = encoding.nextUse();
    for (const capacityTokens of options.capacities) {
      for (const [p, makePolicy] of options.policies.entries()) {
        if (!offline[p]) continue;
        offlineResults.push(encoding.replay(makePolicy, capacityTokens, blockSize, nextUse));
        options.onProgress?.(summary.requests);
      }
    }
  }
  const results: ReplayResult[] = [];
  let online = 0;
  let offlineDone = 0;
  for (const capacityTokens of options.capacities) {
    for (const p of options.policies.keys()) {
      if (offline[p]) results.push(offlineResults[offlineDone++]!);
      else {
        const run = onlineRuns[online++]!;
        results.push({ ...run.replayer.totals(), seconds: run.seconds / 1000 });
      }
    }
  }
  return { trace: summary, results };
}

/**
 * Calls `performance.now()` a few times before the first run is timed. V8 gives a function its feedback
 * (what its calls and property reads have seen) only from its ninth call on (lazy feedback allocation);
 * `replayBatch` reads the clock twice per batch, so when V8 optimises it (on-stack, during the first
 * batch or two: the kernel inlined into it) the clock's internals have no feedback yet, the optimised
 * code gives up at the first clock read after the loop ("insufficient type feedback for call", in
 * `now`), and `replayBatch` runs unoptimised until it is compiled again (two or three compiles of it, each
 * with the kernel inlined, in a cold `kvflow replay` of the Mooncake trace; one with this). Results are
 * untouched: nothing is read from these calls. Measured: docs/performance.md, "Replay CLI, session 14".
 */
function warmUpClock(): void {
  for (let i = 0; i < 16; i++) performance.now();
}

/** Whether this process has run `warmUpKernel` (once is enough: V8's feedback is per function, not per cache). */
let kernelWarmedUp = false;

/** Requests of the first batch a warm-up replays, and the pages of its cache: small enough to fill at once. */
const WARM_UP_REQUESTS = 24;
const WARM_UP_SLOTS = 8;

/**
 * Runs the trace's first requests through a throwaway cache of a few pages, with `policy` (a fresh one of the
 * run's kind), before the run itself (its time counted in the run's `seconds`). Results are untouched: the
 * cache and the policy object are thrown away. Why: in a fresh process (every `kvflow replay`) V8 optimises
 * the kernel's functions after a few thousand page references, before the cache is full, so their code
 * knows nothing of eviction, sibling edges or refilled pages; the first eviction then throws the code away
 * and V8 compiles it again (eight such deoptimisations in a replay of the Mooncake trace, each a compile of
 * 20-50 ms on the compiler's thread while the kernel runs unoptimised). A tiny cache evicts from its ninth
 * page on, so the eviction paths have their feedback before anything is optimised (three to five
 * deoptimisations are left, in paths that these few requests do not reach). Measured: docs/performance.md.
 */
function warmUpKernel(policy: EvictionPolicy, batch: readonly TraceRequest[], blockSize: number): void {
  const warm = new CacheReplayer([], { policy, capacityTokens: WARM_UP_SLOTS * blockSize, blockSize });
  for (let i = 0; i < Math.min(WARM_UP_REQUESTS, batch.length); i++) warm.step(batch[i]!, i, undefined, 0, false);
}

/**
 * A fresh policy for the warm-up when the run's is a built-in that holds nothing but its own state (made here,
 * not by the run's factory, which may count its calls); none for anything else: learned policies may share a
 * model between objects, and a policy file may do anything.
 */
function warmUpPolicy(policy: EvictionPolicy): EvictionPolicy | undefined {
  const prototype = Object.getPrototypeOf(policy) as unknown;
  if (prototype === LruPolicy.prototype) return new LruPolicy();
  if (prototype === LfuPolicy.prototype) return new LfuPolicy();
  return undefined;
}

function isBatch(item: TraceRequest | readonly TraceRequest[]): item is readonly TraceRequest[] {
  return Array.isArray(item);
}

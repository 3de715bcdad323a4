import { InputError } from '../errors.js';
import type { ReplayPolicyName, ReplayResult, SteSource, TraceRequest, TraceSummary } from '../types.js';
import { ChildIndex } from '../cache/child-index.js';
import type { ReplayReport } from './replay-suite.js';
import { CacheReplayer, type ReplayRequest } from './replay.js';

/** "Never used again" in an Int32 next-use index. */
const NEVER_INDEX = 0x7fffffff;

export interface StreamReplayOptions {
  policies: readonly ReplayPolicyName[];
  capacities: readonly (number | null)[];
  /** A fresh STE source per `ste` run. Its instances are never told they finished (that needs the future). */
  steSource?: () => SteSource;
  /** Called every 4096 requests read, and once per Belady run. */
  onProgress?: (requestsDone: number) => void;
}

/** The stream's `t` went backwards: the replay order needs a sort, which a single pass cannot do. */
export class NeedsSortError extends Error {
  override readonly name = 'NeedsSortError';
}

/**
 * Replays a trace in one pass without holding it: every (capacity, policy) pair except Belady runs as
 * requests stream by, so memory follows the caches, not the trace. Belady needs the future: the pass also
 * records each request's pages as dense prefix ids (4 bytes per page reference, no objects), then one
 * backward pass over them gives every reference its next use, and Belady replays from that encoding.
 *
 * Results equal `replaySuite`'s on the same trace. Replay order is file order, which is the replay
 * semantics' stable sort by `t` whenever `t` never decreases; if it does, this throws `NeedsSortError`.
 */
export async function replayStream(
  path: string,
  requests: AsyncIterable<TraceRequest>,
  options: StreamReplayOptions,
): Promise<ReplayReport> {
  const onlineRuns: { replayer: CacheReplayer; seconds: number }[] = [];
  const wantsBelady = options.policies.includes('belady');
  const encoding = wantsBelady ? new PrefixEncoding() : undefined;
  const summary: TraceSummary = { path, requests: 0, inputTokens: 0, pages: 0 };
  let blockSize = 0;
  let lastT = -Infinity;
  let allTimed = true;

  for await (const request of requests) {
    const r = summary.requests;
    if (r === 0) {
      blockSize = request.blockSize;
      for (const capacityTokens of options.capacities) {
        for (const policy of options.policies) {
          if (policy === 'belady') continue;
          const ste = policy === 'ste' ? options.steSource?.() : undefined;
          const replayer = new CacheReplayer([], { policy, capacityTokens, blockSize, ...(ste && { ste }) });
          onlineRuns.push({ replayer, seconds: 0 });
        }
      }
    }
    if (request.blockSize !== blockSize) {
      throw new InputError(`request ${request.id}: block_size ${request.blockSize} differs from ${blockSize}`);
    }
    if (request.t === undefined) allTimed = false;
    else if (allTimed && request.t < lastT) throw new NeedsSortError(`request ${request.id}: t goes backwards`);
    else lastT = request.t;

    for (const run of onlineRuns) {
      const started = performance.now();
      run.replayer.step(request, r, undefined, 0, false);
      run.seconds += performance.now() - started;
    }
    encoding?.add(request);
    summary.requests++;
    summary.inputTokens += request.inputLength;
    summary.pages += request.blocks.length;
    if (summary.requests % 4096 === 0) options.onProgress?.(summary.requests);
  }

  const belady = new Map<number | null, ReplayResult>();
  if (encoding) {
    const nextUse = encoding.nextUse();
    for (const capacityTokens of options.capacities) {
      belady.set(capacityTokens, encoding.replayBelady(capacityTokens, blockSize, nextUse));
      options.onProgress?.(summary.requests);
    }
  }
  const results: ReplayResult[] = [];
  let online = 0;
  for (const capacityTokens of options.capacities) {
    for (const policy of options.policies) {
      if (policy === 'belady') results.push(belady.get(capacityTokens)!);
      else {
        const run = onlineRuns[online++]!;
        results.push({ ...run.replayer.totals(), seconds: run.seconds / 1000 });
      }
    }
  }
  return { trace: summary, results };
}

/**
 * A trace as dense prefix ids: the path `blocks[0..i]` of every request, interned through one edge
 * table, so equal prefixes share an id. Ids stand in for block ids in the replay (a child is still
 * identified by its parent and its id), and Belady's next-use index is one backward pass over them.
 */
class PrefixEncoding {
  #edges = new ChildIndex(1 << 16);
  #prefixes = 1; // 0 is the empty prefix
  #ids = new Int32Array(1 << 16);
  #refs = 0;
  #offsets = new Float64Array(1 << 12);
  #inputLength = new Int32Array(1 << 12);
  #requests = 0;

  add(request: TraceRequest): void {
    const { blocks } = request;
    if (this.#requests + 2 > this.#offsets.length) {
      this.#offsets = growFloat(this.#offsets);
      this.#inputLength = growInt(this.#inputLength);
    }
    while (this.#refs + blocks.length > this.#ids.length) this.#ids = growInt(this.#ids);
    let prefix = 0;
    for (const block of blocks) {
      let child = this.#edges.get(prefix, block);
      if (child < 0) {
        child = this.#prefixes++;
        this.#edges.set(prefix, block, child);
      }
      this.#ids[this.#refs++] = child;
      prefix = child;
    }
    this.#inputLength[this.#requests] = request.inputLength;
    this.#requests++;
    this.#offsets[this.#requests] = this.#refs;
  }

  /**
   * For every page reference, the next request that uses the same prefix; never is 2^31 - 1, which
   * orders exactly like Infinity (request indices stay below it) at half the memory.
   */
  nextUse(): Int32Array {
    this.#edges = new ChildIndex(16); // the interner is no longer needed
    const lastSeen = new Int32Array(this.#prefixes).fill(NEVER_INDEX);
    const nextUse = new Int32Array(this.#refs);
    for (let r = this.#requests - 1; r >= 0; r--) {
      for (let at = this.#offsets[r]!; at < this.#offsets[r + 1]!; at++) {
        const prefix = this.#ids[at]!;
        nextUse[at] = lastSeen[prefix]!;
        lastSeen[prefix] = r;
      }
    }
    return nextUse;
  }

  replayBelady(capacityTokens: number | null, blockSize: number, nextUse: Int32Array): ReplayResult {
    const replayer = new CacheReplayer([], { policy: 'belady', capacityTokens, blockSize });
    const request: ReplayRequest = { id: '', blocks: this.#ids.subarray(0, 0), blockSize, inputLength: 0, outputLength: 0 };
    const started = performance.now();
    for (let r = 0; r < this.#requests; r++) {
      const from = this.#offsets[r]!;
      request.blocks = this.#ids.subarray(from, this.#offsets[r + 1]!);
      request.inputLength = this.#inputLength[r]!;
      replayer.step(request, r, nextUse, from, false);
    }
    return { ...replayer.totals(), seconds: (performance.now() - started) / 1000 };
  }
}

function growInt(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const next = new Int32Array(array.length * 2);
  next.set(array);
  return next;
}

function growFloat(array: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const next = new Float64Array(array.length * 2);
  next.set(array);
  return next;
}

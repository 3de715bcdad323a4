import { prefixTokens } from '../workload/request-order.js';
import { InputError } from '../errors.js';
import { SteRequestTracker } from '../graph/ste-requests.js';
import type { ReplayResult, SteSource, TraceRequest } from '../types.js';
import { computeNextUse, type NextUseIndex } from '../cache/next-use.js';
import type { EvictionPolicy, PolicyFactory } from '../cache/policy.js';
import { PromptAdmission } from '../cache/prompt-admission.js';
import { RadixCache } from '../cache/radix-cache.js';

/** What the replay reads of a request: its prompt as block ids and its lengths (and tags for STE). */
export type ReplayRequest = Pick<TraceRequest, 'id' | 'blockSize' | 'inputLength' | 'outputLength' | 'workflow' | 'agent' | 'fixedBlocks'> & {
  blocks: ArrayLike<number>;
};

export interface ReplayOptions {
  /** The policy of this run's cache: an object (used once) or a factory. */
  policy: EvictionPolicy | PolicyFactory;
  /** Capacity in tokens; `null` is unbounded. */
  capacityTokens: number | null;
  /** Turns the capacity into `floor(capacityTokens / blockSize)` page slots. */
  blockSize: number;
  /** Next-use index of `requests` for a policy that `usesNextUse`; computed when absent. Share it across runs. */
  nextUse?: NextUseIndex;
  /**
   * Steps-to-execution, advanced as requests run, for a policy with `applySte` (others never see it).
   * Without it `ste` is exactly LRU.
   */
  ste?: SteSource;
  /** Called every `progressEvery` requests with the number done. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
  /** Watches every request's pages and every eviction (`replay --explain`). Gives every page its next use. */
  probe?: ReplayProbe;
}

/** Sees what a replay does, without changing it: `replay --explain` attributes misses with it. */
export interface ReplayProbe {
  /** Request `r` holds `path[0..held)` (matched, then inserted), before they are unlocked. */
  afterRequest(request: ReplayRequest, r: number, path: ArrayLike<number>, held: number, matched: number): void;
  /** `page` left the GPU; `cache.nextUse(page)` is its next use. */
  onEvict(page: number, cache: RadixCache): void;
}

/**
 * Cache-only replay (DESIGN.md section 4): requests one at a time in the given order. For request r: match
 * the longest GPU prefix; matched pages get tick r and stay locked; missing blocks are inserted in order
 * with tick r, evicting one page at a time while no slot is free; when nothing can be evicted the rest of
 * the prompt is not inserted. Then the path is unlocked. Output tokens are never inserted.
 */
export function replayTrace(requests: readonly TraceRequest[], options: ReplayOptions): ReplayResult {
  const replayer = new CacheReplayer(requests, options);
  const progressEvery = options.progressEvery ?? 4096;
  const started = performance.now();
  for (let r = 0; r < requests.length; r++) {
    replayer.run(r);
    if (options.onProgress && (r + 1) % progressEvery === 0) options.onProgress(r + 1);
  }
  const seconds = (performance.now() - started) / 1000;
  return { ...replayer.totals(), seconds };
}

/** Replays a trace request by request, so tests can look at the cache between requests. */
export class CacheReplayer {
  readonly cache: RadixCache;
  readonly #policy: EvictionPolicy;
  readonly #requests: readonly TraceRequest[];
  readonly #options: ReplayOptions;
  readonly #nextUse: NextUseIndex | undefined;
  readonly #steTracker: SteRequestTracker | undefined;
  readonly #admission: PromptAdmission;
  #inputTokens = 0;
  #hitTokens = 0;
  #done = 0;

  constructor(requests: readonly TraceRequest[], options: ReplayOptions) {
    const { capacityTokens, blockSize } = options;
    const slots = capacityTokens === null ? Infinity : Math.floor(capacityTokens / blockSize);
    const policy = typeof options.policy === 'function' ? options.policy({ gpuSlots: slots }) : options.policy;
    const probe = options.probe;
    this.cache = new RadixCache({ gpuSlots: slots, policy, ...(probe && { onGpuEvict: (page: number) => probe.onEvict(page, this.cache) }) });
    this.#policy = policy;
    this.#admission = new PromptAdmission(this.cache, policy);
    this.#requests = requests;
    this.#options = options;
    this.#nextUse = (policy.usesNextUse || options.probe) && requests.length > 0 ? (options.nextUse ?? computeNextUse(requests)) : undefined;
    this.#steTracker = policy.applySte && options.ste ? new SteRequestTracker(options.ste, requests) : undefined;
  }

  /** Runs request number `r` of the requests given at construction (in order); returns its hit tokens. */
  run(r: number): number {
    const request = this.#requests[r]!;
    const last = this.#steTracker?.isLastOfWorkflow(request, r) ?? false;
    return this.step(request, r, this.#nextUse?.nextUse, this.#nextUse?.offsets[r] ?? 0, last);
  }

  /**
   * Runs one request as number `r` of the replay; returns its hit tokens. `nextUse[base + i]` is the
   * next use of its block i (for Belady); `endsWorkflow` says it is its workflow's last request.
   */
  step(request: ReplayRequest, r: number, nextUse: ArrayLike<number> | undefined, base: number, endsWorkflow: boolean): number {
    if (request.blockSize !== this.#options.blockSize) {
      throw new InputError(
        `request ${request.id}: block_size ${request.blockSize} differs from ${this.#options.blockSize}`,
      );
    }
    const steTracker = this.#steTracker;
    if (steTracker) {
      const changes = steTracker.begin(request);
      if (changes) this.#policy.applySte!(changes);
    }
    const admission = this.#admission;
    const key = this.#policy.notePrompt ? (steTracker ? steTracker.tagKey(request) : request.agent) : undefined;
    const matched = admission.admit(request, r, request, key, nextUse, base);
    this.#options.probe?.afterRequest(request, r, admission.path, admission.held, matched);
    admission.release();

    const hit = prefixTokens(request, matched);
    this.#inputTokens += request.inputLength;
    this.#hitTokens += hit;
    this.#done++;
    steTracker?.end(request, endsWorkflow);
    return hit;
  }

  /** Totals so far, without timing. */
  totals(): Omit<ReplayResult, 'seconds'> {
    return {
      policy: this.#policy.name,
      capacityTokens: this.#options.capacityTokens,
      requests: this.#done,
      inputTokens: this.#inputTokens,
      hitTokens: this.#hitTokens,
      hitRate: this.#inputTokens > 0 ? this.#hitTokens / this.#inputTokens : 0,
      evictions: this.cache.evictions,
    };
  }
}

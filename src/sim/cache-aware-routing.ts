/**
 * Where a request goes among replicas: a routing policy is a small strategy object over the candidates
 * still eligible. One implementation serves both the gateway (its upstreams: healthy, serving the model,
 * not yet tried for this request) and the simulator's `cache-aware` router (its replicas), so a
 * simulation routes as the gateway does.
 */

/** What a policy may read about an upstream or replica. */
export interface RouteCandidate {
  /** Position in the gateway's upstream list (the simulator's replica list). */
  readonly index: number;
  /** Requests in flight there (through this gateway; waiting or running on a replica). */
  readonly load: number;
  /** Pages its cache holds (the gateway's shadow tree or KV-event index, a replica's tree): read on a miss. */
  readonly cachedPages: number;
}

export interface RoutingDecision {
  index: number;
  /** `cache`: best prefix match; `balance`: loads too uneven; `miss`: no upstream holds enough of the prompt. */
  reason: 'cache' | 'balance' | 'miss';
  /** Leading pages the chosen upstream is expected to hold. */
  matchedBlocks: number;
}

/** The prompt being routed: its page count, and how many leading pages each candidate holds (computed on demand). */
export interface RouteQuery {
  pages: number;
  /** Matched pages per candidate, in candidate order. */
  matches(): ArrayLike<number>;
}

export interface RoutingPolicy {
  readonly name: string;
  choose(candidates: readonly RouteCandidate[], query: RouteQuery): RoutingDecision;
}

export interface CacheAwareOptions {
  /** Loads are imbalanced when max - min exceeds this (SGLang router default 32)... */
  balanceAbs: number;
  /** ...and max exceeds min times this (SGLang router default 1.0001). */
  balanceRel: number;
  /** Below this share of the prompt matched anywhere, the request is a miss (SGLang default 0.5). */
  cacheThreshold: number;
  /**
   * Where a miss goes. `smallest-tree`: the upstream whose cache holds the fewest pages (the most room; as
   * the SGLang router's design comment says), then the less loaded, then the earlier. `least-loaded`: the
   * least loaded, then the earlier (what the SGLang router's code does, sgl-router policies/cache_aware.rs).
   */
  miss: CacheAwareMiss;
  /** Between equal matches: `load` the less loaded, then the earlier; `order` the earlier. */
  tieBreak: 'load' | 'order';
}

export const CACHE_AWARE_MISS = ['smallest-tree', 'least-loaded'] as const;
export type CacheAwareMiss = (typeof CACHE_AWARE_MISS)[number];

/** The gateway's defaults (and `simulate --router cache-aware-tree`). */
export const CACHE_AWARE_DEFAULTS: CacheAwareOptions = { balanceAbs: 32, balanceRel: 1.0001, cacheThreshold: 0.5, miss: 'smallest-tree', tieBreak: 'load' };
/** `simulate --router cache-aware`: a miss to the least loaded, as the SGLang router's code routes. */
export const SGLANG_CACHE_AWARE: Partial<CacheAwareOptions> = { miss: 'least-loaded', tieBreak: 'order' };

/**
 * SGLang router's cache-aware policy: the upstream holding the longest prefix of the prompt (equal matches:
 * as `tieBreak` says), unless the loads are imbalanced (then the least loaded) or no upstream
 * holds `cacheThreshold` of the prompt: a miss, which goes where `miss` says. A match of exactly the
 * threshold share is a hit here (SGLang: strictly above).
 */
export class CacheAwareRouting implements RoutingPolicy {
  readonly name = 'cache-aware';
  readonly #options: CacheAwareOptions;

  constructor(options: Partial<CacheAwareOptions> = {}) {
    this.#options = { ...CACHE_AWARE_DEFAULTS, ...options };
  }

  choose(candidates: readonly RouteCandidate[], query: RouteQuery): RoutingDecision {
    if (candidates.length === 0) throw new RangeError('no candidate upstream');
    let least = 0;
    let max = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      const load = candidates[i]!.load;
      if (load < candidates[least]!.load) least = i;
      if (load > max) max = load;
    }
    const { balanceAbs, balanceRel, cacheThreshold, miss, tieBreak } = this.#options;
    const minLoad = candidates[least]!.load;
    const matched = query.matches();
    const decide = (i: number, reason: RoutingDecision['reason']): RoutingDecision => ({ index: candidates[i]!.index, reason, matchedBlocks: matched[i]! });
    if (max - minLoad > balanceAbs && max > minLoad * balanceRel) return decide(least, 'balance');
    let best = tieBreak === 'load' ? least : 0;
    for (let i = 0; i < candidates.length; i++) {
      if (matched[i]! > matched[best]! || (tieBreak === 'load' && matched[i] === matched[best] && candidates[i]!.load < candidates[best]!.load)) best = i;
    }
    if (query.pages > 0 && matched[best]! / query.pages >= cacheThreshold) return decide(best, 'cache');
    if (miss === 'least-loaded') return decide(least, 'miss');
    let roomiest = least;
    for (let i = 0; i < candidates.length; i++) {
      const a = candidates[i]!;
      const b = candidates[roomiest]!;
      if (a.cachedPages < b.cachedPages || (a.cachedPages === b.cachedPages && a.load < b.load)) roomiest = i;
    }
    return decide(roomiest, 'miss');
  }
}

/**
 * Where the gateway sends a request: a routing policy is a small strategy object over the upstreams
 * still eligible (healthy, serving the model, not yet tried for this request).
 */

/** What a policy may read about an upstream. */
export interface RouteCandidate {
  /** Position in the gateway's upstream list. */
  readonly index: number;
  /** Requests in flight there through this gateway. */
  readonly load: number;
  /** Pages its shadow cache holds (its estimated cache occupancy). */
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
  /** Below this share of the prompt matched anywhere, route to the least loaded (SGLang default 0.5). */
  cacheThreshold: number;
}

export const CACHE_AWARE_DEFAULTS: CacheAwareOptions = { balanceAbs: 32, balanceRel: 1.0001, cacheThreshold: 0.5 };

/**
 * SGLang router's cache-aware policy: the upstream holding the longest prefix of the prompt, unless the
 * loads are imbalanced (then the least loaded: the load bound), or no upstream holds enough of the prompt
 * (then the one with the smallest tree, i.e. the most room, which spreads new agents). Ties go to the
 * lower-loaded, then the earlier upstream.
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
    candidates.forEach((candidate, i) => {
      if (candidate.load < candidates[least]!.load) least = i;
      if (candidate.load > max) max = candidate.load;
    });
    const { balanceAbs, balanceRel, cacheThreshold } = this.#options;
    const minLoad = candidates[least]!.load;
    const decide = (i: number, reason: RoutingDecision['reason'], matched: ArrayLike<number> | undefined): RoutingDecision => ({
      index: candidates[i]!.index,
      reason,
      matchedBlocks: (matched ?? query.matches())[i]!,
    });
    if (max - minLoad > balanceAbs && max > minLoad * balanceRel) return decide(least, 'balance', undefined);
    const matched = query.matches();
    let best = least;
    for (let i = 0; i < candidates.length; i++) {
      if (matched[i]! > matched[best]! || (matched[i] === matched[best] && candidates[i]!.load < candidates[best]!.load)) best = i;
    }
    if (query.pages > 0 && matched[best]! / query.pages >= cacheThreshold) return decide(best, 'cache', matched);
    let roomiest = least;
    for (let i = 0; i < candidates.length; i++) {
      const a = candidates[i]!;
      const b = candidates[roomiest]!;
      if (a.cachedPages < b.cachedPages || (a.cachedPages === b.cachedPages && a.load < b.load)) roomiest = i;
    }
    return decide(roomiest, 'miss', matched);
  }
}

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
  /** Leading pages of `blocks` its shadow cache holds. */
  match(blocks: readonly number[]): number;
}

export interface RoutingDecision {
  index: number;
  /** `cache`: best prefix match; `balance`: loads too uneven; `miss`: no upstream holds enough of the prompt. */
  reason: 'cache' | 'balance' | 'miss';
  /** Leading pages the chosen upstream is expected to hold. */
  matchedBlocks: number;
}

export interface RoutingPolicy {
  readonly name: string;
  choose(candidates: readonly RouteCandidate[], blocks: readonly number[]): RoutingDecision;
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

  choose(candidates: readonly RouteCandidate[], blocks: readonly number[]): RoutingDecision {
    if (candidates.length === 0) throw new RangeError('no candidate upstream');
    let least = candidates[0]!;
    let max = -Infinity;
    for (const candidate of candidates) {
      if (candidate.load < least.load) least = candidate;
      if (candidate.load > max) max = candidate.load;
    }
    const { balanceAbs, balanceRel, cacheThreshold } = this.#options;
    if (max - least.load > balanceAbs && max > least.load * balanceRel) {
      return { index: least.index, reason: 'balance', matchedBlocks: least.match(blocks) };
    }
    let best = least;
    let bestMatch = -1;
    for (const candidate of candidates) {
      const match = candidate.match(blocks);
      if (match > bestMatch || (match === bestMatch && candidate.load < best.load)) {
        best = candidate;
        bestMatch = match;
      }
    }
    if (blocks.length > 0 && bestMatch / blocks.length >= cacheThreshold) {
      return { index: best.index, reason: 'cache', matchedBlocks: bestMatch };
    }
    let roomiest = least;
    for (const candidate of candidates) {
      if (candidate.cachedPages < roomiest.cachedPages || (candidate.cachedPages === roomiest.cachedPages && candidate.load < roomiest.load)) {
        roomiest = candidate;
      }
    }
    return { index: roomiest.index, reason: 'miss', matchedBlocks: roomiest.match(blocks) };
  }
}

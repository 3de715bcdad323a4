import { CacheAwareRouting, SGLANG_CACHE_AWARE, type CacheAwareOptions } from './cache-aware-routing.js';
import type { Replica } from './replica.js';
import type { SimRequest } from './sim-request.js';

/**
 * `cache-aware` routes as the SGLang router's code does (a miss to the least loaded); `cache-aware-tree`
 * as `kvflow gateway` does by default (a miss to the replica with the smallest tree).
 */
export const ROUTER_NAMES = ['round-robin', 'least-load', 'cache-aware', 'cache-aware-tree'] as const;
export type RouterName = (typeof ROUTER_NAMES)[number];

/** Picks the replica for each arriving request. */
export interface Router {
  route(request: SimRequest, replicas: readonly Replica[]): Replica;
}

export function createRouter(name: RouterName): Router {
  switch (name) {
    case 'round-robin': {
      let next = 0;
      return { route: (_request, replicas) => replicas[next++ % replicas.length]! };
    }
    case 'least-load':
      return { route: (_request, replicas) => leastLoaded(replicas) };
    case 'cache-aware':
      return new CacheAwareRouter(SGLANG_CACHE_AWARE);
    case 'cache-aware-tree':
      return new CacheAwareRouter({});
  }
}

function leastLoaded(replicas: readonly Replica[]): Replica {
  let best = replicas[0]!;
  for (const replica of replicas) if (replica.load < best.load) best = replica;
  return best;
}

/**
 * SGLang's cache-aware routing by the gateway's policy object (cache-aware-routing.ts), over the prefix
 * each replica holds in any tier and its tree size (pages in any tier). Candidate records are reused.
 */
class CacheAwareRouter implements Router {
  readonly #policy: CacheAwareRouting;
  readonly #candidates: { index: number; load: number; cachedPages: number }[] = [];
  #matches = new Int32Array(0);
  #blocks: readonly number[] = [];
  #replicas: readonly Replica[] = [];
  readonly #query = {
    pages: 0,
    matches: (): ArrayLike<number> => {
      const replicas = this.#replicas;
      for (let i = 0; i < replicas.length; i++) this.#matches[i] = replicas[i]!.cachedPrefix(this.#blocks);
      return this.#matches;
    },
  };

  constructor(options: Partial<CacheAwareOptions>) {
    this.#policy = new CacheAwareRouting(options);
  }

  route(request: SimRequest, replicas: readonly Replica[]): Replica {
    const candidates = this.#candidates;
    while (candidates.length < replicas.length) candidates.push({ index: candidates.length, load: 0, cachedPages: 0 });
    candidates.length = replicas.length;
    if (this.#matches.length < replicas.length) this.#matches = new Int32Array(replicas.length);
    for (let i = 0; i < replicas.length; i++) {
      candidates[i]!.load = replicas[i]!.load;
      candidates[i]!.cachedPages = replicas[i]!.cache.size;
    }
    this.#blocks = request.request.blocks;
    this.#replicas = replicas;
    this.#query.pages = this.#blocks.length;
    return replicas[this.#policy.choose(candidates, this.#query).index]!;
  }
}

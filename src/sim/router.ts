import type { Replica } from './replica.js';
import type { SimRequest } from './sim-request.js';

export const ROUTER_NAMES = ['round-robin', 'least-load', 'cache-aware'] as const;
export type RouterName = (typeof ROUTER_NAMES)[number];

/** Picks the replica for each arriving request. */
export interface Router {
  route(request: SimRequest, replicas: readonly Replica[]): Replica;
}

/** SGLang router defaults: balance when loads differ by more than 32 and by more than 0.01%. */
const BALANCE_ABS = 32;
const BALANCE_REL = 1.0001;
/** SGLang router default: below this prefix match ratio, treat the request as a cache miss everywhere. */
const CACHE_THRESHOLD = 0.5;

export function createRouter(name: RouterName): Router {
  switch (name) {
    case 'round-robin': {
      let next = 0;
      return { route: (_request, replicas) => replicas[next++ % replicas.length]! };
    }
    case 'least-load':
      return { route: (_request, replicas) => leastLoaded(replicas) };
    case 'cache-aware':
      return { route: cacheAware };
  }
}

function leastLoaded(replicas: readonly Replica[]): Replica {
  let best = replicas[0]!;
  for (const replica of replicas) if (replica.load < best.load) best = replica;
  return best;
}

/**
 * SGLang's cache-aware routing: the replica holding the longest prefix of the prompt, unless loads are
 * imbalanced or no replica matches enough of it, in which case the least loaded one.
 */
function cacheAware(request: SimRequest, replicas: readonly Replica[]): Replica {
  let min = Infinity;
  let max = -Infinity;
  for (const replica of replicas) {
    min = Math.min(min, replica.load);
    max = Math.max(max, replica.load);
  }
  if (max - min > BALANCE_ABS && max > min * BALANCE_REL) return leastLoaded(replicas);
  const blocks = request.request.blocks;
  let best = replicas[0]!;
  let bestMatch = -1;
  for (const replica of replicas) {
    const match = replica.cachedPrefix(blocks);
    if (match > bestMatch) {
      best = replica;
      bestMatch = match;
    }
  }
  return bestMatch / blocks.length >= CACHE_THRESHOLD ? best : leastLoaded(replicas);
}

import type { ReplayPolicyName } from '../types.js';

/** What a policy may read about a page. Ticks are request numbers in replay and seconds in simulation. */
export interface PageStats {
  /** Tick of the page's last access (match or insert). */
  lastAccess(page: number): number;
  /** Accesses since the page entered the cache (its insert counts as one). */
  accessCount(page: number): number;
  /** Tick of the next request that will use the page (Infinity: never); set by an offline driver. */
  nextUse(page: number): number;
}

/** The few cache operations a policy whose priorities change between accesses needs. */
export interface PriorityOwner {
  /** Re-reads `page`'s priority. */
  reprioritize(page: number): void;
}

/** One request's use of the cache, told to policies that learn from traffic (before its path is unlocked). */
export interface RequestAccess {
  /** The prompt as block ids. */
  blocks: ArrayLike<number>;
  /** Page ids of the prompt's first `held` blocks in the cache. */
  pages: ArrayLike<number>;
  /** Leading pages that were already cached (the hit). */
  matched: number;
  /** Leading pages the request holds (matched plus inserted). */
  held: number;
  inputLength: number;
  outputLength: number;
  blockSize: number;
}

/**
 * An eviction policy is one priority key, as in SGLang's `evict_policy.py`: among unlocked leaf pages the
 * cache evicts the smallest priority first, and equal priorities go to the least recently used page.
 * A page's priority is read when it becomes an eviction candidate and again on `reprioritize`.
 */
export interface EvictionPolicy {
  readonly name: ReplayPolicyName;
  priority(page: number, pages: PageStats): number;
  /** Called by the cache it serves, once, so the policy can ask for re-reads. */
  bind?(owner: PriorityOwner): void;
  /** Called when a page leaves the cache; its id may be reused for another path. */
  forget?(page: number): void;
  /** Called by drivers once per request, in request order, while its path is still locked. */
  observe?(access: RequestAccess): void;
}

/** Least recently used: every page has the same priority, so the LRU tie-break decides alone. */
export class LruPolicy implements EvictionPolicy {
  readonly name = 'lru' as const;
  priority(): number {
    return 0;
  }
}

/** Least frequently used: fewest accesses first, then LRU. */
export class LfuPolicy implements EvictionPolicy {
  readonly name = 'lfu' as const;
  priority(page: number, pages: PageStats): number {
    return pages.accessCount(page);
  }
}

/**
 * Belady's offline optimum: the page whose next use is furthest away goes first; pages never used again
 * (next use Infinity) go before all others, among themselves by LRU. Needs next-use ticks from the driver.
 */
export class BeladyPolicy implements EvictionPolicy {
  readonly name = 'belady' as const;
  priority(page: number, pages: PageStats): number {
    return -pages.nextUse(page);
  }
}

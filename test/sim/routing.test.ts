/**
 * Routing at its boundaries: a match exactly at the cache threshold, a load gap exactly at `balanceAbs`
 * and exactly at `balanceRel`, and every tie-break, for the gateway's cache-aware policy and the
 * simulator's routers (both follow the SGLang router's rules).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheAwareRouting, SGLANG_CACHE_AWARE, type RouteCandidate, type RouteQuery } from '../../src/sim/cache-aware-routing.js';
import { createRouter, type RouterName } from '../../src/sim/router.js';
import type { Replica } from '../../src/sim/replica.js';
import type { SimRequest } from '../../src/sim/sim-request.js';

function candidates(...rows: [load: number, cachedPages: number][]): RouteCandidate[] {
  return rows.map(([load, cachedPages], i) => ({ index: 10 + i, load, cachedPages }));
}

/** A prompt of `pages` pages, of which candidate i holds `matched[i]` leading ones. */
function query(pages: number, matched: number[]): RouteQuery {
  return { pages, matches: () => matched };
}

describe('gateway cache-aware routing', () => {
  const routing = new CacheAwareRouting();

  it('routes by cache when the best match is exactly the threshold share of the prompt, not below it', () => {
    expect(routing.choose(candidates([0, 9], [0, 1]), query(10, [0, 5]))).toEqual({ index: 11, reason: 'cache', matchedBlocks: 5 });
    expect(routing.choose(candidates([0, 9], [0, 1]), query(10, [0, 4]))).toEqual({ index: 11, reason: 'miss', matchedBlocks: 4 });
    const strict = new CacheAwareRouting({ cacheThreshold: 0.8 });
    expect(strict.choose(candidates([0, 9], [0, 1]), query(10, [0, 8]))).toMatchObject({ reason: 'cache', index: 11 });
    expect(strict.choose(candidates([0, 9], [0, 1]), query(10, [0, 7]))).toMatchObject({ reason: 'miss', index: 11 });
  });

  it('balances only when the load gap exceeds balanceAbs, not when it equals it', () => {
    expect(routing.choose(candidates([32, 0], [0, 0]), query(4, [0, 4]))).toEqual({ index: 11, reason: 'cache', matchedBlocks: 4 });
    expect(routing.choose(candidates([33, 0], [0, 0]), query(4, [4, 0]))).toEqual({ index: 11, reason: 'balance', matchedBlocks: 0 });
    expect(routing.choose(candidates([0, 0], [32, 0]), query(4, [0, 4]))).toMatchObject({ index: 11, reason: 'cache' });
    // The gap is max - min: 20 and 40 differ by 20, not by their sum.
    expect(routing.choose(candidates([20, 0], [40, 0]), query(4, [0, 4]))).toMatchObject({ index: 11, reason: 'cache' });
    expect(routing.choose(candidates([0, 0], [33, 0]), query(4, [0, 4]))).toMatchObject({ index: 10, reason: 'balance' });
  });

  it('balances only when the larger load also exceeds the smaller times balanceRel', () => {
    const relative = new CacheAwareRouting({ balanceAbs: 10, balanceRel: 2 });
    // Gap 33 > 10, but 66 is exactly 33 x 2: not imbalanced.
    expect(relative.choose(candidates([66, 0], [33, 0]), query(4, [4, 0]))).toMatchObject({ index: 10, reason: 'cache' });
    expect(relative.choose(candidates([67, 0], [33, 0]), query(4, [4, 0]))).toMatchObject({ index: 11, reason: 'balance' });
    // With the defaults the ratio matters only for large loads: a gap of 33 on 400000 is 0.008%.
    expect(routing.choose(candidates([400_033, 0], [400_000, 0]), query(4, [4, 0]))).toMatchObject({ index: 10, reason: 'cache' });
    expect(routing.choose(candidates([400_041, 0], [400_000, 0]), query(4, [4, 0]))).toMatchObject({ index: 11, reason: 'balance' });
    // Gap exactly balanceAbs with a large ratio: not imbalanced either.
    expect(relative.choose(candidates([10, 0], [0, 0]), query(4, [4, 0]))).toMatchObject({ index: 10, reason: 'cache' });
  });

  it('breaks equal matches by lower load, then by earlier upstream', () => {
    expect(routing.choose(candidates([3, 0], [2, 0], [2, 0]), query(4, [3, 3, 3]))).toEqual({ index: 11, reason: 'cache', matchedBlocks: 3 });
    expect(routing.choose(candidates([2, 0], [2, 0]), query(4, [3, 3]))).toMatchObject({ index: 10 });
    expect(routing.choose(candidates([1, 0], [5, 0], [1, 0]), query(4, [2, 4, 4]))).toMatchObject({ index: 12, reason: 'cache' });
    // A longer match beats a lower load.
    expect(routing.choose(candidates([0, 0], [5, 0]), query(4, [2, 3]))).toMatchObject({ index: 11, matchedBlocks: 3 });
  });

  it('on a miss takes the smallest tree, then the lower load, then the earlier upstream', () => {
    expect(routing.choose(candidates([0, 50], [1, 10], [0, 20]), query(8, [1, 0, 0]))).toEqual({ index: 11, reason: 'miss', matchedBlocks: 0 });
    expect(routing.choose(candidates([2, 10], [1, 10]), query(8, [0, 0]))).toMatchObject({ index: 11, reason: 'miss' });
    expect(routing.choose(candidates([1, 10], [1, 10]), query(8, [0, 0]))).toMatchObject({ index: 10, reason: 'miss' });
    expect(routing.choose(candidates([1, 10], [0, 30], [1, 10]), query(8, [0, 0, 0]))).toMatchObject({ index: 10, reason: 'miss' });
    // The search starts at the least loaded (30 pages), so the load tie-break decides between the two 10s.
    expect(routing.choose(candidates([3, 10], [0, 50], [1, 10]), query(8, [0, 0, 0]))).toMatchObject({ index: 12, reason: 'miss' });
  });

  it("SGLang's rule sends a miss to the least loaded even when another upstream has the smaller tree", () => {
    const sglang = new CacheAwareRouting(SGLANG_CACHE_AWARE);
    // Loads 5 and 1 (a gap of 4: no balancing); trees of 1 and 100 pages; nothing matched.
    expect(sglang.choose(candidates([5, 1], [1, 100]), query(4, [0, 0]))).toMatchObject({ index: 11, reason: 'miss' });
    expect(routing.choose(candidates([5, 1], [1, 100]), query(4, [0, 0]))).toMatchObject({ index: 10, reason: 'miss' });
  });

  it('balance goes to the first of the least loaded, an empty prompt never counts as a cache hit', () => {
    expect(routing.choose(candidates([40, 0], [0, 0], [0, 0]), query(4, [4, 0, 1]))).toEqual({ index: 11, reason: 'balance', matchedBlocks: 0 });
    expect(routing.choose(candidates([0, 5], [0, 1]), query(0, [0, 0]))).toEqual({ index: 11, reason: 'miss', matchedBlocks: 0 });
    expect(() => routing.choose([], query(1, []))).toThrow(new RangeError('no candidate upstream'));
    expect(new CacheAwareRouting().name).toBe('cache-aware');
  });
});

/** The router reads only a replica's load, cached prefix and tree size (pages; by default the prefix). */
function replicas(...rows: [load: number, cached: number, tree?: number][]): Replica[] {
  return rows.map(([load, cached, tree], id) => ({ id, load, cachedPrefix: () => cached, cache: { size: tree ?? cached } }) as unknown as Replica);
}
const request = (pages: number) => ({ request: { blocks: Array.from({ length: pages }, (_, i) => i) } }) as unknown as SimRequest;

describe('simulator routers', () => {
  const route = (name: RouterName, pages: number, pool: Replica[]) =>
    (createRouter(name).route(request(pages), pool) as unknown as { id: number }).id;

  it('cache-aware: exactly half the prompt cached is a hit, less is a miss (least loaded)', () => {
    expect(route('cache-aware', 2, replicas([5, 0], [0, 0]))).toBe(1);
    expect(route('cache-aware', 2, replicas([5, 1], [0, 0]))).toBe(0);
    expect(route('cache-aware', 10, replicas([1, 0], [5, 5]))).toBe(1);
    expect(route('cache-aware', 10, replicas([1, 0], [5, 4]))).toBe(0);
  });

  it('cache-aware: balances only past a load gap of 32 that is also over 0.01%, to the first least loaded', () => {
    expect(route('cache-aware', 4, replicas([32, 4], [0, 0]))).toBe(0);
    expect(route('cache-aware', 4, replicas([33, 4], [0, 0], [0, 0]))).toBe(1);
    expect(route('cache-aware', 4, replicas([20, 0], [40, 4]))).toBe(1); // the gap is 20, not their sum
    expect(route('cache-aware', 4, replicas([400_033, 4], [400_000, 0]))).toBe(0); // 33 is under 0.01% of 400000
    expect(route('cache-aware', 4, replicas([400_041, 4], [400_000, 0]))).toBe(1);
    expect(route('cache-aware', 4, replicas([400_040, 4], [400_000, 0]))).toBe(0); // exactly 1.0001 times: not over
  });

  it('cache-aware: equal matches go to the earlier replica', () => {
    expect(route('cache-aware', 4, replicas([3, 4], [0, 4]))).toBe(0);
    expect(route('cache-aware', 4, replicas([3, 2], [0, 3], [0, 3]))).toBe(1);
  });

  it('cache-aware-tree routes as the gateway: a miss to the smallest tree, equal matches to the less loaded', () => {
    expect(route('cache-aware-tree', 10, replicas([2, 1, 10], [0, 1, 50]))).toBe(0);
    expect(route('cache-aware', 10, replicas([2, 1, 10], [0, 1, 50]))).toBe(1);
    expect(route('cache-aware-tree', 4, replicas([3, 4], [0, 4]))).toBe(1);
  });

  it('each cache-aware router picks what the shared policy object picks, on any pool', () => {
    const pool = fc.array(fc.tuple(fc.nat(80), fc.nat(12), fc.nat(40)), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(pool, fc.nat(12), (rows, pages) => {
        const matched = rows.map(([, cached]) => Math.min(cached, pages));
        const pick = (routing: CacheAwareRouting) =>
          routing.choose(rows.map(([load, , tree], i) => ({ index: i, load, cachedPages: tree })), { pages, matches: () => matched }).index;
        const pool = () => replicas(...rows.map(([load, , tree], i): [number, number, number] => [load, matched[i]!, tree]));
        expect(route('cache-aware', pages, pool())).toBe(pick(new CacheAwareRouting(SGLANG_CACHE_AWARE)));
        expect(route('cache-aware-tree', pages, pool())).toBe(pick(new CacheAwareRouting()));
      }),
    );
  });

  it('least-load takes the first least loaded; round-robin cycles', () => {
    expect(route('least-load', 4, replicas([2, 0], [1, 0], [1, 0]))).toBe(1);
    expect(route('least-load', 4, replicas([2, 4], [1, 0]))).toBe(1); // a cached prompt does not matter
    const roundRobin = createRouter('round-robin');
    const pool = replicas([0, 0], [0, 0], [0, 0]);
    const ids = [0, 1, 2, 3].map(() => (roundRobin.route(request(1), pool) as unknown as { id: number }).id);
    expect(ids).toEqual([0, 1, 2, 0]);
  });
});

/**
 * The learned order (src/cache/reuse/reuse-order.ts) and the `reuse` policy around it (reuse-policy.ts):
 * keys from the learner's lives, pages never observed, the candidate set `rescore` re-reads, and the
 * policy's duel, forgetting and decisions; then the order a trained policy evicts in.
 */
import { describe, expect, it } from 'vitest';
import { ReuseOrder } from '../../src/cache/reuse/reuse-order.js';
import { ReusePolicy } from '../../src/cache/reuse/reuse-policy.js';
import type { ReuseLearner } from '../../src/cache/reuse/reuse-learner.js';
import type { RequestAccess } from '../../src/cache/policy.js';
import { replayTrace } from '../../src/replay/replay.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import type { TraceRequest } from '../../src/types.js';

/** A learner as the order sees it: a request count, lives, and the life of P = 0.5. */
function fakeLearner(requests: number, lives: number[]) {
  return { requests, lives: Float64Array.from(lives), lifeOf: (p: number) => 100 * p } as unknown as ReuseLearner;
}

/** An owner that logs re-reads and answers them by reading the priority of the pages in `candidates`. */
function owner(order: { priority(page: number): number }, candidates: Set<number>) {
  const log: number[] = [];
  return {
    log,
    reprioritize(page: number): boolean {
      log.push(page);
      if (!candidates.has(page)) return false;
      order.priority(page);
      return true;
    },
  };
}

describe('ReuseOrder', () => {
  it('keys a page by its request + its extra life; a page never observed by requests + life of P = 0.5', () => {
    const order = new ReuseOrder(fakeLearner(7, [3, -2, 5]));
    expect(order.name).toBe('reuse');
    order.remember([4, 9, 2], 2, 5); // the first two pages are held
    expect([order.priority(4), order.priority(9), order.priority(2), order.priority(100)]).toEqual([8, 3, 57, 57]);
    order.forget(4);
    expect(order.priority(4)).toBe(57);
    order.forget(5000); // beyond its tables: nothing
    expect(order.priority(9)).toBe(3);
  });

  it('grows its tables for page ids at and past each power of two', () => {
    const order = new ReuseOrder(fakeLearner(1, [10, 20, 30]));
    expect(order.priority(1024)).toBe(51);
    order.remember([2048, 4096, 5000], 3, 2);
    expect([order.priority(2048), order.priority(4096), order.priority(5000), order.priority(1024)]).toEqual([12, 22, 32, 51]);
    order.forget(4096);
    expect(order.priority(4096)).toBe(51);
  });

  it('rescore re-reads every page read since, and drops those the cache no longer reads', () => {
    const order = new ReuseOrder(fakeLearner(0, [0, 0, 0, 0]));
    order.rescore(); // unbound: nothing to re-read
    const candidates = new Set([1, 2, 3, 3000]);
    const cache = owner(order, candidates);
    order.bind(cache);
    for (const page of [1, 2, 3, 3000]) order.priority(page);
    order.priority(2); // read twice: tracked once
    order.rescore();
    expect(cache.log).toEqual([1, 2, 3, 3000]);
    // 1 and 3000 stop being candidates: read once more, then dropped.
    candidates.delete(1);
    candidates.delete(3000);
    cache.log.length = 0;
    order.rescore();
    expect(cache.log.sort((a, b) => a - b)).toEqual([1, 2, 3, 3000]);
    cache.log.length = 0;
    order.rescore();
    expect(cache.log.sort((a, b) => a - b)).toEqual([2, 3]);
    // A page read outside a rescore joins; a forgotten page leaves, one never read changes nothing.
    order.track(7);
    order.forget(2);
    order.remember([8], 1, 0);
    order.forget(8);
    cache.log.length = 0;
    candidates.add(7);
    order.rescore();
    expect(cache.log.sort((a, b) => a - b)).toEqual([3, 7]);
    // All dropped, then read again.
    candidates.clear();
    order.rescore();
    cache.log.length = 0;
    order.rescore();
    expect(cache.log).toEqual([]);
    order.priority(3);
    order.rescore();
    expect(cache.log).toEqual([3]);
  });

  it('rescore before bind re-reads nothing, even with pages read; forgetting a page past the tables keeps the set', () => {
    const order = new ReuseOrder(fakeLearner(0, []));
    order.priority(3);
    order.priority(4);
    order.rescore();
    const cache = owner(order, new Set([3, 4]));
    order.bind(cache);
    order.forget(1024); // exactly the tables' length
    order.forget(5000);
    order.rescore();
    expect(cache.log).toEqual([3, 4]);
  });

  it('rescore keeps the first page read when it is still read, and drops it when it is not', () => {
    const order = new ReuseOrder(fakeLearner(0, []));
    const candidates = new Set([5, 6]);
    const cache = owner(order, candidates);
    order.bind(cache);
    order.priority(5);
    order.priority(6);
    candidates.delete(5);
    order.rescore();
    cache.log.length = 0;
    order.rescore();
    expect(cache.log).toEqual([6]);
  });
});

const BLOCK = 16;

function access(pages: number[], tick: number, blocks = pages): RequestAccess {
  return { request: { blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK }, tick, blocks, pages, matched: 0, held: pages.length, inputLength: blocks.length * BLOCK, outputLength: 0, blockSize: BLOCK };
}

describe('ReusePolicy', () => {
  it('without a bounded cache or with duel off there is no duel: every request is learned', () => {
    for (const policy of [new ReusePolicy({ horizonFrom: 'fixed' }), new ReusePolicy({ duel: false, horizonFrom: 'fixed' }, 64)]) {
      policy.afterRequest(access([1, 2], 0));
      policy.afterRequest(access([3], 1));
      expect(policy.decisions).toEqual({ lru: 0, learned: 2 });
      // Without a duel the learned keys are used at once: request + life (0 before any round).
      expect(policy.priority(1)).toBe(0);
      expect(policy.priority(3)).toBe(1);
      policy.forget(3);
      expect(policy.priority(3)).toBe(2); // never observed: requests + life of P = 0.5
    }
  });

  it('with a duel it starts as LRU (equal priorities) and counts the requests under each order', () => {
    const policy = new ReusePolicy({ horizonFrom: 'fixed' }, 64);
    policy.afterRequest(access([1, 2], 0));
    policy.afterRequest(access([3], 1));
    expect(policy.priority(3)).toBe(0);
    expect(policy.decisions).toEqual({ lru: 2, learned: 0 });
    expect(policy.horizon).toBe(1000);
    expect(policy.fits).toBe(0);
  });
});

describe('a trained policy', () => {
  /** Conversations that come back (two turns) and one-off prompts, alternating; one-offs never return. */
  function trace(): TraceRequest[] {
    const requests: TraceRequest[] = [];
    for (let c = 0; c < 200; c++) {
      requests.push({ id: `a${c}`, inputLength: 2 * BLOCK, outputLength: 4, blocks: [10_000 + c, 20_000 + c], blockSize: BLOCK });
      requests.push({ id: `o${c}`, inputLength: 2 * BLOCK, outputLength: 4, blocks: [30_000 + c, 40_000 + c], blockSize: BLOCK });
      if (c >= 2) requests.push({ id: `b${c}`, inputLength: 3 * BLOCK, outputLength: 4, blocks: [10_000 + c - 2, 20_000 + c - 2, 50_000 + c], blockSize: BLOCK });
    }
    return requests;
  }

  it('learns that conversations come back and one-offs do not: it keeps the conversations LRU would evict', () => {
    const options = { duel: false, horizonFrom: 'fixed' as const, horizon: 20, minSamples: 32, retrainEvery: 32 };
    const learned = new ReusePolicy(options);
    const capacityTokens = 12 * BLOCK;
    const result = replayTrace(trace(), { capacityTokens, blockSize: BLOCK, policy: learned });
    const lru = replayTrace(trace(), { capacityTokens, blockSize: BLOCK, policy: policyFactory('lru') });
    expect(learned.fits).toBe(17);
    expect(result.hitTokens).toBeGreaterThan(lru.hitTokens);
    // Pinned (this trace, these options): a change in features, labels, training or keys moves them.
    expect([result.hitTokens, lru.hitTokens]).toEqual([2528, 32]);
  });

  it('after training, a first turn (often continued) outranks an older second turn (never continued)', () => {
    const policy = new ReusePolicy({ duel: false, horizonFrom: 'fixed', horizon: 20, minSamples: 32, retrainEvery: 32 });
    const requests = trace();
    requests.forEach((request, r) => policy.afterRequest({ ...access([...request.blocks], r, [...request.blocks]), inputLength: request.inputLength }));
    expect(policy.fits).toBe(17);
    const r = requests.length;
    // A second turn (three blocks, continuing a first turn) at r, then a new first turn at r + 1.
    policy.afterRequest({ ...access([1, 2, 3], r, [10_000 + 150, 20_000 + 150, 60_000]), inputLength: 3 * BLOCK });
    policy.afterRequest({ ...access([4, 5], r + 1, [70_000, 80_000]), inputLength: 2 * BLOCK });
    const second = policy.priority(3);
    const first = policy.priority(5);
    expect(first).toBeGreaterThan(second + 1);
    // Keys are request + extra life: the first turn gets more than the 1 request between them.
    expect(policy.priority(1)).toBe(second);
    expect(policy.priority(4)).toBe(first);
  });
});

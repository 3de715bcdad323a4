import { describe, expect, it } from 'vitest';
import { LruPolicy, type EvictionPolicy } from '../../src/cache/policy.js';
import { PolicyDuel, Shadow } from '../../src/cache/policy-duel.js';

const prompt = (...blocks: number[]) => ({ blocks, blockSize: 1, inputLength: blocks.length });

/** Evicts the most recently used page first: beats LRU on a loop one prompt larger than the cache. */
const mru: EvictionPolicy = { name: 'mru', priority: (page, pages) => -pages.lastAccess(page) };

describe('PolicyDuel', () => {
  it('never follows a challenger that only ties LRU (the real cache stays exactly LRU)', () => {
    const duel = new PolicyDuel(3, new LruPolicy(), undefined, 10);
    for (let r = 0; r < 200; r++) {
      expect(duel.decide()).toBe(false);
      duel.run(prompt(r % 5, 100 + (r % 7)), r);
    }
    expect(duel.followsChallenger).toBe(false);
    expect(duel.decisions).toEqual({ lru: 200, challenger: 0 });
  });

  it('follows a challenger once it out-hits LRU, and only from the next request on', () => {
    const duel = new PolicyDuel(2, mru, undefined, 10);
    // A loop over three one-page prompts in a two-page cache: LRU never hits, MRU keeps one of them.
    const switchedAt: number[] = [];
    for (let r = 0; r < 30; r++) {
      if (duel.decide()) switchedAt.push(r);
      duel.run(prompt(r % 3), r);
    }
    expect(switchedAt).toHaveLength(1);
    expect(switchedAt[0]).toBeGreaterThan(2); // nothing is known before the loop comes round
    expect(duel.followsChallenger).toBe(true);
  });

  it('calls the challenger shadow hooks with its own pages, before they unlock', () => {
    const seen: string[] = [];
    const shadow = new Shadow(4, new LruPolicy(), {
      begin: (_request, tick) => seen.push(`begin ${tick}`),
      end: (_request, tick, path, held) => seen.push(`end ${tick} held ${held} locked ${shadow.cache.pinnedGpu > 0}`),
      finish: () => seen.push(`finish locked ${shadow.cache.pinnedGpu > 0}`),
    });
    expect(shadow.run(prompt(1, 2), 0)).toBe(0);
    expect(shadow.run(prompt(1, 2, 3), 1)).toBe(2);
    expect(seen).toEqual(['begin 0', 'end 0 held 2 locked true', 'finish locked false', 'begin 1', 'end 1 held 3 locked true', 'finish locked false']);
  });
});

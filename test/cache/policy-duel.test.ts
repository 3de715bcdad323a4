import { describe, expect, it } from 'vitest';
import { LruPolicy, type EvictionPolicy } from '../../src/cache/policy.js';
import { PolicyDuel, Shadow } from '../../src/cache/policy-duel.js';

const prompt = (...blocks: number[]) => ({ blocks, blockSize: 1, inputLength: blocks.length });

/** Evicts the most recently used page first: beats LRU on a loop one prompt larger than the cache. */
const mru: EvictionPolicy = { name: 'mru', priority: (page, pages) => -pages.lastAccess(page) };

/** One-block prompts by name (blocks 0, 1, 2, ...). */
const loop = (names: string): { blocks: number[]; blockSize: number; inputLength: number }[] =>
  [...names].map((name) => prompt(name.charCodeAt(0) - 65));

describe('Shadow', () => {
  it('returns 0 on a miss, the whole input on a full match, matched blocks times the block size on a partial one', () => {
    const shadow = new Shadow(8, new LruPolicy());
    const request = (blocks: number[], inputLength: number) => ({ blocks, blockSize: 4, inputLength });
    expect(shadow.run(request([1, 2, 3], 10), 0)).toBe(0);
    expect(shadow.run(request([1, 2, 3], 10), 1)).toBe(10); // all three blocks: the last one is partial
    expect(shadow.run(request([1, 2, 9], 11), 2)).toBe(8); // two blocks of 4
    expect(shadow.run(request([7], 3), 3)).toBe(0);
    // A request with input but no block hashes (a trace line without them) has nothing to match.
    expect(shadow.run(request([], 5), 4)).toBe(0);
    expect(shadow.run(request([], 5), 5)).toBe(0);
    expect(shadow.cache.size).toBe(5); // 1, 2, 3, 9 and 7
    expect(shadow.cache.pinnedGpu).toBe(0); // every page unlocked after its request
  });

  it('inserts only what fits, and keeps the pages it inserted for the next request', () => {
    const shadow = new Shadow(2, new LruPolicy());
    // A three-block prompt in a two-page cache: both pages are locked while the third is inserted, so it is dropped.
    expect(shadow.run(prompt(1, 2, 3), 0)).toBe(0);
    expect(shadow.cache.size).toBe(2);
    expect(shadow.cache.pinnedGpu).toBe(0);
    expect(shadow.run(prompt(1, 2, 3), 1)).toBe(2);
    // A new one-block prompt evicts the least recently used leaf (page of block 2), then matches nothing.
    expect(shadow.run(prompt(5), 2)).toBe(0);
    expect(shadow.run(prompt(1, 2), 3)).toBe(1);
  });

  it('matches prompts longer than its first path buffer (256 pages)', () => {
    const shadow = new Shadow(1000, new LruPolicy());
    const blocks = Array.from({ length: 300 }, (_, i) => i);
    expect(shadow.run({ blocks, blockSize: 2, inputLength: 599 }, 0)).toBe(0);
    expect(shadow.run({ blocks, blockSize: 2, inputLength: 599 }, 1)).toBe(599);
    expect(shadow.run({ blocks: [...blocks, 300], blockSize: 2, inputLength: 601 }, 2)).toBe(600);
  });

  it('works with hooks that leave some out', () => {
    const begun: number[] = [];
    const shadow = new Shadow(4, new LruPolicy(), { begin: (_request, tick) => begun.push(tick) });
    expect(shadow.run(prompt(1), 0)).toBe(0);
    expect(shadow.run(prompt(1), 1)).toBe(1);
    expect(begun).toEqual([0, 1]);
  });

  it('calls the challenger shadow hooks with its own pages, before they unlock', () => {
    const seen: string[] = [];
    const shadow = new Shadow(4, new LruPolicy(), {
      begin: (_request, tick) => seen.push(`begin ${tick}`),
      end: (_request, tick, path, held) => seen.push(`end ${tick} held ${held} pages ${Array.from(path).slice(0, held)} locked ${shadow.cache.pinnedGpu}`),
      finish: () => seen.push(`finish locked ${shadow.cache.pinnedGpu}`),
    });
    expect(shadow.run(prompt(1, 2), 0)).toBe(0);
    expect(shadow.run(prompt(1, 2, 3), 1)).toBe(2);
    expect(seen).toEqual(['begin 0', 'end 0 held 2 pages 1,2 locked 2', 'finish locked 0', 'begin 1', 'end 1 held 3 pages 1,2,3 locked 3', 'finish locked 0']);
  });

  it('on a loop of three one-page prompts in two pages: LRU never hits, MRU hits every other request', () => {
    // Traced by hand: MRU evicts the page touched last, so after A B C it holds A and C (B went), A hits,
    // B then evicts A, C hits, A evicts C, B hits.
    const lru = new Shadow(2, new LruPolicy());
    const other = new Shadow(2, mru);
    const requests = loop('ABCABCAB');
    expect(requests.map((r, tick) => lru.run(r, tick))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(requests.map((r, tick) => other.run(r, tick))).toEqual([0, 0, 0, 1, 0, 1, 0, 1]);
  });
});

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

  it('weighs earlier hits by the discount 1 - 1/memory: switching to the challenger and back to LRU', () => {
    // memory 2: each score halves per request, then adds the request's hit tokens.
    // Requests A B C A B C A B E B (two pages): MRU hits 0 0 0 1 0 1 0 1 0 0, LRU 0 0 0 0 0 0 0 0 0 1
    // (E evicts LRU's A and MRU's B; then only LRU holds B). Challenger score after each request:
    // 0 0 0 1 .5 1.25 .625 1.3125 .65625 .328125; LRU's: 0 ... 0 1.
    const duel = new PolicyDuel(2, mru, undefined, 2);
    expect(duel.followsChallenger).toBe(false);
    const changed: boolean[] = [];
    const follows: boolean[] = [];
    for (const [tick, request] of loop('ABCABCABEB').entries()) {
      changed.push(duel.decide());
      follows.push(duel.followsChallenger);
      duel.run(request, tick);
    }
    changed.push(duel.decide());
    follows.push(duel.followsChallenger);
    expect(follows).toEqual([false, false, false, false, true, true, true, true, true, true, false]);
    expect(changed).toEqual([false, false, false, false, true, false, false, false, false, false, true]);
    expect(duel.decisions).toEqual({ lru: 5, challenger: 6 });
  });

  it('keeps following the challenger on a tie, and takes it only when it leads', () => {
    // memory 1: no memory at all, each score is the last request's hits. A B C A: MRU hits A, LRU does not;
    // D: both miss (0 = 0), so the challenger stays; another D: both hit (1 = 1), it still stays.
    const duel = new PolicyDuel(2, mru, undefined, 1);
    const follows: boolean[] = [];
    for (const [tick, request] of loop('ABCADD').entries()) {
      duel.decide();
      follows.push(duel.followsChallenger);
      duel.run(request, tick);
    }
    duel.decide();
    follows.push(duel.followsChallenger);
    expect(follows).toEqual([false, false, false, false, true, true, true]);
  });

  it('remembers about ten requests by default (discount 0.9)', () => {
    // The loop as above: the challenger leads after the first A. With a discount of 0.9 its score decays
    // 1, .9, 1.81, 1.629, 2.4661, ... and never falls to LRU's 0.
    const duel = new PolicyDuel(2, mru);
    const follows: boolean[] = [];
    for (const [tick, request] of loop('ABCABCAB').entries()) {
      duel.decide();
      follows.push(duel.followsChallenger);
      duel.run(request, tick);
    }
    expect(follows).toEqual([false, false, false, false, true, true, true, true]);
  });
});

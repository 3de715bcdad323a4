/** `StePolicy` on its own: tagging, the priority key, STE changes and the re-reads they ask of the cache. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PageStats, PolicyPrompt } from '../../src/cache/policy.js';
import { StePolicy } from '../../src/cache/ste-policy.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261201;

const stats: PageStats = { lastAccess: () => 0, accessCount: () => 1, nextUse: () => Infinity };

/** A policy bound to an owner that records every page it is asked to re-read. */
function bound(): { policy: StePolicy; reread: number[] } {
  const policy = new StePolicy();
  const reread: number[] = [];
  policy.bind({ reprioritize: (page) => void reread.push(page) });
  return { policy, reread };
}

const prompt = (fixedBlocks: number | undefined): PolicyPrompt => ({ id: 'r', blockSize: 16, inputLength: 160, ...(fixedBlocks !== undefined && { fixedBlocks }) });

describe('StePolicy', () => {
  it('ranks untagged pages first, then the largest STE, and gives the prefetcher the same key', () => {
    const { policy } = bound();
    policy.tag(1, 'near');
    policy.tag(2, 'far');
    policy.applySte(new Map([['near', 1], ['far', 5]]));
    expect(policy.priority(0, stats)).toBe(-Infinity);
    expect(policy.priority(1, stats)).toBe(-1);
    expect(policy.priority(2, stats)).toBe(-5);
    expect(policy.stePriority(3)).toBe(-3);
    // Evicted first = smallest priority: untagged, then far, then near.
    const order = [1, 2, 0].sort((a, b) => policy.priority(a, stats) - policy.priority(b, stats));
    expect(order).toEqual([0, 2, 1]);
  });

  it('tags only the fixed-prompt pages of a request that names an agent, within [from, to)', () => {
    const { policy, reread } = bound();
    policy.notePrompt(prompt(3), 'a', [10, 11, 12, 13, 14], 1, 5);
    expect(reread).toEqual([11, 12]);
    policy.notePrompt(prompt(3), undefined, [20, 21], 0, 2);
    policy.notePrompt(prompt(undefined), 'a', [30, 31], 0, 2);
    policy.applySte(new Map([['a', 2]]));
    expect([10, 11, 12, 13, 20, 30].map((page) => policy.steOfPage(page))).toEqual([undefined, 2, 2, undefined, undefined, undefined]);
  });

  it('gives a page shared by several agents the smallest known STE', () => {
    const { policy } = bound();
    policy.tag(7, 'a');
    policy.tag(7, 'b');
    policy.tag(7, 'c');
    policy.applySte(new Map([['a', 4], ['b', 2]]));
    expect(policy.steOfPage(7)).toBe(2);
    policy.applySte(new Map([['b', undefined]]));
    expect(policy.steOfPage(7)).toBe(4);
    policy.applySte(new Map([['c', 0]]));
    expect(policy.steOfPage(7)).toBe(0);
  });

  it('asks the cache to re-read exactly the pages of agents whose STE changed', () => {
    const { policy, reread } = bound();
    policy.tag(1, 'a');
    policy.tag(2, 'a');
    policy.tag(3, 'b');
    reread.length = 0;
    policy.applySte(new Map([['a', 1]]));
    expect(reread.sort()).toEqual([1, 2]);
    reread.length = 0;
    policy.applySte(new Map([['a', 1]])); // unchanged: nothing to re-read
    policy.applySte(new Map([['unknown-agent', undefined]]));
    expect(reread).toEqual([]);
    policy.setAll(new Map([['b', 3]])); // a becomes unknown, b changes
    expect(reread.sort()).toEqual([1, 2, 3]);
    expect(policy.steOfPage(1)).toBeUndefined();
    expect(policy.steOfPage(3)).toBe(3);
  });

  it('stops asking about a page the cache says is no candidate, until its priority is read again', () => {
    const policy = new StePolicy();
    const asked: number[] = [];
    const candidates = new Set([1, 3]);
    policy.bind({ reprioritize: (page) => (asked.push(page), candidates.has(page)) });
    for (const page of [1, 2, 3, 4]) policy.tag(page, 'a');
    policy.tag(2, 'b'); // a further tag: its pages are asked every time
    asked.length = 0;
    policy.applySte(new Map([['a', 1]]));
    expect(asked.sort()).toEqual([1, 2, 3, 4]);
    asked.length = 0;
    policy.applySte(new Map([['a', 2], ['b', 5]]));
    expect(asked.sort()).toEqual([1, 2, 3]); // 4 said false; 2 is asked for b (and not for a)
    asked.length = 0;
    // Page 4 becomes a candidate: the cache reads its priority, and re-keys reach it again.
    candidates.add(4);
    expect(policy.priority(4, stats)).toBe(-2);
    policy.applySte(new Map([['a', 3]]));
    expect(asked.sort()).toEqual([1, 3, 4]);
    // An idle page forgotten and its id reused keeps both lists whole.
    policy.forget(2);
    policy.tag(2, 'c');
    candidates.add(2);
    asked.length = 0;
    policy.applySte(new Map([['a', 4], ['c', 1]]));
    expect(asked.sort()).toEqual([1, 2, 3, 4]);
    expect([1, 2, 3, 4].map((page) => policy.steOfPage(page))).toEqual([4, 1, 4, 4]);
  });

  it('forgets a page: its id may come back for another path, untagged', () => {
    const { policy, reread } = bound();
    policy.tag(5, 'a');
    policy.tag(5, 'b');
    policy.applySte(new Map([['a', 1], ['b', 2]]));
    policy.forget(5);
    expect(policy.steOfPage(5)).toBeUndefined();
    reread.length = 0;
    policy.applySte(new Map([['a', 9], ['b', 9]]));
    expect(reread).toEqual([]);
  });

  it('is LRU without STE values: every page has the same priority', () => {
    const { policy } = bound();
    policy.tag(1, 'a');
    expect(new Set([0, 1, 2].map((page) => policy.priority(page, stats)))).toEqual(new Set([-Infinity]));
  });

  it('grows its tag table for page ids beyond the initial size', () => {
    const { policy } = bound();
    policy.tag(100_000, 'a');
    policy.applySte(new Map([['a', 6]]));
    expect(policy.steOfPage(100_000)).toBe(6);
    expect(policy.steOfPage(99_999)).toBeUndefined();
  });

  it('tags nothing, and asks nothing of the cache, for a request without an agent', () => {
    const { policy, reread } = bound();
    policy.notePrompt(prompt(2), undefined, [20, 21], 0, 2);
    expect(reread).toEqual([]);
    expect(policy.steOfPage(20)).toBeUndefined();
  });

  it('asks the cache to re-read a page only when a tag is new', () => {
    const { policy, reread } = bound();
    policy.tag(4, 'a');
    policy.tag(4, 'a');
    policy.tag(4, 'b');
    policy.tag(4, 'b');
    policy.tag(4, 'a');
    expect(reread).toEqual([4, 4]);
    reread.length = 0;
    policy.setAll(new Map([['a', 2], ['b', 3]])); // both known now: one re-read per agent of the page
    expect(reread).toEqual([4, 4]);
    reread.length = 0;
    policy.setAll(new Map([['a', 2], ['b', 3]])); // the same values again
    policy.setSte('a', 2);
    expect(reread).toEqual([]);
    policy.setSte('a', undefined);
    expect(reread).toEqual([4]);
    policy.setSte('a', undefined); // unknown stays unknown: nothing to re-read
    expect(reread).toEqual([4]);
  });

  it('takes a later known STE over an unknown first tag', () => {
    const { policy } = bound();
    policy.tag(9, 'unknown');
    policy.tag(9, 'known');
    policy.setSte('known', 2);
    expect(policy.steOfPage(9)).toBe(2);
  });

  it('works unbound (no cache to tell)', () => {
    const policy = new StePolicy();
    expect(policy.name).toBe('ste');
    policy.tag(3, 'a');
    policy.setSte('a', 1);
    expect(policy.steOfPage(3)).toBe(1);
    policy.forget(5000); // never tagged, beyond the table: nothing to forget
    expect(policy.steOfPage(3)).toBe(1);
  });

  it('grows its tag table at exactly its initial size, leaving new pages untagged', () => {
    const { policy } = bound();
    policy.tag(1024, 'a'); // the table starts with 1,024 pages: 1,024 is the first beyond it
    policy.applySte(new Map([['a', 3], ['b', 4]]));
    expect(policy.steOfPage(1024)).toBe(3);
    expect(policy.steOfPage(1500)).toBeUndefined();
    expect(policy.steOfPage(5000)).toBeUndefined(); // beyond the grown table
    policy.forget(5000);
    policy.forget(1500);
    expect(policy.steOfPage(1024)).toBe(3);
  });

  it('holds only the agents in play: a long chain passing through leaves none behind, and a reused id starts unknown', () => {
    const { policy } = bound();
    for (let agent = 0; agent < 10_000; agent++) {
      const key = `wf/a${agent}`;
      policy.setSte(key, 3);
      policy.tag(agent % 64, key);
      policy.setSte(key, 0);
      policy.setSte(key, undefined);
      policy.forget(agent % 64);
    }
    expect(policy.agentsInPlay).toBe(0);
    policy.tag(1, 'old');
    policy.setSte('old', 2);
    policy.forget(1);
    policy.setSte('old', undefined); // dropped: its id is free
    policy.tag(2, 'new'); // takes that id
    expect(policy.steOfPage(2)).toBeUndefined();
    expect(policy.agentsInPlay).toBe(1);
    policy.setSte('old', 5);
    expect(policy.steOfPage(2)).toBeUndefined();
  });

  it('re-reads exactly the pages an agent still tags after pages in the middle of its list were forgotten', () => {
    const { policy, reread } = bound();
    for (const page of [1, 2, 3, 4, 5]) policy.tag(page, 'a');
    policy.tag(3, 'b');
    policy.forget(3);
    policy.forget(2);
    reread.length = 0;
    policy.setSte('a', 1);
    expect(reread.sort()).toEqual([1, 4, 5]);
    reread.length = 0;
    policy.setSte('b', 1); // b's only page was forgotten: b is gone
    expect(reread).toEqual([]);
    policy.forget(5);
    policy.forget(1);
    reread.length = 0;
    policy.setSte('a', 2);
    expect(reread).toEqual([4]);
  });

  it('keeps one identity per agent: an STE set after a second tag reaches the page it tagged first', () => {
    const { policy } = bound();
    policy.tag(1, 'a');
    policy.tag(2, 'a');
    policy.setSte('a', 4);
    expect(policy.steOfPage(1)).toBe(4);
    expect(policy.steOfPage(2)).toBe(4);
    expect(policy.agentsInPlay).toBe(1);
  });

  it('forgetting a page beyond its tag table (never tagged) leaves every agent\'s pages alone', () => {
    const { policy, reread } = bound();
    policy.tag(1, 'a');
    policy.tag(2, 'b');
    policy.forget(5_000);
    reread.length = 0;
    policy.setSte('b', 3);
    expect(reread).toEqual([2]);
    expect(policy.steOfPage(2)).toBe(3);
    expect(policy.agentsInPlay).toBe(2);
  });

  it('gives every page the value a plain model gives, and re-reads what changed, whatever order agents come and go in', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('tag' as const), page: fc.nat(7), agent: fc.nat(4) }),
      fc.record({ kind: fc.constant('forget' as const), page: fc.nat(7) }),
      fc.record({ kind: fc.constant('ste' as const), agent: fc.nat(4), value: fc.option(fc.nat(3), { nil: undefined }) }),
      fc.record({ kind: fc.constant('all' as const), values: fc.array(fc.tuple(fc.nat(4), fc.nat(3)), { maxLength: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const { policy, reread } = bound();
        const tags = new Map<number, string[]>();
        const ste = new Map<string, number>();
        const valueOf = (page: number) => {
          const known = (tags.get(page) ?? []).map((agent) => ste.get(agent)).filter((value) => value !== undefined);
          return known.length === 0 ? undefined : Math.min(...known);
        };
        for (const each of ops) {
          const before = Array.from({ length: 8 }, (_, page) => valueOf(page));
          const taggedBefore = Array.from({ length: 8 }, (_, page) => [...(tags.get(page) ?? [])]);
          reread.length = 0;
          if (each.kind === 'tag') {
            policy.tag(each.page, `a${each.agent}`);
            const list = tags.get(each.page) ?? [];
            if (!list.includes(`a${each.agent}`)) tags.set(each.page, [...list, `a${each.agent}`]);
          } else if (each.kind === 'forget') {
            policy.forget(each.page);
            tags.delete(each.page);
          } else if (each.kind === 'ste') {
            policy.setSte(`a${each.agent}`, each.value);
            if (each.value === undefined) ste.delete(`a${each.agent}`);
            else ste.set(`a${each.agent}`, each.value);
          } else {
            const values = new Map(each.values.map(([agent, value]) => [`a${agent}`, value]));
            policy.setAll(values);
            ste.clear();
            for (const [agent, value] of values) ste.set(agent, value);
          }
          for (let page = 0; page < 8; page++) {
            expect(policy.steOfPage(page)).toBe(valueOf(page));
            // A page whose value moved, or that gained a tag, was re-read (a forgotten page left the cache: nothing to re-read).
            const gainedTag = (tags.get(page)?.length ?? 0) > taggedBefore[page]!.length;
            if (each.kind !== 'forget' && (valueOf(page) !== before[page] || gainedTag)) expect(reread).toContain(page);
          }
          const inPlay = new Set([...ste.keys(), ...[...tags.values()].flat()]);
          expect(policy.agentsInPlay).toBe(inPlay.size);
        }
      }),
      { numRuns: runs(300), seed: SEED },
    );
  });
});

describe('StePolicy page lists through page 0, exact', () => {
  // The radix cache never tags page 0 (its root), but the policy takes any page id: lists through page 0 stay whole.
  it('forgetting the page after page 0 in an agent\'s list keeps page 0 and the pages before it', () => {
    const { policy, reread } = bound();
    for (const page of [3, 0, 5]) policy.tag(page, 'a'); // list: 5, 0, 3
    policy.forget(3);
    reread.length = 0;
    policy.setSte('a', 1);
    expect(reread.sort()).toEqual([0, 5]);
  });

  it('forgetting the page before page 0, then page 0, leaves only the pages still tagged', () => {
    const { policy, reread } = bound();
    policy.tag(0, 'a');
    policy.tag(3, 'a'); // list: 3, 0
    policy.forget(3);
    policy.forget(0);
    policy.tag(4, 'a');
    reread.length = 0;
    policy.setSte('a', 1);
    expect(reread).toEqual([4]);
  });

  it('a page put in front of page 0 stays in the list when page 0 is forgotten', () => {
    const { policy, reread } = bound();
    policy.tag(0, 'a');
    policy.tag(3, 'a'); // list: 3, 0
    policy.forget(0);
    reread.length = 0;
    policy.setSte('a', 1);
    expect(reread).toEqual([3]);
  });

  it('a page of the first agent that goes idle and wakes again leaves the agent\'s other pages in its list', () => {
    const policy = new StePolicy();
    const asked: number[] = [];
    const candidates = new Set([0, 5]);
    policy.bind({ reprioritize: (page) => (asked.push(page), candidates.has(page)) });
    for (const page of [0, 5, 6]) policy.tag(page, 'a'); // the first agent; list: 6, 5, 0
    policy.setSte('a', 1); // 6 is no candidate: idle
    candidates.add(6);
    expect(policy.priority(6, stats)).toBe(-1); // a candidate again: back in the list
    policy.forget(0);
    asked.length = 0;
    policy.setSte('a', 2);
    expect(asked.sort()).toEqual([5, 6]);
  });
});

describe('StePolicy idle pages past the first 64, exact', () => {
  it('a page the cache says is no candidate is not asked again, whatever its id within the first table', () => {
    const policy = new StePolicy();
    const asked: number[] = [];
    policy.bind({ reprioritize: (page) => void asked.push(page) === undefined && page !== 100 && page !== 1023 });
    for (const page of [100, 1023, 7]) policy.tag(page, 'a');
    asked.length = 0;
    policy.setSte('a', 1);
    expect(asked.sort((x, y) => x - y)).toEqual([7, 100, 1023]);
    asked.length = 0;
    policy.setSte('a', 2);
    expect(asked).toEqual([7]);
  });
});

describe('StePolicy.forget of a page no agent tags, exact', () => {
  it('changes nothing: the next agent held tags its pages as usual', () => {
    const { policy, reread } = bound();
    policy.forget(2); // never tagged, within the table
    policy.forget(5_000); // beyond it
    policy.tag(1, 'a');
    expect(policy.agentsInPlay).toBe(1);
    reread.length = 0;
    policy.setSte('a', 1);
    expect(reread).toEqual([1]);
    expect(policy.steOfPage(1)).toBe(1);
  });

  it('forgetting a page a second time leaves the list it was in alone', () => {
    const { policy, reread } = bound();
    policy.tag(4, 'a');
    policy.tag(5, 'a'); // list: 5, 4
    policy.forget(5);
    policy.tag(8, 'a'); // list: 8, 4
    policy.forget(5); // no longer tagged
    policy.forget(4);
    reread.length = 0;
    policy.setSte('a', 1);
    expect(reread).toEqual([8]);
  });
});

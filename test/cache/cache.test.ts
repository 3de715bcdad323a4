import { policyFactory } from '../../src/cache/policy-registry.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChildIndex } from '../../src/child-index.js';
import { IndexedHeap } from '../../src/cache/indexed-heap.js';
import { LruPolicy } from '../../src/cache/policy.js';
import { RadixCache, ROOT } from '../../src/cache/radix-cache.js';
import { CacheReplayer, replayTrace } from '../../src/replay/replay.js';
import { POLICY_NAMES, type SteSource, type TraceRequest } from '../../src/types.js';
import { NaiveCache } from '../helpers/naive-cache.js';
import { runs } from '../helpers/runs.js';

const BLOCK = 4;

/** Requests over a 3-letter block alphabet, so prefixes are shared often. */
const requestArb = fc
  .record({
    blocks: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 6 }),
    lastTokens: fc.integer({ min: 1, max: BLOCK }),
    agent: fc.constantFrom('planner', 'coder', 'tester'),
    fixed: fc.integer({ min: 0, max: 6 }),
  })
  .map(({ blocks, lastTokens, agent, fixed }) => ({
    blocks,
    inputLength: (blocks.length - 1) * BLOCK + lastTokens,
    agent,
    fixed: Math.min(fixed, blocks.length),
  }));

function toTrace(raw: { blocks: number[]; inputLength: number; agent: string; fixed: number }[]): TraceRequest[] {
  return raw.map((r, i) => ({
    id: String(i),
    t: i,
    workflow: 'wf',
    agent: r.agent,
    blocks: r.blocks,
    blockSize: BLOCK,
    inputLength: r.inputLength,
    outputLength: 1,
    fixedBlocks: r.fixed,
  }));
}

/** Feeds the replayer a scripted STE map per request, as a declared graph would. */
class ScriptedSte implements SteSource {
  version = 0;
  #step = -1;
  constructor(readonly script: Map<string, number>[]) {}
  begin(): void {
    this.#step++;
    this.version++;
  }
  end(): void {}
  finish(): void {}
  snapshot(): Map<string, number> {
    return this.script[this.#step] ?? new Map();
  }
}

const steMapArb = fc
  .record({
    planner: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    coder: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    tester: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  })
  .map((values) => new Map(Object.entries(values).filter((e): e is [string, number] => e[1] !== undefined)));

function contents(cache: RadixCache): string[] {
  return [...cache.pageIds()].map((p) => cache.pathOf(p).join(',')).sort();
}

describe('radix cache against a naive model', () => {
  for (const policy of POLICY_NAMES) {
    it(`${policy}: same hits and same contents after every request`, () => {
      fc.assert(
        fc.property(
          fc.array(requestArb, { minLength: 1, maxLength: 40 }),
          fc.integer({ min: 1, max: 10 }),
          fc.array(steMapArb, { minLength: 40, maxLength: 40 }),
          (raw, slots, script) => {
            const trace = toTrace(raw);
            const ste = new ScriptedSte(script);
            const replayer = new CacheReplayer(trace, {
              policy: policyFactory(policy),
              capacityTokens: slots * BLOCK,
              blockSize: BLOCK,
              ste,
            });
            const model = new NaiveCache(policy, slots, trace);
            trace.forEach((request, r) => {
              model.ste = script[r] ?? new Map();
              const hit = replayer.run(r);
              expect(hit).toBe(model.run(request, r));
              expect(contents(replayer.cache)).toEqual([...model.pages.keys()].sort());
              replayer.cache.checkInvariants();
            });
            expect(replayer.cache.evictions).toBe(model.evictions);
          },
        ),
        { numRuns: runs(300) },
      );
    });
  }

  it('unbounded capacity gives every policy the same hit rate, the trace ceiling', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 60 }), (raw) => {
        const trace = toTrace(raw);
        const rates = POLICY_NAMES.map(
          (policy) => replayTrace(trace, { policy: policyFactory(policy), capacityTokens: null, blockSize: BLOCK }).hitTokens,
        );
        expect(new Set(rates).size).toBe(1);
        const results = replayTrace(trace, { policy: policyFactory('lru'), capacityTokens: null, blockSize: BLOCK });
        expect(results.evictions).toBe(0);
      }),
      { numRuns: runs(100) },
    );
  });

  it('ste without any STE source is exactly lru', () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (raw, slots) => {
        const trace = toTrace(raw);
        const options = { capacityTokens: slots * BLOCK, blockSize: BLOCK };
        const lru = replayTrace(trace, { ...options, policy: policyFactory('lru') });
        const ste = replayTrace(trace, { ...options, policy: policyFactory('ste') });
        expect({ ...ste, seconds: 0, policy: 'lru' }).toEqual({ ...lru, seconds: 0 });
      }),
      { numRuns: runs(100) },
    );
  });
});

describe('radix cache invariants', () => {
  it('never evicts a locked page, evicts only leaves, and never exceeds capacity', () => {
    // Operations: lock/unlock random pages and insert random paths; check after every one.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), blocks: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }) }),
      fc.record({ kind: fc.constant('lock' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('unlock' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 1, max: 8 }), (ops, slots) => {
        const cache = new RadixCache({ gpuSlots: slots, policy: new LruPolicy() });
        const locked: number[] = [];
        const path = new Int32Array(8);
        ops.forEach((o, tick) => {
          if (o.kind === 'insert') {
            const lockedBefore = new Set(locked);
            const before = new Set(cache.pageIds());
            const matched = cache.matchGpu(o.blocks, path);
            let parent = matched > 0 ? path[matched - 1]! : ROOT;
            for (let i = 0; i < matched; i++) cache.lock(path[i]!);
            const held = [...path.subarray(0, matched)];
            for (let i = matched; i < o.blocks.length; i++) {
              const page = cache.insertGpu(parent, o.blocks[i]!, tick);
              if (page < 0) break;
              cache.lock(page);
              held.push(page);
              parent = page;
            }
            for (const page of lockedBefore) expect(before.has(page) && !new Set(cache.pageIds()).has(page)).toBe(false);
            held.forEach((p) => cache.unlock(p));
          } else if (o.kind === 'lock') {
            const pages = [...cache.pageIds()];
            if (pages.length > 0) {
              const page = pages[o.pick % pages.length]!;
              cache.lock(page);
              locked.push(page);
            }
          } else if (locked.length > 0) {
            const [page] = locked.splice(o.pick % locked.length, 1);
            cache.unlock(page!);
          }
          cache.checkInvariants();
          expect(cache.gpuUsed).toBeLessThanOrEqual(slots);
        });
      }),
      { numRuns: runs(300) },
    );
  });

  it('evicts a parent only after its children are gone', () => {
    const cache = new RadixCache({ gpuSlots: 3, policy: new LruPolicy() });
    const a = cache.insertGpu(ROOT, 1, 0);
    const b = cache.insertGpu(a, 2, 1);
    cache.insertGpu(ROOT, 9, 2);
    // a is the oldest page but has a child: b must go first.
    expect(cache.evictGpu()).toBe(b);
    expect(cache.evictGpu()).toBe(a);
    expect(cache.matchGpu([9], new Int32Array(1))).toBe(1);
    expect(cache.matchGpu([1], new Int32Array(1))).toBe(0);
  });

  it('returns -1 when every page is locked', () => {
    const cache = new RadixCache({ gpuSlots: 1, policy: new LruPolicy() });
    const a = cache.insertGpu(ROOT, 1, 0);
    cache.lock(a);
    expect(cache.insertGpu(ROOT, 2, 1)).toBe(-1);
    expect(cache.gpuUsed).toBe(1);
    cache.unlock(a);
    expect(cache.insertGpu(ROOT, 2, 2)).toBeGreaterThan(0);
    expect(cache.evictions).toBe(1);
  });
});

describe('building blocks', () => {
  it('ChildIndex agrees with a Map under random insert/delete churn', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ del: fc.boolean(), parent: fc.integer({ min: 0, max: 50 }), block: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(2 ** 40 + 3)) }),
          { maxLength: 400 },
        ),
        (ops) => {
          const index = new ChildIndex(4);
          const model = new Map<string, number>();
          ops.forEach((o, i) => {
            const key = `${o.parent}/${o.block}`;
            if (o.del) {
              index.delete(o.parent, o.block);
              model.delete(key);
            } else if (!model.has(key)) {
              index.set(o.parent, o.block, i);
              model.set(key, i);
            }
            expect(index.size).toBe(model.size);
          });
          for (let p = 0; p <= 50; p++) {
            for (const b of [...Array(51).keys(), 2 ** 40 + 3]) expect(index.get(p, b)).toBe(model.get(`${p}/${b}`) ?? -1);
          }
        },
      ),
      { numRuns: runs(60) },
    );
  });

  it('IndexedHeap pops in (primary, secondary, id) order after re-keys and deletes', () => {
    const entry = fc.tuple(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }));
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 200 }), fc.array(fc.nat(), { maxLength: 50 }), (keys, deletes) => {
        const key = keys.map(([primary, secondary]) => ({ primary, secondary }));
        const heap = new IndexedHeap(2);
        key.forEach(({ primary, secondary }, id) => heap.set(id, primary, secondary));
        const deleted = new Set<number>();
        for (const d of deletes) {
          const id = d % key.length;
          heap.delete(id);
          deleted.add(id);
        }
        for (let id = 0; id < key.length; id += 3) {
          key[id] = { primary: 20 - key[id]!.primary, secondary: key[id]!.secondary };
          if (!deleted.has(id)) heap.set(id, key[id]!.primary, key[id]!.secondary);
        }
        const expected = key.map((k, id) => ({ ...k, id })).filter(({ id }) => !deleted.has(id));
        expected.sort((a, b) => a.primary - b.primary || a.secondary - b.secondary || a.id - b.id);
        expect(heap.peekPrimary()).toBe(expected[0]?.primary ?? Infinity);
        const popped: number[] = [];
        while (heap.size > 0) popped.push(heap.pop());
        expect(popped).toEqual(expected.map(({ id }) => id));
      }),
    );
  });
});

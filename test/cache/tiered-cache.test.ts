import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomInt } from 'node:crypto';
import { BeladyPolicy, LfuPolicy, LruPolicy } from '../../src/cache/policy.js';
import { PageState, RadixCache, ROOT } from '../../src/cache/radix-cache.js';
import { CPU, GPU, LOADING, NaiveTieredCache, WRITING, type ModelPage, type ModelPolicy } from '../helpers/naive-tiered-cache.js';
import { runs } from '../helpers/runs.js';

const priorityBelow = fc.constantFrom(Infinity, Infinity, 0, 1, -2, -4);
const nextUse = fc.constantFrom(Infinity, 1, 2, 4);
/**
 * Few distinct ticks and blocks, so ties in priority and last access, and shared prefixes, are common;
 * tier moves are weighted up so pools fill and moves overlap evictions often.
 */
const pick = fc.nat();
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('insert' as const), pick, block: fc.nat(2), tick: fc.nat(4), nextUse }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('finishWrite' as const, 'finishLoad' as const, 'unlock' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('load' as const), pick, below: priorityBelow }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('evictGpu' as const), pick, below: priorityBelow }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('lock' as const, 'cancelLoad' as const, 'evictCpu' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('touch' as const), pick, tick: fc.nat(4), nextUse }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('reserve' as const, 'release' as const), pick }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const scenario = fc.record({
  ops: fc.array(op, { maxLength: 60, size: 'max' }),
  gpuSlots: fc.integer({ min: 1, max: 5 }),
  cpuSlots: fc.integer({ min: 0, max: 4 }),
  policy: fc.constantFrom<ModelPolicy>('lru', 'lfu', 'belady'),
});

const POLICIES = { lru: LruPolicy, lfu: LfuPolicy, belady: BeladyPolicy };

/** Every page of the real cache as path -> what the model also tracks, for a direct comparison. */
function snapshot(cache: RadixCache): Map<string, ModelPage> {
  const pages = new Map<string, ModelPage>();
  for (const page of cache.pageIds()) {
    pages.set(cache.pathOf(page).join(','), {
      state: cache.stateOf(page),
      locks: cache.locksOf(page),
      lastAccess: cache.lastAccess(page),
      accesses: cache.accessCount(page),
      nextUse: cache.nextUse(page),
    });
  }
  return pages;
}

function pageOf(cache: RadixCache, path: string): number {
  let page = ROOT;
  for (const block of path === '' ? [] : path.split(',')) {
    page = cache.childOf(page, Number(block));
    if (page < 0) return -1;
  }
  return page;
}

/**
 * Applies one operation to both caches (model first, while the real cache's page ids still name the same
 * paths) and checks they answer alike. Operations whose preconditions do not hold are skipped.
 */
function step(cache: RadixCache, model: NaiveTieredCache, o: Op): void {
  const paths = [...model.pages.keys()].sort();
  const choose = (wanted: (path: string, state: number) => boolean): string | undefined => {
    const eligible = paths.filter((p) => wanted(p, model.pages.get(p)!.state));
    return eligible.length > 0 ? eligible[o.pick % eligible.length] : undefined;
  };
  const real = (path: string | undefined) => (path === undefined ? -1 : pageOf(cache, path));
  const pathOf = (page: number) => (page < 0 ? undefined : cache.pathOf(page).join(','));
  switch (o.kind) {
    case 'insert': {
      const parents = ['', ...paths.filter((p) => model.pages.get(p)!.state & (GPU | LOADING))];
      const parent = parents[o.pick % parents.length]!;
      const child = parent === '' ? String(o.block) : `${parent},${o.block}`;
      if ((model.pages.get(child)?.state ?? 0) & (GPU | LOADING)) return;
      const parentPage = real(parent);
      const expected = model.insertGpu(parent, o.block, o.tick, o.nextUse);
      expect(pathOf(cache.insertGpu(parentPage, o.block, o.tick, o.nextUse))).toBe(expected);
      return;
    }
    case 'touch': {
      const path = choose(() => true);
      if (path === undefined) return;
      model.touch(path, o.tick, o.nextUse);
      cache.touch(real(path), o.tick, o.nextUse);
      return;
    }
    case 'lock':
    case 'unlock': {
      const path = choose((p) => o.kind === 'lock' || model.pages.get(p)!.locks > 0);
      if (path === undefined) return;
      model[o.kind](path);
      cache[o.kind](real(path));
      return;
    }
    case 'evictGpu': {
      const expected = model.evictGpu(o.below);
      expect(pathOf(cache.evictGpu(o.below))).toBe(expected);
      return;
    }
    case 'evictCpu': {
      const expected = model.evictCpu();
      expect(pathOf(cache.evictCpu())).toBe(expected);
      return;
    }
    case 'load': {
      const path = choose((p, s) => (s & (GPU | LOADING | CPU)) === CPU && (model.parentState(p) & (GPU | LOADING)) !== 0);
      if (path === undefined) return;
      const page = real(path);
      const expected = model.startLoad(path, o.below);
      expect(cache.startLoad(page, o.below)).toBe(expected);
      return;
    }
    case 'finishLoad':
    case 'cancelLoad': {
      const path = choose((p, s) => (s & LOADING) !== 0 && (o.kind === 'finishLoad' || !model.hasChildWith(p, GPU | LOADING)));
      if (path === undefined) return;
      model[o.kind](path);
      cache[o.kind](real(path));
      return;
    }
    case 'write': {
      const path = choose((p, s) => (s & (GPU | CPU | WRITING)) === GPU && (model.parentState(p) & (CPU | WRITING)) !== 0);
      if (path === undefined) return;
      const page = real(path);
      const expected = model.startWrite(path);
      expect(cache.startWrite(page)).toBe(expected);
      return;
    }
    case 'finishWrite': {
      const path = choose((_, s) => (s & WRITING) !== 0);
      if (path === undefined) return;
      model.finishWrite(path);
      cache.finishWrite(real(path));
      return;
    }
    case 'reserve': {
      const slots = 1 + (o.pick % 2);
      const expected = model.reserveGpu(slots);
      expect(cache.reserveGpu(slots)).toBe(expected);
      return;
    }
    case 'release':
      if (model.reserved === 0) return;
      model.reserved--;
      cache.releaseGpu(1);
      return;
  }
}

/** Random interleavings of every tier operation against the naive model, invariants checked after each. */
const interleavings = fc.property(scenario, ({ ops, gpuSlots, cpuSlots, policy }) => {
  const cache = new RadixCache({ gpuSlots, cpuSlots, policy: new POLICIES[policy]() });
  const model = new NaiveTieredCache(gpuSlots, cpuSlots, policy, (path) => pageOf(cache, path));
  for (const o of ops) {
    step(cache, model, o);
    cache.checkInvariants();
    const counters = (c: { gpuUsed: number; cpuUsed: number; evictions: number }) => [c.gpuUsed, c.cpuUsed, c.evictions];
    const real = { pages: snapshot(cache), counters: counters(cache), reserved: cache.gpuReserved };
    const expected = { pages: model.pages, counters: counters(model), reserved: model.reserved };
    // Serialized first: vitest's deep equality on every step would dominate the run time.
    if (JSON.stringify(sorted(real)) !== JSON.stringify(sorted(expected))) expect(real).toEqual(expected);
  }
});

function sorted<T extends { pages: Map<string, ModelPage> }>(view: T): unknown {
  return { ...view, pages: [...view.pages].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

/** `npm run test:seeds` sets this: the interleaving test then runs under that many random seeds. */
const SEED_SWEEP = Number(process.env.KVFLOW_SEED_SWEEP ?? 0);
const INTERLEAVING_RUNS = 300;

describe('tiered radix cache', () => {
  it('matches the naive tiered model under random interleavings of insert, lock, touch, load, write and evict', () => {
    fc.assert(interleavings, { numRuns: runs(INTERLEAVING_RUNS) });
  });

  // Defined only under `npm run test:seeds`, so the everyday suite shows no skipped test for it.
  if (SEED_SWEEP > 0) {
    it(`interleavings hold under ${SEED_SWEEP} random seeds`, { timeout: 3_600_000 }, () => {
      for (let i = 0; i < SEED_SWEEP; i++) {
        const seed = randomInt(2 ** 31);
        const details = fc.check(interleavings, { seed, numRuns: INTERLEAVING_RUNS });
        if (details.failed) {
          throw new Error(`seed ${seed} fails after ${i} passing seeds (KVFLOW_SEED=${seed} replays it):\n${fc.defaultReportMessage(details)}`);
        }
      }
    });
  }

  it('startWrite keeps the parent on the CPU while it makes CPU room (issue #9 reproduction)', () => {
    const cache = new RadixCache({ gpuSlots: 2, cpuSlots: 1, policy: new LruPolicy() });
    const p1 = cache.insertGpu(ROOT, 0, 0);
    const p2 = cache.insertGpu(p1, 0, 0);
    expect(cache.startWrite(p1)).toBe(true);
    cache.finishWrite(p1);
    // The only CPU slot holds p1, p2's parent: evicting it would leave p2 backed up under a page off the CPU.
    expect(cache.startWrite(p2)).toBe(false);
    cache.checkInvariants();
    expect(cache.stateOf(p1)).toBe(PageState.gpu | PageState.cpu);
    expect(cache.stateOf(p2)).toBe(PageState.gpu);
    expect(cache.cpuUsed).toBe(1);
  });

  it('insertGpu keeps an unlocked parent on the GPU while it makes room', () => {
    const cache = new RadixCache({ gpuSlots: 1, policy: new LruPolicy() });
    const parent = cache.insertGpu(ROOT, 5, 0);
    expect(cache.insertGpu(parent, 6, 1)).toBe(-1); // the only evictable page is the parent itself
    cache.checkInvariants();
    expect(cache.stateOf(parent)).toBe(PageState.gpu);
    expect(cache.size).toBe(1);
  });

  it('insertGpu refuses a parent that is off the GPU', () => {
    const cache = new RadixCache({ gpuSlots: 2, cpuSlots: 2, policy: new LruPolicy() });
    const a = cache.insertGpu(ROOT, 1, 0);
    cache.startWrite(a);
    cache.finishWrite(a);
    cache.evictGpu();
    expect(() => cache.insertGpu(a, 2, 1)).toThrow(/off the GPU/);
  });

  it('a GPU eviction of a backed-up page keeps it as CPU-only, and it loads back', () => {
    const cache = new RadixCache({ gpuSlots: 1, cpuSlots: 4, policy: new LruPolicy() });
    const a = cache.insertGpu(ROOT, 7, 0);
    expect(cache.startWrite(a)).toBe(true);
    cache.finishWrite(a);
    const b = cache.insertGpu(ROOT, 8, 1); // evicts a from the GPU only
    expect(cache.stateOf(a)).toBe(PageState.cpu);
    const out = new Int32Array(1);
    expect(cache.matchTiers([7], out)).toEqual({ gpu: 0, other: 1, loading: 0 });
    expect(cache.startLoad(a)).toBe(true); // evicts b, which had no CPU copy: gone
    expect(cache.childOf(ROOT, 8)).toBe(-1);
    expect(b).toBeGreaterThan(0);
    expect(cache.matchTiers([7], out)).toEqual({ gpu: 0, other: 1, loading: 1 });
    cache.finishLoad(a);
    expect(cache.matchGpu([7], out)).toBe(1);
    cache.checkInvariants();
  });

  it('startLoad refuses to displace pages at or above the given priority', () => {
    const cache = new RadixCache({ gpuSlots: 1, cpuSlots: 2, policy: new LruPolicy() });
    const a = cache.insertGpu(ROOT, 1, 0);
    cache.startWrite(a);
    cache.finishWrite(a);
    cache.insertGpu(ROOT, 2, 1);
    expect(cache.startLoad(a, 0)).toBe(false); // lru priority is 0: not below 0
    expect(cache.stateOf(a)).toBe(PageState.cpu);
    expect(cache.startLoad(a, 1)).toBe(true);
    cache.checkInvariants();
  });
});

/**
 * Exact tests of the radix cache's edges: argument errors, the accessors, re-inserting a CPU-only page,
 * matches cut short by the output buffer, re-prioritizing, CPU eviction order, parent protection whatever
 * the parent's page id, and the edge table under growth and churn (checked against a plain Map).
 */
import { describe, expect, it } from 'vitest';
import { LruPolicy, type EvictionPolicy } from '../../src/cache/policy.js';
import { PageState, RadixCache, ROOT } from '../../src/cache/radix-cache.js';

const lru = () => new LruPolicy();

/** Writes a GPU page through to the CPU. */
function backup(cache: RadixCache, page: number): void {
  expect(cache.startWrite(page)).toBe(true);
  cache.finishWrite(page);
}

/** A page that is only on the CPU: inserted, backed up, evicted from the GPU. */
function cpuOnly(cache: RadixCache, parent: number, block: number, tick: number): number {
  const page = cache.insertGpu(parent, block, tick);
  backup(cache, page);
  expect(cache.evictGpuPage(page)).toBe(true);
  expect(cache.stateOf(page)).toBe(PageState.cpu);
  return page;
}

/** A small deterministic generator (numerical recipes LCG), for the churn tests. */
function lcg(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

describe('radix cache: arguments and accessors', () => {
  it('rejects a negative or NaN GPU pool; a pool of 0 holds nothing', () => {
    expect(() => new RadixCache({ gpuSlots: -1, policy: lru() })).toThrow(new RangeError('gpuSlots must be >= 0, got -1'));
    expect(() => new RadixCache({ gpuSlots: NaN, policy: lru() })).toThrow('gpuSlots must be >= 0, got NaN');
    const empty = new RadixCache({ gpuSlots: 0, policy: lru() });
    expect(empty.insertGpu(ROOT, 1, 0)).toBe(-1);
    expect(empty.size).toBe(0);
    expect(empty.evictGpu()).toBe(-1);
    expect(empty.gpuVictim()).toBe(-1);
    expect(empty.candidateCount).toBe(0);
  });

  it('names parents, blocks, paths and the next victim; the root has no parent', () => {
    const cache = new RadixCache({ gpuSlots: 8, policy: lru() });
    const a = cache.insertGpu(ROOT, 5, 0);
    const b = cache.insertGpu(a, 6, 1);
    const c = cache.insertGpu(ROOT, 7, 2);
    expect(cache.parentOf(ROOT)).toBe(-1);
    expect([cache.parentOf(a), cache.parentOf(b), cache.parentOf(c)]).toEqual([ROOT, a, ROOT]);
    expect([cache.blockOf(a), cache.blockOf(b), cache.blockOf(c)]).toEqual([5, 6, 7]);
    expect(cache.pathOf(b)).toEqual([5, 6]);
    expect(cache.childOf(a, 6)).toBe(b);
    expect(cache.childOf(a, 7)).toBe(-1);
    // Candidates are the unlocked leaves b (tick 1) and c (tick 2); a has a GPU child.
    expect(cache.candidateCount).toBe(2);
    expect(cache.gpuVictim()).toBe(b);
    cache.lock(b);
    expect(cache.candidateCount).toBe(1);
    expect(cache.gpuVictim()).toBe(c);
    expect([...cache.pageIds()]).toEqual([a, b, c]);
  });

  it('pinnedGpu adds locked pages, moving pages and reservations', () => {
    const evicted: number[] = [];
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 4, policy: lru(), onGpuEvict: (page) => evicted.push(page) });
    const a = cache.insertGpu(ROOT, 1, 0);
    cache.lock(a);
    expect(cache.evictGpuPage(a)).toBe(false); // locked: no candidate, nothing changes
    expect(cache.stateOf(a)).toBe(PageState.gpu);
    const b = cpuOnly(cache, ROOT, 2, 0);
    expect(evicted).toEqual([b]);
    expect(cache.evictions).toBe(1);
    expect(cache.startLoad(b)).toBe(true);
    expect(cache.reserveGpu(2)).toBe(true);
    expect(cache.pinnedGpu).toBe(4); // a locked, b loading, 2 reserved
    expect(cache.gpuUsed).toBe(4);
    expect(cache.gpuReserved).toBe(2);
    cache.releaseGpu(2);
    cache.finishLoad(b);
    cache.unlock(a);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });
});

describe('radix cache: misuse is refused with a message', () => {
  it('names the page and what is wrong with it, and changes nothing', () => {
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 8, policy: lru() });
    const a = cache.insertGpu(ROOT, 1, 0); // page 1
    const b = cache.insertGpu(a, 2, 0); // page 2
    expect(() => cache.unlock(a)).toThrow('unlock of page 1 that is not locked');
    expect(() => cache.releaseGpu(1)).toThrow('releasing 1 GPU slots of 0 reserved');
    expect(() => cache.startLoad(a)).toThrow('page 1 is not CPU-only');
    expect(() => cache.finishLoad(a)).toThrow('page 1 is not loading');
    expect(() => cache.cancelLoad(a)).toThrow('page 1 is not loading');
    expect(() => cache.finishWrite(a)).toThrow('page 1 is not being written');
    expect(() => cache.startWrite(b)).toThrow('page 2 is written before its parent');
    expect(() => cache.insertGpu(ROOT, 1, 1)).toThrow('block 1 is already on the GPU or loading');
    expect(() => cache.insertGpuLocked(a, 2, 1)).toThrow('block 2 is already on the GPU or loading');
    expect(cache.startWrite(a)).toBe(true);
    expect(() => cache.startWrite(a)).toThrow('page 1 is not a GPU page without a CPU copy');
    cache.finishWrite(a);
    expect(() => cache.startWrite(a)).toThrow('page 1 is not a GPU page without a CPU copy');
    expect(cache.locksOf(a)).toBe(0);
    expect(cache.gpuReserved).toBe(0);
    cache.checkInvariants();
  });

  it('refuses loads out of path order, and cancelling a load with a child on the GPU', () => {
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 8, policy: lru() });
    const a = cache.insertGpu(ROOT, 1, 0);
    const b = cache.insertGpu(a, 2, 0);
    backup(cache, a);
    backup(cache, b);
    expect(cache.evictGpuPage(b)).toBe(true);
    expect(cache.evictGpuPage(a)).toBe(true);
    expect(() => cache.startLoad(b)).toThrow(`page ${b} loads before its parent`);
    expect(cache.startLoad(a)).toBe(true);
    expect(() => cache.insertGpu(ROOT, 1, 1)).toThrow('block 1 is already on the GPU or loading');
    const c = cache.insertGpu(a, 3, 1); // under a loading parent: allowed
    expect(() => cache.cancelLoad(a)).toThrow(`page ${a} has children on the GPU`);
    expect(cache.stateOf(a)).toBe(PageState.cpu | PageState.loading);
    expect(cache.evictGpuPage(c)).toBe(true);
    cache.cancelLoad(a);
    expect(cache.stateOf(a)).toBe(PageState.cpu);
    cache.checkInvariants();
  });
});

describe('radix cache: tier moves', () => {
  it('re-inserting a CPU-only page puts that page back on the GPU, locked when asked', () => {
    const cache = new RadixCache({ gpuSlots: 4, cpuSlots: 4, policy: lru() });
    const a = cpuOnly(cache, ROOT, 1, 0);
    const b = cpuOnly(cache, ROOT, 2, 0);
    expect(cache.insertGpu(ROOT, 1, 5)).toBe(a);
    expect(cache.stateOf(a)).toBe(PageState.gpu | PageState.cpu);
    expect(cache.lastAccess(a)).toBe(5);
    expect(cache.accessCount(a)).toBe(1);
    expect(cache.insertGpuLocked(ROOT, 2, 6)).toBe(b);
    expect(cache.locksOf(b)).toBe(1);
    expect(cache.pinnedGpu).toBe(1);
    expect(cache.gpuVictim()).toBe(a);
    expect(cache.candidateCount).toBe(1);
    expect([cache.size, cache.gpuUsed, cache.cpuUsed]).toEqual([2, 2, 2]);
    cache.unlock(b);
    expect(cache.candidateCount).toBe(2);
    cache.checkInvariants();
  });

  it('matches stop at the end of the output buffer', () => {
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 8, policy: lru() });
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    const p3 = cache.insertGpu(p2, 3, 0);
    const out = new Int32Array(2);
    expect(cache.matchGpu([1, 2, 3], out)).toBe(2);
    expect([...out]).toEqual([p1, p2]);
    expect(cache.matchTiers([1, 2, 3], out)).toEqual({ gpu: 2, other: 0, loading: 0 });
    backup(cache, p1);
    backup(cache, p2);
    backup(cache, p3);
    expect(cache.evictGpuPage(p3)).toBe(true);
    expect(cache.evictGpuPage(p2)).toBe(true);
    expect(cache.matchTiers([1, 2, 3], out)).toEqual({ gpu: 1, other: 1, loading: 0 });
    expect(cache.matchTiers([1, 2, 3], new Int32Array(3))).toEqual({ gpu: 1, other: 2, loading: 0 });
  });

  it('matchTiers goes on from the last GPU page into CPU-only ones', () => {
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 8, policy: lru() });
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    backup(cache, p1);
    backup(cache, p2);
    expect(cache.evictGpuPage(p2)).toBe(true);
    const out = new Int32Array(4);
    expect(cache.matchTiers([1, 2, 7], out)).toEqual({ gpu: 1, other: 1, loading: 0 });
    expect([out[0], out[1]]).toEqual([p1, p2]);
  });

  it('matchTiers stops at a GPU page below a loading one (it is usable only once the parent is)', () => {
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 8, policy: lru() });
    const p1 = cpuOnly(cache, ROOT, 1, 0);
    expect(cache.startLoad(p1)).toBe(true);
    const p2 = cache.insertGpu(p1, 2, 1);
    const out = new Int32Array(4);
    expect(cache.matchGpu([1, 2], out)).toBe(0);
    expect(cache.matchTiers([1, 2], out)).toEqual({ gpu: 0, other: 1, loading: 1 });
    cache.finishLoad(p1);
    expect(cache.matchGpu([1, 2], out)).toBe(2);
    expect([out[0], out[1]]).toEqual([p1, p2]);
  });

  it('evicts CPU copies leaf first, the parent only after its child', () => {
    const cache = new RadixCache({ gpuSlots: 8, cpuSlots: 8, policy: lru() });
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    backup(cache, p1);
    backup(cache, p2);
    expect(cache.evictGpuPage(p2)).toBe(true);
    expect(cache.evictGpuPage(p1)).toBe(true);
    // Same tick, same priority: only the CPU child makes p1 wait (by id it would go first).
    expect(cache.evictCpu()).toBe(p2);
    expect(cache.evictCpu()).toBe(p1);
    expect(cache.evictCpu()).toBe(-1);
    expect(cache.size).toBe(0);
    cache.checkInvariants();
  });

  it('reprioritize re-reads the priority of a CPU-only candidate, keeping its last access as the tie-break', () => {
    const priorities = new Map<number, number>();
    const policy: EvictionPolicy = { name: 'map', priority: (page) => priorities.get(page) ?? 0 };
    const cache = new RadixCache({ gpuSlots: 16, cpuSlots: 16, policy });
    const older = cpuOnly(cache, ROOT, 1, 1);
    const newer = cpuOnly(cache, ROOT, 2, 5);
    const third = cpuOnly(cache, ROOT, 3, 9);
    // Ids 4-12 (8 among them: id / 8 is a whole slot) at ticks 14-22.
    const more = [4, 5, 6, 7, 8, 9, 10, 11, 12].map((block) => cpuOnly(cache, ROOT, block, 10 + block));
    // Same priorities: each stays in last-access order.
    for (const page of [newer, third, ...more]) cache.reprioritize(page);
    cache.reprioritize(ROOT); // no candidate: nothing to do
    expect(cache.evictCpu()).toBe(older);
    priorities.set(newer, 3);
    cache.reprioritize(newer); // now after every other page
    const order: number[] = [];
    for (let page = cache.evictCpu(); page >= 0; page = cache.evictCpu()) order.push(page);
    expect(order).toEqual([third, ...more, newer]);
  });
});

describe('radix cache: a parent is protected while room is made, whatever its page id', () => {
  // The lock check reads the parent's record; these layouts put the parent at ids whose neighbours hold
  // values a misplaced read would take for a lock: a fractional tick (simulator times are seconds) on the
  // page before it, or the root's state word (page 16).
  const layouts = [
    { name: 'parent at page 2, page 1 touched at 0.3 s', fillers: [0.3] },
    { name: 'parent at page 16', fillers: Array.from({ length: 15 }, () => 1) },
  ];

  for (const { name, fillers } of layouts) {
    it(`startWrite: ${name}`, () => {
      const cache = new RadixCache({ gpuSlots: fillers.length + 2, cpuSlots: 1, policy: lru() });
      fillers.forEach((tick, i) => cache.lock(cache.insertGpu(ROOT, 100 + i, tick)));
      const parent = cache.insertGpu(ROOT, 0, 1);
      expect(parent).toBe(fillers.length + 1);
      const child = cache.insertGpu(parent, 0, 1);
      backup(cache, parent);
      // The one CPU slot holds the parent's copy: writing the child cannot evict it.
      expect(cache.startWrite(child)).toBe(false);
      expect(cache.stateOf(parent)).toBe(PageState.gpu | PageState.cpu);
      cache.checkInvariants();
    });

    it(`startLoad: ${name}`, () => {
      const cache = new RadixCache({ gpuSlots: fillers.length + 2, cpuSlots: 2, policy: lru() });
      fillers.forEach((tick, i) => cache.lock(cache.insertGpu(ROOT, 100 + i, tick)));
      const parent = cache.insertGpu(ROOT, 0, 1);
      expect(parent).toBe(fillers.length + 1);
      backup(cache, parent);
      const child = cpuOnly(cache, parent, 0, 1);
      cache.lock(cache.insertGpu(ROOT, 99, 2)); // the GPU is full again; its only candidate is the parent
      expect(cache.startLoad(child)).toBe(false);
      expect(cache.stateOf(parent)).toBe(PageState.gpu | PageState.cpu);
      expect(cache.stateOf(child)).toBe(PageState.cpu);
      cache.checkInvariants();
    });
  }
});

describe('radix cache: the edge table', () => {
  it('holds exactly as many pages as its first records, then grows past them', () => {
    // 1,023 GPU slots + the root: the records start with room for exactly 1,024 pages.
    const full = new RadixCache({ gpuSlots: 1023, policy: lru() });
    const ids = Array.from({ length: 1023 }, (_, block) => full.insertGpu(ROOT, block, block));
    expect(ids[0]).toBe(1);
    expect(ids[1022]).toBe(1023);
    expect([...full.pageIds()]).toHaveLength(1023);
    full.checkInvariants();

    const grown = new RadixCache({ gpuSlots: Infinity, policy: lru() });
    const next = lcg(7);
    const pages = [ROOT];
    const edges = new Map<string, number>();
    while (pages.length <= 3000) {
      const parent = pages[next(pages.length)]!;
      const block = next(50);
      if (edges.has(`${parent}:${block}`)) continue;
      const page = grown.insertGpu(parent, block, pages.length);
      edges.set(`${parent}:${block}`, page);
      pages.push(page);
    }
    expect(grown.size).toBe(3000);
    expect(grown.parentOf(ROOT)).toBe(-1);
    for (const [edge, page] of edges) {
      const [parent, block] = edge.split(':').map(Number);
      expect(grown.childOf(parent!, block!)).toBe(page);
      expect(grown.parentOf(page)).toBe(parent);
    }
    for (let block = 50; block < 60; block++) expect(grown.childOf(ROOT, block)).toBe(-1);
    grown.checkInvariants();
  });

  it('finds every edge and no removed one under insert/evict churn (shared buckets, reused ids)', () => {
    // 900 pages in 1,024 buckets: many buckets hold several pages, and evictions drop pages from the
    // middle and ends of their chains.
    const model = new Map<string, number>();
    const keyOf = new Map<number, string>();
    const live: number[] = [];
    const removed: string[] = [];
    const cache = new RadixCache({
      gpuSlots: 900,
      policy: lru(),
      onGpuEvict: (page) => {
        const key = keyOf.get(page)!;
        model.delete(key);
        keyOf.delete(page);
        removed.push(key);
        live.splice(live.indexOf(page), 1);
      },
    });
    const next = lcg(11);
    for (let op = 1; op <= 6000; op++) {
      const parent = live.length === 0 || next(4) === 0 ? ROOT : live[next(live.length)]!;
      const block = next(40);
      const key = `${parent}:${block}`;
      const existing = model.get(key);
      if (existing !== undefined) {
        cache.touch(existing, op);
        continue;
      }
      const page = cache.insertGpu(parent, block, op);
      expect(page).toBeGreaterThan(0);
      model.set(key, page);
      keyOf.set(page, key);
      live.push(page);
      if (op % 1000 === 0) {
        for (const [edge, expected] of model) {
          const [p, b] = edge.split(':').map(Number);
          expect(cache.childOf(p!, b!)).toBe(expected);
        }
        for (const edge of removed.slice(-200)) {
          if (model.has(edge)) continue;
          const [p, b] = edge.split(':').map(Number);
          // The parent may be gone and its id reused: the edge must then still not be there.
          if (keyOf.has(p!) || p === ROOT) expect(cache.childOf(p!, b!)).toBe(-1);
        }
        cache.checkInvariants();
      }
    }
    expect(cache.evictions).toBeGreaterThan(1000);
    expect(cache.size).toBe(model.size);
  });
});

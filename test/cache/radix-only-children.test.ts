/**
 * The radix cache keeps an only child out of its edge table (found through the parent's hint) and moves it
 * in when a sibling comes. Against a plain Map of edges, under random inserts (chains of only children,
 * siblings coming and going), GPU and CPU evictions that remove pages and reuse their ids, and growth of
 * the records and the table: every edge is found, no removed or never-added one is, and the invariants
 * (edge count, off-table pages are hints without siblings) hold after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruPolicy } from '../../src/cache/policy.js';
import { PageState, RadixCache, ROOT } from '../../src/cache/radix-cache.js';

const op = fc.record({
  kind: fc.constantFrom('extend', 'extend', 'branch', 'evict', 'evict-page', 'backup', 'evict-cpu', 'touch'),
  pick: fc.nat(1 << 20),
  block: fc.integer({ min: 0, max: 3 }),
});

/** Edges of the reference model, and which page each is. */
class EdgeModel {
  readonly edges = new Map<string, number>();
  readonly keyOf = new Map<number, string>();
  add(parent: number, block: number, page: number): void {
    this.edges.set(`${parent}:${block}`, page);
    this.keyOf.set(page, `${parent}:${block}`);
  }
  drop(page: number): void {
    this.edges.delete(this.keyOf.get(page)!);
    this.keyOf.delete(page);
  }
}

function check(cache: RadixCache, model: EdgeModel, probes: number[]): void {
  for (const [edge, page] of model.edges) {
    const [parent, block] = edge.split(':').map(Number);
    expect(cache.childOf(parent!, block!)).toBe(page);
  }
  // Blocks 0..4 under the root and under a few live pages: absent edges answer -1.
  for (const parent of [ROOT, ...probes]) {
    if (parent !== ROOT && !model.keyOf.has(parent)) continue;
    for (let block = 0; block <= 4; block++) {
      expect(cache.childOf(parent, block)).toBe(model.edges.get(`${parent}:${block}`) ?? -1);
    }
  }
  cache.checkInvariants();
}

function run(gpuSlots: number, cpuSlots: number, ops: { kind: string; pick: number; block: number }[]): void {
  const model = new EdgeModel();
  // A page leaves the tree when its last copy goes (its state is 0 by the time the cache reports it): a GPU
  // eviction without a CPU copy, or a CPU eviction of a CPU-only page. Its id may be reused at once.
  const removed = (page: number) => {
    if (cache.stateOf(page) === 0) model.drop(page);
  };
  const cache: RadixCache = new RadixCache({ gpuSlots, cpuSlots, policy: new LruPolicy(), onGpuEvict: removed });
  let tick = 0;
  let last = ROOT;
  for (const { kind, pick, block } of ops) {
    tick++;
    const pages = [...cache.pageIds()];
    const onGpu = [ROOT, ...pages.filter((page) => cache.stateOf(page) & PageState.gpu)];
    if (kind === 'extend' || kind === 'branch') {
      // Extend the last page (a prompt's chain) or branch off any GPU page (siblings).
      const parent = kind === 'extend' && (last === ROOT || cache.stateOf(last) & PageState.gpu) ? last : onGpu[pick % onGpu.length]!;
      const child = cache.childOf(parent, block);
      if (child >= 0 && cache.stateOf(child) & (PageState.gpu | PageState.loading)) {
        last = child;
        continue;
      }
      const page = cache.insertGpu(parent, block, tick);
      if (page < 0) continue;
      if (child < 0) model.add(parent, block, page);
      else expect(page).toBe(child);
      last = page;
    } else if (kind === 'evict') {
      cache.evictGpu();
    } else if (kind === 'evict-page' && pages.length > 0) {
      cache.evictGpuPage(pages[pick % pages.length]!);
    } else if (kind === 'backup' && cpuSlots > 0) {
      const writable = pages.filter((page) => {
        const parent = cache.parentOf(page);
        return (cache.stateOf(page) & (PageState.gpu | PageState.cpu | PageState.writing)) === PageState.gpu && (parent === ROOT || cache.stateOf(parent) & PageState.cpu);
      });
      if (writable.length === 0) continue;
      const page = writable[pick % writable.length]!;
      if (cache.startWrite(page)) cache.finishWrite(page);
    } else if (kind === 'evict-cpu' && cpuSlots > 0) {
      const victim = cache.evictCpu();
      if (victim >= 0) removed(victim);
    } else if (kind === 'touch' && pages.length > 0) {
      cache.touch(pages[pick % pages.length]!, tick);
    }
    check(cache, model, pages.slice(0, 3));
  }
}

describe('RadixCache: only children off the edge table', () => {
  it('finds exactly the edges a plain Map holds under random inserts, evictions and id reuse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 10 }), fc.array(op, { maxLength: 150 }), (gpuSlots, cpuSlots, ops) => {
        run(gpuSlots, cpuSlots, ops);
      }),
      { seed: 1410, numRuns: 300 },
    );
  });

  it('keeps every edge through growth of the records and the edge table (only children stay off it)', () => {
    // Past 1,024 pages the records double and the table is rebuilt: long chains (only children) and
    // branching points (children in the table) must both survive it.
    fc.assert(
      fc.property(fc.array(fc.record({ chain: fc.integer({ min: 1, max: 40 }), from: fc.nat(1 << 20), block: fc.nat(7) }), { minLength: 60, maxLength: 80 }), (chains) => {
        const cache = new RadixCache({ gpuSlots: Infinity, policy: new LruPolicy() });
        const model = new EdgeModel();
        const pages = [ROOT];
        let tick = 0;
        for (const { chain, from, block } of chains) {
          let parent = pages[from % pages.length]!;
          for (let i = 0; i < chain; i++) {
            const b = i === 0 ? block : 100 + i;
            const existing = cache.childOf(parent, b);
            const page = existing >= 0 ? existing : cache.insertGpu(parent, b, ++tick);
            if (existing < 0) {
              model.add(parent, b, page);
              pages.push(page);
            }
            parent = page;
          }
        }
        check(cache, model, pages.slice(-3));
        expect(cache.size).toBe(model.edges.size);
      }),
      { seed: 1411, numRuns: 25 },
    );
  });
});

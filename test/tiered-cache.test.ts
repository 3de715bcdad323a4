import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruPolicy } from '../src/cache/policy.js';
import { PageState, RadixCache, ROOT } from '../src/cache/radix-cache.js';

/** Random interleavings of every tier operation, with the invariants checked after each one. */
const op = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), blocks: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }) }),
  fc.record({ kind: fc.constantFrom('write' as const, 'finishWrite' as const, 'load' as const, 'finishLoad' as const, 'cancelLoad' as const, 'evictCpu' as const, 'reserve' as const, 'release' as const), pick: fc.nat() }),
);

function pick(cache: RadixCache, n: number, wanted: (page: number) => boolean): number | undefined {
  const pages = [...cache.pageIds()].filter(wanted);
  return pages.length > 0 ? pages[n % pages.length] : undefined;
}

describe('tiered radix cache', () => {
  it('keeps slot accounting, prefix closure and candidate heaps under random tier operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 8 }), (ops, gpuSlots, cpuSlots) => {
        const cache = new RadixCache({ gpuSlots, cpuSlots, policy: new LruPolicy() });
        const path = new Int32Array(8);
        let reserved = 0;
        ops.forEach((o, tick) => {
          const state = (p: number) => cache.stateOf(p);
          const parentHas = (p: number, bits: number) => cache.parentOf(p) === ROOT || (state(cache.parentOf(p)) & bits) !== 0;
          switch (o.kind) {
            case 'insert': {
              const { gpu, other, loading } = cache.matchTiers(o.blocks, path);
              expect(loading).toBeLessThanOrEqual(other);
              const held = [...path.subarray(0, gpu)];
              held.forEach((p) => cache.lock(p));
              // Recompute pages that are only on the CPU; stop at a loading page.
              let parent = gpu > 0 ? path[gpu - 1]! : ROOT;
              for (let i = gpu; i < o.blocks.length; i++) {
                const existing = cache.childOf(parent, o.blocks[i]!);
                if (existing >= 0 && state(existing) & PageState.loading) break;
                const page = cache.insertGpu(parent, o.blocks[i]!, tick);
                if (page < 0) break;
                cache.lock(page);
                held.push(page);
                parent = page;
              }
              held.forEach((p) => cache.unlock(p));
              break;
            }
            case 'write': {
              const p = pick(cache, o.pick, (p) => (state(p) & (PageState.gpu | PageState.cpu | PageState.writing)) === PageState.gpu && parentHas(p, PageState.cpu | PageState.writing));
              if (p !== undefined) cache.startWrite(p);
              break;
            }
            case 'finishWrite': {
              const p = pick(cache, o.pick, (p) => (state(p) & PageState.writing) !== 0);
              if (p !== undefined) cache.finishWrite(p);
              break;
            }
            case 'load': {
              const p = pick(cache, o.pick, (p) => (state(p) & (PageState.gpu | PageState.loading | PageState.cpu)) === PageState.cpu && parentHas(p, PageState.gpu | PageState.loading));
              if (p !== undefined) {
                const before = cache.gpuUsed;
                const ok = cache.startLoad(p);
                if (ok) expect(state(p) & PageState.loading).toBeTruthy();
                else expect(cache.gpuUsed).toBeLessThanOrEqual(before);
              }
              break;
            }
            case 'finishLoad': {
              const p = pick(cache, o.pick, (p) => (state(p) & PageState.loading) !== 0);
              if (p !== undefined) cache.finishLoad(p);
              break;
            }
            case 'cancelLoad': {
              const p = pick(cache, o.pick, (p) => (state(p) & PageState.loading) !== 0 && ![...cache.pageIds()].some((c) => cache.parentOf(c) === p && state(c) & (PageState.gpu | PageState.loading)));
              if (p !== undefined) cache.cancelLoad(p);
              break;
            }
            case 'evictCpu':
              cache.evictCpu();
              break;
            case 'reserve':
              if (cache.reserveGpu(1 + (o.pick % 2))) reserved += 1 + (o.pick % 2);
              break;
            case 'release':
              if (reserved > 0) {
                cache.releaseGpu(1);
                reserved--;
              }
              break;
          }
          cache.checkInvariants();
          expect(cache.gpuReserved).toBe(reserved);
          expect(cache.gpuUsed).toBeLessThanOrEqual(gpuSlots);
          expect(cache.cpuUsed).toBeLessThanOrEqual(cpuSlots);
        });
      }),
      { numRuns: 400 },
    );
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

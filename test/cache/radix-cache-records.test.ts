/**
 * Exact tests of the radix cache's page records where a slip of one field would land in a neighbour's:
 * fractional ticks and next uses (which the simulator gives, and whose low words are not zero), page ids
 * reused last-freed first, and re-inserting a CPU-only child of a page whose id is a multiple of 16.
 */
import { describe, expect, it } from 'vitest';
import { LruPolicy } from '../../src/cache/policy.js';
import { RadixCache, ROOT } from '../../src/cache/radix-cache.js';

const lru = () => new LruPolicy();

describe('radix cache records', () => {
  it('a touch of an unlocked page re-keys it at once', () => {
    const cache = new RadixCache({ gpuSlots: 3, policy: lru() });
    const a = cache.insertGpu(ROOT, 1, 0.1);
    const b = cache.insertGpu(ROOT, 2, 0.2);
    const c = cache.insertGpu(ROOT, 3, 0.3);
    cache.touch(b, 5.7);
    expect([cache.evictGpu(), cache.evictGpu(), cache.evictGpu()]).toEqual([a, c, b]);
  });

  it('a new page leaves the last access and next use of the page before it as they were', () => {
    const cache = new RadixCache({ gpuSlots: 8, policy: lru() });
    const a = cache.insertGpu(ROOT, 1, 0.1, 0.7);
    const b = cache.insertGpu(a, 2, 0.3, 0.9);
    cache.insertGpu(b, 3, 0.5, 1.1);
    expect([cache.lastAccess(a), cache.nextUse(a), cache.lastAccess(b), cache.nextUse(b)]).toEqual([0.1, 0.7, 0.3, 0.9]);
  });

  it('reuses the ids of removed pages, the last freed first; equal keys then break by those ids', () => {
    const cache = new RadixCache({ gpuSlots: 3, policy: lru() });
    const a = cache.insertGpu(ROOT, 1, 1);
    const b = cache.insertGpu(ROOT, 2, 2);
    const c = cache.insertGpu(ROOT, 3, 3);
    expect([cache.evictGpu(), cache.evictGpu()]).toEqual([a, b]);
    const d = cache.insertGpu(ROOT, 4, 5);
    const e = cache.insertGpu(ROOT, 5, 5);
    expect([d, e]).toEqual([b, a]);
    // d and e were used at the same tick: the smaller id (e's, reused from a) goes first.
    expect([cache.evictGpu(), cache.evictGpu(), cache.evictGpu()]).toEqual([c, e, d]);
  });

  it('re-inserting a CPU-only child finds that child under any parent id (48: a multiple of 16)', () => {
    const cache = new RadixCache({ gpuSlots: 100, cpuSlots: 100, policy: lru() });
    for (let block = 1; block <= 47; block++) cache.insertGpu(ROOT, block, block);
    const parent = cache.insertGpu(ROOT, 48, 48);
    expect(parent).toBe(48);
    const child = cache.insertGpu(parent, 7, 49);
    for (const page of [parent, child]) {
      expect(cache.startWrite(page)).toBe(true);
      cache.finishWrite(page);
    }
    expect(cache.evictGpuPage(child)).toBe(true); // the child is on the CPU only now
    expect(cache.insertGpu(parent, 7, 50)).toBe(child);
    expect(cache.size).toBe(49);
    cache.checkInvariants();
  });
});

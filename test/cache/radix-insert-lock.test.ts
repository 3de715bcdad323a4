/**
 * RadixCache.insertGpuThenLock against insertGpu followed by lock (what the simulator did before): the same
 * pages, evictions and write-throughs, the same priority reads by the policy (a learning policy notes what it
 * reads), and a consistent cache, under random inserts, unlocks, write-throughs and evictions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EvictionPolicy, PageStats } from '../../src/cache/policy.js';
import { PageState, RadixCache, ROOT } from '../../src/cache/radix-cache.js';

/** Priorities with many ties (the heap's order then falls to access tick and page id); logs every read. */
class LoggingPolicy implements EvictionPolicy {
  readonly name = 'logging';
  readonly reads: number[] = [];
  priority(page: number, pages: PageStats): number {
    this.reads.push(page);
    return pages.accessCount(page) % 3;
  }
}

const op = fc.record({
  kind: fc.constantFrom('insert', 'insert', 'insert', 'unlock', 'write', 'evict', 'touch'),
  pick: fc.nat(1000),
  block: fc.integer({ min: 0, max: 4 }),
});

describe('RadixCache.insertGpuThenLock', () => {
  it('does what insertGpu then lock does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 8 }), fc.array(op, { maxLength: 200 }), (gpuSlots, cpuSlots, ops) => {
        const policies = [new LoggingPolicy(), new LoggingPolicy()];
        const [before, after] = policies.map((policy) => new RadixCache({ gpuSlots, cpuSlots, policy }));
        const caches = [before!, after!];
        const evicted: number[][] = [[], []];
        const locked: number[] = [];
        let tick = 0;
        for (const { kind, pick, block } of ops) {
          tick++;
          const pages = [...before!.pageIds()];
          const onGpu = [ROOT, ...pages.filter((page) => before!.stateOf(page) & PageState.gpu)];
          if (kind === 'insert') {
            const parent = onGpu[pick % onGpu.length]!;
            const child = before!.childOf(parent, block);
            if (child >= 0 && before!.stateOf(child) & (PageState.gpu | PageState.loading)) continue;
            const old = before!.insertGpu(parent, block, tick);
            if (old >= 0) before!.lock(old);
            expect(after!.insertGpuThenLock(parent, block, tick)).toBe(old);
            if (old >= 0) locked.push(old);
          } else if (kind === 'unlock' && locked.length > 0) {
            const [page] = locked.splice(pick % locked.length, 1);
            for (const cache of caches) cache.unlock(page!);
          } else if (kind === 'write' && cpuSlots > 0) {
            const writable = pages.filter((page) => (before!.stateOf(page) & (PageState.gpu | PageState.cpu | PageState.writing)) === PageState.gpu);
            const page = writable[pick % Math.max(1, writable.length)];
            const parent = page === undefined ? ROOT : before!.parentOf(page);
            if (page === undefined || (parent !== ROOT && (before!.stateOf(parent) & PageState.cpu) === 0)) continue;
            const started = caches.map((cache) => cache.startWrite(page));
            expect(started[1]).toBe(started[0]);
            if (started[0]) for (const cache of caches) cache.finishWrite(page);
          } else if (kind === 'evict') {
            caches.forEach((cache, i) => evicted[i]!.push(cache.evictGpu()));
          } else if (kind === 'touch' && pages.length > 0) {
            for (const cache of caches) cache.touch(pages[pick % pages.length]!, tick);
          }
        }
        expect(evicted[1]).toEqual(evicted[0]);
        expect(policies[1]!.reads).toEqual(policies[0]!.reads);
        expect([...after!.pageIds()].map((page) => [page, after!.stateOf(page), after!.locksOf(page)])).toEqual(
          [...before!.pageIds()].map((page) => [page, before!.stateOf(page), before!.locksOf(page)]),
        );
        after!.checkInvariants();
        // Eviction order from here on, with every page unlocked.
        for (const page of locked) for (const cache of caches) cache.unlock(page);
        const drain = caches.map((cache) => Array.from({ length: gpuSlots + 1 }, () => cache.evictGpu()));
        expect(drain[1]).toEqual(drain[0]);
      }),
      { seed: 1414, numRuns: 300 },
    );
  });
});

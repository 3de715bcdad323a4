/**
 * The prefetcher against a real tiered cache and a fake link whose transfers start and land only when the
 * test says so: so an agent can leave the load-ahead window before or after its transfer starts.
 */
import { describe, expect, it } from 'vitest';
import { LruPolicy } from '../../src/cache/policy.js';
import { PageState, RadixCache, ROOT } from '../../src/cache/radix-cache.js';
import { StePolicy } from '../../src/cache/ste-policy.js';
import { Prefetcher } from '../../src/sim/prefetcher.js';
import { FakeLink } from '../helpers/fake-link.js';

const PAGE_BYTES = 100;

interface Setup {
  cache: RadixCache;
  link: FakeLink;
  prefetcher: Prefetcher;
  policy: StePolicy;
  /** Page ids of each prompt, in path order. */
  pages: Map<string, number[]>;
}

/**
 * A cache of `gpuSlots` GPU slots whose CPU holds each agent's prompt (its blocks, from the root) and whose
 * GPU holds nothing, and a prefetcher that knows those prompts and loads up to `loadAhead` steps ahead.
 */
function setup(prompts: Record<string, number[]>, options: { gpuSlots: number; loadAhead?: number; cpuSlots?: number; evictionNotices?: boolean }): Setup {
  const policy = new StePolicy();
  let prefetcher: Prefetcher | undefined;
  const cache = new RadixCache({ gpuSlots: options.gpuSlots, cpuSlots: options.cpuSlots ?? 64, policy, onGpuEvict: (page) => prefetcher?.noteEvicted(page) });
  const pages = new Map<string, number[]>();
  const held: number[] = []; // kept locked while the prompts are written, so later inserts cannot evict them
  let tick = 0;
  for (const [agent, blocks] of Object.entries(prompts)) {
    const path: number[] = [];
    for (const block of blocks) {
      const parent = path.at(-1) ?? ROOT;
      let page = cache.childOf(parent, block); // a prefix shared with an earlier prompt
      if (page < 0) {
        page = cache.insertGpu(parent, block, tick++);
        cache.lock(page);
        held.push(page);
        cache.startWrite(page);
        cache.finishWrite(page);
      }
      path.push(page);
    }
    pages.set(agent, path);
  }
  for (const page of held) cache.unlock(page);
  while (cache.evictGpu() >= 0); // every page is CPU-only now
  const link = new FakeLink();
  prefetcher = new Prefetcher(cache, link, { policy, pageBytes: PAGE_BYTES, loadAhead: options.loadAhead ?? 1, evictionNotices: options.evictionNotices ?? false });
  for (const [agent, blocks] of Object.entries(prompts)) prefetcher.notePrompt(agent, blocks);
  return { cache, link, prefetcher, policy, pages };
}

const states = (s: Setup, agent: string) => s.pages.get(agent)!.map((page) => s.cache.stateOf(page));

describe('Prefetcher', () => {
  it('loads a due agent\'s CPU-only prompt in one transfer and counts it when it lands', () => {
    const s = setup({ planner: [1, 2, 3] }, { gpuSlots: 64 });
    let landed = 0;
    s.prefetcher.onLanded = () => landed++;
    s.prefetcher.update(new Map([['planner', 1]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([3 * PAGE_BYTES]);
    expect(states(s, 'planner')).toEqual([PageState.cpu | PageState.loading, PageState.cpu | PageState.loading, PageState.cpu | PageState.loading]);
    s.link.start();
    s.link.land();
    expect(states(s, 'planner')).toEqual([PageState.cpu | PageState.gpu, PageState.cpu | PageState.gpu, PageState.cpu | PageState.gpu]);
    expect(s.prefetcher.stats).toEqual({ prefetchedPages: 3, wastedPages: 0, cancelled: 0 });
    expect(landed).toBe(1);
    s.cache.checkInvariants();
  });

  it('an agent leaving the window before its transfer starts: cancelled, pages back to CPU-only', () => {
    const s = setup({ planner: [1, 2], coder: [7] }, { gpuSlots: 64 });
    s.prefetcher.update(new Map([['planner', 1], ['coder', 0]]));
    expect(s.link.queued).toHaveLength(2);
    expect(s.cache.gpuUsed).toBe(3);
    s.prefetcher.update(new Map([['planner', 2]])); // out of the window (loadAhead 1)
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]); // coder's load stays
    expect(states(s, 'planner')).toEqual([PageState.cpu, PageState.cpu]);
    expect(s.cache.gpuUsed).toBe(1);
    expect(s.prefetcher.stats).toEqual({ prefetchedPages: 0, wastedPages: 0, cancelled: 1 });
    s.prefetcher.update(new Map([['coder', undefined]])); // unknown future: also out of the window
    expect(s.link.queued).toHaveLength(0);
    expect(states(s, 'coder')).toEqual([PageState.cpu]);
    expect(s.prefetcher.stats.cancelled).toBe(2);
    s.cache.checkInvariants();
  });

  it('an agent leaving the window after its transfer started: the load completes, and its pages are wasted if evicted unused', () => {
    const s = setup({ planner: [1, 2], coder: [7] }, { gpuSlots: 64 });
    s.prefetcher.update(new Map([['planner', 0]]));
    s.link.start();
    s.prefetcher.update(new Map([['planner', 5]]));
    expect(s.prefetcher.stats.cancelled).toBe(0);
    expect(states(s, 'planner')).toEqual([PageState.cpu | PageState.loading, PageState.cpu | PageState.loading]);
    s.link.land();
    expect(s.prefetcher.stats).toEqual({ prefetchedPages: 2, wastedPages: 0, cancelled: 0 });
    const [first, second] = s.pages.get('planner')!;
    s.prefetcher.noteUsed(first!);
    expect(s.cache.evictGpu()).toBe(second); // the leaf goes first; it was never used
    expect(s.cache.evictGpu()).toBe(first);
    expect(s.prefetcher.stats.wastedPages).toBe(1);
    s.cache.checkInvariants();
  });

  it.each([false, true])('a prompt found on the GPU needs no load until its last page is evicted (eviction notices: %s)', (evictionNotices) => {
    const s = setup({ planner: [1, 2, 3] }, { gpuSlots: 64, evictionNotices });
    s.prefetcher.update(new Map([['planner', 1]]));
    s.link.start();
    s.link.land();
    s.prefetcher.update(new Map([['planner', 0]])); // all of it on the GPU: nothing to load
    s.prefetcher.update(new Map([['planner', 1]]));
    expect(s.link.queued).toHaveLength(0);
    const [, , last] = s.pages.get('planner')!;
    expect(s.cache.evictGpu()).toBe(last);
    s.prefetcher.update(new Map([['planner', 0]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
    expect(states(s, 'planner')).toEqual([PageState.cpu | PageState.gpu, PageState.cpu | PageState.gpu, PageState.cpu | PageState.loading]);
    s.cache.checkInvariants();
  });

  it('plans the most urgent agent first, ties by name, while GPU room lasts', () => {
    const s = setup({ b: [2], a: [1], c: [3] }, { gpuSlots: 3, loadAhead: 3 });
    s.cache.lock(s.cache.insertGpu(ROOT, 99, 0)); // a running request's page: two slots are left
    s.prefetcher.update(new Map([['c', 2], ['b', 1], ['a', 1]]));
    expect(s.link.queued).toHaveLength(2);
    expect([...states(s, 'a'), ...states(s, 'b'), ...states(s, 'c')]).toEqual([
      PageState.cpu | PageState.loading,
      PageState.cpu | PageState.loading,
      PageState.cpu,
    ]);
    s.link.start();
    s.link.land(); // the first transfer is a's
    expect([...states(s, 'a'), ...states(s, 'b')]).toEqual([PageState.cpu | PageState.gpu, PageState.cpu | PageState.loading]);
  });

  it('displaces only less urgent pages; a load that found no room is retried on the next STE change', () => {
    const s = setup({ planner: [1] }, { gpuSlots: 2 });
    const coder = [s.cache.insertGpu(ROOT, 50, 100), s.cache.insertGpu(ROOT, 51, 101)];
    for (const page of coder) s.policy.tag(page, 'coder');
    s.policy.setSte('coder', 0); // more urgent than the planner: not displaced
    s.prefetcher.update(new Map([['planner', 1]]));
    expect(s.link.queued).toHaveLength(0);
    expect(states(s, 'planner')).toEqual([PageState.cpu]);
    s.policy.setSte('coder', 2); // now less urgent
    s.prefetcher.update(new Map([['tester', 4]])); // any change re-plans what is still due
    expect(s.link.queued).toHaveLength(1);
    expect(states(s, 'planner')).toEqual([PageState.cpu | PageState.loading]);
    expect(s.cache.childOf(ROOT, 50)).toBe(-1); // the coder's least recent page made room
    expect(s.prefetcher.stats.wastedPages).toBe(0);
    s.cache.checkInvariants();
  });

  it('loads only the part of a prompt not already loading for someone else', () => {
    const s = setup({ planner: [1, 2], coder: [1, 2, 3] }, { gpuSlots: 8 });
    s.prefetcher.update(new Map([['planner', 0]]));
    s.prefetcher.update(new Map([['coder', 1]]));
    // Pages 1 and 2 are the planner's load; the coder's load must not take them, and stops there.
    expect(s.link.queued.map((t) => t.bytes)).toEqual([2 * PAGE_BYTES]);
    expect(states(s, 'coder')[2]).toBe(PageState.cpu);
  });

  it('an agent whose prompt is already on the GPU needs nothing; an unknown prompt is planned once it is noted', () => {
    const s = setup({ planner: [1] }, { gpuSlots: 64 });
    s.prefetcher.update(new Map([['planner', 0]]));
    s.link.start();
    s.link.land();
    s.prefetcher.update(new Map([['planner', 1]]));
    expect(s.link.queued).toHaveLength(0);
    s.prefetcher.update(new Map([['newcomer', 0]]));
    expect(s.link.queued).toHaveLength(0);
    // The newcomer's prompt becomes known and CPU-only: the next change plans it.
    const page = s.cache.insertGpu(ROOT, 42, -1); // older than the planner's page: evicted first
    s.cache.startWrite(page);
    s.cache.finishWrite(page);
    s.cache.evictGpu();
    expect(s.cache.stateOf(page)).toBe(PageState.cpu);
    s.prefetcher.notePrompt('newcomer', [42]);
    s.prefetcher.notePrompt('ignored', []);
    s.prefetcher.update(new Map([['planner', 0]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
    expect(s.cache.stateOf(page)).toBe(PageState.cpu | PageState.loading);
  });

  it('plans by STE, then by name, whatever order the changes come in: the transfers land in that order', () => {
    const s = setup({ a: [1], b: [2], x: [3], z: [4] }, { gpuSlots: 8, loadAhead: 3 });
    const landed: string[] = [];
    s.prefetcher.onLanded = (agent) => landed.push(agent);
    s.prefetcher.update(new Map([['a', 1], ['x', 2], ['b', 1], ['z', 1]]));
    expect(s.link.queued).toHaveLength(4);
    for (let i = 0; i < 4; i++) s.link.start();
    for (let i = 0; i < 4; i++) s.link.land();
    expect(landed).toEqual(['a', 'b', 'z', 'x']);
  });

  it('keeps an agent due until its prompt is known, and drops it once it leaves the window or when it is beyond it', () => {
    const s = setup({ known: [5], another: [6] }, { gpuSlots: 8, loadAhead: 1 });
    // "late", "gone" and "far" have CPU-only prompts, but the prefetcher has not been told yet.
    s.prefetcher.update(new Map([['late', 1], ['gone', 1], ['far', 2]]));
    s.prefetcher.notePrompt('late', []); // an empty prompt tells nothing
    s.prefetcher.update(new Map([['other', 9]]));
    expect(s.link.queued).toHaveLength(0);
    s.prefetcher.update(new Map([['gone', undefined]]));
    for (const agent of ['late', 'gone']) s.prefetcher.notePrompt(agent, [5]);
    s.prefetcher.notePrompt('far', [6]);
    s.prefetcher.update(new Map([['other', undefined]])); // any change: only "late" is still due
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
    const landed: string[] = [];
    s.prefetcher.onLanded = (agent) => landed.push(agent);
    s.link.start();
    s.link.land();
    expect(landed).toEqual(['late']);
  });

  it('an agent that moved within the window and then left it is not loaded later at its old place', () => {
    const s = setup({ a: [1] }, { gpuSlots: 1, loadAhead: 5 });
    const running = s.cache.insertGpu(ROOT, 99, 0);
    s.cache.lock(running); // the one GPU slot is held: a's load finds no room and a stays due
    s.prefetcher.update(new Map([['a', 3]]));
    s.prefetcher.update(new Map([['a', 0]])); // a moves up the due list (from STE 3 to 0)
    s.prefetcher.update(new Map([['a', undefined]])); // and leaves the window
    s.cache.unlock(running);
    expect(s.cache.evictGpu()).toBe(running); // room now
    s.prefetcher.update(new Map([['other', undefined]])); // any change re-plans what is still due: nothing
    expect(s.link.queued).toHaveLength(0);
    expect(states(s, 'a')).toEqual([PageState.cpu]);
  });

  it('plans an agent again when its STE is sent again after its load landed and its pages were evicted', () => {
    const s = setup({ a: [1] }, { gpuSlots: 8 });
    s.prefetcher.update(new Map([['a', 1]]));
    s.link.start();
    s.link.land();
    const [page] = s.pages.get('a')!;
    expect(s.cache.evictGpuPage(page!)).toBe(true);
    expect(s.prefetcher.stats.wastedPages).toBe(1);
    s.prefetcher.update(new Map([['a', 1]]));
    expect(s.link.queued).toHaveLength(1);
  });

  it('an agent whose prompt was resident when planned is not planned again on later changes', () => {
    const s = setup({ a: [1] }, { gpuSlots: 8 });
    const [page] = s.pages.get('a')!;
    expect(s.cache.startLoad(page!)).toBe(true);
    s.cache.finishLoad(page!); // on the GPU again, not by the prefetcher
    s.prefetcher.update(new Map([['a', 1]]));
    expect(s.link.queued).toHaveLength(0);
    expect(s.cache.evictGpuPage(page!)).toBe(true);
    s.prefetcher.update(new Map([['other', undefined]])); // a is no longer due: nothing to plan
    expect(s.link.queued).toHaveLength(0);
  });

  it('loads a prompt longer than its first path buffer (64 pages) whole', () => {
    const blocks = Array.from({ length: 100 }, (_, i) => i);
    const s = setup({ long: blocks }, { gpuSlots: 128, cpuSlots: 128 });
    s.prefetcher.update(new Map([['long', 0]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([100 * PAGE_BYTES]);
  });

  it('a prompt noted again while its agent waits for room is listed once: after the agent leaves, nothing loads it', () => {
    const s = setup({ a: [1], b: [2] }, { gpuSlots: 2, loadAhead: 5 });
    const running = [98, 99].map((block) => s.cache.insertGpu(ROOT, block, 0));
    for (const page of running) s.cache.lock(page); // every GPU slot is held: a's load finds no room and a stays due
    s.prefetcher.update(new Map([['a', 2]]));
    expect(s.link.queued).toHaveLength(0);
    s.prefetcher.notePrompt('a', [1]); // a's next request declares the same prompt again
    s.prefetcher.notePrompt('a', [2]); // and the one after it another prompt (b's page)
    s.prefetcher.update(new Map([['a', undefined]])); // a leaves the window
    for (const page of running) s.cache.unlock(page);
    expect(s.cache.evictGpu()).toBe(running[0]); // room now
    s.prefetcher.update(new Map([['other', undefined]])); // any change re-plans what is still due: nothing
    expect(s.link.queued).toHaveLength(0);
    expect([...states(s, 'a'), ...states(s, 'b')]).toEqual([PageState.cpu, PageState.cpu]);
  });

  it('an agent whose load is in flight is not planned again when its prompt changes; the new prompt loads on a change after it landed', () => {
    const s = setup({ a: [1, 2], b: [7] }, { gpuSlots: 8, loadAhead: 5 });
    s.prefetcher.update(new Map([['a', 1]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([2 * PAGE_BYTES]);
    s.prefetcher.notePrompt('a', [7]); // a's next request declares another prompt (b's page, CPU-only)
    s.prefetcher.update(new Map([['a', 0]])); // due again while its first load is queued: one load at a time
    expect(s.link.queued.map((t) => t.bytes)).toEqual([2 * PAGE_BYTES]);
    expect(states(s, 'b')).toEqual([PageState.cpu]);
    s.link.start();
    s.link.land();
    expect(s.prefetcher.stats.prefetchedPages).toBe(2);
    s.prefetcher.update(new Map([['a', 1]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
    expect(states(s, 'b')).toEqual([PageState.cpu | PageState.loading]);
  });

  it('agents that stay due keep their STE order after one ahead of them leaves: a later, less urgent one queues behind them', () => {
    const s = setup({ a: [1], b: [2], c: [3], d: [4] }, { gpuSlots: 4, loadAhead: 5 });
    const running = [96, 97, 98, 99].map((block) => s.cache.insertGpu(ROOT, block, 0));
    for (const page of running) s.cache.lock(page); // no room: a, b and c wait in the due list, in STE order
    s.prefetcher.update(new Map([['a', 1], ['b', 2], ['c', 3]]));
    expect(s.link.queued).toHaveLength(0);
    s.prefetcher.update(new Map([['a', undefined]])); // the first leaves
    s.cache.unlock(running[0]!);
    expect(s.cache.evictGpu()).toBe(running[0]); // room for one page
    s.prefetcher.update(new Map([['d', 4]])); // d is the least urgent: b takes the slot
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
    expect([...states(s, 'a'), ...states(s, 'b'), ...states(s, 'c'), ...states(s, 'd')]).toEqual([
      PageState.cpu,
      PageState.cpu | PageState.loading,
      PageState.cpu,
      PageState.cpu,
    ]);
  });

  it('keeps no record of an agent seen only through STE changes once it leaves the window; one with a prompt is kept', () => {
    const s = setup({ a: [1] }, { gpuSlots: 8, loadAhead: 1 });
    expect(s.prefetcher.heldAgents).toBe(1); // a's prompt
    s.prefetcher.update(new Map([['x', 1], ['y', 2]])); // x is due (its prompt unknown), y beyond the window
    expect(s.prefetcher.heldAgents).toBe(2);
    s.prefetcher.update(new Map([['x', undefined]])); // x leaves the window: nothing of it is left
    expect(s.prefetcher.heldAgents).toBe(1);
    s.prefetcher.update(new Map([['a', 0]])); // a's load is planned, then lands
    s.link.start();
    s.link.land();
    s.prefetcher.update(new Map([['a', undefined]]));
    expect(s.prefetcher.heldAgents).toBe(1); // a's prompt is still known
    expect(s.link.queued).toHaveLength(0);
  });

  it('plans the prompt an agent declared last: another one of the same length, or a shorter one with the same start', () => {
    const s = setup({ a: [1, 2, 3], b: [4, 5] }, { gpuSlots: 8, loadAhead: 5 });
    s.prefetcher.notePrompt('a', [4, 5, 6]); // every block differs from a's first prompt
    s.prefetcher.update(new Map([['a', 1]])); // [4, 5] are CPU-only, block 6 is nowhere
    expect(s.link.queued.map((t) => t.bytes)).toEqual([2 * PAGE_BYTES]);
    expect([...states(s, 'a'), ...states(s, 'b')]).toEqual([PageState.cpu, PageState.cpu, PageState.cpu, PageState.cpu | PageState.loading, PageState.cpu | PageState.loading]);
    const t = setup({ a: [1, 2, 3] }, { gpuSlots: 8, loadAhead: 5 });
    t.prefetcher.notePrompt('a', [1, 2]); // a prefix of the first prompt
    t.prefetcher.update(new Map([['a', 1]]));
    expect(t.link.queued.map((x) => x.bytes)).toEqual([2 * PAGE_BYTES]);
    expect(states(t, 'a')).toEqual([PageState.cpu | PageState.loading, PageState.cpu | PageState.loading, PageState.cpu]);
  });

  it('a prompt noted with a length is only that many of the blocks given', () => {
    const s = setup({ b: [1, 2, 3] }, { gpuSlots: 8, loadAhead: 5 });
    s.prefetcher.notePrompt('a', [1, 2, 3], 2); // a request's blocks, its fixed prompt the first two
    s.prefetcher.update(new Map([['a', 0]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([2 * PAGE_BYTES]);
    expect(states(s, 'b')).toEqual([PageState.cpu | PageState.loading, PageState.cpu | PageState.loading, PageState.cpu]);
  });

  it('without eviction notices (an owner that does not report them) a prompt found resident is matched again at its next plan', () => {
    const policy = new StePolicy();
    const cache = new RadixCache({ gpuSlots: 4, cpuSlots: 4, policy }); // evictions reach nobody
    const page = cache.insertGpu(ROOT, 1, 0);
    cache.startWrite(page);
    cache.finishWrite(page);
    const link = new FakeLink();
    const prefetcher = new Prefetcher(cache, link, { policy, pageBytes: PAGE_BYTES, loadAhead: 1 });
    prefetcher.notePrompt('a', [1]);
    prefetcher.update(new Map([['a', 1]])); // resident: nothing to load
    expect(link.queued).toHaveLength(0);
    expect(cache.evictGpuPage(page)).toBe(true); // unreported
    prefetcher.update(new Map([['a', 0]]));
    expect(link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
  });

  it('with eviction notices counts the evictions of page 1,024 (where the first table ends) and of pages past it', () => {
    // Pages 1-1,023 are a filler's, so a's prompt is page 1,024 and b's page 1,025; c's is page 1.
    const s = setup({ filler: Array.from({ length: 1023 }, (_, i) => 10_000 + i), a: [1], b: [2], c: [10_000] }, { gpuSlots: 1100, cpuSlots: 1100, evictionNotices: true });
    expect([s.pages.get('a'), s.pages.get('b'), s.pages.get('c')]).toEqual([[1024], [1025], [1]]);
    s.prefetcher.update(new Map([['a', 1], ['b', 1], ['c', 1]]));
    for (let i = 0; i < 3; i++) s.link.start();
    for (let i = 0; i < 3; i++) s.link.land();
    s.prefetcher.update(new Map([['a', 0], ['b', 0]])); // both found resident: remembered
    expect(s.link.queued).toHaveLength(0);
    for (const page of [1024, 1025, 1]) expect(s.cache.evictGpuPage(page)).toBe(true); // each noted through the cache's hook
    s.prefetcher.update(new Map([['a', 1], ['b', 1]])); // both matched again: loaded
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES, PAGE_BYTES]);
    expect([...states(s, 'a'), ...states(s, 'b')]).toEqual([PageState.cpu | PageState.loading, PageState.cpu | PageState.loading]);
  });

  it('with eviction notices a prompt found resident is trusted until its last page is evicted, also for page ids past the first table', () => {
    // Pages 1-1,023 are a filler's, so a's prompt is pages 1,024 and 1,025.
    const s = setup({ filler: Array.from({ length: 1023 }, (_, i) => 10_000 + i), a: [1, 2] }, { gpuSlots: 1100, cpuSlots: 1100, evictionNotices: true });
    expect(s.pages.get('a')).toEqual([1024, 1025]);
    s.prefetcher.update(new Map([['a', 1]])); // a new agent: its prompt is matched and loaded
    expect(s.link.queued.map((t) => t.bytes)).toEqual([2 * PAGE_BYTES]);
    s.link.start();
    s.link.land();
    s.prefetcher.update(new Map([['a', 0]])); // found resident: remembered
    s.prefetcher.update(new Map([['a', 1]]));
    expect(s.link.queued).toHaveLength(0);
    expect(s.cache.evictGpuPage(1025)).toBe(true); // its last page leaves the GPU (noted through the cache's hook)
    s.prefetcher.update(new Map([['a', 0]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
    expect(states(s, 'a')).toEqual([PageState.cpu | PageState.gpu, PageState.cpu | PageState.loading]);
    s.link.start();
    s.link.land();
    s.prefetcher.update(new Map([['a', 1]])); // resident again
    expect(s.cache.evictGpuPage(1024 + 1)).toBe(true);
    s.prefetcher.update(new Map([['a', 0]]));
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES]);
  });


  it('with eviction notices counts the first eviction of a page past twice the first table (page 2,048)', () => {
    // Pages 1-2,047 are a filler's, so a's prompt is page 2,048 and b's page 2,049.
    const s = setup({ filler: Array.from({ length: 2047 }, (_, i) => 10_000 + i), a: [1], b: [2] }, { gpuSlots: 2100, cpuSlots: 2100, evictionNotices: true });
    expect([s.pages.get('a'), s.pages.get('b')]).toEqual([[2048], [2049]]);
    s.prefetcher.update(new Map([['a', 1], ['b', 1]]));
    for (let i = 0; i < 2; i++) s.link.start();
    for (let i = 0; i < 2; i++) s.link.land();
    s.prefetcher.update(new Map([['a', 0], ['b', 0]])); // both found resident: remembered
    for (const page of [2048, 2049]) expect(s.cache.evictGpuPage(page)).toBe(true);
    s.prefetcher.update(new Map([['a', 1], ['b', 1]])); // both matched again: loaded
    expect(s.link.queued.map((t) => t.bytes)).toEqual([PAGE_BYTES, PAGE_BYTES]);
  });

  it('with a policy without STE priorities, only free GPU slots are used', () => {
    const cache = new RadixCache({ gpuSlots: 1, cpuSlots: 4, policy: new LruPolicy() });
    const page = cache.insertGpu(ROOT, 1, 0);
    cache.startWrite(page);
    cache.finishWrite(page);
    expect(cache.evictGpuPage(page)).toBe(true);
    const other = cache.insertGpu(ROOT, 2, 1); // unlocked, the least urgent page there is, but not displaced
    const link = new FakeLink();
    const prefetcher = new Prefetcher(cache, link, { policy: cache.policy, pageBytes: PAGE_BYTES, loadAhead: 1 });
    prefetcher.notePrompt('a', [1]);
    prefetcher.update(new Map([['a', 0]]));
    expect(link.queued).toHaveLength(0);
    expect(cache.stateOf(other)).toBe(PageState.gpu);
    expect(cache.stateOf(page)).toBe(PageState.cpu);
  });
});


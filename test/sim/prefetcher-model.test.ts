/**
 * The prefetcher (agent records, a due list kept in order) against a plain model that looks every agent up
 * by name and sorts the due agents on every update: under random STE changes, prompts noted late, loads
 * that start, land or are cancelled, evictions and uses, both drive identical caches and links to the same
 * states, transfers, counters and landings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PageState, RadixCache, ROOT } from '../../src/cache/radix-cache.js';
import { StePolicy } from '../../src/cache/ste-policy.js';
import type { Transfer } from '../../src/sim/link.js';
import { Prefetcher, type PrefetchStats, type TransferQueue } from '../../src/sim/prefetcher.js';
import { FakeLink } from '../helpers/fake-link.js';

const PAGE_BYTES = 10;

/** The prefetcher's rules, written plainly: maps by name, the due agents sorted (STE, then name) on every update. */
class ModelPrefetcher {
  readonly stats: PrefetchStats = { prefetchedPages: 0, wastedPages: 0, cancelled: 0 };
  readonly #prompts = new Map<string, readonly number[]>();
  readonly #planned = new Map<string, { pages: number[]; transfer: Transfer }>();
  readonly #due = new Map<string, number>();
  readonly #unused = new Set<number>();
  onLanded: ((agent: string) => void) | undefined;
  constructor(
    private readonly cache: RadixCache,
    private readonly link: TransferQueue,
    private readonly policy: StePolicy,
    private readonly loadAhead: number,
  ) {}
  notePrompt(agent: string, blocks: readonly number[]): void {
    if (blocks.length > 0) this.#prompts.set(agent, blocks);
  }
  noteUsed(page: number): void {
    this.#unused.delete(page);
  }
  noteEvicted(page: number): void {
    if (this.#unused.delete(page)) this.stats.wastedPages++;
  }
  update(changes: ReadonlyMap<string, number | undefined>): void {
    for (const [agent, ste] of changes) {
      if (ste !== undefined && ste <= this.loadAhead) this.#due.set(agent, ste);
      else {
        this.#due.delete(agent);
        const load = this.#planned.get(agent);
        if (load && this.link.cancel(load.transfer)) {
          for (let i = load.pages.length - 1; i >= 0; i--) this.cache.cancelLoad(load.pages[i]!);
          this.#planned.delete(agent);
          this.stats.cancelled++;
        }
      }
    }
    const order = [...this.#due].sort(([a, x], [b, y]) => x - y || (a < b ? -1 : a > b ? 1 : 0));
    for (const [agent, ste] of order) {
      if (this.#planned.has(agent) || (this.#prompts.has(agent) && this.#plan(agent, ste) !== 'no-room')) this.#due.delete(agent);
    }
  }
  #plan(agent: string, ste: number): 'loading' | 'resident' | 'no-room' {
    const blocks = this.#prompts.get(agent)!;
    const path = new Int32Array(blocks.length);
    const { gpu, other } = this.cache.matchTiers(blocks, path);
    const pages: number[] = [];
    let room = true;
    for (let i = gpu; i < gpu + other; i++) {
      const page = path[i]!;
      if (this.cache.stateOf(page) & PageState.loading) break;
      if (!this.cache.startLoad(page, this.policy.stePriority(ste))) {
        room = false;
        break;
      }
      pages.push(page);
    }
    if (pages.length === 0) return room ? 'resident' : 'no-room';
    const transfer: Transfer = {
      bytes: pages.length * PAGE_BYTES,
      onDone: () => {
        this.#planned.delete(agent);
        for (const page of pages) {
          this.cache.finishLoad(page);
          this.#unused.add(page);
        }
        this.stats.prefetchedPages += pages.length;
        this.onLanded?.(agent);
      },
    };
    this.#planned.set(agent, { pages, transfer });
    this.link.submit(transfer);
    return 'loading';
  }
}

const AGENTS = ['a', 'b', 'c', 'd', 'e', 'f'];

interface Side {
  cache: RadixCache;
  link: FakeLink;
  prefetcher: Prefetcher | ModelPrefetcher;
  landed: string[];
}

/** A cache whose CPU holds every prompt (GPU empty), a link, and a prefetcher (real or model) knowing `known` prompts. */
function side(real: boolean, prompts: number[][], gpuSlots: number, loadAhead: number): Side {
  const policy = new StePolicy();
  let prefetcher: Prefetcher | ModelPrefetcher | undefined;
  const cache = new RadixCache({ gpuSlots, cpuSlots: 64, policy, onGpuEvict: (page) => prefetcher?.noteEvicted(page) });
  let tick = 0;
  // Each prompt in turn: on the GPU (locked while it is written), backed up, then evicted to CPU-only.
  for (const blocks of prompts) {
    const held: number[] = [];
    let parent = ROOT;
    for (const block of blocks) {
      let page = cache.childOf(parent, block);
      if (page < 0 || (cache.stateOf(page) & PageState.gpu) === 0) page = cache.insertGpu(parent, block, tick++);
      cache.lock(page);
      held.push(page);
      if ((cache.stateOf(page) & PageState.cpu) === 0) {
        cache.startWrite(page);
        cache.finishWrite(page);
      }
      parent = page;
    }
    for (const page of held) cache.unlock(page);
    while (cache.evictGpu() >= 0);
  }
  const link = new FakeLink();
  prefetcher = real ? new Prefetcher(cache, link, { policy, pageBytes: PAGE_BYTES, loadAhead, evictionNotices: true }) : new ModelPrefetcher(cache, link, policy, loadAhead);
  const landed: string[] = [];
  prefetcher.onLanded = (agent) => landed.push(agent);
  return { cache, link, prefetcher, landed };
}

const action = fc.oneof(
  fc.record({ kind: fc.constant('update' as const), changes: fc.array(fc.tuple(fc.constantFrom(...AGENTS), fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined })), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('prompt' as const), agent: fc.constantFrom(...AGENTS) }),
  fc.record({ kind: fc.constantFrom('start' as const, 'land' as const, 'evict' as const, 'use' as const), pick: fc.nat(1000) }),
);

describe('Prefetcher against a plain model', () => {
  it('plans, cancels and lands the same loads', () => {
    fc.assert(
      fc.property(
        // Prompts of 1-5 blocks from a small alphabet, so they share prefixes and pages.
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }), { minLength: AGENTS.length, maxLength: AGENTS.length }),
        fc.integer({ min: 5, max: 14 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(action, { maxLength: 60 }),
        (prompts, gpuSlots, loadAhead, actions) => {
          const sides = [side(true, prompts, gpuSlots, loadAhead), side(false, prompts, gpuSlots, loadAhead)];
          for (const act of actions) {
            for (const s of sides) {
              if (act.kind === 'update') s.prefetcher.update(new Map(act.changes));
              else if (act.kind === 'prompt') {
                const i = AGENTS.indexOf(act.agent);
                s.prefetcher.notePrompt(act.agent, prompts[i]!);
              } else if (act.kind === 'start' && s.link.queued.length > 0) {
                s.link.inFlight.push(...s.link.queued.splice(act.pick % s.link.queued.length, 1));
              } else if (act.kind === 'land' && s.link.inFlight.length > 0) {
                s.link.inFlight.splice(act.pick % s.link.inFlight.length, 1)[0]!.onDone();
              } else if (act.kind === 'evict') {
                s.cache.evictGpu();
              } else if (act.kind === 'use') {
                const pages = [...s.cache.pageIds()].filter((page) => s.cache.stateOf(page) & PageState.gpu);
                if (pages.length > 0) s.prefetcher.noteUsed(pages[act.pick % pages.length]!);
              }
            }
            const [real, model] = sides;
            expect([...real!.cache.pageIds()].map((page) => real!.cache.stateOf(page))).toEqual([...model!.cache.pageIds()].map((page) => model!.cache.stateOf(page)));
            expect(real!.link.queued.map((t) => t.bytes)).toEqual(model!.link.queued.map((t) => t.bytes));
            expect(real!.link.inFlight.map((t) => t.bytes)).toEqual(model!.link.inFlight.map((t) => t.bytes));
            expect(real!.prefetcher.stats).toEqual(model!.prefetcher.stats);
            expect(real!.landed).toEqual(model!.landed);
          }
          sides[0]!.cache.checkInvariants();
        },
      ),
      { seed: 1412, numRuns: 300 },
    );
  });
});

/**
 * Preemption in one engine replica, driven directly. Admission control reserves every page a request
 * will hold, so a running request only runs out of memory when something else takes a slot it was
 * promised: here a KVFlow prefetch, which may fill free GPU slots and stays unevictable while its (slow)
 * load is in flight. The cost model is wrapped to record every iteration's batch, so each test states the
 * exact schedule: who decodes, who was retracted, and who prefills again.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { PageState } from '../../src/cache/radix-cache.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica } from '../../src/sim/replica.js';
import type { Setup } from '../../src/sim/setups.js';
import { SimRequest } from '../../src/sim/sim-request.js';
import { recordingCost } from '../helpers/replica-batches.js';

const BLOCK = 16;
const a10g = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
/** A host link with 10 s of latency: a prefetch stays in flight for the whole test, and recomputing beats loading. */
const hardware = { ...a10g, h2d: { ...a10g.h2d, latency: 10 } };
const model = new CostModel(hardware);
/** KVFlow: STE eviction, a CPU tier, prefetch, status-aware scheduling. */
const kvflow: Setup = { name: 'kvflow', policy: policyFactory('ste'), cpuTier: true, prefetch: true, statusAware: true };

let nextIndex = 0;
function request(id: string, blocks: number[], output: number, agent?: string, fixed = blocks.length): SimRequest {
  return new SimRequest(
    {
      id,
      blocks,
      blockSize: BLOCK,
      inputLength: blocks.length * BLOCK,
      outputLength: output,
      ...(agent !== undefined && { agent, fixedBlocks: fixed }),
    },
    nextIndex++,
    agent,
  );
}

/** Decode iterations of one request from context `from` to `to` inclusive, each alone or beside `with_`. */
function decodes(from: number, to: number, render: (context: number) => string): string[] {
  const out: string[] = [];
  for (let c = from; c <= to; c++) out.push(render(c));
  return out;
}

/** Replicas built by `primed` take the full scheduling path at every iteration end (no repeated-decode shortcut). */
let fullPath = false;

/**
 * A replica with `gpuSlots` pages whose agent x's prompt (`xBlocks`) is backed up and then pushed off the
 * GPU by a filler request of `fillerBlocks` blocks, so that x's prompt is only on the CPU. The h2d link
 * has 10 s of latency: a prefetch of x stays in flight for the whole test.
 */
function primed(gpuSlots: number, xBlocks: number[], fillerBlocks: number[], options: { tokenBudget?: number; yBlocks?: number[]; xFixed?: number } = {}) {
  const events = new EventQueue();
  const batches: string[] = [];
  const done: string[] = [];
  const firstTokens: string[] = [];
  let onFirstToken: (request: SimRequest) => void = () => {};
  const replica = new Replica(
    0,
    events,
    {
      onFirstToken: (r) => {
        firstTokens.push(r.request.id);
        onFirstToken(r);
      },
      onComplete: (r) => done.push(r.request.id),
    },
    {
      setup: kvflow,
      gpuSlots,
      cpuSlots: 32,
      blockSize: BLOCK,
      tokenBudget: options.tokenBudget ?? 256,
      maxRunning: 8,
      schedule: 'fcfs',
      h2d: hardware.h2d,
      d2h: hardware.d2h,
      loadAhead: 1,
      cost: recordingCost(model, batches),
      fullPath,
    },
  );
  replica.enqueue(request('x', xBlocks, 1, 'x', options.xFixed));
  events.run();
  if (options.yBlocks) {
    replica.enqueue(request('y', options.yBlocks, 1, 'y'));
    events.run();
  }
  replica.enqueue(request('filler', fillerBlocks, 1));
  events.run();
  const onGpu = (block: number) => [...replica.cache.pageIds()].some((p) => replica.cache.blockOf(p) === block && (replica.cache.stateOf(p) & PageState.gpu) !== 0);
  expect([...xBlocks, ...(options.yBlocks ?? [])].some(onGpu)).toBe(false);
  batches.length = 0;
  done.length = 0;
  return {
    replica,
    events,
    batches,
    done,
    /**
     * Enqueues `requests` so that they are admitted in one pass: the filler runs again first (all hits,
     * already backed up, so nothing is written), and they queue while it runs.
     */
    admitTogether(requests: SimRequest[]) {
      replica.enqueue(request('filler again', fillerBlocks, 1));
      for (const r of requests) replica.enqueue(r);
    },
    /** Calls `then` when request `id` has its first token. */
    whenFirstToken(id: string, then: () => void) {
      onFirstToken = (r) => {
        if (r.request.id === id) then();
      };
    },
    /** x becomes due: its prompt starts loading into the GPU over the slow link. */
    prefetchX() {
      replica.updateSte(new Map([['x', 1]]));
    },
    /** y becomes due too. */
    prefetchY() {
      replica.updateSte(new Map([['y', 1]]));
    },
  };
}

// Both ways: a repeated decode batch that must preempt at a page boundary hands over to the full path.
describe.each([false, true])('Replica preemption when a prefetch takes the slots running requests were promised (full path at every end: %s)', (full) => {
  beforeAll(() => {
    fullPath = full;
  });
  it('retracts the other request (not itself) when both have made the same progress, and it prefills again later from its cached prompt', () => {
    // Six slots; after the filler, five filler pages sit on the GPU. a and b (one prompt page, two output
    // pages each) are admitted together: exactly six pages between them, three of them filler pages evicted.
    const h = primed(6, [1], [5, 6, 7, 8, 9]);
    const a = request('a', [10], 17);
    const b = request('b', [20], 17);
    h.whenFirstToken('b', () => h.prefetchX()); // the load evicts a fourth filler page and stays in flight
    h.admitTogether([a, b]);
    h.events.run();
    // At 16 tokens each asks for its second output page: a takes the last filler page, b finds none (x is
    // loading, every other page pinned) and retracts a, the only other request (same progress, not ahead).
    expect(h.replica.preemptions).toBe(1);
    expect([a.preemptions, b.preemptions]).toEqual([1, 0]);
    expect(h.done).toEqual(['filler again', 'b', 'a']);
    // a's decode record of that iteration is dropped; b decodes alone and finishes. a starts over: its
    // prompt page is still cached (a hit), its last prompt token is computed again, then 16 tokens.
    expect(h.batches).toEqual([
      'P1@80',
      'P16@0 P16@0',
      ...decodes(17, 31, (c) => `D${c} D${c}`),
      'D32',
      'P1@16',
      ...decodes(17, 32, (c) => `D${c}`),
    ]);
    expect([a.hitTokens, a.loadedTokens, a.recomputedTokens, a.generated]).toEqual([16, 0, 0, 17]);
    expect([b.hitTokens, b.recomputedTokens]).toEqual([0, 16]);
    expect(a.firstToken).toBe(b.firstToken); // a keeps the time of its first admission and first token
    expect(a.admitted).toBe(b.admitted);
    expect(h.replica.prefetcher!.stats.prefetchedPages).toBe(1);
  });

  it('among equally advanced requests it retracts the newest', () => {
    // Nine slots, eight filler pages; a, b and c take three pages each. At 16 tokens a and b take the last
    // two filler pages; c retracts b (a and b are equally advanced, b is newer), not a and not itself.
    const h = primed(9, [1], [5, 6, 7, 8, 9, 11, 12, 13]);
    const a = request('a', [10], 17);
    const b = request('b', [20], 17);
    const c = request('c', [30], 17);
    h.whenFirstToken('c', () => h.prefetchX());
    h.admitTogether([a, b, c]);
    h.events.run();
    expect([a.preemptions, b.preemptions, c.preemptions]).toEqual([0, 1, 0]);
    expect(h.done).toEqual(['filler again', 'a', 'c', 'b']);
    expect(h.batches).toEqual([
      'P1@128',
      'P16@0 P16@0 P16@0',
      ...decodes(17, 31, (n) => `D${n} D${n} D${n}`),
      'D32 D32',
      'P1@16',
      ...decodes(17, 32, (n) => `D${n}`),
    ]);
  });

  it('never retracts a request further along than the one asking: that one waits, and is itself retracted when the leader needs a page', () => {
    // Seven slots, six filler pages. x's prompt is two pages, so its prefetch takes two filler pages.
    // a (three output pages) starts alone; b (two) arrives at a's first token but is admitted one
    // iteration later: a's prompt page, locked and still being written to the CPU, counts twice in
    // what is pinned, so b's three pages fit only once that write landed. a stays two tokens ahead.
    const h = primed(7, [1, 2], [5, 6, 7, 8, 9, 11]);
    const a = request('a', [10], 33);
    const b = request('b', [20], 17);
    h.whenFirstToken('a', () => {
      h.replica.enqueue(b);
      h.whenFirstToken('b', () => h.prefetchX());
    });
    h.replica.enqueue(a);
    h.events.run();
    expect(h.replica.preemptions).toBe(1);
    expect([a.preemptions, b.preemptions]).toEqual([0, 1]);
    expect(h.done).toEqual(['a', 'b']);
    expect(h.batches).toEqual([
      'P16@0',
      'D17',
      'P16@0 D18',
      // At 16 tokens (context 32) a takes the last filler page.
      ...decodes(19, 33, (n) => `D${n} D${n - 2}`),
      // b at 16 tokens finds no page, and a is ahead: b waits, a decodes alone.
      ...decodes(34, 47, (n) => `D${n}`),
      // a at 32 tokens finds no page either: it retracts b, which is behind.
      'D48',
      // a completes; b starts over from its cached prompt page.
      'P1@16',
      ...decodes(17, 32, (n) => `D${n}`),
    ]);
    expect([b.hitTokens, b.recomputedTokens, b.generated]).toEqual([16, 0, 17]);
  });

  it('retracts the least advanced request even when it is not the newest, here one stuck on a page being prefetched', () => {
    // Fifteen slots; x's prompt [1, 2, 4, 5] and y's [40..44] are only on the CPU, fourteen filler pages on
    // the GPU. p runs alone; a ([1, 2, 3]) recomputes block 1 beside it (the 10 s link makes loading
    // dearer), then x's prefetch starts at p's first token and a's next chunk stops at block 2, which is
    // loading: a computes nothing and leaves its budget to b and c. y's prefetch, at their first token,
    // takes five more slots (every filler page), so at 16 tokens b takes the last evictable page (p's) and
    // c finds none: of a (0 tokens, older) and b (16, newer) it retracts a.
    const h = primed(15, [1, 2, 4, 5], [50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63], { tokenBudget: 32, yBlocks: [40, 41, 42, 43, 44] });
    const p = request('p', [7], 1);
    const a = request('a', [1, 2, 3], 17);
    const b = request('b', [20], 17);
    const c = request('c', [30], 17);
    h.whenFirstToken('p', () => {
      h.prefetchX();
      h.whenFirstToken('c', () => h.prefetchY());
    });
    h.admitTogether([p, a, b, c]);
    h.events.run();
    expect([a.preemptions, b.preemptions, c.preemptions]).toEqual([1, 0, 0]);
    expect(h.done).toEqual(['filler again', 'p', 'b', 'c', 'a']);
    expect(h.batches).toEqual([
      'P1@224',
      'P16@0 P16@0',
      'P16@0 P16@0',
      ...decodes(17, 31, (n) => `D${n} D${n}`),
      'D32 D32',
      // a waits for x's prefetch to land, then finds blocks 1 and 2 on the GPU and computes block 3.
      'P16@32',
      ...decodes(49, 64, (n) => `D${n}`),
    ]);
    expect([a.hitTokens, a.loadedTokens, a.recomputedTokens]).toEqual([32, 0, 16]);
    expect(h.replica.prefetcher!.stats).toEqual({ prefetchedPages: 8, wastedPages: 0, cancelled: 0 });
  });
});

describe('Replica: a running request meets a prompt page that is being prefetched', () => {
  it('stops its chunk at the page, and takes it over as a hit once it lands', () => {
    // Six slots; x's prompt [1, 2] only on the CPU. p runs alone; a ([1, 2, 3]) recomputes block 1 beside
    // it (the 10 s link makes loading dearer). x's prefetch starts at p's first token: block 1 is on the
    // GPU (a's), so only block 2 loads. a's next chunk stops there, and nothing runs until it lands.
    const h = primed(6, [1, 2], [50, 51, 52, 53, 54], { tokenBudget: 32 });
    const p = request('p', [7], 1);
    const a = request('a', [1, 2, 3], 1);
    h.whenFirstToken('p', () => h.prefetchX());
    h.admitTogether([p, a]);
    h.events.run();
    expect(h.done).toEqual(['filler again', 'p', 'a']);
    // Then a adopts block 2's page (a hit) and computes only block 3.
    expect(h.batches).toEqual(['P1@80', 'P16@0 P16@0', 'P16@32']);
    expect([a.hitTokens, a.loadedTokens, a.recomputedTokens]).toEqual([16, 0, 32]);
    expect(a.firstToken).toBeGreaterThan(hardware.h2d.latency);
    expect(h.replica.prefetcher!.stats).toEqual({ prefetchedPages: 1, wastedPages: 0, cancelled: 0 });
  });
});

describe('Replica: what the prefetcher loads', () => {
  it("only the agent's fixed prompt, not the rest of its request", () => {
    // x's request is [1, 2] of which only block 1 is its fixed prompt; both pages are only on the CPU.
    const h = primed(4, [1, 2], [50, 51, 52], { xFixed: 1 });
    h.prefetchX();
    h.events.run();
    expect(h.replica.prefetcher!.stats).toEqual({ prefetchedPages: 1, wastedPages: 0, cancelled: 0 });
    const onGpu = [...h.replica.cache.pageIds()].filter((p) => (h.replica.cache.stateOf(p) & PageState.gpu) !== 0).map((p) => h.replica.cache.blockOf(p));
    expect(onGpu.sort((a, b) => a - b)).toEqual([1, 50, 51, 52]);
  });
});

/**
 * Replica paths the other replica tests reach only in passing (found by mutation testing, docs/mutation.md):
 * the token budget a running prefill leaves to admissions, stall time, prompt-owner bookkeeping at the
 * edges of its table, a prefetch landing in the middle of a prefill, a blocking load-back with another
 * request queued behind it, and lpm matches cut by a short match buffer. Each test states exact numbers.
 */
import { describe, expect, it } from 'vitest';
import { replicaOptions } from '../helpers/sim.js';
import { PageState, ROOT } from '../../src/cache/radix-cache.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { engineRules } from '../../src/sim/engine-rules.js';
import { EventQueue, type Clock } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica, type ReplicaOptions } from '../../src/sim/replica.js';
import type { Setup } from '../../src/sim/setups.js';
import { SimRequest } from '../../src/sim/sim-request.js';
import { cpuOnlyPrompt, recordingCost, wholeBlockRequests } from '../helpers/replica-batches.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
const model = new CostModel(hardware);
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

function setupOf(policy: string, parts: Partial<Omit<Setup, 'name' | 'policy'>> = {}): Setup {
  return { name: policy, policy: policyFactory(policy), cpuTier: false, prefetch: false, statusAware: false, ...parts };
}

function harness(setup: Setup, options: Partial<ReplicaOptions> = {}, hooks: { followsPrompt?: (agent: string) => boolean } = {}) {
  const events = new EventQueue();
  const done: string[] = [];
  const promptEvents: string[] = [];
  const batches: string[] = [];
  const replica = new Replica(
    0,
    events,
    {
      onFirstToken: () => {},
      onComplete: (request) => done.push(request.request.id),
      onPromptEvent: (kind, agent) => promptEvents.push(`${kind} ${agent}`),
      ...hooks,
    },
    replicaOptions(hardware, { setup, cost: recordingCost(model, batches), ...options }),
  );
  return {
    replica,
    events,
    done,
    promptEvents,
    batches,
    serve(request: SimRequest) {
      replica.enqueue(request);
      events.run();
    },
  };
}

const request = wholeBlockRequests(BLOCK);

describe('Replica scheduling edges', () => {
  it('a running prefill chunk spends the token budget before waiting requests are admitted', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8, tokenBudget: 32 });
    const a = request('a', [1, 2, 3]); // 48 tokens: 32, then 16
    const b = request('b', [4, 5]); // queued while a's first chunk runs
    h.replica.enqueue(a);
    h.replica.enqueue(b);
    h.events.run();
    // Second pass: a's last 16 tokens leave 16 of the 32 for b.
    expect(h.batches).toEqual(['P32@0', 'P16@32 P16@0', 'P16@16']);
    expect(h.done).toEqual(['a', 'b']);
  });

  it('idle time between requests is not stall time', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    h.replica.enqueue(request('a', [1]));
    h.events.at(10, () => h.replica.enqueue(request('b', [2])));
    h.events.run();
    expect(h.done).toEqual(['a', 'b']);
    expect(h.replica.stallSeconds).toBe(0);
  });

  it('waiting for a write-through to land, with no load in flight, is not stall time', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3, cpuSlots: 16 });
    const a = request('a', [1, 2]);
    const b = request('b', [3, 4]); // admitted when a finishes, but a's pages are still being written
    const c = request('c', [5]); // does not fit beside b: it waits too
    h.replica.enqueue(a);
    h.replica.enqueue(b);
    h.replica.enqueue(c);
    h.events.run();
    expect(h.done).toEqual(['a', 'b', 'c']);
    expect(b.admitted).toBe(a.done);
    expect(b.firstToken - b.admitted).toBeGreaterThan(hardware.d2h.latency);
    expect(h.replica.stallSeconds).toBe(0);
  });

  it('is not idle while a running request waits for a write-through to land', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3, cpuSlots: 16 });
    const a = request('a', [1, 2]);
    const b = request('b', [3, 4]);
    h.replica.enqueue(a);
    h.replica.enqueue(b);
    h.events.run(1); // a's only iteration: a completes, b is admitted and makes no progress until the write lands
    expect([h.replica.waitingCount, h.replica.runningCount, b.computed]).toEqual([0, 1, 0]);
    expect(h.replica.idle).toBe(false);
    h.events.run();
    expect(h.done).toEqual(['a', 'b']);
    expect(h.replica.idle).toBe(true);
  });

  it('a stall lasts from its start to the end of the load, whatever arrives meanwhile', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3, cpuSlots: 16 });
    h.serve(request('x', [1], 'x')); // written through to the CPU
    h.serve(request('filler', [5, 6])); // x's page leaves the GPU
    const x2 = request('x2', [1, 2]);
    h.replica.enqueue(x2); // loads block 1 back; the engine waits for it
    const start = h.events.now;
    expect([x2.loadStart, h.replica.h2d.pending]).toEqual([start, 1]);
    const y = request('y', [9]);
    h.events.after(1e-4, () => h.replica.enqueue(y)); // arrives during the load: the stall goes on
    h.events.run();
    expect(h.done).toEqual(['x', 'filler', 'x2', 'y']);
    expect(x2.admitted - start).toBeGreaterThan(1e-4);
    expect(h.replica.stallSeconds).toBe(x2.admitted - start);
  });

  it('STE changes reach a replica whose policy keeps no STE: nothing happens', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    h.replica.updateSte(new Map([['x', 1]]));
    h.serve(request('x', [1], 'x'));
    expect(h.done).toEqual(['x']);
  });

  it('lpm orders by matches cut at the buffer the longest prompt sized, not at half of it', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 1000, tokenBudget: 16384, maxRunning: 1, schedule: 'lpm' });
    h.serve(request('warm', range(0, 300)));
    h.replica.enqueue(request('running', [5000])); // runs; the next two wait behind it
    // 260 cached pages of 600 (sizes the match buffer to 1,200), then 300 cached pages of 301.
    const shorter = request('shorter', [...range(0, 260), ...range(3000, 340)]);
    const longer = request('longer', [...range(0, 300), 2000]);
    h.replica.enqueue(shorter);
    h.replica.enqueue(longer);
    h.events.run();
    expect(h.done).toEqual(['warm', 'running', 'longer', 'shorter']);
    expect([longer.hitTokens, shorter.hitTokens]).toEqual([300 * BLOCK, 260 * BLOCK]);
  });
});

describe('Replica prompt owners at the edges of their table', () => {
  it('a request of an agent nobody follows takes over only its own fixed prompt pages', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 4 }, { followsPrompt: (agent) => agent === 'a' });
    h.serve(request('a', [1, 2], 'a')); // a's fixed prompt: blocks 1 and 2
    h.serve(request('b', [1, 2, 3], 'b', { fixed: 1 })); // b, not followed, takes over block 1 only
    h.serve(request('filler', [5, 6, 7])); // evicts every cached page
    expect(h.promptEvents).toEqual(['evicted a']); // block 2 is still a's
  });

  it('records the owner of page 64, where the table first grows to 64 entries', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 80 });
    const a = request('a', range(100, 64), 'a'); // pages 1-64
    h.serve(a);
    expect(Math.max(...a.pages)).toBe(64);
    h.serve(request('filler', range(1000, 79))); // evicts all of a's pages
    expect(h.promptEvents).toEqual(Array.from({ length: 64 }, () => 'evicted a'));
  });

  it('an evicted page past the owner table has no owner', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 80 });
    h.serve(request('a', [1], 'a')); // page 1: a table of 64 owners
    h.serve(request('filler', range(100, 70))); // pages 2-71, no agent
    h.serve(request('second filler', range(1000, 79))); // evicts every earlier page
    expect(h.promptEvents).toEqual(['evicted a']);
  });

  it('records the owner of a prompt whose first page id is past 64', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 80 });
    h.serve(request('filler', range(100, 70))); // pages 1-70, no agent
    const a = request('a', [1], 'a');
    h.serve(a);
    expect(a.pages[0]).toBe(71);
    h.serve(request('second filler', range(1000, 79)));
    expect(h.promptEvents).toEqual(['evicted a']);
  });
});

describe('Replica loads meeting a prefill or a queue', () => {
  it('a prefetch landing in the middle of a prefill: a page past the chunk is shared and recomputed, a page at a block boundary is a hit', () => {
    const batches: string[] = [];
    const events = new EventQueue();
    // Recomputing always beats loading on demand (so x's prompt is recomputed at admission), while the
    // host link itself is A10G's: the prefetch lands long before the first chunk ends.
    const replica = new Replica(0, events, { onFirstToken: () => {}, onComplete: () => {} }, replicaOptions(hardware, {
      setup: { name: 'kvflow', policy: policyFactory('ste'), cpuTier: true, prefetch: true, statusAware: true },
      gpuSlots: 6,
      cpuSlots: 16,
      tokenBudget: 24,
      cost: recordingCost(model, batches, () => false),
    }));
    replica.enqueue(request('x', [1, 2, 3, 4], 'x'));
    events.run();
    replica.enqueue(request('filler', [5, 6, 7, 8, 9])); // five pages and an output page: x is CPU-only now
    events.run();
    const blocksOnGpu = [...replica.cache.pageIds()].filter((p) => (replica.cache.stateOf(p) & PageState.gpu) !== 0).map((p) => replica.cache.blockOf(p));
    expect(blocksOnGpu.sort((a, b) => a - b)).toEqual([5, 6, 7, 8, 9]);
    batches.length = 0;
    const x2 = request('x2', [1, 2, 3, 4], 'x');
    replica.enqueue(x2); // admitted at once: its first chunk (24 tokens) writes blocks 1 and 2
    replica.updateSte(new Map([['x', 0]])); // x is due: its blocks 3 and 4 are prefetched meanwhile
    events.run();
    // Second chunk (tokens 24-47): block 3 arrived by prefetch, shared but computed; then block 4 is
    // taken over at the block boundary as a hit, and the last record only produces the first token.
    expect(batches).toEqual(['P24@0', 'P24@24', 'P1@64']);
    expect([x2.hitTokens, x2.loadedTokens, x2.recomputedTokens]).toEqual([16, 0, 48]);
    expect(replica.prefetcher!.stats).toEqual({ prefetchedPages: 2, wastedPages: 0, cancelled: 0 });
    expect(replica.cache.pinnedGpu).toBe(0);
    replica.cache.checkInvariants();
  });

  it('a blocking load-back holds the requests queued behind it in the same pass, and its GPU prefix is counted once', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 6, cpuSlots: 16 });
    h.serve(request('x', [1, 2], 'x')); // written through to the CPU
    h.serve(request('filler', [5, 6, 7, 8])); // five slots: evicts x's leaf (block 2); block 1 stays
    const busy = request('busy', [1, 20], undefined, { output: 3 }); // keeps block 1 recent and pinned
    h.replica.enqueue(busy);
    const x2 = request('x2', [1, 2, 3]);
    const y = request('y', [9]);
    h.replica.enqueue(x2); // both queue behind busy's prefill
    h.replica.enqueue(y);
    h.events.run();
    // The pass that starts x2's load of block 2 stops there: y waits for the load and is admitted with x2
    // once it landed (admitting y meanwhile would finish it first).
    expect(h.done).toEqual(['x', 'filler', 'busy', 'x2', 'y']);
    expect(x2.loadStart).toBeGreaterThan(busy.firstToken);
    expect(x2.admitted).toBeGreaterThan(x2.loadStart);
    expect(y.admitted).toBe(x2.admitted);
    expect([x2.hitTokens, x2.loadedTokens, x2.recomputedTokens]).toEqual([16, 16, 16]);
    expect(h.replica.cache.pinnedGpu).toBe(0);
    h.replica.cache.checkInvariants();
  });
});

describe('Replica clocks and aborts', () => {
  /** The ideal engine's cost model: every iteration, decode-only ones too, pays the 4 ms launch overhead. */
  const ideal = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', engine: 'ideal' });
  const idealModel = new CostModel(ideal);
  /** A decode of `output` tokens after a one-block prompt, on `clock`; returns the done time and the first token's. */
  function decodeRun(makeClock: (events: EventQueue) => Clock, output: number) {
    const events = new EventQueue();
    const replica = new Replica(0, makeClock(events), { onFirstToken: () => {}, onComplete: () => {} }, replicaOptions(ideal, { setup: setupOf('lru'), gpuSlots: 8 }));
    const r = request('r', [1], undefined, { output });
    replica.enqueue(r);
    events.run();
    return { done: r.done, firstToken: r.firstToken, iterations: replica.iterations };
  }
  /** `events` seen through a clock without stretch or settle: every end is woken one by one. */
  const plainClock = (events: EventQueue): Clock => ({
    get now() {
      return events.now;
    },
    at: (time, fire) => events.at(time, fire),
    after: (delay, fire) => events.after(delay, fire),
    wake: (time, target, tag) => events.wake(time, target, tag),
  });
  /** The decode iterations of one request after its first token, one at a time, each a whole iteration (no engine rules). */
  const decodeSeconds = (from: number, to: number) => {
    let t = 0;
    for (let c = from; c <= to; c++) t += idealModel.iterationSeconds({ prefill: [], decode: [{ contextTokens: c }] });
    return t;
  };

  it('prices repeated decode ends, forward pass and overhead, alike with and without a clock that elides them', () => {
    const queue = decodeRun((events) => events, 9);
    // The same queue seen through a clock without stretch or settle: every end is woken one by one.
    const plain = decodeRun(plainClock, 9);
    expect(idealModel.overheadSeconds({ prefill: [], decode: [{ contextTokens: 17 }] })).toBe(0.004);
    expect(queue.iterations).toBe(9);
    expect(plain.iterations).toBe(9);
    // Eight decodes at contexts 17..24, each its forward pass plus the 4 ms iteration overhead.
    expect(queue.done - queue.firstToken).toBeCloseTo(decodeSeconds(17, 24), 12);
    expect(plain.done - plain.firstToken).toBeCloseTo(decodeSeconds(17, 24), 12);
    expect(plain.done).toBe(queue.done);
  });

  it('a request arriving during the first iteration, on a clock without stretch or settle, joins the next one', () => {
    // Nothing has stretched yet: the arrival's kick must not ask the clock to settle (it has no settle).
    const events = new EventQueue();
    const batches: string[] = [];
    const replica = new Replica(0, plainClock(events), { onFirstToken: () => {}, onComplete: () => {} }, replicaOptions(ideal, { setup: setupOf('lru'), gpuSlots: 8, cost: recordingCost(idealModel, batches) }));
    const a = request('a', [1], undefined, { output: 2 });
    const b = request('b', [2], undefined, { output: 2 });
    replica.enqueue(a); // its prefill iteration starts at once
    replica.enqueue(b); // while that iteration runs
    events.run();
    expect(batches).toEqual(['P16@0', 'P16@0 D17', 'D17']);
    const first = idealModel.iterationSeconds({ prefill: [{ newTokens: 16, contextTokens: 0 }], decode: [] });
    const second = idealModel.iterationSeconds({ prefill: [{ newTokens: 16, contextTokens: 0 }], decode: [{ contextTokens: 17 }] });
    const third = idealModel.iterationSeconds({ prefill: [], decode: [{ contextTokens: 17 }] });
    expect([a.firstToken, a.done, b.firstToken, b.done]).toEqual([first, first + second, first + second, first + second + third]);
    expect(replica.iterations).toBe(3);
  });

  it('an abort on a clock without stretch or settle drops a waiting request', () => {
    // No stretch is open (the clock cannot make one): the abort must not ask the clock to settle.
    const events = new EventQueue();
    const done: string[] = [];
    const replica = new Replica(0, plainClock(events), { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) }, replicaOptions(ideal, { setup: setupOf('lru'), gpuSlots: 8, maxRunning: 1 }));
    const a = request('a', [1], undefined, { output: 2 });
    const b = request('b', [2], undefined, { output: 2 });
    replica.enqueue(a);
    replica.enqueue(b); // waits: one request runs at a time
    expect(replica.abort(b)).toBe(true);
    events.run();
    expect(done).toEqual(['a']);
    expect(b.phase).toBe('done');
    expect(replica.iterations).toBe(2);
    expect(replica.cache.pinnedGpu).toBe(0);
  });

  it('a write-back eviction charged on a clock without stretch or settle times the run as the queue does', () => {
    // SGLang rules with write_back: making room for the second prompt backs pages 1 and 2 up to the CPU and
    // charges the write to the next iteration. No stretch is open then: the charge must not ask the clock to settle.
    function writeBackRun(makeClock: (events: EventQueue) => Clock) {
      const events = new EventQueue();
      const replica = new Replica(
        0,
        makeClock(events),
        { onFirstToken: () => {}, onComplete: () => {} },
        replicaOptions(hardware, {
          setup: setupOf('lru', { cpuTier: true }),
          gpuSlots: 4,
          cpuSlots: 8,
          rules: { ...engineRules(hardware), writePolicy: 'write_back' },
        }),
      );
      const first = request('first', [1, 2], undefined, { output: 2 });
      const second = request('second', [5, 6, 7], undefined, { output: 2 });
      replica.enqueue(first);
      events.run();
      replica.enqueue(second);
      events.run();
      const cpuBlocks = [...replica.cache.pageIds()].filter((page) => (replica.cache.stateOf(page) & PageState.cpu) !== 0).map((page) => replica.cache.blockOf(page));
      return { times: [first.firstToken, first.done, second.admitted, second.firstToken, second.done], cpuBlocks: cpuBlocks.sort((a, b) => a - b), iterations: replica.iterations };
    }
    const queue = writeBackRun((events) => events);
    const plain = writeBackRun(plainClock);
    expect(queue.cpuBlocks).toEqual([1, 2]);
    expect(queue.iterations).toBe(4);
    expect(plain).toEqual(queue);
  });

  it('a request aborted while its iteration runs is not advanced by that iteration', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    const a = request('a', [1]);
    const b = request('b', [2], undefined, { output: 3 });
    h.replica.enqueue(a); // its prefill iteration starts at once
    h.replica.enqueue(b);
    expect(h.replica.abort(a)).toBe(true);
    h.events.run();
    expect(h.done).toEqual(['b']);
    expect(a.phase).toBe('done');
    expect(Number.isNaN(a.firstToken)).toBe(true);
    expect(h.replica.cache.pinnedGpu).toBe(0);
  });
});

describe('Replica batched load-backs (sglang-0.4)', () => {
  const sglang = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', engine: 'sglang-0.4' });
  const sglangModel = new CostModel(sglang);
  /** A replica under SGLang v0.4's rules (node eviction, batched loads), recording its host loads' pages. */
  function batchedReplica(gpuSlots: number) {
    const events = new EventQueue();
    const loads: number[] = [];
    const done: string[] = [];
    const evicted: number[] = [];
    const replica = new Replica(
      0,
      events,
      { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
      replicaOptions(sglang, {
        setup: setupOf('lru', { cpuTier: true }),
        gpuSlots,
        cpuSlots: 32,
        h2d: { ...sglang.h2d, observer: { issued: (bytes) => loads.push(bytes / sglangModel.pageBytes), cancelled: () => {} } },
        cost: sglangModel,
        rules: engineRules(sglang),
        cacheEvents: { resident: () => {}, evicted: (page) => evicted.push(page) },
      }),
    );
    /** `blocks` inserted as one GPU-only chain under the root at `tick`; their page ids. */
    const gpuChain = (blocks: number[], tick: number) => {
      const pages: number[] = [];
      let parent = ROOT;
      for (const block of blocks) pages.push((parent = replica.cache.insertGpu(parent, block, tick)));
      return pages;
    };
    /** Backs `pages` up to the CPU (a page after its parent), keeping them on the GPU. */
    const written = (pages: number[]) => {
      for (const page of pages) {
        expect(replica.cache.startWrite(page)).toBe(true);
        replica.cache.finishWrite(page);
      }
    };
    return { replica, events, loads, done, evicted, gpuChain, written };
  }

  it('loads the CPU-only rest of a prompt whose start is on the GPU, under the last GPU page, and unlocks that page', () => {
    const { replica, events, loads, done, gpuChain, written } = batchedReplica(16);
    const cache = replica.cache;
    const [p1, p2] = gpuChain([1, 2], 0);
    written([p1!, p2!]); // a page is written after its parent
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4], p2);
    const r = request('r', [1, 2, 3, 4, 5]);
    replica.enqueue(r);
    events.run();
    expect(done).toEqual(['r']);
    expect(loads).toEqual([2]); // pages 3 and 4 in one merged load
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 32, 16]);
    expect([...r.pages.subarray(0, 4)]).toEqual([p1, p2, p3, p4]);
    expect(cache.pinnedGpu).toBe(0);
    for (const page of [p1, p2, p3, p4]) expect(cache.locksOf(page!)).toBe(0);
    cache.checkInvariants();
  });

  it('keeps the last GPU page of the match while making room for the loads: the older page is locked, a newer node goes', () => {
    // Six slots, all used: [1, 2] (tick 0, the LRU node; 3 and 4 hang from it on the CPU) and [9..12] (tick 1).
    const { replica, events, loads, done, evicted, gpuChain, written } = batchedReplica(6);
    const cache = replica.cache;
    const [p1, p2] = gpuChain([1, 2], 0);
    written([p1!, p2!]);
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4], p2);
    const q = gpuChain([9, 10, 11, 12], 1);
    expect(cache.gpuUsed).toBe(6);
    evicted.length = 0; // cpuOnlyPrompt's own evictions
    const r = request('r', [1, 2, 3, 4, 5]);
    replica.enqueue(r);
    events.run();
    expect(done).toEqual(['r']);
    // Evicting [1, 2] would leave 3 with no parent on the GPU; the node [9..12] goes instead, leaf first.
    expect(evicted).toEqual([...q].reverse());
    expect(loads).toEqual([2]);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 32, 16]);
    expect([...r.pages.subarray(0, 4)]).toEqual([p1, p2, p3, p4]);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });

  it('locks nothing for a load from the root: the least recently used page is evicted first', () => {
    // Four slots, all used: [7] (tick 0) and [8, 9, 10] (tick 1); [3, 4] on the CPU only, from the root.
    const { replica, events, loads, done, evicted, gpuChain } = batchedReplica(4);
    const cache = replica.cache;
    const [x] = gpuChain([7], 0);
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4]);
    const y = gpuChain([8, 9, 10], 1);
    expect([x, cache.gpuUsed]).toEqual([1, 4]); // page 1: what a parent of +1 instead of -1 would lock
    evicted.length = 0; // cpuOnlyPrompt's own evictions
    const r = request('r', [3, 4, 5]);
    replica.enqueue(r);
    events.run();
    expect(done).toEqual(['r']);
    // The first load's room takes [7], the second's the node [8, 9, 10], leaf first.
    expect(evicted).toEqual([x, ...[...y].reverse()]);
    expect(loads).toEqual([2]);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([0, 32, 16]);
    expect([...r.pages.subarray(0, 2)]).toEqual([p3, p4]);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });

  it('cancels a load that runs out of room half way and recomputes those pages once room is back', () => {
    // Seven slots under write_through: [1, 2] (3 and 4 under it on the CPU only), then a's four pages, still
    // being written when r is admitted (a page being written cannot be evicted). One slot is free: the load
    // of 3 starts, the load of 4 finds no room, so 3 is cancelled (all or nothing) and r recomputes both
    // once a's writes have landed.
    const events = new EventQueue();
    const done: string[] = [];
    const evicted: number[] = [];
    const loads: number[] = [];
    const replica = new Replica(
      0,
      events,
      { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
      replicaOptions(sglang, {
        setup: setupOf('lru', { cpuTier: true }),
        gpuSlots: 7,
        cpuSlots: 32,
        h2d: { ...sglang.h2d, observer: { issued: (bytes) => loads.push(bytes / sglangModel.pageBytes), cancelled: () => {} } },
        cost: sglangModel,
        rules: engineRules(sglang, { writePolicy: 'write_through' }),
        cacheEvents: { resident: () => {}, evicted: (page) => evicted.push(page) },
      }),
    );
    const cache = replica.cache;
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    for (const page of [p1, p2]) {
      expect(cache.startWrite(page)).toBe(true);
      cache.finishWrite(page);
    }
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4], p2);
    evicted.length = 0;
    const a = request('a', [20, 21, 22, 23]);
    const r = request('r', [1, 2, 3, 4, 5]);
    replica.enqueue(a);
    replica.enqueue(r); // waits for a's iteration
    events.run();
    expect(done).toEqual(['a', 'r']);
    expect(loads).toEqual([]);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 0, 48]);
    expect([...r.pages.subarray(0, 4)]).toEqual([p1, p2, p3, p4]);
    expect(evicted).toEqual([a.pages[3], a.pages[2], a.pages[1], a.pages[0]]);
    expect(r.admitted).toBe(a.done);
    expect(r.firstToken).toBeGreaterThan(a.done + sglang.d2h.latency);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });

  it('does not load a host hit shorter than the 10-token load-back threshold: it is recomputed', () => {
    // [1, 2] on the GPU, the prompt's last block (5 of its 37 tokens) on the CPU only under them.
    const { replica, events, loads, done, gpuChain, written } = batchedReplica(16);
    const cache = replica.cache;
    const [p1, p2] = gpuChain([1, 2], 0);
    written([p1!, p2!]);
    const [p3] = cpuOnlyPrompt(cache, [3], p2);
    const r = new SimRequest({ id: 'r', blocks: [1, 2, 3], blockSize: BLOCK, inputLength: 37, outputLength: 1 }, 0, undefined);
    replica.enqueue(r);
    events.run();
    expect(done).toEqual(['r']);
    expect(loads).toEqual([]);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 0, 5]);
    expect([...r.pages.subarray(0, 3)]).toEqual([p1, p2, p3]);
    cache.checkInvariants();
  });
});

describe('Replica on-demand load-backs with the GPU full of pages being written', () => {
  it('a load-back started in two parts keeps the time its first part started', () => {
    // Seven slots: [1, 2] (3 and 4 under it on the CPU only) and a's four pages, still being written when r is
    // admitted. The one free slot takes 3; 4 finds no room. When 3 has landed, 4 still finds none (no load
    // starts, and r's output page does not fit: it waits); once a's writes land, 4 is loaded and r runs.
    const events = new EventQueue();
    const done: string[] = [];
    const loads: { pages: number; start: number }[] = [];
    const batches: string[] = [];
    const replica = new Replica(
      0,
      events,
      { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
      replicaOptions(hardware, {
        setup: setupOf('lru', { cpuTier: true }),
        gpuSlots: 7,
        cpuSlots: 32,
        h2d: { ...hardware.h2d, observer: { issued: (bytes, start) => loads.push({ pages: bytes / model.pageBytes, start }), cancelled: () => {} } },
        cost: recordingCost(model, batches, () => true),
      }),
    );
    const cache = replica.cache;
    const p1 = cache.insertGpu(ROOT, 1, 0);
    const p2 = cache.insertGpu(p1, 2, 0);
    for (const page of [p1, p2]) {
      expect(cache.startWrite(page)).toBe(true);
      cache.finishWrite(page);
    }
    const [p3, p4] = cpuOnlyPrompt(cache, [3, 4], p2);
    const a = request('a', [20, 21, 22, 23]);
    const r = request('r', [1, 2, 3, 4, 5]);
    replica.enqueue(a);
    replica.enqueue(r); // waits for a's iteration
    events.run();
    expect(done).toEqual(['a', 'r']);
    expect(batches).toEqual(['P64@0', 'P16@64']);
    expect(loads.map((load) => load.pages)).toEqual([1, 1]);
    expect(loads[0]!.start).toBe(a.done);
    expect(loads[1]!.start).toBeGreaterThan(a.done);
    expect(r.loadStart).toBe(a.done); // the first part's start, not the second's
    expect(r.admitted).toBeGreaterThan(loads[1]!.start);
    expect([r.hitTokens, r.loadedTokens, r.recomputedTokens]).toEqual([32, 32, 16]);
    expect([...r.pages.subarray(0, 4)]).toEqual([p1, p2, p3, p4]);
    expect(cache.pinnedGpu).toBe(0);
    cache.checkInvariants();
  });
});

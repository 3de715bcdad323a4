/**
 * What a replica tells the router (its cached prefix in any tier) and the finer points of its scheduler
 * that the scenarios of test/sim/replica.test.ts leave open.
 */
import { describe, expect, it } from 'vitest';
import { replicaOptions } from '../helpers/sim.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica, type ReplicaOptions } from '../../src/sim/replica.js';
import type { Setup } from '../../src/sim/setups.js';
import { SimRequest } from '../../src/sim/sim-request.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
const cost = new CostModel(hardware);
const hicache: Setup = { name: 'hicache', policy: policyFactory('lru'), cpuTier: true, prefetch: false, statusAware: false };

function replicaOf(options: Partial<ReplicaOptions> = {}) {
  const events = new EventQueue();
  const done: string[] = [];
  const replica = new Replica(
    0,
    events,
    { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) },
    replicaOptions(hardware, { setup: hicache, gpuSlots: 8, cpuSlots: 16, tokenBudget: 8192, cost, ...options }),
  );
  return { replica, events, done };
}

let index = 0;
const request = (id: string, blocks: number[], output = 1) =>
  new SimRequest({ id, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: output }, index++, undefined);

describe('Replica.cachedPrefix', () => {
  it('counts the leading prompt pages held on the GPU and, after them, on the CPU', () => {
    const { replica, events } = replicaOf({ gpuSlots: 3 });
    replica.enqueue(request('a', [1, 2]));
    events.run();
    expect(replica.cachedPrefix([1, 2, 3])).toBe(2);
    expect(replica.cachedPrefix([2])).toBe(0);
    replica.enqueue(request('b', [5, 6])); // evicts a's pages from the GPU; their CPU copies stay
    events.run();
    expect(replica.cachedPrefix([1, 2, 3])).toBe(2);
    expect(replica.cachedPrefix([5, 1])).toBe(1);
  });

  it('answers for prompts longer than its scratch space', () => {
    const blocks = Array.from({ length: 600 }, (_, i) => i + 1);
    const { replica, events } = replicaOf({ gpuSlots: 700, cpuSlots: 700 });
    replica.enqueue(request('long', blocks));
    events.run();
    expect(replica.cachedPrefix([...blocks, 9999])).toBe(600);
  });
});

const seconds = (prefills: [newTokens: number, contextTokens: number][], decodes: number[] = []) =>
  cost.iterationSeconds({
    prefill: prefills.map(([newTokens, contextTokens]) => ({ newTokens, contextTokens })),
    decode: decodes.map((contextTokens) => ({ contextTokens })),
  });
const gpuOnly: Setup = { name: 'sglang', policy: policyFactory('lru'), cpuTier: false, prefetch: false, statusAware: false };

describe('Replica admission control', () => {
  /**
   * a (two pages, 17 output tokens: two output pages, one reserved so far) runs; it pins three slots and
   * will still need one. A newcomer needs its prompt pages less those a pins, plus its one output page.
   */
  function admittedAt(gpuSlots: number, blocks: number[]) {
    const { replica, events } = replicaOf({ setup: gpuOnly, gpuSlots });
    const a = request('a', [1, 2], 17);
    const b = request('b', blocks);
    replica.enqueue(a);
    replica.enqueue(b);
    events.run();
    return { a, b, firstIteration: seconds([[32, 0]]) };
  }

  it('admits a request that fits exactly beside what running requests pin and still need', () => {
    const { b, firstIteration } = admittedAt(6, [3]); // needs 2 of 6 - 3 - 1
    expect(b.admitted).toBe(firstIteration);
  });

  it('keeps a request one page short waiting until the running one completes', () => {
    const { a, b } = admittedAt(6, [3, 4]); // needs 3 of 2
    expect(b.admitted).toBe(a.done);
  });

  it('counts prompt pages another request pins as already there', () => {
    const { b, firstIteration } = admittedAt(6, [1, 2, 5]); // shares a's two pinned pages: needs 2
    expect(b.admitted).toBe(firstIteration);
    expect([b.hitTokens, b.recomputedTokens]).toEqual([32, 16]);
  });

  it('stops admitting when the token budget is spent', () => {
    const { replica, events } = replicaOf({ setup: gpuOnly, tokenBudget: 32 });
    const w = request('w', [9], 3);
    const a = request('a', [1, 2]);
    const b = request('b', [3]);
    replica.enqueue(w);
    replica.enqueue(a);
    replica.enqueue(b);
    events.run();
    const t1 = seconds([[16, 0]]);
    const t2 = seconds([[32, 0]], [17]); // w decodes, a's prompt takes the whole budget
    expect([a.admitted, b.admitted]).toEqual([t1, t1 + t2]);
    expect(b.firstToken).toBe(t1 + t2 + seconds([[16, 0]], [18]));
  });

  it('takes over pages another request prefills after admission as hits', () => {
    const { replica, events } = replicaOf({ setup: gpuOnly, tokenBudget: 48, gpuSlots: 16 });
    const a = request('a', [1, 2, 3, 4]);
    const b = request('b', [1, 2, 3, 4, 5]);
    replica.enqueue(a);
    replica.enqueue(b);
    events.run();
    // Iteration 2: a's last page (block 4) goes first; b matches a's first three pages, then takes over
    // the fourth, and computes only its own fifth.
    expect([b.hitTokens, b.recomputedTokens]).toEqual([64, 16]);
    const t1 = seconds([[48, 0]]);
    expect(b.firstToken).toBe(t1 + seconds([[16, 48], [16, 64]]));
  });
});

describe('Replica load-back decisions under SGLang v0.4 rules', () => {
  it('loads a host hit of at least load_back_threshold (10) tokens, and recomputes a shorter one', async () => {
    const { engineRules } = await import('../../src/sim/engine-rules.js');
    const rules = engineRules(hardware);
    for (const tokens of [10, 9]) {
      const { replica, events } = replicaOf({ gpuSlots: 2, rules });
      const partial = (id: string) =>
        new SimRequest({ id, blocks: [1], blockSize: BLOCK, inputLength: tokens, outputLength: 1 }, index++, undefined);
      for (const id of ['x', 'x-again']) {
        replica.enqueue(partial(id)); // the second use backs the page up (write_through_selective)
        events.run();
      }
      replica.enqueue(request('filler', [5])); // evicts the host-backed page from the GPU
      events.run();
      const x = partial('x-last');
      replica.enqueue(x);
      events.run();
      expect([x.loadedTokens, x.recomputedTokens]).toEqual(tokens === 10 ? [10, 0] : [0, 9]);
    }
  });
});

describe('Replica odds and ends', () => {
  it('drops a waiting request: gone from the queue, never run', () => {
    const { replica, events, done } = replicaOf({ setup: gpuOnly });
    const a = request('a', [1]);
    const b = request('b', [2]);
    replica.enqueue(a);
    replica.enqueue(b); // waits behind a's prefill
    expect(replica.abort(b)).toBe(true);
    expect([b.phase, replica.waitingCount, replica.load]).toEqual(['done', 0, 1]);
    events.run();
    expect(done).toEqual(['a']);
    expect(Number.isNaN(b.admitted)).toBe(true);
  });

  it("reports the eviction of an agent's fixed-prompt pages only, once each", () => {
    const events = new EventQueue();
    const prompts: string[] = [];
    const replica = new Replica(
      0,
      events,
      { onFirstToken: () => {}, onComplete: () => {}, onPromptEvent: (kind, agent) => prompts.push(`${kind} ${agent}`) },
      replicaOptions(hardware, { setup: gpuOnly, gpuSlots: 3, tokenBudget: 8192, cost }),
    );
    const serve = (r: SimRequest) => {
      replica.enqueue(r);
      events.run();
    };
    serve(new SimRequest({ id: 'x', agent: 'x', fixedBlocks: 1, blocks: [1, 2], blockSize: BLOCK, inputLength: 32, outputLength: 1 }, index++, 'x'));
    serve(request('anonymous', [7]));
    serve(request('filler', [5, 6])); // evicts x's dynamic page 2, then its fixed page 1 (oldest first), then 7
    expect(prompts).toEqual(['evicted x']);
  });

  it('under status-aware scheduling, counts a stall only while requests wait on a transfer', () => {
    const kvflow: Setup = { name: 'kvflow', policy: policyFactory('ste'), cpuTier: true, prefetch: true, statusAware: true };
    const { replica, events } = replicaOf({ setup: kvflow, gpuSlots: 5 });
    const agentRequest = (id: string, blocks: number[]) =>
      new SimRequest({ id, agent: 'x', fixedBlocks: 1, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 }, index++, 'x');
    replica.enqueue(agentRequest('x', [1]));
    events.run();
    replica.enqueue(request('filler', [5, 6, 7, 8])); // evicts x's page from the GPU
    events.run();
    replica.updateSte(new Map([['x', 3]])); // not due: nothing moves
    replica.updateSte(new Map([['x', 1]])); // due: its page loads while nothing waits
    events.run();
    expect(replica.stallSeconds).toBe(0);
    replica.enqueue(request('filler2', [9, 10, 11, 12])); // evicts it again
    events.run();
    replica.updateSte(new Map([['x', 3]]));
    replica.updateSte(new Map([['x', 1]]));
    const start = events.now;
    const x2 = agentRequest('x2', [1, 3]);
    replica.enqueue(x2); // only x2 waits, on the prefetch
    events.run();
    const idleLoad = hardware.h2d.latency + cost.pageBytes / hardware.h2d.bandwidth;
    expect(replica.stallSeconds).toBeCloseTo(idleLoad, 12);
    expect(x2.admitted).toBeCloseTo(start + idleLoad, 12);
  });

  it("under a 'cheaper' load decision, a batched engine recomputes a host hit that is dearer to load", async () => {
    const { engineRules } = await import('../../src/sim/engine-rules.js');
    const base = engineRules(hardware);
    const dear = Object.assign(Object.create(cost) as CostModel, { loadIsCheaper: () => false });
    for (const loadDecision of ['cheaper', 'threshold'] as const) {
      const rules = { ...base, profile: { ...base.profile, loadDecision } };
      const { replica, events } = replicaOf({ gpuSlots: 2, rules, cost: dear });
      for (const id of ['x', 'x-again', 'filler']) {
        replica.enqueue(request(id, id === 'filler' ? [5] : [1]));
        events.run();
      }
      const x = request('x-last', [1]);
      replica.enqueue(x);
      events.run();
      expect([loadDecision, x.loadedTokens, x.recomputedTokens]).toEqual(loadDecision === 'cheaper' ? ['cheaper', 0, 16] : ['threshold', 16, 0]);
    }
  });
});

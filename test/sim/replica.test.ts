/**
 * One engine replica driven directly: requests enqueued one at a time, the event queue run to the end,
 * then the cache's exact contents, the request's token accounting and the replica's counters checked.
 * Pools of a few pages make every eviction, load-back and preemption follow by hand.
 */
import { describe, expect, it } from 'vitest';
import { replicaOptions } from '../helpers/sim.js';
import { PageState, ROOT } from '../../src/cache/radix-cache.js';
import { StePolicy } from '../../src/cache/ste-policy.js';
import type { RequestAccess } from '../../src/cache/policy.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { engineRules } from '../../src/sim/engine-rules.js';
import { overlappedEnd } from '../../src/sim/load-path.js';
import { Replica, type ReplicaOptions } from '../../src/sim/replica.js';
import type { Setup } from '../../src/sim/setups.js';
import { SimRequest } from '../../src/sim/sim-request.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
const cost = new CostModel(hardware);

function setupOf(policy: string, parts: Partial<Omit<Setup, 'name' | 'policy'>> = {}): Setup {
  return { name: policy, policy: policyFactory(policy), cpuTier: false, prefetch: false, statusAware: false, ...parts };
}

interface Harness {
  replica: Replica;
  events: EventQueue;
  /** Request ids in completion order. */
  done: string[];
  /** Prompt events reported to the hooks, as "kind agent". */
  promptEvents: string[];
  /** Enqueues a request and runs the clock until nothing is left. */
  serve(request: SimRequest): void;
}

function harness(setup: Setup, options: Partial<ReplicaOptions> = {}): Harness {
  const events = new EventQueue();
  const done: string[] = [];
  const promptEvents: string[] = [];
  const replica = new Replica(
    0,
    events,
    {
      onFirstToken: () => {},
      onComplete: (request) => done.push(request.request.id),
      onPromptEvent: (kind, agent) => promptEvents.push(`${kind} ${agent}`),
    },
    replicaOptions(hardware, { setup, cpuSlots: 16, cost, ...options }),
  );
  return {
    replica,
    events,
    done,
    promptEvents,
    serve(request) {
      replica.enqueue(request);
      events.run();
    },
  };
}

let nextIndex = 0;
/** A request of whole blocks, the first `fixed` of them its agent's fixed prompt. */
function request(id: string, blocks: number[], agent?: string, options: { output?: number; fixed?: number } = {}): SimRequest {
  return new SimRequest(
    {
      id,
      blocks,
      blockSize: BLOCK,
      inputLength: blocks.length * BLOCK,
      outputLength: options.output ?? 1,
      ...(agent !== undefined && { agent, fixedBlocks: options.fixed ?? blocks.length }),
    },
    nextIndex++,
    agent,
  );
}

/** The blocks of the pages in `state` (GPU by default), sorted. */
function blocksIn(replica: Replica, state: number = PageState.gpu): number[] {
  const cache = replica.cache;
  return [...cache.pageIds()]
    .filter((page) => (cache.stateOf(page) & state) !== 0)
    .map((page) => cache.blockOf(page))
    .sort((a, b) => a - b);
}

describe('Replica.updateSte forwards every change to the policy and the prefetcher', () => {
  /**
   * Four GPU slots, STE eviction, no CPU tier: x (block 1), then y (block 2), then z (block 3, plus its
   * output page) leaves room for only one of the two cached pages. Pages without an STE go first; between
   * equals the older one (x's).
   */
  const cycle = (h: Harness) => {
    h.serve(request('x', [1], 'x'));
    h.serve(request('y', [2], 'y'));
    h.serve(request('filler', [3, 4], undefined));
    return blocksIn(h.replica);
  };

  it('an STE published before the agent ever reached this replica still orders its pages', () => {
    const h = harness(setupOf('ste'));
    h.replica.updateSte(new Map([['x', 1]])); // nothing of x is here yet
    expect((h.replica.policy as StePolicy).steOfPage(0)).toBeUndefined();
    // x's page is due in 1 step; y's has no STE and goes.
    expect(cycle(h)).toEqual([1, 3, 4]);
    expect(h.done).toEqual(['x', 'y', 'filler']);
  });

  it('an agent whose STE becomes unknown loses its protection', () => {
    const h = harness(setupOf('ste'));
    h.replica.updateSte(new Map([['x', 1]]));
    h.replica.updateSte(new Map([['x', undefined]]));
    // Both pages unknown: LRU, x's is older.
    expect(cycle(h)).toEqual([2, 3, 4]);
  });

  it('without an update, the same run is LRU', () => {
    expect(cycle(harness(setupOf('ste')))).toEqual([2, 3, 4]);
  });
});

describe('Replica.updateSte re-plans the prefetcher', () => {
  const kvflow = () => harness(setupOf('ste', { cpuTier: true, prefetch: true, statusAware: true }));
  /** x's one-page prompt runs and is backed up to the CPU, then a four-page request evicts it from the GPU. */
  const xOnCpuOnly = (h: Harness) => {
    h.serve(request('x', [1], 'x'));
    h.serve(request('filler', [5, 6, 7], undefined));
    expect(blocksIn(h.replica)).toEqual([5, 6, 7]);
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([1, 5, 6, 7]);
  };

  it('an agent due before its prompt was seen is loaded at the next change', () => {
    const h = kvflow();
    h.replica.updateSte(new Map([['x', 1]]));
    xOnCpuOnly(h);
    h.replica.updateSte(new Map([['w', 5]])); // any change re-plans the agents still waiting for their prompt
    h.events.run();
    expect(h.replica.prefetcher!.stats).toEqual({ prefetchedPages: 1, wastedPages: 0, cancelled: 0 });
    expect(blocksIn(h.replica)).toEqual([1, 5, 6, 7]); // the filler's output page was freed: room without displacing
    expect(h.promptEvents).toEqual(['evicted x', 'prefetched x']);
  });

  it('an agent that became unknown before its prompt was seen is not loaded', () => {
    const h = kvflow();
    h.replica.updateSte(new Map([['x', 1]]));
    h.replica.updateSte(new Map([['x', undefined]]));
    xOnCpuOnly(h);
    h.replica.updateSte(new Map([['w', 5]]));
    h.events.run();
    expect(h.replica.prefetcher!.stats).toEqual({ prefetchedPages: 0, wastedPages: 0, cancelled: 0 });
    expect(blocksIn(h.replica)).toEqual([5, 6, 7]);
  });

  it('an agent due once its prompt is only on the CPU is loaded at once', () => {
    const h = kvflow();
    xOnCpuOnly(h);
    h.replica.updateSte(new Map([['x', 1]]));
    h.events.run();
    expect(h.replica.prefetcher!.stats.prefetchedPages).toBe(1);
    expect(blocksIn(h.replica)).toEqual([1, 5, 6, 7]); // the filler's output page was freed: room without displacing
  });
});

const prefill = (newTokens: number, contextTokens: number) => ({ newTokens, contextTokens });
const seconds = (prefills: { newTokens: number; contextTokens: number }[], decodes: number[] = []) =>
  cost.iterationSeconds({ prefill: prefills, decode: decodes.map((contextTokens) => ({ contextTokens })) });

describe('Replica scheduling without engine rules (the ideal engine)', () => {
  it('prefills a prompt in one iteration, then makes one token per iteration', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    const a = request('a', [1, 2, 3], undefined, { output: 3 });
    h.serve(a);
    const t1 = seconds([prefill(48, 0)]);
    const t2 = seconds([], [49]);
    const t3 = seconds([], [50]);
    expect([a.admitted, a.firstToken, a.done]).toEqual([0, t1, t1 + t2 + t3]);
    expect([a.phase, a.generated, a.hitTokens, a.loadedTokens, a.recomputedTokens]).toEqual(['done', 3, 0, 0, 48]);
    expect([h.replica.iterations, h.replica.preemptions, h.replica.stallSeconds]).toEqual([3, 0, 0]);
    expect(blocksIn(h.replica)).toEqual([1, 2, 3]);
    expect([h.replica.cache.gpuReserved, h.replica.cache.pinnedGpu]).toEqual([0, 0]);
    expect([h.replica.load, h.replica.waitingCount, h.replica.runningCount, h.replica.idle]).toEqual([0, 0, 0, true]);
  });

  it('a fully cached prompt still computes its last token', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    h.serve(request('a', [1, 2, 3]));
    const start = h.events.now;
    const b = request('b', [1, 2, 3]);
    h.serve(b);
    expect([b.admitted, b.firstToken, b.done]).toEqual([start, start + seconds([prefill(1, 48)]), start + seconds([prefill(1, 48)])]);
    expect([b.hitTokens, b.loadedTokens, b.recomputedTokens]).toEqual([48, 0, 0]);
    expect(h.replica.cache.accessCount(h.replica.cache.childOf(ROOT, 1))).toBe(2);
  });

  it('a prompt sharing a prefix hits it and computes the rest', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    h.serve(request('a', [1, 2]));
    const start = h.events.now;
    const b = request('b', [1, 2, 7]);
    h.serve(b);
    expect(b.firstToken).toBe(start + seconds([prefill(16, 32)]));
    expect([b.hitTokens, b.recomputedTokens]).toEqual([32, 16]);
    expect(blocksIn(h.replica)).toEqual([1, 2, 7]);
  });

  it('chunks a prompt longer than the token budget', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8, tokenBudget: 32 });
    const a = request('a', [1, 2, 3, 4]);
    h.serve(a);
    expect(a.firstToken).toBe(seconds([prefill(32, 0)]) + seconds([prefill(32, 32)]));
    expect(h.replica.iterations).toBe(2);
    expect(a.recomputedTokens).toBe(64);
  });

  it('a last partial block counts only its tokens', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    const a = new SimRequest({ id: 'a', blocks: [1, 2], blockSize: BLOCK, inputLength: 20, outputLength: 1 }, nextIndex++, undefined);
    h.serve(a);
    expect(a.firstToken).toBe(seconds([prefill(20, 0)]));
    const b = new SimRequest({ id: 'b', blocks: [1, 2], blockSize: BLOCK, inputLength: 20, outputLength: 1 }, nextIndex++, undefined);
    h.serve(b);
    expect([b.hitTokens, b.recomputedTokens]).toEqual([20, 0]);
  });

  it('batches a decode with the prefill of a request that arrived meanwhile', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8 });
    const a = request('a', [1, 2, 3], undefined, { output: 3 });
    const b = request('b', [4, 5]);
    h.replica.enqueue(a);
    h.replica.enqueue(b); // the engine is busy with a's prefill
    expect([h.replica.load, h.replica.waitingCount, h.replica.runningCount, h.replica.idle]).toEqual([2, 1, 1, false]);
    h.events.run();
    const t1 = seconds([prefill(48, 0)]);
    const t2 = seconds([prefill(32, 0)], [49]);
    expect([b.admitted, b.firstToken, b.done]).toEqual([t1, t1 + t2, t1 + t2]);
    expect(a.done).toBe(t1 + t2 + seconds([], [50]));
    expect(h.done).toEqual(['b', 'a']);
  });

  it('admits at most maxRunning requests', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8, maxRunning: 1 });
    const a = request('a', [1], undefined, { output: 2 });
    const b = request('b', [2]);
    h.replica.enqueue(a);
    h.replica.enqueue(b);
    h.events.run();
    expect(b.admitted).toBe(a.done);
    expect(h.done).toEqual(['a', 'b']);
  });

  it('admits the longest cached prefix first under lpm, in arrival order under fcfs', () => {
    for (const schedule of ['lpm', 'fcfs'] as const) {
      const h = harness(setupOf('lru'), { gpuSlots: 12, schedule, maxRunning: 2 });
      h.serve(request('warm', [1, 2]));
      const busy = request('busy', [9], undefined, { output: 3 });
      const c = request('c', [5]);
      const d = request('d', [1, 2, 3]);
      const e = request('e', [1, 6]);
      h.replica.enqueue(busy);
      for (const r of [c, d, e]) h.replica.enqueue(r);
      h.events.run();
      const order = [c, d, e].sort((x, y) => x.admitted - y.admitted).map((r) => r.request.id);
      expect(order).toEqual(schedule === 'lpm' ? ['d', 'e', 'c'] : ['c', 'd', 'e']);
    }
  });

  it('a lone request larger than the pool is an error, not a hang', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 2 });
    expect(() => h.serve(request('big', [1, 2, 3]))).toThrow(
      'the workload cannot fit: request big needs more than the 2 GPU pages (32 tokens) of the KV pool ' +
        '(a GPU with more memory, more GPUs, or a higher --memory-fraction gives a larger pool)',
    );
  });
});

describe('Replica with a CPU tier (no engine rules)', () => {
  const idleLoad = hardware.h2d.latency + cost.pageBytes / hardware.h2d.bandwidth;

  /** x's one-page prompt is backed up, then a two-page request in a three-page pool evicts it from the GPU. */
  const xOnCpuOnly = (h: Harness) => {
    h.serve(request('x', [1], 'x'));
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([1]);
    h.serve(request('filler', [5, 6]));
    expect(blocksIn(h.replica)).toEqual([5, 6]);
    expect(h.promptEvents).toEqual(['evicted x']);
  };

  it('writes a prompt through to the CPU and loads it back on demand, holding the engine meanwhile', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3 });
    xOnCpuOnly(h);
    const start = h.events.now;
    const x2 = request('x2', [1, 2]);
    h.replica.enqueue(x2);
    expect([h.replica.waitingCount, h.replica.runningCount, h.replica.idle, h.replica.h2d.pending]).toEqual([1, 0, false, 1]);
    expect(h.replica.abort(x2)).toBe(false); // its own load is in flight
    h.events.run();
    expect(x2.loadStart).toBe(start);
    expect(x2.admitted).toBeCloseTo(start + idleLoad, 12);
    expect(x2.firstToken).toBeCloseTo(start + idleLoad + seconds([prefill(16, 16)]), 12);
    expect([x2.hitTokens, x2.loadedTokens, x2.recomputedTokens]).toEqual([0, 16, 16]);
    expect(h.replica.stallSeconds).toBeCloseTo(idleLoad, 12);
    expect(h.replica.h2d.bytes).toBe(cost.pageBytes);
    expect(blocksIn(h.replica)).toEqual([1, 2]); // with its output page, x2 needed all three
  });

  it('a request that found no GPU room because its pages were being written goes on when the write lands', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3 });
    const a = request('a', [1, 2]);
    const b = request('b', [3, 4]);
    h.replica.enqueue(a);
    h.replica.enqueue(b); // admitted when a finishes, but a's two pages are still being written
    h.events.run();
    expect(h.done).toEqual(['a', 'b']);
    const written = a.done + hardware.d2h.latency + (2 * cost.pageBytes) / hardware.d2h.bandwidth;
    expect(b.admitted).toBe(a.done);
    expect(b.firstToken).toBeCloseTo(written + seconds([prefill(32, 0)]), 12);
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([1, 2, 3, 4]);
  });

  it('recomputes instead when loading is dearer than recomputing', () => {
    const dear = Object.assign(Object.create(cost) as CostModel, { loadIsCheaper: () => false });
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3, cost: dear });
    xOnCpuOnly(h);
    const x2 = request('x2', [1, 2]);
    h.serve(x2);
    expect([x2.hitTokens, x2.loadedTokens, x2.recomputedTokens, h.replica.h2d.bytes, h.replica.stallSeconds]).toEqual([0, 0, 32, 0, 0]);
    expect(Number.isNaN(x2.loadStart)).toBe(true);
  });
});

describe('Replica under SGLang v0.4 engine rules', () => {
  const rules = engineRules(hardware);
  /** An iteration's engine time under the rules: its forward pass and fixed overhead, plus write debt. */
  const ruled = (prefills: { newTokens: number; contextTokens: number }[], decodes: number[] = []) => {
    const batch = { prefill: prefills, decode: decodes.map((contextTokens) => ({ contextTokens })) };
    return { forward: cost.forwardSeconds(batch), fixed: cost.overheadSeconds(batch) };
  };
  const total = ({ forward, fixed }: { forward: number; fixed: number }) => forward + fixed;

  it('does not mix: a waiting prefill runs alone, decodes wait for it', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8, rules });
    const a = request('a', [1, 2, 3], undefined, { output: 3 });
    const b = request('b', [4, 5]);
    h.replica.enqueue(a);
    h.replica.enqueue(b);
    h.events.run();
    const t1 = total(ruled([prefill(48, 0)]));
    const t2 = total(ruled([prefill(32, 0)]));
    expect(a.firstToken).toBe(t1);
    expect(b.firstToken).toBe(t1 + t2);
    expect(a.done).toBeCloseTo(t1 + t2 + total(ruled([], [49])) + total(ruled([], [50])), 12);
    expect(h.replica.iterations).toBe(4);
  });

  it('mixes when the run asks for it', () => {
    const h = harness(setupOf('lru'), { gpuSlots: 8, rules: { ...rules, mixed: true } });
    const a = request('a', [1, 2, 3], undefined, { output: 3 });
    const b = request('b', [4, 5]);
    h.replica.enqueue(a);
    h.replica.enqueue(b);
    h.events.run();
    expect(h.replica.iterations).toBe(3);
    expect(b.firstToken).toBe(total(ruled([prefill(48, 0)])) + total(ruled([prefill(32, 0)], [49])));
  });

  it('evicts whole radix nodes: the victim and the pages its insertion put above it', () => {
    for (const evictGranularity of ['node', 'page'] as const) {
      const h = harness(setupOf('lru'), { gpuSlots: 5, rules: { ...rules, evictGranularity } });
      h.serve(request('a', [1, 2, 3])); // one insertion
      h.serve(request('b', [9]));
      h.serve(request('c', [7, 8])); // needs two of the three free-able slots
      expect(blocksIn(h.replica)).toEqual(evictGranularity === 'node' ? [7, 8, 9] : [1, 7, 8, 9]);
    }
  });

  it('under write_back, backs an evicted page up first and charges the engine for it', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3, rules: { ...rules, writePolicy: 'write_back', evictGranularity: 'page' } });
    h.serve(request('x', [1]));
    h.serve(request('x-again', [1]));
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([]); // no write-through under write_back
    const start = h.events.now;
    const filler = request('filler', [5, 6]);
    h.serve(filler);
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([1]);
    const bytes = cost.pageBytes;
    const writeBack = hardware.d2h.latency + bytes / hardware.d2h.bandwidth + rules.writeSeconds(bytes);
    expect(filler.firstToken).toBeCloseTo(start + total(ruled([prefill(32, 0)])) + writeBack, 12);
  });

  it('backs a prompt up on its first reuse, charges the write to the next iteration, and loads it back with the batch', () => {
    const h = harness(setupOf('lru', { cpuTier: true }), { gpuSlots: 3, rules });
    h.serve(request('x', [1], 'x'));
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([]); // selective: not on first use
    h.serve(request('x-again', [1], 'x'));
    expect(blocksIn(h.replica, PageState.cpu)).toEqual([1]);
    const debt = rules.writeSeconds(cost.pageBytes);
    const fillerStart = h.events.now;
    const filler = request('filler', [5, 6]);
    h.serve(filler);
    expect(filler.firstToken).toBeCloseTo(fillerStart + total(ruled([prefill(32, 0)])) + debt, 12);
    expect(blocksIn(h.replica)).toEqual([5, 6]);
    const start = h.events.now;
    const x2 = request('x2', [1, 2]);
    h.serve(x2);
    // Admitted at once with its host hit; the merged load overlaps the forward pass layer by layer.
    const { forward, fixed } = ruled([prefill(16, 16)]);
    const end = overlappedEnd(start, forward, rules.layers, start, rules.h2d!.layerSeconds(cost.pageBytes)) + fixed;
    expect([x2.admitted, x2.firstToken]).toEqual([start, end]);
    expect([x2.hitTokens, x2.loadedTokens, x2.recomputedTokens, h.replica.stallSeconds]).toEqual([0, 16, 16, 0]);
    expect(blocksIn(h.replica)).toEqual([1, 2]);
  });
});

describe('Replica tells its policy what requests do', () => {
  /** LRU plus recorders of every hook a policy may have. */
  function recordingPolicy(log: string[]) {
    return Object.assign(policyFactory('lru')({ gpuSlots: 8 }), {
      beforeRequest: (r: { id: string }, tick: number) => log.push(`before ${r.id} ${tick}`),
      afterRequest: (a: RequestAccess) =>
        log.push(
          `after ${(a.request as unknown as { id: string }).id} ${a.tick} [${Array.from(a.blocks).join(',')}] matched ${a.matched} held ${a.held} ` +
            `in ${a.inputLength} out ${a.outputLength} block ${a.blockSize} path ${Array.from(a.pages).slice(0, a.held).join(',')}`,
        ),
      notePrompt: (_p: unknown, agent: string | undefined, pages: ArrayLike<number>, from: number, to: number) =>
        log.push(`prompt ${agent} [${Array.from(pages).slice(from, to).join(',')}] ${from}..${to}`),
    });
  }

  it('each arrival, each new prompt page once per admission, and each completion, in order', () => {
    const log: string[] = [];
    const h = harness(setupOf('lru'), { gpuSlots: 8, tokenBudget: 16, policy: recordingPolicy(log) });
    h.serve(request('a', [1, 2, 3], 'x', { output: 2, fixed: 2 }));
    h.serve(request('b', [1, 2, 4], 'x', { fixed: 2 }));
    const page = (block: number, parent = ROOT) => h.replica.cache.childOf(parent, block);
    const [p1, p2] = [page(1), page(2, page(1))];
    const p3 = page(3, p2);
    const p4 = page(4, p2);
    expect(log).toEqual([
      'before a 0',
      `prompt x [${p1}] 0..1`, // one block per 16-token chunk
      `prompt x [${p2}] 1..2`,
      `prompt x [${p3}] 2..3`,
      `after a 1 [1,2,3] matched 0 held 3 in 48 out 2 block 16 path ${p1},${p2},${p3}`,
      'before b 1',
      `prompt x [${p1},${p2}] 0..2`, // the cached prefix, at admission
      `prompt x [${p4}] 2..3`,
      `after b 2 [1,2,4] matched 2 held 3 in 48 out 1 block 16 path ${p1},${p2},${p4}`,
    ]);
  });

  it("passes Belady's next use of each position to the cache", () => {
    const h = harness(setupOf('belady'), {
      gpuSlots: 8,
      nextUse: { offsets: Uint32Array.from([0, 0, 0, 2]), nextUse: Float64Array.from([7, 9]) },
    });
    // Request index 2: its positions start at offsets[2] = 0.
    const b = new SimRequest({ id: 'b', blocks: [1, 2], blockSize: BLOCK, inputLength: 32, outputLength: 1 }, 2, undefined);
    h.serve(b);
    const p1 = h.replica.cache.childOf(ROOT, 1);
    expect([h.replica.cache.nextUse(p1), h.replica.cache.nextUse(h.replica.cache.childOf(p1, 2))]).toEqual([7, 9]);
  });
});

describe('Replica and a prefetch in flight', () => {
  const idleLoad = hardware.h2d.latency + cost.pageBytes / hardware.h2d.bandwidth;

  function prefetching(statusAware: boolean) {
    const h = harness(setupOf('ste', { cpuTier: true, prefetch: true, statusAware }), { gpuSlots: 5 });
    h.serve(request('x', [1], 'x'));
    h.serve(request('filler', [5, 6, 7, 8]));
    expect(blocksIn(h.replica)).toEqual([5, 6, 7, 8]);
    const start = h.events.now;
    h.replica.updateSte(new Map([['x', 1]])); // x's prompt starts loading
    const x2 = request('x2', [1, 2], 'x', { fixed: 1 });
    const y = request('y', [9]);
    h.replica.enqueue(x2);
    h.replica.enqueue(y);
    h.events.run();
    return { h, x2, y, start };
  }

  it('without status-aware scheduling the engine waits for it', () => {
    const { h, x2, y, start } = prefetching(false);
    expect(x2.admitted).toBeCloseTo(start + idleLoad, 12);
    expect(y.admitted).toBe(x2.admitted);
    expect(h.replica.stallSeconds).toBeCloseTo(idleLoad, 12);
    expect([x2.hitTokens, x2.loadedTokens, x2.recomputedTokens]).toEqual([16, 0, 16]);
    expect(h.promptEvents).toEqual(['evicted x', 'prefetched x']);
  });

  it('with status-aware scheduling ready requests run meanwhile', () => {
    const { h, x2, y, start } = prefetching(true);
    expect(y.admitted).toBe(start);
    expect(x2.admitted).toBeCloseTo(start + Math.max(idleLoad, seconds([prefill(16, 0)])), 12);
    expect(h.replica.stallSeconds).toBe(0);
    expect([x2.hitTokens, x2.loadedTokens]).toEqual([16, 0]);
    expect(h.replica.prefetcher!.stats).toEqual({ prefetchedPages: 1, wastedPages: 0, cancelled: 0 });
  });
});

describe('Replica prompt events for followed agents only', () => {
  /** x's fixed prompt (block 1) is y's too; a filler then needs all four GPU slots. */
  function evictions(followsPrompt?: (agent: string) => boolean): string[] {
    const events = new EventQueue();
    const seen: string[] = [];
    const replica = new Replica(
      0,
      events,
      {
        onFirstToken: () => {},
        onComplete: () => {},
        onPromptEvent: (kind, agent) => seen.push(`${kind} ${agent}`),
        ...(followsPrompt && { followsPrompt }),
      },
      replicaOptions(hardware, { setup: setupOf('lru'), cost }),
    );
    for (const next of [request('x', [1, 2], 'x', { fixed: 1 }), request('y', [1, 3], 'y', { fixed: 1 }), request('filler', [5, 6, 7])]) {
      replica.enqueue(next);
      events.run();
    }
    expect(blocksIn(replica)).toEqual([5, 6, 7]);
    return seen;
  }

  it('reports the last owner of an evicted prompt page; one nobody follows took it over from x, so nothing', () => {
    expect(evictions()).toEqual(['evicted y']);
    expect(evictions((agent) => agent === 'y')).toEqual(['evicted y']);
    expect(evictions((agent) => agent === 'x')).toEqual([]);
  });
});

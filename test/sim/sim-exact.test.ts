/**
 * Exact small simulations: a few one-page prompts, requests run one after another (or two at once, so
 * their pages share an access time), pools of a few pages. Each setup's victims and its hit, loaded and
 * prefetched tokens follow from DESIGN.md section 4 by hand; the comments say how.
 */
import { describe, expect, it, vi } from 'vitest';
import { setupByName, type SetupName } from '../../src/sim/setups.js';
import { runSimulation } from '../../src/sim/simulation.js';
import type { SteSource, TraceRequest } from '../../src/types.js';
import { engineOf, hardwareOf } from '../helpers/sim.js';
import { probe, resetProbe } from '../helpers/sim-probe.js';

vi.mock('../../src/sim/replica.js', async (importOriginal) => {
  const { withProbe } = await import('../helpers/sim-probe.js');
  return withProbe(await importOriginal());
});

const BLOCK = 16;
const hardware = hardwareOf({ gpu: 'A10G', model: 'Llama-3.1-8B', blockSize: BLOCK });

/**
 * A one-page prompt (block `block`, 16 tokens) with a one-token output, 0.1 s after the requests named:
 * time for their write-through to land, since a page being written cannot be evicted.
 */
function request(id: string, block: number | number[], agent: string, after: string[] = []): TraceRequest {
  const blocks = typeof block === 'number' ? [block] : block;
  return { id, workflow: 'w', agent, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1, fixedBlocks: 1, after, think: 0.1 };
}

/**
 * A declared step graph reduced to a table: when `agent` starts, every agent's STE becomes `table[agent]`.
 * Agents absent from the entry have unknown STE.
 */
class TableSte implements SteSource {
  version = 0;
  #now = new Map<string, number>();
  constructor(readonly table: Record<string, Record<string, number>>) {}
  begin(_instance: string, agent: string): void {
    this.#now = new Map(Object.entries(this.table[agent] ?? {}));
    this.version++;
  }
  end(): void {}
  finish(): void {}
  snapshot(): ReadonlyMap<string, number> {
    return this.#now;
  }
}

interface Outcome {
  hitTokens: number;
  loadedTokens: number;
  prefetchedTokens: number;
  /** Blocks on the GPU at the end, sorted. */
  gpuBlocks: number[];
}

function run(setup: SetupName, requests: TraceRequest[], pools: { gpuSlots: number; cpuSlots: number }, ste?: SteSource): Outcome {
  resetProbe({ checkEveryCompletion: true });
  const { result } = runSimulation(requests, {
    setup: setupByName(setup),
    engine: engineOf(hardware, pools, { loadAhead: 1 }),
    replicas: 1,
    router: 'round-robin',
    timeScale: 1,
    ...(ste && { ste }),
  });
  const cache = probe.replicas[0]!.cache;
  const gpuBlocks = [...cache.pageIds()].filter((page) => cache.stateOf(page) & 1).map((page) => cache.blockOf(page));
  const input = requests.length * BLOCK;
  return {
    hitTokens: Math.round(result.gpuHitRate * input),
    loadedTokens: result.loadedTokens,
    prefetchedTokens: result.prefetchedTokens,
    gpuBlocks: gpuBlocks.sort((a, b) => a - b),
  };
}

describe('exact small simulations', () => {
  /**
   * z (block 9, three output tokens) starts alone at t = 0; a (block 1) and b (block 2) arrive while it
   * runs and are prefilled in the next batch, so their pages share one last access. c (blocks 3-6) then
   * needs two slots: z's page goes first (oldest), then one of a's and b's. The candidate heap's last
   * tie-break is the page id: a's page (inserted first) goes. d asks for a's block again.
   */
  const tie = [
    { ...request('z', 9, 'w'), outputLength: 3 },
    { ...request('a', 1, 'x'), t: 0.001 },
    { ...request('b', 2, 'y'), t: 0.001 },
    request('c', [3, 4, 5, 6], 'v', ['z', 'a', 'b']),
    request('d', 1, 'x', ['c']),
  ];

  it('equal access times: the older page id is the victim (sglang recomputes it, hicache loads it back)', () => {
    expect(run('sglang', tie, { gpuSlots: 6, cpuSlots: 0 })).toEqual({ hitTokens: 0, loadedTokens: 0, prefetchedTokens: 0, gpuBlocks: [1, 3, 4, 5, 6] });
    expect(run('hicache', tie, { gpuSlots: 6, cpuSlots: 16 })).toEqual({ hitTokens: 0, loadedTokens: BLOCK, prefetchedTokens: 0, gpuBlocks: [1, 3, 4, 5, 6] });
  });

  /**
   * A planner -> coder -> tester cycle, one page each: while the tester runs, the planner runs next (STE 1)
   * and the coder last (STE 2). The tester's page needs a slot: LRU takes the planner's (the oldest),
   * STE eviction the coder's (largest STE), so only STE eviction keeps the planner's next prompt on the GPU.
   */
  const cycle = [
    request('p1', 10, 'planner'),
    request('c1', 20, 'coder', ['p1']),
    request('t1', 30, 'tester', ['c1']),
    request('p2', 10, 'planner', ['t1']),
  ];
  const graph = () =>
    new TableSte({
      planner: { planner: 0, coder: 1, tester: 2 },
      coder: { coder: 0, tester: 1, planner: 2 },
      tester: { tester: 0, planner: 1, coder: 2 },
    });
  const pools = { gpuSlots: 3, cpuSlots: 8 };

  it.each([
    ['sglang', { hitTokens: 0, loadedTokens: 0, prefetchedTokens: 0, gpuBlocks: [10, 30] }],
    ['hicache', { hitTokens: 0, loadedTokens: BLOCK, prefetchedTokens: 0, gpuBlocks: [10, 30] }],
    ['kvflow-evict', { hitTokens: BLOCK, loadedTokens: 0, prefetchedTokens: 0, gpuBlocks: [10, 30] }],
  ] as const)('a cycle of three agents in a two-prompt pool: %s', (setup, expected) => {
    expect(run(setup, cycle, setup === 'sglang' ? { gpuSlots: 3, cpuSlots: 0 } : pools, graph())).toEqual(expected);
  });

  it('kvflow prefetches the coder, due next, back while the planner runs', () => {
    // As kvflow-evict, and when p2 starts the coder becomes STE 1 (within load-ahead 1): its CPU-only page
    // is loaded back, displacing the tester's (STE 2).
    expect(run('kvflow', cycle, pools, graph())).toEqual({ hitTokens: BLOCK, loadedTokens: 0, prefetchedTokens: BLOCK, gpuBlocks: [10, 20] });
  });

  it('without a graph STE eviction is LRU, and kvflow has nothing to prefetch', () => {
    expect(run('kvflow-evict', cycle, pools)).toEqual(run('hicache', cycle, pools));
    expect(run('kvflow', cycle, pools)).toMatchObject({ hitTokens: 0, prefetchedTokens: 0 });
  });
});

/**
 * SGLang's node-granular eviction in one replica (src/sim/gpu-evictor.ts, driven by Replica admission):
 * a node is the run of pages one prefill chunk inserted, split where a later request's match ends and it
 * goes on differently. Evicting a node's leaf takes the node's other pages up to the split with it.
 */
import { describe, expect, it } from 'vitest';
import { replicaOptions } from '../helpers/sim.js';
import { PageState } from '../../src/cache/radix-cache.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { engineRules } from '../../src/sim/engine-rules.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica } from '../../src/sim/replica.js';
import { SimRequest } from '../../src/sim/sim-request.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });

/** Six GPU slots, LRU, no CPU tier, SGLang v0.4 rules with node or page eviction. */
function replicaOf(evictGranularity: 'node' | 'page') {
  const events = new EventQueue();
  const replica = new Replica(
    0,
    events,
    { onFirstToken: () => {}, onComplete: () => {} },
    replicaOptions(hardware, {
      setup: { name: 'sglang', policy: policyFactory('lru'), cpuTier: false, prefetch: false, statusAware: false },
      gpuSlots: 6,
      rules: { ...engineRules(hardware), evictGranularity },
    }),
  );
  let index = 0;
  return {
    replica,
    /** Runs a one-token request of whole blocks to completion. */
    serve(blocks: number[]) {
      replica.enqueue(new SimRequest({ id: `r${index}`, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 }, index++, undefined));
      events.run();
    },
    /** Blocks of the pages on the GPU, sorted. */
    gpuBlocks() {
      const cache = replica.cache;
      return [...cache.pageIds()]
        .filter((page) => (cache.stateOf(page) & PageState.gpu) !== 0)
        .map((page) => cache.blockOf(page))
        .sort((a, b) => a - b);
    },
  };
}

describe('Replica node eviction and node splits', () => {
  it("splits a node where a request's match ends and it goes on: the matched pages outlive the rest of the node", () => {
    for (const granularity of ['node', 'page'] as const) {
      const r = replicaOf(granularity);
      r.serve([1, 2, 3]); // one node
      r.serve([1, 2, 9]); // matches [1, 2] and goes on: the node splits into [1, 2] and [3]
      r.serve([1, 2, 3]); // a whole-prompt hit: 9 is now the least recently used page
      expect(r.gpuBlocks()).toEqual([1, 2, 3, 9]);
      // Three pages and an output page: two free slots, then 9 goes, then 3 (its node ends at the split).
      r.serve([20, 21, 22]);
      expect(r.gpuBlocks()).toEqual([1, 2, 20, 21, 22]);
    }
  });

  it('does not split a node when a request matches its whole prompt: the node is evicted whole', () => {
    const node = replicaOf('node');
    node.serve([1, 2, 3, 4]); // one node
    node.serve([1, 2]); // a whole-prompt hit ends inside the node but does not go on: no split
    // The output page and block 20 take the two free slots; block 21 evicts the leaf 4, and with it 3, 2
    // and 1, its node (pages 1 and 2 were used more recently, but they belong to the same node).
    node.serve([20, 21, 22]);
    expect(node.gpuBlocks()).toEqual([20, 21, 22]);
    const page = replicaOf('page');
    page.serve([1, 2, 3, 4]);
    page.serve([1, 2]);
    page.serve([20, 21, 22]);
    expect(page.gpuBlocks()).toEqual([1, 2, 20, 21, 22]);
  });
});

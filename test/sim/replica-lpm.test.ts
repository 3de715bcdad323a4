/**
 * SGLang's longest-prefix-match admission order in one replica, for prompts longer than the replica's
 * reused match buffer (256 pages): the order must come from the whole match, not the first 256 pages.
 */
import { describe, expect, it } from 'vitest';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica } from '../../src/sim/replica.js';
import { SimRequest } from '../../src/sim/sim-request.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('Replica lpm admission with long prompts', () => {
  it('admits the request with the longer cached prefix first when both matches pass 256 pages', () => {
    const events = new EventQueue();
    const done: string[] = [];
    const replica = new Replica(0, events, { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) }, {
      setup: { name: 'sglang', policy: policyFactory('lru'), cpuTier: false, prefetch: false, statusAware: false },
      gpuSlots: 400,
      cpuSlots: 0,
      blockSize: BLOCK,
      tokenBudget: 8192,
      maxRunning: 1, // one at a time, so the admission order is the completion order
      schedule: 'lpm',
      h2d: hardware.h2d,
      d2h: hardware.d2h,
      loadAhead: 1,
      cost: new CostModel(hardware),
    });
    let index = 0;
    const request = (id: string, blocks: number[]) =>
      new SimRequest({ id, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 }, index++, undefined);
    replica.enqueue(request('warm', range(0, 300)));
    events.run();
    replica.enqueue(request('running', [5000])); // runs; the next two wait behind it
    const shorter = request('shorter', [...range(0, 257), 1000]); // 257 cached pages
    const longer = request('longer', [...range(0, 300), 2000]); // 300 cached pages, arrived later
    replica.enqueue(shorter);
    replica.enqueue(longer);
    events.run();
    expect(done).toEqual(['warm', 'running', 'longer', 'shorter']);
    expect([longer.hitTokens, shorter.hitTokens]).toEqual([300 * BLOCK, 257 * BLOCK]);
  });
});

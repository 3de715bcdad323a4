/**
 * What a replica tells the router (its cached prefix in any tier) and the finer points of its scheduler
 * that the scenarios of test/replica.test.ts leave open.
 */
import { describe, expect, it } from 'vitest';
import { policyFactory } from '../src/cache/policy-registry.js';
import { CostModel } from '../src/sim/cost-model.js';
import { EventQueue } from '../src/sim/event-queue.js';
import { resolveHardware } from '../src/sim/hardware.js';
import { Replica, type ReplicaOptions } from '../src/sim/replica.js';
import type { Setup } from '../src/sim/setups.js';
import { SimRequest } from '../src/sim/sim-request.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
const cost = new CostModel(hardware);
const hicache: Setup = { name: 'hicache', policy: policyFactory('lru'), cpuTier: true, prefetch: false, statusAware: false };

function replicaOf(options: Partial<ReplicaOptions> = {}) {
  const events = new EventQueue();
  const done: string[] = [];
  const replica = new Replica(0, events, { onFirstToken: () => {}, onComplete: (r) => done.push(r.request.id) }, {
    setup: hicache,
    gpuSlots: 8,
    cpuSlots: 16,
    blockSize: BLOCK,
    tokenBudget: 8192,
    maxRunning: 8,
    schedule: 'fcfs',
    h2d: hardware.h2d,
    d2h: hardware.d2h,
    loadAhead: 1,
    cost,
    ...options,
  });
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

/**
 * What a replica tells the components around it: the policy factory its pool size, the engine's KV event
 * hook every page that becomes usable on the GPU or leaves it, and the simulation whether it is idle.
 */
import { describe, expect, it } from 'vitest';
import { replicaOptions } from '../helpers/sim.js';
import { LruPolicy, type PolicyContext } from '../../src/cache/policy.js';
import { policyFactory } from '../../src/cache/policy-registry.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica, type ReplicaOptions } from '../../src/sim/replica.js';
import { SimRequest } from '../../src/sim/sim-request.js';

const BLOCK = 16;
const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });

function replicaOf(options: Partial<ReplicaOptions> = {}, onComplete: () => void = () => {}) {
  const events = new EventQueue();
  const replica = new Replica(
    0,
    events,
    { onFirstToken: () => {}, onComplete },
    replicaOptions(hardware, { setup: { name: 'sglang', policy: policyFactory('lru'), cpuTier: false, prefetch: false, statusAware: false }, ...options }),
  );
  let index = 0;
  const request = (blocks: number[]) =>
    new SimRequest({ id: `r${index}`, blocks, blockSize: BLOCK, inputLength: blocks.length * BLOCK, outputLength: 1 }, index++, undefined);
  return { replica, events, request };
}

describe('Replica hooks', () => {
  it("builds its policy from the setup's factory with the GPU pool's size", () => {
    const contexts: (PolicyContext | undefined)[] = [];
    const { replica } = replicaOf({
      gpuSlots: 6,
      setup: {
        name: 'lru',
        policy: (context) => {
          contexts.push(context);
          return new LruPolicy();
        },
        cpuTier: false,
        prefetch: false,
        statusAware: false,
      },
    });
    expect(contexts).toEqual([{ gpuSlots: 6 }]);
    expect(replica.policy).toBeInstanceOf(LruPolicy);
  });

  it('reports each page that becomes resident on the GPU and each GPU eviction, in order, as KV events', () => {
    const log: string[] = [];
    const blockOf = (page: number) => h.replica.cache.blockOf(page);
    const h = replicaOf({ cacheEvents: { resident: (page) => log.push(`+${blockOf(page)}`), evicted: (page) => log.push(`-${blockOf(page)}`) } });
    h.replica.enqueue(h.request([1, 2]));
    h.events.run();
    // Four slots: [3, 4, 5] and its output page need both of [1, 2]'s pages, the leaf 2 first.
    h.replica.enqueue(h.request([3, 4, 5]));
    h.events.run();
    expect(log).toEqual(['+1', '+2', '+3', '-2', '+4', '-1', '+5']);
  });

  it('is idle only when nothing is queued, running or in flight', () => {
    const idleAtCompletion: boolean[] = [];
    const h = replicaOf({}, () => idleAtCompletion.push(h.replica.idle));
    expect(h.replica.idle).toBe(true);
    h.replica.enqueue(h.request([1]));
    expect([h.replica.idle, h.replica.waitingCount, h.replica.runningCount]).toEqual([false, 0, 1]);
    h.events.run();
    // The last request completes inside its iteration: nothing is queued or running, but the iteration
    // has not ended (the engine refuses a cache reset until it has).
    expect(idleAtCompletion).toEqual([false]);
    expect(h.replica.idle).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { Replica } from '../../src/sim/replica.js';
import { setupByName } from '../../src/sim/setups.js';
import { SimRequest } from '../../src/sim/sim-request.js';
import { replicaOptions } from '../helpers/sim.js';

function replicaWith(onComplete: (r: SimRequest) => void) {
  const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
  const events = new EventQueue();
  const options = replicaOptions(hardware, { setup: setupByName('hicache'), gpuSlots: 64, cpuSlots: 128, loadAhead: 2 });
  const replica = new Replica(0, events, { onFirstToken: () => {}, onComplete }, options);
  return { replica, events };
}

const request = (id: string, blocks: number[], index: number) =>
  new SimRequest({ id, blocks, blockSize: 16, inputLength: blocks.length * 16, outputLength: 64 }, index, undefined);

describe('Replica.abort', () => {
  it('drops a running request, frees its pages, and lets the others finish', () => {
    const done: string[] = [];
    const { replica, events } = replicaWith((r) => done.push(r.request.id));
    const a = request('a', [1, 2, 3, 4], 0);
    const b = request('b', [5, 6, 7, 8], 1);
    replica.enqueue(a);
    replica.enqueue(b);
    events.run(3); // a few iterations: both admitted and running
    expect(a.phase === 'prefill' || a.phase === 'decode').toBe(true);
    expect(replica.abort(a)).toBe(true);
    expect(replica.abort(a)).toBe(false); // already gone
    events.run();
    expect(done).toEqual(['b']);
    expect(replica.cache.locksOf(replica.cache.childOf(0, 1))).toBe(0);
    expect(replica.cache.gpuReserved).toBe(0);
    replica.cache.checkInvariants();
  });

  it('drops a request before its first iteration finishes', () => {
    const done: string[] = [];
    const { replica, events } = replicaWith((r) => done.push(r.request.id));
    const a = request('a', [1], 0);
    replica.enqueue(a);
    expect(replica.abort(a)).toBe(true);
    events.run();
    expect(done).toEqual([]);
    expect(replica.idle).toBe(true);
  });
});

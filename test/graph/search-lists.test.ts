import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentList } from '../../src/graph/agent-list.js';
import { NumberHeap } from '../../src/graph/number-heap.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261202;

/** Operations on the STE search's queue: a push of a value (packed entries are non-negative integers), or a pop. */
const heapOps = fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 2 ** 53 - 1 }) }), fc.constant({ pop: true as const })), { maxLength: 300 });

describe('NumberHeap (the STE search queue, src/graph/relax.ts)', () => {
  it('pops what a sorted list would, across growth and refills', () => {
    fc.assert(
      fc.property(heapOps, (ops) => {
        const heap = new NumberHeap();
        const model: number[] = [];
        for (const op of ops) {
          if ('push' in op) {
            heap.push(op.push);
            model.push(op.push);
            model.sort((a, b) => a - b);
          } else {
            expect(heap.pop()).toBe(model.shift());
          }
          expect(heap.size()).toBe(model.length);
        }
        const rest: number[] = [];
        for (let value = heap.pop(); value !== undefined; value = heap.pop()) rest.push(value);
        expect(rest).toEqual(model);
      }),
      { seed: SEED, numRuns: runs(200) },
    );
  });

  it('keeps duplicates and grows past its first 64 slots', () => {
    const heap = new NumberHeap();
    const values = Array.from({ length: 200 }, (_, i) => (i * 7919) % 97);
    for (const value of values) heap.push(value);
    const out: number[] = [];
    while (heap.size() > 0) out.push(heap.pop()!);
    expect(out).toEqual([...values].sort((a, b) => a - b));
    expect(heap.pop()).toBeUndefined();
  });
});

describe('AgentList', () => {
  it('holds what was pushed since the last clear, in order, across growth', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.nat({ max: 1 << 20 }), { nil: undefined, freq: 8 }), { maxLength: 200 }), (ops) => {
        const list = new AgentList();
        let model: number[] = [];
        for (const op of ops) {
          if (op === undefined) {
            list.clear();
            model = [];
          } else {
            list.push(op);
            model.push(op);
          }
          expect([...list]).toEqual(model);
          expect(list.length).toBe(model.length);
          expect(Array.from(list.items.subarray(0, list.length))).toEqual(model);
        }
      }),
      { seed: SEED, numRuns: runs(100) },
    );
  });
});

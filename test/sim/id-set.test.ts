import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdSet } from '../../src/sim/id-set.js';

describe('IdSet', () => {
  it('answers as a Set of the same ids after any adds and deletes, growing past its first capacity', () => {
    const op = fc.record({ add: fc.boolean(), id: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5000 })) });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const ids = new IdSet(capacity);
        const reference = new Set<number>();
        for (const { add, id } of ops) {
          if (add) {
            ids.add(id);
            reference.add(id);
          } else expect(ids.delete(id)).toBe(reference.delete(id));
          expect(ids.size).toBe(reference.size);
        }
        const probes = [...ops.map((each) => each.id), ...ops.map((each) => each.id + 1), 0, 5001, 1 << 20];
        expect(probes.filter((id) => ids.has(id) !== reference.has(id))).toEqual([]);
      }),
      { seed: 1414, numRuns: 200 },
    );
  });

  it('adds an id once, and deletes only what it holds', () => {
    const ids = new IdSet(16);
    ids.add(3);
    ids.add(3);
    ids.add(100);
    expect(ids.size).toBe(2);
    expect(ids.delete(7)).toBe(false);
    expect(ids.delete(1000)).toBe(false);
    expect(ids.delete(3)).toBe(true);
    expect(ids.delete(3)).toBe(false);
    expect([ids.has(3), ids.has(100), ids.size]).toEqual([false, true, 1]);
  });
});

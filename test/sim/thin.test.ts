import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { thin, thinnedPositions } from '../../src/sim/metrics.js';

describe('thinnedPositions', () => {
  it('names exactly the items thin keeps: ascending, distinct, first and last, at most the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 2, max: 600 }), (count, limit) => {
        const items = Array.from({ length: count }, (_, i) => `item${i}`);
        const positions = thinnedPositions(count, limit);
        expect(Array.from(positions, (position) => items[position])).toEqual(thin(items, limit));
        expect(positions.length).toBe(Math.min(count, limit));
        for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!);
        if (count > 0) expect([positions[0], positions[positions.length - 1]]).toEqual([0, count - 1]);
      }),
      { seed: 1414, numRuns: 300 },
    );
  });
});

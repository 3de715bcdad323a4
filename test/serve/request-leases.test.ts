/**
 * A request's leases (gateway-state.ts keeps the usual single lease in fields, a Map only from a second
 * upstream on) behave exactly as the Map they replace: same lookups, same upstreams in the same order
 * (checkpoints replay them in that order), and releaseAll releases what the Map's values would be.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestLeases } from '../../src/serve/gateway/gateway-state.js';
import { runs } from '../helpers/runs.js';

const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), upstream: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('delete' as const), upstream: fc.integer({ min: 0, max: 3 }) }),
);

describe('request leases', () => {
  it('match a Map of upstream -> lease through any sequence of sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const leases = new RequestLeases();
        const reference = new Map<number, { release(): void; name: string }>();
        const released: string[] = [];
        ops.forEach(({ kind, upstream }, step) => {
          if (kind === 'set') {
            const lease = { name: `${step}`, release: () => released.push(lease.name) };
            leases.set(upstream, lease);
            reference.set(upstream, lease);
          } else {
            leases.delete(upstream);
            reference.delete(upstream);
          }
          for (let upstream = 0; upstream <= 3; upstream++) expect(leases.get(upstream)).toBe(reference.get(upstream));
          expect(leases.upstreams()).toEqual([...reference.keys()]);
        });
        leases.releaseAll();
        expect(released).toEqual([...reference.values()].map((lease) => lease.name));
      }),
      { seed: 29, numRuns: runs(500) },
    );
  });
});

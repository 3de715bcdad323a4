/**
 * The ste policy's key table (src/cache/string-ids.ts) against a Map: random sets, lookups and deletes by
 * id, with keys that collide in the table's low bits and keys equal in content but built apart.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringIds } from '../../src/cache/string-ids.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261205;

describe('StringIds', () => {
  it('answers what a Map of the same keys answers, through growth and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('set', 'set', 'delete', 'get'), key: fc.integer({ min: 0, max: 300 }), flat: fc.boolean() }), { maxLength: 600 }),
        (ops) => {
          const table = new StringIds();
          const reference = new Map<string, number>();
          const free: number[] = [];
          let next = 0;
          // Built at run time, so equal keys are mostly distinct string objects.
          const name = (key: number, flat: boolean) => (flat ? `wf/a${key}` : ['wf', `a${key}`].join('/'));
          for (const { op, key, flat } of ops) {
            const k = name(key, flat);
            if (op === 'set' && !reference.has(k)) {
              const id = free.pop() ?? next++;
              table.set(k, id);
              reference.set(k, id);
            } else if (op === 'delete' && reference.has(k)) {
              const id = reference.get(k)!;
              table.deleteId(id);
              reference.delete(k);
              free.push(id);
            }
            expect(table.get(k)).toBe(reference.get(k) ?? -1);
            expect(table.size).toBe(reference.size);
          }
          for (const [k, id] of reference) {
            expect(table.get(k)).toBe(id);
            expect(table.keyOf(id)).toBe(k);
          }
          expect(new Map(table.entries())).toEqual(reference);
        },
      ),
      { numRuns: runs(300), seed: SEED },
    );
  });

  it('keeps a long chain\'s churn (one key in, one out per step) in a bounded table', () => {
    const table = new StringIds();
    for (let step = 0; step < 100_000; step++) {
      table.set(`wf0/a${step}`, step % 4_096);
      if (step >= 4_095) table.deleteId((step - 4_095) % 4_096);
    }
    expect(table.size).toBe(4_095);
    expect(table.get('wf0/a99999')).toBe(99_999 % 4_096);
    expect(table.get('wf0/a95905')).toBe(95_905 % 4_096);
    expect(table.get('wf0/a95904')).toBe(-1);
    expect([...table.entries()]).toHaveLength(4_095);
  });
});

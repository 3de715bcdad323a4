/**
 * The ste policy's key table (src/cache/string-ids.ts) against a Map: random sets, lookups and deletes by
 * id, with keys that collide in the table's low bits and keys equal in content but built apart.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringIds, hashString } from '../../src/cache/string-ids.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261205;

describe('StringIds', () => {
  it('answers what a Map of the same keys answers, through growth and deletes', () => {
    fc.assert(
      fc.property(
        // `size: 'max'`: fast-check's default size keeps arrays near ten entries, under the table's first growth.
        fc.array(fc.record({ op: fc.constantFrom('set', 'set', 'delete', 'get'), key: fc.integer({ min: 0, max: 300 }), flat: fc.boolean() }), { maxLength: 600, size: 'max' }),
        // Ids handed out with gaps (a caller's ids need not be dense): dead ids below the highest live one.
        fc.integer({ min: 1, max: 5 }),
        (ops, stride) => {
          const table = new StringIds();
          const reference = new Map<string, number>();
          const free: number[] = [];
          let next = 0;
          // Built at run time, so equal keys are mostly distinct string objects.
          const name = (key: number, flat: boolean) => (flat ? `wf/a${key}` : ['wf', `a${key}`].join('/'));
          for (const { op, key, flat } of ops) {
            const k = name(key, flat);
            if (op === 'set' && !reference.has(k)) {
              const id = free.pop() ?? (next += stride);
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
          for (let key = 0; key <= 300; key++) expect(table.get(name(key, true))).toBe(reference.get(name(key, true)) ?? -1);
        },
      ),
      { numRuns: runs(100), seed: SEED },
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
    for (let step = 95_905; step < 100_000; step++) expect(table.get(`wf0/a${step}`)).toBe(step % 4_096);
  });

  it('gives ids at and past the per-id arrays\' length (64, then doubling) their keys', () => {
    const table = new StringIds();
    const ids = [63, 64, 127, 128, 129, 1_000, 4_096];
    for (const id of ids) table.set(`k${id}`, id);
    for (const id of ids) {
      expect(table.get(`k${id}`)).toBe(id);
      expect(table.keyOf(id)).toBe(`k${id}`);
    }
    expect([...table.entries()]).toEqual(ids.map((id) => [`k${id}`, id]));
    // A jump straight past twice the length.
    const jump = new StringIds();
    jump.set('far', 128);
    jump.set('farther', 257);
    expect([jump.get('far'), jump.get('farther'), jump.get('near')]).toEqual([128, 257, -1]);
  });

  it('ignores deletes of ids without a key: never set, past the end, or already deleted', () => {
    const table = new StringIds();
    table.set('a', 0);
    table.set('b', 2);
    table.deleteId(1);
    table.deleteId(3);
    table.deleteId(10_000);
    table.deleteId(2);
    table.deleteId(2);
    expect(table.size).toBe(1);
    expect([table.get('a'), table.get('b')]).toEqual([0, -1]);
    expect([...table.entries()]).toEqual([['a', 0]]);
  });

  it('tells apart two keys whose 32-bit hashes are equal', () => {
    // Found by a birthday search over `wf/a<i>`; if the hash changes, find a new pair.
    const [first, second] = ['wf/a20466', 'wf/a65365'];
    expect(hashString(first)).toBe(hashString(second));
    const table = new StringIds();
    table.set(first, 5);
    expect(table.get(second)).toBe(-1);
    table.set(second, 9);
    expect([table.get(first), table.get(second)]).toEqual([5, 9]);
    table.deleteId(5);
    expect([table.get(first), table.get(second), table.size]).toEqual([-1, 9, 1]);
  });

  it('keeps every key through growth when ids are sparse and some died before it', () => {
    const table = new StringIds();
    // Ids 0, 10, 20, ...; every other one deleted before the table grows past 64 slots and again after.
    for (let i = 0; i < 200; i++) {
      table.set(`s${i}`, i * 10);
      if (i % 2 === 1) table.deleteId((i - 1) * 10);
    }
    expect(table.size).toBe(100);
    for (let i = 0; i < 200; i++) expect(table.get(`s${i}`)).toBe(i % 2 === 1 ? i * 10 : -1);
  });
});

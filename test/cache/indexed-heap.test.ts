import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedHeap } from '../../src/cache/indexed-heap.js';
import { runs } from '../helpers/runs.js';

/** Pops everything: the ids in the order they come out. */
function drain(heap: IndexedHeap): number[] {
  const out: number[] = [];
  while (heap.size > 0) out.push(heap.pop());
  return out;
}

describe('IndexedHeap', () => {
  it('works from a capacity of 0, growing as ids and entries come', () => {
    const heap = new IndexedHeap(0);
    heap.set(2, 5, 0);
    heap.set(0, 3, 0);
    heap.set(1, 4, 0);
    expect(heap.size).toBe(3);
    expect(drain(heap)).toEqual([0, 1, 2]);
  });

  it('takes ids far beyond its capacity', () => {
    const heap = new IndexedHeap(2);
    heap.set(100, 1, 0);
    heap.set(3, 0, 0);
    heap.set(5000, 0.5, 0);
    expect(heap.has(100)).toBe(true);
    expect(heap.has(5000)).toBe(true);
    expect(heap.has(99)).toBe(false);
    expect(heap.has(1 << 20)).toBe(false);
    expect(drain(heap)).toEqual([3, 5000, 100]);
    expect(heap.has(100)).toBe(false);
  });

  it('peek shows the first id without taking it, also right after a pop', () => {
    const heap = new IndexedHeap(4);
    expect(heap.peek()).toBe(-1);
    expect(heap.peekPrimary()).toBe(Infinity);
    heap.set(7, 2, 0);
    heap.set(8, 1, 0);
    heap.set(9, 3, 0);
    expect(heap.peek()).toBe(8);
    expect(heap.pop()).toBe(8);
    expect(heap.peekPrimary()).toBe(2); // the hole at the root is filled first, not read
    expect(heap.peek()).toBe(7);
    expect(heap.size).toBe(2);
    expect(heap.pop()).toBe(7);
    expect(heap.pop()).toBe(9);
    expect(heap.peek()).toBe(-1);
    expect(heap.pop()).toBe(-1);
  });

  it('ids lists every entry once, also right after a pop', () => {
    const heap = new IndexedHeap(4);
    expect([...heap.ids()]).toEqual([]);
    for (let id = 0; id < 6; id++) heap.set(id, 6 - id, 0);
    expect(heap.pop()).toBe(5);
    expect([...heap.ids()].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(heap.pop()).toBe(4);
    expect(heap.peek()).toBe(3);
  });

  it('breaks equal keys by the smaller id, whatever order the ids came in', () => {
    // Equal primaries and secondaries everywhere: only the id orders them, through sift up (set) and
    // sift down (pop, re-key) alike.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer(),
        (keys, rekeys, order) => {
          const ids = keys.map((_, id) => id);
          // A fixed shuffle of the ids from `order`, so they do not arrive sorted.
          let state = order >>> 0;
          for (let i = ids.length - 1; i > 0; i--) {
            state = (Math.imul(state, 1103515245) + 12345) >>> 0;
            const j = state % (i + 1);
            [ids[i], ids[j]] = [ids[j]!, ids[i]!];
          }
          const heap = new IndexedHeap(2);
          for (const id of ids) heap.set(id, keys[id]![0], keys[id]![1]);
          for (const r of rekeys) {
            const id = r % keys.length;
            keys[id] = [1 - keys[id]![0], keys[id]![1]];
            heap.set(id, keys[id]![0], keys[id]![1]);
          }
          const expected = keys
            .map(([primary, secondary], id) => ({ primary, secondary, id }))
            .sort((a, b) => a.primary - b.primary || a.secondary - b.secondary || a.id - b.id)
            .map(({ id }) => id);
          expect(drain(heap)).toEqual(expected);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('with all keys equal, pops ids in ascending order after sets, deletes and pops interleave', () => {
    const heap = new IndexedHeap(2);
    for (const id of [9, 4, 7, 1, 8, 3, 6, 2, 5, 0]) heap.set(id, 0, 0);
    expect(heap.pop()).toBe(0);
    heap.delete(5);
    heap.set(11, 0, 0); // fills the hole the pop left
    expect(heap.pop()).toBe(1);
    heap.set(0, 0, 0);
    expect(drain(heap)).toEqual([0, 2, 3, 4, 6, 7, 8, 9, 11]);
  });

  it('re-keys an id already present right after a pop (the hole at the root is filled first)', () => {
    const heap = new IndexedHeap(4);
    for (const [id, key] of [[1, 1], [2, 2], [3, 3], [4, 4]] as const) heap.set(id, key, 0);
    expect(heap.pop()).toBe(1);
    heap.set(4, 0, 0); // 4 is present: it moves to the front, once
    expect(heap.size).toBe(3);
    expect([...heap.ids()].sort()).toEqual([2, 3, 4]);
    expect(drain(heap)).toEqual([4, 2, 3]);
  });

  it('pops in (primary, secondary, id) order under random sets, re-keys, deletes and pops (model test)', () => {
    type Op = { kind: 'set'; id: number; primary: number; secondary: number } | { kind: 'pop' } | { kind: 'delete'; id: number } | { kind: 'peek' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.nat(12), primary: fc.integer({ min: 0, max: 4 }), secondary: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.nat(12) }),
      fc.record({ kind: fc.constant('peek' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(op, { maxLength: 120 }), (capacity, ops) => {
        const heap = new IndexedHeap(capacity);
        const model = new Map<number, [number, number]>();
        const first = (): number => {
          let best = -1;
          for (const [id, [p, s]] of model) {
            if (best < 0) { best = id; continue; }
            const [bp, bs] = model.get(best)!;
            if (p < bp || (p === bp && (s < bs || (s === bs && id < best)))) best = id;
          }
          return best;
        };
        for (const o of ops) {
          if (o.kind === 'set') {
            heap.set(o.id, o.primary, o.secondary);
            model.set(o.id, [o.primary, o.secondary]);
          } else if (o.kind === 'pop') {
            const expected = first();
            expect(heap.pop()).toBe(expected);
            model.delete(expected);
          } else if (o.kind === 'delete') {
            heap.delete(o.id);
            model.delete(o.id);
          } else {
            expect(heap.peek()).toBe(first());
          }
          expect(heap.size).toBe(model.size);
        }
        for (let id = 0; id <= 13; id++) expect(heap.has(id)).toBe(model.has(id));
      }),
      { numRuns: runs(300) },
    );
  });
});

/** The prefix interner behind Belady's next-use index (issue 14 made it compact): ids as a Map gives them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrefixInterner } from '../../src/cache/prefix-interner.js';
import { Int32Chunks } from '../../src/replay/int32-chunks.js';

describe('PrefixInterner', () => {
  it('gives each distinct (parent, block) the next id, and the same id again, like a Map', () => {
    // Small blocks collide often; a few beyond 2^32 switch the interner to 8-byte block ids mid-run.
    const block = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 2 ** 32, max: 2 ** 32 + 3 }), fc.constant(2 ** 53 - 1));
    fc.assert(
      fc.property(fc.array(fc.array(block, { minLength: 1, maxLength: 12 }), { maxLength: 300 }), (paths) => {
        const interner = new PrefixInterner(4);
        const expected = new Map<string, number>();
        for (const path of paths) {
          let prefix = 0;
          for (const b of path) {
            const key = `${prefix}/${b}`;
            if (!expected.has(key)) expected.set(key, expected.size + 1);
            const id = interner.intern(prefix, b);
            expect(id).toBe(expected.get(key));
            prefix = id;
          }
        }
        expect(interner.size).toBe(expected.size + 1);
      }),
    );
  });
  it('keeps block ids that do not fit 4 bytes apart: 2^32, negative and fractional ones', () => {
    for (const odd of [2 ** 32, -1, 1.5, 2 ** 32 + 1]) {
      const interner = new PrefixInterner(1);
      const small = interner.intern(0, 7); // 1: stored in 4 bytes
      const big = interner.intern(0, odd); // 2: switches to 8-byte block ids
      expect([small, big]).toEqual([1, 2]);
      expect(interner.intern(0, odd)).toBe(2);
      expect(interner.intern(0, 7)).toBe(1);
      expect(interner.intern(0, Math.trunc(odd) >>> 0)).toBe(3); // what 4 bytes would have kept of it
      expect(interner.intern(big, odd)).toBe(4);
    }
  });

  it('grows past its expected size with 4-byte block ids, keeping every id', () => {
    const interner = new PrefixInterner(1);
    const ids = Array.from({ length: 100 }, (_, block) => interner.intern(0, 2 ** 32 - 1 - block));
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(Array.from({ length: 100 }, (_, block) => interner.intern(0, 2 ** 32 - 1 - block))).toEqual(ids);
    expect(interner.intern(0, 0)).toBe(101);
    expect(interner.size).toBe(102);
  });
});

describe('Int32Chunks', () => {
  it('keeps values across chunk boundaries', () => {
    const list = new Int32Chunks();
    const n = (1 << 20) + 5;
    for (let i = 0; i < n; i++) list.push(i ^ 0x5a5a);
    expect(list.length).toBe(n);
    expect(list.get((1 << 20) - 1)).toBe(((1 << 20) - 1) ^ 0x5a5a);
    expect(list.get(1 << 20)).toBe((1 << 20) ^ 0x5a5a);
    const out = new Int32Array(4);
    list.copyTo((1 << 20) - 2, out);
    expect([...out]).toEqual([0, 1, 2, 3].map((k) => ((1 << 20) - 2 + k) ^ 0x5a5a));
    list.resize(n + 3);
    list.set(n + 2, -7);
    expect(list.get(n + 2)).toBe(-7);
    expect(list.get(n)).toBe(0);
  });
});

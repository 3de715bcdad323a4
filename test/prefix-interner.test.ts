/** The one page-path interner (next-use index, streaming replay, trace statistics): ids as a Map gives them. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrefixInterner } from '../src/prefix-interner.js';

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

  it('gives block 0 under the empty prefix a new id right after the table is rebuilt', () => {
    // 32 slots hold 24 prefixes: the 24th rebuilds the table with 64. The records past the last id are zero,
    // as (empty prefix, block 0) would be: the rebuild must not index them.
    const interner = new PrefixInterner(16);
    for (let block = 1; block <= 24; block++) expect(interner.intern(0, block)).toBe(block);
    expect(interner.intern(0, 0)).toBe(25);
    expect(interner.intern(0, 99)).toBe(26);
    expect(interner.intern(0, 0)).toBe(25);
    expect(interner.size).toBe(27);
  });

  it('interns a whole path as intern() does prefix by prefix, and counts the prefixes known before it', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 10 }), { maxLength: 200 }), (paths) => {
        const byPath = new PrefixInterner(4);
        const byPrefix = new PrefixInterner(4);
        const seen = new Set<string>();
        for (const path of paths) {
          const out = new Int32Array(path.length + 2).fill(-1);
          const known = byPath.internPath(path, out, 1);
          let prefix = 0;
          let knownBefore = 0;
          path.forEach((block, i) => {
            prefix = byPrefix.intern(prefix, block);
            expect(out[1 + i]).toBe(prefix);
            if (seen.has(path.slice(0, i + 1).join(','))) knownBefore++;
          });
          for (let i = 1; i <= path.length; i++) seen.add(path.slice(0, i).join(','));
          expect(known).toBe(knownBefore);
          expect([out[0], out[path.length + 1]]).toEqual([-1, -1]);
        }
        expect(byPath.size).toBe(byPrefix.size);
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

  it('switches to 8-byte block ids at a fractional first block', () => {
    const interner = new PrefixInterner(1);
    expect(interner.intern(0, 1.5)).toBe(1);
    expect(interner.intern(0, 1)).toBe(2);
    expect(interner.intern(0, 1.5)).toBe(1);
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

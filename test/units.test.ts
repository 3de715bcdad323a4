import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseByteCount, parseTokenCount, parseTokenCountList } from '../src/cli/flags.js';
import { parseQuantity, parseQuantityList } from '../src/units.js';

describe('parseQuantity', () => {
  it('reads vLLM-style thousands separators and unit words', () => {
    expect(parseQuantity('686,320', 'tokens')).toBe(686_320);
    expect(parseQuantity('686,320 tokens', 'tokens')).toBe(686_320);
    expect(parseQuantity('1_048_576', 'tokens')).toBe(2 ** 20);
    expect(parseQuantity('1 048 576', 'tokens')).toBe(2 ** 20);
    expect(parseQuantity('12,345,678', 'bytes')).toBe(12_345_678);
  });

  it('reads power-of-two suffixes, with i and B for bytes', () => {
    expect(parseQuantity('512k', 'tokens')).toBe(512 * 1024);
    expect(parseQuantity('1.5M', 'tokens')).toBe(1.5 * 2 ** 20);
    expect(parseQuantity('64G', 'bytes')).toBe(64 * 2 ** 30);
    expect(parseQuantity('64GiB', 'bytes')).toBe(64 * 2 ** 30);
    expect(parseQuantity('64 GB', 'bytes')).toBe(64 * 2 ** 30);
    expect(parseQuantity('inf', 'tokens')).toBeNull();
    expect(parseQuantity('5e8', 'bytes')).toBe(5e8);
    expect(parseQuantity('1.5E3', 'tokens')).toBe(1500);
  });

  it('rejects misgrouped separators and unknown suffixes, saying why', () => {
    expect(() => parseQuantity('68,6320', 'tokens')).toThrow(/group digits by three/);
    expect(() => parseQuantity('1,000_000', 'tokens')).toThrow(/group digits by three/);
    expect(() => parseQuantity('12x', 'tokens')).toThrow(/unknown suffix "x"/);
    expect(() => parseQuantity('12GB', 'tokens')).toThrow(/unknown suffix/);
    expect(() => parseQuantity('', 'bytes')).toThrow(/not a byte count/);
    expect(() => parseQuantity('-5', 'bytes')).toThrow(/not a number/);
  });

  it('keeps a separated number whole inside a comma list', () => {
    expect(parseQuantityList('686,320,1M,inf', 'tokens')).toEqual([686_320, 2 ** 20, null]);
    expect(parseQuantityList('1M,16M', 'tokens')).toEqual([2 ** 20, 16 * 2 ** 20]);
    expect(parseQuantityList('1,234,567', 'tokens')).toEqual([1_234_567]);
  });

  it('reads back any integer written with separators (seed 13)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 }), fc.constantFrom(',', '_', ' '), (n, separator) => {
        const grouped = n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, separator);
        expect(parseQuantity(grouped, 'tokens')).toBe(n);
        expect(parseQuantity(grouped, 'bytes')).toBe(n);
      }),
      { seed: 13 },
    );
  });
});

describe('token and byte flags', () => {
  it('accept thousands separators', () => {
    expect(parseTokenCount('686,320')).toBe(686_320);
    expect(parseTokenCountList('686,320,1M')).toEqual([686_320, 2 ** 20]);
    expect(parseByteCount('8,388,608', 1)).toBe(8 * 2 ** 20);
    expect(() => parseByteCount('inf')).toThrow(/byte count >= 0/);
  });
});

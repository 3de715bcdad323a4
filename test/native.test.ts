import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { encode as encodeCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { beforeAll, describe, expect, it } from 'vitest';
import { blockCount, hashTokenBlocks, hashTokenBlocksTs, xxh32Words } from '../src/native.js';
import { requireNative, requireTrace } from './helpers/requirements.js';

const MINISWE = requireTrace('lmcache_agent_miniswe.jsonl');
const MAGAGENT = requireTrace('lmcache_agent_magagent.jsonl');
const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');
const HAVE_TRACES = Boolean(MINISWE && MAGAGENT && MOONCAKE);
const native = requireNative();

/** XXH32 of little-endian int32 words, computed with the reference xxhash library (python-xxhash 3). */
const XXH32_VECTORS: [number[], number, number][] = [
  [[], 0, 0x02cc5d05],
  [[1, 2, 3, 4], 0, 0x540b26bd],
  [[7], 5, 0xfb33d666],
  [[-1, 2 ** 31 - 1, 0, 42, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 13, 17, 19], 123456789, 0x6c8f2f86],
  [Array.from({ length: 16 }, (_, i) => i), 0xdeadbeef, 0xac2b55f3],
];

function tsIds(tokens: Int32Array, blockSize: number, seed = 0): Float64Array {
  const out = new Float64Array(blockCount(tokens.length, blockSize));
  hashTokenBlocksTs(tokens, blockSize, seed, out);
  return out;
}

function nativeIds(tokens: Int32Array, blockSize: number, seed = 0): Float64Array {
  const out = new Float64Array(blockCount(tokens.length, blockSize));
  native!.hashTokenBlocks(tokens, blockSize, seed, out);
  return out;
}

/** Special-token text in prompts is ordinary text, as in the LMCache importer. */
const encode = (text: string) => encodeCl100k(text, { disallowedSpecial: new Set<string>() });

/** Real prompts: the first lines of both LMCache agent traces, tokenized (cl100k_base), plus Mooncake's hash ids as words. */
let prompts: Int32Array[] = [];
beforeAll(async () => {
  if (!HAVE_TRACES) return; // the test that uses them is skipped (and says so), or fails under CI
  for (const path of [MINISWE, MAGAGENT]) {
    const lines = (await readFile(path, 'utf8')).split('\n').slice(0, 12);
    for (const line of lines) prompts.push(Int32Array.from(encode((JSON.parse(line) as { input: string }).input)));
  }
  const mooncake = (await readFile(MOONCAKE, 'utf8')).split('\n').slice(0, 2000);
  for (const line of mooncake) if (line) prompts.push(Int32Array.from((JSON.parse(line) as { hash_ids: number[] }).hash_ids));
});

describe('TypeScript block hash (the reference)', () => {
  it('computes XXH32 as the reference library does', () => {
    for (const [words, seed, expected] of XXH32_VECTORS) expect(xxh32Words(Int32Array.from(words), seed)).toBe(expected);
  });

  it('gives one safe-integer id per block, the last block partial', () => {
    const ids = hashTokenBlocks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], 16);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(Number.isSafeInteger(id) && id >= 0).toBe(true);
    expect(hashTokenBlocks([], 16)).toEqual([]);
  });

  it('ids name whole prefixes: equal exactly while the prefixes are equal', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 40 }),
        (shared, tail, blockSize) => {
          const a = hashTokenBlocks([...shared, ...tail], blockSize);
          const b = hashTokenBlocks([...shared, ...tail.map((t) => t + 1)], blockSize);
          const sharedBlocks = Math.floor(shared.length / blockSize);
          expect(b.slice(0, sharedBlocks)).toEqual(a.slice(0, sharedBlocks));
          for (let i = sharedBlocks; i < a.length; i++) expect(b[i]).not.toBe(a[i]);
        },
      ),
    );
  });

  it.skipIf(!HAVE_TRACES)('shares the leading ids of a growing agent context (miniswe appends every step)', () => {
    const [first, second] = prompts;
    let common = 0;
    while (common < first!.length && first![common] === second![common]) common++;
    const a = tsIds(first!, 16);
    const b = tsIds(second!, 16);
    const shared = Math.floor(common / 16);
    expect(shared).toBeGreaterThan(10);
    expect(Array.from(b.subarray(0, shared))).toEqual(Array.from(a.subarray(0, shared)));
    expect(b[shared]).not.toBe(a[shared]);
  });

  it('rejects a block size below 1', () => {
    expect(() => hashTokenBlocks([1], 0)).toThrow(RangeError);
  });
});

describe.skipIf(native === undefined)('native block hash', () => {
  it('computes the same XXH32', () => {
    for (const [words, seed, expected] of XXH32_VECTORS) expect(native!.xxh32(Int32Array.from(words), seed)).toBe(expected);
  });

  it.skipIf(!HAVE_TRACES)('matches the TypeScript path on real prompts at several block sizes and seeds', () => {
    expect(prompts.length).toBeGreaterThan(2000);
    for (const blockSize of [1, 3, 16, 512]) {
      for (const seed of [0, 0xffffffff]) {
        for (const tokens of prompts) expect(nativeIds(tokens, blockSize, seed)).toEqual(tsIds(tokens, blockSize, seed));
      }
    }
  });

  it('matches the TypeScript path on random token arrays and subarray views', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 300 }), fc.integer({ min: 1, max: 64 }), fc.nat(5), (words, blockSize, skip) => {
        const view = Int32Array.from([...Array<number>(skip).fill(9), ...words]).subarray(skip);
        expect(nativeIds(view, blockSize)).toEqual(tsIds(view, blockSize));
      }),
    );
  });

  it('throws a TypeError for wrong arguments instead of crashing', () => {
    expect(() => native!.hashTokenBlocks(new Int32Array(4), 2, 0, new Float64Array(1))).toThrow(TypeError);
    expect(() => native!.hashTokenBlocks(new Uint8Array(4) as unknown as Int32Array, 2, 0, new Float64Array(2))).toThrow(TypeError);
  });
});

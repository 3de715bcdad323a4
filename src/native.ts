/**
 * The native hot path (DESIGN.md section 7): chained block hashing of token arrays, which turns a
 * tokenized prompt into the block ids a trace needs (block i's id names the whole prefix up to block i).
 * The TypeScript function here is the reference; `native/` holds the same algorithm in C++ (N-API), built
 * by `npm run build:native` and during `npm install` when a compiler is present. `hashTokenBlocks` uses
 * the native one only when it loaded and the benchmark showed it >= 1.5x faster (`NATIVE_KEPT`);
 * `KVFLOW_NATIVE=0` forces the TypeScript path.
 *
 * Algorithm: two XXH32 chains (xxHash, Yann Collet) over each block's tokens as little-endian 32-bit
 * words, each seeded with its own value for the previous block; the id is the high chain's top 21 bits
 * above the low chain's 32, a safe integer.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the compiled addon exports (native/src/addon.cc). */
export interface NativeAddon {
  hashTokenBlocks(tokens: Int32Array, blockSize: number, seed: number, out: Float64Array): void;
  xxh32(words: Int32Array, seed: number): number;
  abiVersion: number;
}

/**
 * Whether the native block hash is used when it loads. Set from `npm run bench -- native` (bench/native.ts):
 * keep it only at >= 1.5x the TypeScript path's throughput on real prompts.
 */
export const NATIVE_KEPT = { hashTokenBlocks: true } as const;

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;
/** Offsets the high chain's starting seed from the low chain's (native/src/block_hash.cc: kHighSeed). */
const HIGH_SEED = 0x9e3779b9;
const TWO_TO_32 = 4294967296;

/** Blocks of `blockSize` covering `tokens` tokens (the last may be partial). */
export function blockCount(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize);
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, input: number): number {
  return Math.imul(rotl((acc + Math.imul(input, PRIME2)) | 0, 13), PRIME1);
}

function finish(h: number, words: Int32Array, from: number, end: number): number {
  for (let p = from; p < end; p++) h = Math.imul(rotl((h + Math.imul(words[p]!, PRIME3)) | 0, 17), PRIME4);
  h ^= h >>> 15;
  h = Math.imul(h, PRIME2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME3);
  h ^= h >>> 16;
  return h >>> 0;
}

/** XXH32 of `words[from..end)` as little-endian 32-bit words. */
export function xxh32Words(words: Int32Array, seed: number, from = 0, end = words.length): number {
  let p = from;
  let h: number;
  if (end - from >= 4) {
    let a1 = (seed + PRIME1 + PRIME2) | 0;
    let a2 = (seed + PRIME2) | 0;
    let a3 = seed | 0;
    let a4 = (seed - PRIME1) | 0;
    for (const limit = end - 4; p <= limit; p += 4) {
      a1 = round(a1, words[p]!);
      a2 = round(a2, words[p + 1]!);
      a3 = round(a3, words[p + 2]!);
      a4 = round(a4, words[p + 3]!);
    }
    h = (rotl(a1, 1) + rotl(a2, 7) + rotl(a3, 12) + rotl(a4, 18)) | 0;
  } else {
    h = (seed + PRIME5) | 0;
  }
  return finish((h + (end - from) * 4) | 0, words, p, end);
}

/** A block-hash chain between blocks: the two XXH32 states `hashTokenBlocks` carries from block to block. */
export interface BlockChain {
  lo: number;
  hi: number;
}

/** The chain before a prompt's first block, for `seed` (0 unsalted; see `saltSeed`). */
export function blockChainStart(seed: number): BlockChain {
  return { lo: seed >>> 0, hi: (seed ^ HIGH_SEED) >>> 0 };
}

/**
 * Extends `chain` by the block `words[from..end)`: the next chain and that block's id, equal to what
 * `hashTokenBlocks` gives the block at this position. Lets a consumer of per-block token ids (KV events)
 * compute the same ids one block at a time.
 */
export function blockChainNext(chain: BlockChain, words: Int32Array, from: number, end: number): BlockChain & { id: number } {
  const lo = xxh32Words(words, chain.lo, from, end);
  const hi = xxh32Words(words, chain.hi, from, end);
  return { lo, hi, id: (hi >>> 11) * TWO_TO_32 + lo };
}

/** The TypeScript reference: one id per block of `blockSize` tokens, written into `out`. */
export function hashTokenBlocksTs(tokens: Int32Array, blockSize: number, seed: number, out: Float64Array): void {
  let lo = seed >>> 0;
  let hi = (seed ^ HIGH_SEED) >>> 0;
  for (let start = 0, block = 0; start < tokens.length; start += blockSize, block++) {
    const end = Math.min(tokens.length, start + blockSize);
    lo = xxh32Words(tokens, lo, start, end);
    hi = xxh32Words(tokens, hi, start, end);
    out[block] = (hi >>> 11) * TWO_TO_32 + lo;
  }
}

let addon: NativeAddon | undefined | null = null;
let loadError: string | undefined;
/** Read once: looking up process.env on every call would cost more than hashing a short prompt. */
let nativeEnabled = process.env.KVFLOW_NATIVE !== '0';

/** Turns the native path on or off for this process (benchmarks, tests); it is on unless KVFLOW_NATIVE=0. */
export function setNativeEnabled(enabled: boolean): void {
  nativeEnabled = enabled;
}

/** Where `npm run build:native` puts the addon, from src/ (tests) or dist/src/ (the CLI). */
function addonCandidates(): string[] {
  return ['../native/build/Release/kvflow_native.node', '../../native/build/Release/kvflow_native.node'].map((relative) =>
    fileURLToPath(new URL(relative, import.meta.url)),
  );
}

/** The compiled addon, or undefined when it is not built or does not load (see `nativeLoadError`). */
export function loadNative(): NativeAddon | undefined {
  if (addon !== null) return addon;
  addon = undefined;
  const path = addonCandidates().find((candidate) => existsSync(candidate));
  if (path === undefined) {
    loadError = 'not built (run npm run build:native)';
    return addon;
  }
  try {
    const loaded = createRequire(import.meta.url)(path) as NativeAddon;
    if (loaded.abiVersion !== 1) throw new Error(`abiVersion ${loaded.abiVersion}, expected 1: rebuild it`);
    addon = loaded;
  } catch (error) {
    loadError = `${path}: ${(error as Error).message}`;
  }
  return addon;
}

/** Why the addon is not available, once `loadNative` returned undefined. */
export function nativeLoadError(): string | undefined {
  loadNative();
  return loadError;
}

/** Whether `hashTokenBlocks` runs the native code (built, loaded, kept by the benchmark, not disabled). */
export function nativeHashInUse(): boolean {
  return nativeEnabled && NATIVE_KEPT.hashTokenBlocks && loadNative() !== undefined;
}

/**
 * Block ids of a tokenized prompt: id i names tokens `[0, (i + 1) * blockSize)`, so two prompts share id i
 * exactly when they share that whole prefix (up to hash collisions, about 2^-53 per pair). `seed` lets
 * callers separate id spaces (e.g. per model).
 */
export function hashTokenBlocks(tokens: Int32Array | readonly number[], blockSize: number, seed = 0): number[] {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be an integer >= 1, got ${blockSize}`);
  // The typed-array constructor has a fast path for packed arrays of small integers; Int32Array.from has not.
  const words = tokens instanceof Int32Array ? tokens : new Int32Array(tokens as number[]);
  const out = new Float64Array(blockCount(words.length, blockSize));
  if (nativeHashInUse()) loadNative()!.hashTokenBlocks(words, blockSize, seed >>> 0, out);
  else hashTokenBlocksTs(words, blockSize, seed >>> 0, out);
  const ids = new Array<number>(out.length);
  for (let i = 0; i < out.length; i++) ids[i] = out[i]!;
  return ids;
}

/**
 * Block ids for token sequences by chained hashing (DESIGN.md section 3): block i's id hashes block
 * i - 1's id together with block i's tokens, so equal ids mean equal prefixes, as in vLLM's and SGLang's
 * page hashes. Ids are 53-bit safe integers (two 32-bit murmur-style lanes), which is what the radix cache
 * stores; a collision between two different prefixes has probability around n^2 / 2^54.
 */

const SEED_HIGH = 0x9e3779b9;
const SEED_LOW = 0x85ebca6b;

/**
 * Ids of the blocks of `tokens`, `blockSize` tokens each; the last block may be partial (it then hashes
 * only its own tokens, so it differs from any full block).
 */
export function chainedBlockHashes(tokens: ArrayLike<number>, blockSize: number): number[] {
  if (!(Number.isInteger(blockSize) && blockSize >= 1)) throw new RangeError(`blockSize must be an integer >= 1, got ${blockSize}`);
  const ids: number[] = [];
  let high = SEED_HIGH;
  let low = SEED_LOW;
  for (let start = 0; start < tokens.length; start += blockSize) {
    const end = Math.min(tokens.length, start + blockSize);
    for (let i = start; i < end; i++) {
      const token = tokens[i]! | 0;
      high = mixWord(high, token);
      low = mixWord(low, token ^ 0x5bd1e995);
    }
    // The block length joins the hash so that a partial block never equals a prefix of a full one.
    high = finalize(high ^ (end - start));
    low = finalize(low ^ Math.imul(end - start, 0x27d4eb2d));
    ids.push((high >>> 0) * 2 ** 21 + (low >>> 11));
  }
  return ids;
}

/** murmur3's per-word step. */
function mixWord(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  const h = hash ^ k;
  return (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
}

/** murmur3's finaliser: every input bit reaches every output bit. */
function finalize(hash: number): number {
  let h = hash;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Block contents for tests and measurements: deterministic pseudo-random floats, and a checksum over
 * their bits (XXH32, the same primitive as the block hash), so a round trip host -> device -> host is
 * verified to the bit without keeping a second copy of every block.
 */
import { xxh32Words } from '../native.js';

/** XXH32 of the block's float32 bits. */
export function blockChecksum(block: Float32Array): number {
  return xxh32Words(new Int32Array(block.buffer, block.byteOffset, block.length), 0);
}

/**
 * Fills `block` with floats in [0, 1) from an xorshift32 stream seeded by `seed`: exactly representable
 * values (23-bit fractions), never NaN, so every backend copies them bit for bit.
 */
export function fillBlock(block: Float32Array, seed: number): void {
  let x = (seed ^ 0x2545f491) | 0 || 1;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = (x >>> 9) * 2 ** -23;
  }
}

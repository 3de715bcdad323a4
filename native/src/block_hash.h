// Chained block hashing of token arrays: the C++ twin of hashTokenBlocksTs in src/native.ts.
// Both must produce the same ids bit for bit; test/native.test.ts compares them on real traces.
#pragma once
#include <cstddef>
#include <cstdint>

namespace kvflow {

// XXH32 (xxHash, Yann Collet) of `count` little-endian 32-bit words.
uint32_t Xxh32Words(const uint32_t* words, size_t count, uint32_t seed);

// Writes one id per block of `block_size` tokens (the last block may be partial) into `out`.
// Block i's id depends on every token of blocks 0..i: two XXH32 chains, each seeded with its own
// previous value, give 32 + 21 = 53 bits, a safe JavaScript integer.
void HashTokenBlocks(const uint32_t* tokens, size_t count, size_t block_size, uint32_t seed, double* out);

}  // namespace kvflow

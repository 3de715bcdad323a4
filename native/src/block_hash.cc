#include "block_hash.h"

namespace kvflow {
namespace {

constexpr uint32_t kPrime1 = 0x9E3779B1u;
constexpr uint32_t kPrime2 = 0x85EBCA77u;
constexpr uint32_t kPrime3 = 0xC2B2AE3Du;
constexpr uint32_t kPrime4 = 0x27D4EB2Fu;
constexpr uint32_t kPrime5 = 0x165667B1u;
// Second chain's starting seed offset (any constant that differs from 0 works).
constexpr uint32_t kHighSeed = 0x9E3779B9u;

inline uint32_t Rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }
inline uint32_t Round(uint32_t acc, uint32_t input) { return Rotl(acc + input * kPrime2, 13) * kPrime1; }

// Tokens are read as host-order words; every platform Node supports is little-endian.
inline uint32_t Finish(uint32_t h, const uint32_t* p, const uint32_t* end) {
  for (; p < end; ++p) h = Rotl(h + *p * kPrime3, 17) * kPrime4;
  h ^= h >> 15;
  h *= kPrime2;
  h ^= h >> 13;
  h *= kPrime3;
  h ^= h >> 16;
  return h;
}

// Both chains in one pass: 8 independent accumulators keep the multipliers busy.
inline void Xxh32Pair(const uint32_t* words, size_t count, uint32_t seed_lo, uint32_t seed_hi, uint32_t* lo, uint32_t* hi) {
  const uint32_t* p = words;
  const uint32_t* end = words + count;
  uint32_t h_lo, h_hi;
  if (count >= 4) {
    uint32_t a1 = seed_lo + kPrime1 + kPrime2, a2 = seed_lo + kPrime2, a3 = seed_lo, a4 = seed_lo - kPrime1;
    uint32_t b1 = seed_hi + kPrime1 + kPrime2, b2 = seed_hi + kPrime2, b3 = seed_hi, b4 = seed_hi - kPrime1;
    const uint32_t* limit = end - 4;
    do {
      a1 = Round(a1, p[0]); b1 = Round(b1, p[0]);
      a2 = Round(a2, p[1]); b2 = Round(b2, p[1]);
      a3 = Round(a3, p[2]); b3 = Round(b3, p[2]);
      a4 = Round(a4, p[3]); b4 = Round(b4, p[3]);
      p += 4;
    } while (p <= limit);
    h_lo = Rotl(a1, 1) + Rotl(a2, 7) + Rotl(a3, 12) + Rotl(a4, 18);
    h_hi = Rotl(b1, 1) + Rotl(b2, 7) + Rotl(b3, 12) + Rotl(b4, 18);
  } else {
    h_lo = seed_lo + kPrime5;
    h_hi = seed_hi + kPrime5;
  }
  const uint32_t bytes = static_cast<uint32_t>(count * 4);
  *lo = Finish(h_lo + bytes, p, end);
  *hi = Finish(h_hi + bytes, p, end);
}

}  // namespace

uint32_t Xxh32Words(const uint32_t* words, size_t count, uint32_t seed) {
  uint32_t lo, hi;
  Xxh32Pair(words, count, seed, seed, &lo, &hi);
  return lo;
}

void HashTokenBlocks(const uint32_t* tokens, size_t count, size_t block_size, uint32_t seed, double* out) {
  uint32_t lo = seed;
  uint32_t hi = seed ^ kHighSeed;
  for (size_t start = 0, block = 0; start < count; start += block_size, ++block) {
    const size_t n = count - start < block_size ? count - start : block_size;
    Xxh32Pair(tokens + start, n, lo, hi, &lo, &hi);
    out[block] = static_cast<double>(hi >> 11) * 4294967296.0 + static_cast<double>(lo);
  }
}

}  // namespace kvflow

/**
 * A small seeded pseudo-random generator (mulberry32), so that generated workloads are reproducible
 * from a seed on every platform. `Math.random` is never used for workloads.
 */
export class Rng {
  private state: number;

  /**
   * `stream` selects an independent sequence for the same seed, so that separate consumers (each
   * workflow instance, the arrival process) draw the same numbers whatever order they run in.
   */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    if (!Number.isSafeInteger(stream) || stream < 0) throw new RangeError(`stream must be a non-negative integer, got ${stream}`);
    const low = seed >>> 0;
    const high = Math.floor(seed / 2 ** 32) >>> 0;
    this.state = mix32(mix32(low ^ mix32(high)) ^ mix32(stream + 0x9e3779b9));
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** Exponentially distributed with mean `1 / rate` (inter-arrival times of a Poisson process). */
  exponential(rate: number): number {
    return -Math.log(1 - this.next()) / rate;
  }
}

/** murmur3's 32-bit finaliser: spreads every input bit over the whole word, so nearby seeds diverge. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Seeded mini-batch row draws (xorshift32), shared by the typed-array trainer and the tfjs model so both
 * see the same rows in the same order: a run's batches repeat exactly for a seed.
 */
export class RowDraws {
  #state: number;

  constructor(seed: number) {
    this.#state = (seed >>> 0) || 1;
  }

  /** A row index in [0, count). */
  next(count: number): number {
    let s = this.#state;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.#state = s >>> 0;
    return this.#state % count;
  }
}

import type { EvictionPolicy, PriorityOwner } from '../policy.js';
import { FEATURE_COUNT } from './features.js';
import type { ReuseLearner } from './reuse-learner.js';

/**
 * The learned order of one cache: a page's key is its last request + the learner's extra life for the
 * features of that access (smallest first out). Keys are computed lazily: the cache reads a priority only
 * for eviction candidates (leaves), so only they are scored, once per model version; after a training
 * round `rescore` re-keys the pages scored before (a superset of the candidates), not the whole cache.
 */
export class ReuseOrder implements EvictionPolicy {
  readonly name = 'reuse';
  readonly #learner: ReuseLearner;
  #owner: PriorityOwner | undefined;
  // Per page: key, the model version it was computed with (-1: none), the request of its last access,
  // and the features of that access; `known` 0 for a page never observed (locked by a request in flight).
  #key = new Float64Array(1024);
  #keyVersion = new Int32Array(1024).fill(-1);
  #tick = new Float64Array(1024);
  #known = new Uint8Array(1024);
  #features = new Float32Array(1024 * FEATURE_COUNT);
  // Pages whose priority was read (a sparse set), with the rescoring epoch of the last read.
  #scored = new Int32Array(1024);
  #scoredAt = new Int32Array(1024).fill(-1);
  #scoredCount = 0;
  #readEpoch = new Int32Array(1024);
  #epoch = 0;

  constructor(learner: ReuseLearner) {
    this.#learner = learner;
  }

  bind(owner: PriorityOwner): void {
    this.#owner = owner;
  }

  priority(page: number): number {
    this.track(page);
    if (this.#known[page] === 0) return this.#learner.requests + this.#learner.lifeOf(0.5);
    if (this.#keyVersion[page] !== this.#learner.version) {
      this.#key[page] = this.#tick[page]! + this.#learner.life(this.#features, page * FEATURE_COUNT);
      this.#keyVersion[page] = this.#learner.version;
    }
    return this.#key[page]!;
  }

  /** Notes that the cache read `page`'s priority (it is a candidate), without scoring it. */
  track(page: number): void {
    if (page >= this.#known.length) this.#grow(page + 1);
    this.#readEpoch[page] = this.#epoch;
    if (this.#scoredAt[page]! >= 0) return;
    this.#scoredAt[page] = this.#scoredCount;
    this.#scored[this.#scoredCount++] = page;
  }

  forget(page: number): void {
    if (page >= this.#known.length) return;
    this.#known[page] = 0;
    this.#keyVersion[page] = -1;
    this.#untrack(page);
  }

  /** Request `r`'s first `held` pages (path order) were accessed; their rows are the learner's `rows`. */
  remember(pages: ArrayLike<number>, held: number, r: number): void {
    const rows = this.#learner.rows;
    for (let i = 0; i < held; i++) {
      const page = pages[i]!;
      if (page >= this.#known.length) this.#grow(page + 1);
      this.#known[page] = 1;
      this.#tick[page] = r;
      this.#keyVersion[page] = -1;
      const from = i * FEATURE_COUNT;
      const to = page * FEATURE_COUNT;
      for (let f = 0; f < FEATURE_COUNT; f++) this.#features[to + f] = rows[from + f]!;
    }
  }

  /**
   * Re-reads the priority of every page read before (after new weights or a change of order); the cache
   * reads only those still candidates, and the rest leave the set.
   */
  rescore(): void {
    const owner = this.#owner;
    if (!owner) return;
    const epoch = ++this.#epoch;
    for (let k = 0; k < this.#scoredCount; k++) owner.reprioritize(this.#scored[k]!);
    for (let k = this.#scoredCount - 1; k >= 0; k--) {
      const page = this.#scored[k]!;
      if (this.#readEpoch[page] !== epoch) this.#untrack(page);
    }
  }

  #untrack(page: number): void {
    const at = this.#scoredAt[page]!;
    if (at < 0) return;
    const last = this.#scored[--this.#scoredCount]!;
    this.#scored[at] = last;
    this.#scoredAt[last] = at;
    this.#scoredAt[page] = -1;
  }

  #grow(minLength: number): void {
    let length = this.#known.length;
    while (length < minLength) length *= 2;
    const grow = <T extends Float64Array | Float32Array | Int32Array | Uint8Array>(array: T, make: (n: number) => T, fill = 0): T => {
      const next = make(array === this.#features ? length * FEATURE_COUNT : length);
      if (fill !== 0) next.fill(fill);
      next.set(array);
      return next;
    };
    this.#key = grow(this.#key, (n) => new Float64Array(n));
    this.#keyVersion = grow(this.#keyVersion, (n) => new Int32Array(n), -1);
    this.#tick = grow(this.#tick, (n) => new Float64Array(n));
    this.#known = grow(this.#known, (n) => new Uint8Array(n));
    this.#features = grow(this.#features, (n) => new Float32Array(n));
    this.#scored = grow(this.#scored, (n) => new Int32Array(n));
    this.#scoredAt = grow(this.#scoredAt, (n) => new Int32Array(n), -1);
    this.#readEpoch = grow(this.#readEpoch, (n) => new Int32Array(n));
  }
}

import type { EvictionPolicy, PriorityOwner } from '../policy.js';
import type { ReuseLearner } from './reuse-learner.js';

/**
 * The learned order of one cache: a page's key is the request of its last access + the extra life the
 * learner gave that access (smallest first out). Keys are set once per access from the learner's `lives`,
 * which the learner computes once per request for every cache it serves; a training round changes the keys
 * of later accesses only (re-scoring cached pages after each round measured no better, and cost a copy of
 * every page's features per cache).
 */
export class ReuseOrder implements EvictionPolicy {
  readonly name = 'reuse';
  readonly #learner: ReuseLearner;
  #owner: PriorityOwner | undefined;
  // Per page: its key, and 0 in `known` for a page never observed (locked by a request in flight).
  #key = new Float64Array(1024);
  #known = new Uint8Array(1024);
  // Pages whose priority was read (a sparse set: the candidates, and pages that were), with the epoch of
  // the last read, so that `rescore` re-reads the candidates only.
  #read = new Int32Array(1024);
  #readAt = new Int32Array(1024).fill(-1);
  #readCount = 0;
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
    return this.#key[page]!;
  }

  /** Notes that the cache read `page`'s priority (it is a candidate). */
  track(page: number): void {
    if (page >= this.#known.length) this.#grow(page + 1);
    this.#readEpoch[page] = this.#epoch;
    if (this.#readAt[page]! >= 0) return;
    this.#readAt[page] = this.#readCount;
    this.#read[this.#readCount++] = page;
  }

  forget(page: number): void {
    if (page >= this.#known.length) return;
    this.#known[page] = 0;
    this.#untrack(page);
  }

  /** Request `r`'s first `held` pages (path order) were accessed; their extra lives are the learner's `lives`. */
  remember(pages: ArrayLike<number>, held: number, r: number): void {
    const lives = this.#learner.lives;
    for (let i = 0; i < held; i++) {
      const page = pages[i]!;
      if (page >= this.#known.length) this.#grow(page + 1);
      this.#known[page] = 1;
      this.#key[page] = r + lives[i]!;
    }
  }

  /**
   * Re-reads the priority of every page read before (when the policy's choice of order changes); the cache
   * reads only those still candidates, and the rest leave the set.
   */
  rescore(): void {
    const owner = this.#owner;
    if (!owner) return;
    const epoch = ++this.#epoch;
    for (let k = 0; k < this.#readCount; k++) owner.reprioritize(this.#read[k]!);
    for (let k = this.#readCount - 1; k >= 0; k--) {
      const page = this.#read[k]!;
      if (this.#readEpoch[page] !== epoch) this.#untrack(page);
    }
  }

  #untrack(page: number): void {
    const at = this.#readAt[page]!;
    if (at < 0) return;
    const last = this.#read[--this.#readCount]!;
    this.#read[at] = last;
    this.#readAt[last] = at;
    this.#readAt[page] = -1;
  }

  #grow(minLength: number): void {
    let length = this.#known.length;
    while (length < minLength) length *= 2;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(array: T, make: (n: number) => T, fill = 0): T => {
      const next = make(length);
      if (fill !== 0) next.fill(fill);
      next.set(array);
      return next;
    };
    this.#key = grow(this.#key, (n) => new Float64Array(n));
    this.#known = grow(this.#known, (n) => new Uint8Array(n));
    this.#read = grow(this.#read, (n) => new Int32Array(n));
    this.#readAt = grow(this.#readAt, (n) => new Int32Array(n), -1);
    this.#readEpoch = grow(this.#readEpoch, (n) => new Int32Array(n));
  }
}

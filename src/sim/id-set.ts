/**
 * A set of small non-negative integer ids (page ids) as one byte per id, grown by doubling. A JS Set of
 * pages that are added and deleted all run long keeps rehashing its table: the prefetcher's set of
 * unused prefetched pages, touched on every page use and eviction, was ~15% of a concurrent-1024 kvflow run.
 */
export class IdSet {
  #flags: Uint8Array;
  #size = 0;

  constructor(initialCapacity = 1024) {
    this.#flags = new Uint8Array(Math.max(16, initialCapacity));
  }

  get size(): number {
    return this.#size;
  }

  has(id: number): boolean {
    return id < this.#flags.length && this.#flags[id] === 1;
  }

  add(id: number): void {
    if (id >= this.#flags.length) this.#grow(id + 1);
    if (this.#flags[id] === 1) return;
    this.#flags[id] = 1;
    this.#size++;
  }

  /** Removes `id`; true when it was present. */
  delete(id: number): boolean {
    if (id >= this.#flags.length || this.#flags[id] === 0) return false;
    this.#flags[id] = 0;
    this.#size--;
    return true;
  }

  #grow(minLength: number): void {
    let length = this.#flags.length;
    while (length < minLength) length *= 2;
    const flags = new Uint8Array(length);
    flags.set(this.#flags);
    this.#flags = flags;
  }
}

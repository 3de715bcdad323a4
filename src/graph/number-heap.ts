/**
 * A binary min-heap of numbers kept in a growable Float64Array, for the STE search's queue (relax.ts):
 * push and pop allocate nothing, where heap-js allocates on every push (its rest-argument array, and a
 * boxed number for each packed entry beyond the small-integer range). A search pushes a few entries per
 * agent it reaches, on every event of every instance.
 */
export class NumberHeap {
  #items = new Float64Array(64);
  #size = 0;

  size(): number {
    return this.#size;
  }

  push(value: number): void {
    if (this.#size === this.#items.length) {
      const grown = new Float64Array(this.#items.length * 2);
      grown.set(this.#items);
      this.#items = grown;
    }
    const items = this.#items;
    let at = this.#size++;
    while (at > 0) {
      const up = (at - 1) >> 1;
      const parent = items[up]!;
      if (parent <= value) break;
      items[at] = parent;
      at = up;
    }
    items[at] = value;
  }

  /** Removes and returns the smallest number; undefined when empty. */
  pop(): number | undefined {
    if (this.#size === 0) return undefined;
    const items = this.#items;
    const first = items[0]!;
    const size = --this.#size;
    if (size === 0) return first;
    const last = items[size]!;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      if (child + 1 < size && items[child + 1]! < items[child]!) child++;
      if (items[child]! >= last) break;
      items[at] = items[child]!;
      at = child;
    }
    items[at] = last;
    return first;
  }
}

/**
 * A binary min-heap of small non-negative integer ids (pages) that knows where each id sits, so an id can be
 * removed or re-ordered in O(log n). heap-js has no decrease-key by id, which eviction needs whenever a
 * page stops being a candidate (locked, gained a child) or its priority changes (STE moved on).
 */
export class IndexedHeap {
  #items: Int32Array;
  #position: Int32Array; // position of id in #items, -1 when absent
  #size = 0;
  readonly #before: (a: number, b: number) => boolean;

  /** `before(a, b)` is true when `a` must come out before `b`; it must be a strict total order. */
  constructor(before: (a: number, b: number) => boolean, initialCapacity = 1024) {
    this.#before = before;
    this.#items = new Int32Array(initialCapacity);
    this.#position = new Int32Array(initialCapacity).fill(-1);
  }

  get size(): number {
    return this.#size;
  }

  has(id: number): boolean {
    return id < this.#position.length && this.#position[id]! >= 0;
  }

  /** The first id, or -1 when empty. */
  peek(): number {
    return this.#size > 0 ? this.#items[0]! : -1;
  }

  push(id: number): void {
    if (id >= this.#position.length) this.#growPositions(id + 1);
    if (this.#size === this.#items.length) this.#items = grow(this.#items, this.#size * 2, 0);
    this.#items[this.#size] = id;
    this.#position[id] = this.#size;
    this.#size++;
    this.#siftUp(this.#size - 1);
  }

  /** Removes and returns the first id, or -1 when empty. */
  pop(): number {
    if (this.#size === 0) return -1;
    const first = this.#items[0]!;
    this.#removeAt(0);
    return first;
  }

  /** Removes `id` if present. */
  delete(id: number): void {
    if (!this.has(id)) return;
    this.#removeAt(this.#position[id]!);
  }

  /** Restores order after `id`'s priority changed; a no-op when absent. */
  update(id: number): void {
    if (!this.has(id)) return;
    const at = this.#position[id]!;
    this.#siftUp(at);
    this.#siftDown(this.#position[id]!);
  }

  /** Ids in heap order (not sorted); for tests and invariant checks. */
  *ids(): IterableIterator<number> {
    for (let i = 0; i < this.#size; i++) yield this.#items[i]!;
  }

  #removeAt(at: number): void {
    const items = this.#items;
    const removed = items[at]!;
    this.#position[removed] = -1;
    this.#size--;
    if (at === this.#size) return;
    const last = items[this.#size]!;
    items[at] = last;
    this.#position[last] = at;
    this.#siftUp(at);
    this.#siftDown(this.#position[last]!);
  }

  #siftUp(at: number): void {
    const items = this.#items;
    const position = this.#position;
    const id = items[at]!;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = items[parentAt]!;
      if (!this.#before(id, parent)) break;
      items[at] = parent;
      position[parent] = at;
      at = parentAt;
    }
    items[at] = id;
    position[id] = at;
  }

  #siftDown(at: number): void {
    const items = this.#items;
    const position = this.#position;
    const size = this.#size;
    const id = items[at]!;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && this.#before(items[right]!, items[child]!)) child = right;
      const childId = items[child]!;
      if (!this.#before(childId, id)) break;
      items[at] = childId;
      position[childId] = at;
      at = child;
    }
    items[at] = id;
    position[id] = at;
  }

  #growPositions(minLength: number): void {
    let length = Math.max(16, this.#position.length);
    while (length < minLength) length *= 2;
    this.#position = grow(this.#position, length, -1);
  }
}

function grow(array: Int32Array, length: number, fill: number): Int32Array {
  const next = new Int32Array(length);
  next.set(array);
  if (fill !== 0) next.fill(fill, array.length);
  return next;
}

/**
 * A binary min-heap of small non-negative integer ids (pages) that knows where each id sits, so an id can be
 * removed or re-keyed in O(log n). heap-js has no decrease-key by id, which eviction needs whenever a page
 * stops being a candidate (locked, gained a child) or its priority changes (STE moved on).
 *
 * Each entry carries its own two keys, ordered by (primary, secondary, id): eviction's (policy priority,
 * last access, page). Keeping the keys beside the ids, instead of calling a comparator that reads them
 * elsewhere, makes a sift step a few reads of adjacent typed-array slots; the replay kernel lives on it.
 *
 * `pop` leaves a hole at the root that the next `set` of a new id fills with one sift down: evicting a
 * leaf usually makes its parent the next candidate, so a pop and a push cost one sift, not two.
 */
export class IndexedHeap {
  #ids: Int32Array;
  #primary: Float64Array;
  #secondary: Float64Array;
  #position: Int32Array; // position of id in #ids, -1 when absent
  #size = 0;
  /** The root slot is empty (popped, not refilled yet); #size counts the entries without it. */
  #hole = false;

  constructor(initialCapacity = 1024) {
    const capacity = Math.max(2, initialCapacity);
    this.#ids = new Int32Array(capacity);
    this.#primary = new Float64Array(capacity);
    this.#secondary = new Float64Array(capacity);
    this.#position = new Int32Array(capacity).fill(-1);
  }

  get size(): number {
    return this.#size;
  }

  has(id: number): boolean {
    return id < this.#position.length && this.#position[id]! >= 0;
  }

  /** The first id, or -1 when empty. */
  peek(): number {
    if (this.#hole) this.#fillHole();
    return this.#size > 0 ? this.#ids[0]! : -1;
  }

  /** The primary key of the first id (Infinity when empty). */
  peekPrimary(): number {
    if (this.#hole) this.#fillHole();
    return this.#size > 0 ? this.#primary[0]! : Infinity;
  }

  /** Adds `id` with its keys, or re-keys it when present. */
  set(id: number, primary: number, secondary: number): void {
    if (id >= this.#position.length) this.#growPositions(id + 1);
    if (this.#hole) {
      if (this.#position[id]! < 0) {
        this.#hole = false;
        this.#size++;
        this.#siftDown(0, id, primary, secondary);
        return;
      }
      this.#fillHole();
    }
    const at = this.#position[id]!;
    if (at >= 0) {
      this.#siftDown(this.#siftUp(at, id, primary, secondary), id, primary, secondary);
      return;
    }
    if (this.#size === this.#ids.length) this.#growItems(this.#size * 2);
    this.#siftUp(this.#size++, id, primary, secondary);
  }

  /** Removes and returns the first id, or -1 when empty. */
  pop(): number {
    if (this.#hole) this.#fillHole();
    if (this.#size === 0) return -1;
    const first = this.#ids[0]!;
    this.#position[first] = -1;
    this.#size--;
    this.#hole = this.#size > 0;
    return first;
  }

  /** Removes `id` if present. */
  delete(id: number): void {
    if (id >= this.#position.length || this.#position[id]! < 0) return;
    if (this.#hole) this.#fillHole();
    this.#removeAt(this.#position[id]!);
  }

  /** Ids in heap order (not sorted); for tests and invariant checks. */
  *ids(): IterableIterator<number> {
    if (this.#hole) this.#fillHole();
    for (let i = 0; i < this.#size; i++) yield this.#ids[i]!;
  }

  /** Moves the last entry into the hole at the root. */
  #fillHole(): void {
    this.#hole = false;
    const last = this.#size;
    this.#siftDown(0, this.#ids[last]!, this.#primary[last]!, this.#secondary[last]!);
  }

  #removeAt(at: number): void {
    const ids = this.#ids;
    this.#position[ids[at]!] = -1;
    const last = --this.#size;
    if (at === last) return;
    const id = ids[last]!;
    const primary = this.#primary[last]!;
    const secondary = this.#secondary[last]!;
    this.#siftDown(this.#siftUp(at, id, primary, secondary), id, primary, secondary);
  }

  /** Moves the hole at `at` up until (id, keys) fits, writes it there; returns where. */
  #siftUp(at: number, id: number, primary: number, secondary: number): number {
    const ids = this.#ids;
    const primaries = this.#primary;
    const secondaries = this.#secondary;
    const position = this.#position;
    while (at > 0) {
      const up = (at - 1) >> 1;
      const p = primaries[up]!;
      if (p < primary) break;
      const upId = ids[up]!;
      if (p === primary) {
        const s = secondaries[up]!;
        if (s < secondary || (s === secondary && upId < id)) break;
      }
      ids[at] = upId;
      primaries[at] = p;
      secondaries[at] = secondaries[up]!;
      position[upId] = at;
      at = up;
    }
    ids[at] = id;
    primaries[at] = primary;
    secondaries[at] = secondary;
    position[id] = at;
    return at;
  }

  /** Moves (id, keys), sitting at `at`, down to where it belongs. */
  #siftDown(at: number, id: number, primary: number, secondary: number): void {
    const ids = this.#ids;
    const primaries = this.#primary;
    const secondaries = this.#secondary;
    const position = this.#position;
    const size = this.#size;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && before(primaries, secondaries, ids, right, child)) child = right;
      const p = primaries[child]!;
      if (p > primary) break;
      const childId = ids[child]!;
      if (p === primary) {
        const s = secondaries[child]!;
        if (s > secondary || (s === secondary && childId > id)) break;
      }
      ids[at] = childId;
      primaries[at] = p;
      secondaries[at] = secondaries[child]!;
      position[childId] = at;
      at = child;
    }
    ids[at] = id;
    primaries[at] = primary;
    secondaries[at] = secondary;
    position[id] = at;
  }

  #growItems(capacity: number): void {
    this.#ids = growInt(this.#ids, capacity, 0);
    const primary = new Float64Array(capacity);
    primary.set(this.#primary);
    this.#primary = primary;
    const secondary = new Float64Array(capacity);
    secondary.set(this.#secondary);
    this.#secondary = secondary;
  }

  #growPositions(minLength: number): void {
    let length = Math.max(16, this.#position.length);
    while (length < minLength) length *= 2;
    this.#position = growInt(this.#position, length, -1);
  }
}

/** Entry `a` comes out before entry `b`. */
function before(primaries: Float64Array, secondaries: Float64Array, ids: Int32Array, a: number, b: number): boolean {
  const pa = primaries[a]!;
  const pb = primaries[b]!;
  if (pa !== pb) return pa < pb;
  const sa = secondaries[a]!;
  const sb = secondaries[b]!;
  if (sa !== sb) return sa < sb;
  return ids[a]! < ids[b]!;
}

function growInt(array: Int32Array, length: number, fill: number): Int32Array {
  const next = new Int32Array(length);
  next.set(array);
  if (fill !== 0) next.fill(fill, array.length);
  return next;
}

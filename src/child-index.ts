/**
 * Maps (parent page, block id) to the child page, for every edge of the radix tree, in one open-addressing
 * hash table. One table for the whole tree keeps the per-page cost at a few typed-array slots instead of a
 * `Map` per node, and a lookup is O(1) however many children the root has (real traces have thousands).
 *
 * Linear probing with backward-shift deletion: no tombstones, so long runs of insert/evict churn (the
 * normal life of a cache) never degrade lookups.
 */
export class ChildIndex {
  #mask: number;
  #parents: Int32Array; // -1 marks an empty slot (the root is never a child)
  #blocks: Float64Array;
  #children: Int32Array;
  #size = 0;

  constructor(initialCapacity = 1024) {
    let capacity = 16;
    while (capacity < initialCapacity * 2) capacity *= 2;
    this.#mask = capacity - 1;
    this.#parents = new Int32Array(capacity).fill(-1);
    this.#blocks = new Float64Array(capacity);
    this.#children = new Int32Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** The child of `parent` reached by `block`, or -1. */
  get(parent: number, block: number): number {
    const parents = this.#parents;
    const mask = this.#mask;
    for (let slot = slotOf(parent, block, mask); ; slot = (slot + 1) & mask) {
      const p = parents[slot]!;
      if (p === -1) return -1;
      if (p === parent && this.#blocks[slot] === block) return this.#children[slot]!;
    }
  }

  /** Adds an edge that must not exist yet. */
  set(parent: number, block: number, child: number): void {
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    this.#place(parent, block, child);
    this.#size++;
  }

  /** Removes an edge; a no-op when absent. */
  delete(parent: number, block: number): void {
    const parents = this.#parents;
    const blocks = this.#blocks;
    const children = this.#children;
    const mask = this.#mask;
    let slot = slotOf(parent, block, mask);
    for (; ; slot = (slot + 1) & mask) {
      const p = parents[slot]!;
      if (p === -1) return;
      if (p === parent && blocks[slot] === block) break;
    }
    // Backward-shift: pull later entries of the probe run into the hole when their home allows it.
    let hole = slot;
    for (let next = (hole + 1) & mask; parents[next] !== -1; next = (next + 1) & mask) {
      const home = slotOf(parents[next]!, blocks[next]!, mask);
      const distanceToHole = (hole - home) & mask;
      const distanceToNext = (next - home) & mask;
      if (distanceToHole < distanceToNext) {
        parents[hole] = parents[next]!;
        blocks[hole] = blocks[next]!;
        children[hole] = children[next]!;
        hole = next;
      }
    }
    parents[hole] = -1;
    this.#size--;
  }

  #place(parent: number, block: number, child: number): void {
    const mask = this.#mask;
    let slot = slotOf(parent, block, mask);
    while (this.#parents[slot] !== -1) slot = (slot + 1) & mask;
    this.#parents[slot] = parent;
    this.#blocks[slot] = block;
    this.#children[slot] = child;
  }

  #grow(): void {
    const parents = this.#parents;
    const blocks = this.#blocks;
    const children = this.#children;
    const capacity = (this.#mask + 1) * 2;
    this.#mask = capacity - 1;
    this.#parents = new Int32Array(capacity).fill(-1);
    this.#blocks = new Float64Array(capacity);
    this.#children = new Int32Array(capacity);
    for (let i = 0; i < parents.length; i++) {
      if (parents[i] !== -1) this.#place(parents[i]!, blocks[i]!, children[i]!);
    }
  }
}

/** Home slot of an edge. */
function slotOf(parent: number, block: number, mask: number): number {
  return edgeHash(parent, block) & mask;
}

/** A 32-bit hash of an edge: a multiplicative mix of the parent and both 32-bit halves of the block id. */
export function edgeHash(parent: number, block: number): number {
  const lo = block >>> 0;
  const hi = (block * 2.3283064365386963e-10) >>> 0; // block / 2^32, exact, without a division
  let h = Math.imul(parent ^ 0x27d4eb2f, 0x9e3779b1) ^ Math.imul(lo, 0x85ebca77) ^ Math.imul(hi, 0xc2b2ae3d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}

/**
 * What the past says about every prefix seen recently, keyed by the prefix itself (a chained hash of its
 * blocks), not by cache page: labels and features must survive eviction, since "was this prefix asked for
 * again" is a fact about the trace, whatever the cache held. Entries idle for longer than `horizon`
 * requests are dropped in periodic sweeps, so memory follows the horizon, not the trace.
 */
export class PrefixHistory {
  readonly horizon: number;
  #slots = new Map<number, number>();
  #free: number[] = [];
  #next = 0;
  #lastRequest = new Float64Array(1024);
  #count = new Float64Array(1024);
  #lastGap = new Float64Array(1024);
  #children = new Float64Array(1024);
  /** Pending training sample of the prefix (-1: none), for delayed labelling. */
  #pending = new Int32Array(1024).fill(-1);
  #sweptAt = 0;

  constructor(horizon: number) {
    this.horizon = horizon;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The slot of prefix `key`, or -1 if it was not seen within the horizon. */
  find(key: number): number {
    return this.#slots.get(key) ?? -1;
  }

  /** The slot of prefix `key`, creating it (and counting it as a child of `parentSlot`) when new. */
  findOrAdd(key: number, parentSlot: number): number {
    const found = this.#slots.get(key);
    if (found !== undefined) return found;
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#next === this.#count.length) this.#grow();
      slot = this.#next++;
    }
    this.#slots.set(key, slot);
    this.#lastRequest[slot] = -1;
    this.#count[slot] = 0;
    this.#lastGap[slot] = 0;
    this.#children[slot] = 0;
    this.#pending[slot] = -1;
    if (parentSlot >= 0) this.#children[parentSlot]! += 1;
    return slot;
  }

  /** Records an access by request `r`. */
  access(slot: number, r: number): void {
    const last = this.#lastRequest[slot]!;
    if (last >= 0) this.#lastGap[slot] = r - last;
    this.#lastRequest[slot] = r;
    this.#count[slot]! += 1;
  }

  lastRequest(slot: number): number {
    return this.#lastRequest[slot]!;
  }
  count(slot: number): number {
    return this.#count[slot]!;
  }
  lastGap(slot: number): number {
    return this.#lastGap[slot]!;
  }
  children(slot: number): number {
    return this.#children[slot]!;
  }
  pending(slot: number): number {
    return this.#pending[slot]!;
  }
  setPending(slot: number, sample: number): void {
    this.#pending[slot] = sample;
  }

  /** Drops prefixes idle for more than the horizon; cheap enough to call every request (it runs rarely). */
  sweep(r: number): void {
    if (r - this.#sweptAt < this.horizon) return;
    this.#sweptAt = r;
    for (const [key, slot] of this.#slots) {
      if (r - this.#lastRequest[slot]! > this.horizon) {
        this.#slots.delete(key);
        this.#free.push(slot);
      }
    }
  }

  #grow(): void {
    const length = this.#count.length * 2;
    const grow = (array: Float64Array) => {
      const next = new Float64Array(length);
      next.set(array);
      return next;
    };
    this.#lastRequest = grow(this.#lastRequest);
    this.#count = grow(this.#count);
    this.#lastGap = grow(this.#lastGap);
    this.#children = grow(this.#children);
    const pending = new Int32Array(length).fill(-1);
    pending.set(this.#pending);
    this.#pending = pending;
  }
}

/**
 * The key of prefix `blocks[0..i]` from its parent's key and block i: two 32-bit multiplicative hashes
 * folded into one 53-bit integer, so a JS Map keys it exactly. Collisions need ~2^26 live prefixes.
 */
export function childKey(parentKey: number, block: number): number {
  const lo = block >>> 0;
  const hi = Math.floor(block / 4294967296) >>> 0;
  const p0 = parentKey >>> 0;
  const p1 = Math.floor(parentKey / 4294967296) >>> 0;
  let a = Math.imul(p0 ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(lo, 0xc2b2ae35) ^ Math.imul(hi + p1, 0x27d4eb2f);
  a = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d);
  a ^= a >>> 13;
  let b = Math.imul(p1 ^ 0x7f4a7c15, 0x165667b1) ^ Math.imul(lo ^ p0, 0xd3a2646c) ^ Math.imul(hi, 0xfd7046c5);
  b = Math.imul(b ^ (b >>> 16), 0x297a2d39);
  b ^= b >>> 12;
  return (a >>> 0) * 2097152 + (b >>> 11);
}

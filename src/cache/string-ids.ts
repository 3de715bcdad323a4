/**
 * Small integer ids for strings, kept by the caller (`set` gives a key an id the caller chose, `deleteId`
 * forgets it by id), in an open-addressed table of typed arrays: linear probing with each id's hash and
 * slot stored beside it, deletion by backward shift (no tombstones).
 *
 * Why not a Map: the ste policy interns one new `instance/agent` key per request of a long chain and
 * forgets one, among thousands in play (one per agent with cached pages). In a Map each such insert and
 * delete touched a cold bucket, a cold entry and the cold key string (its hash and characters), which cost
 * more than the rest of the policy's work per request (docs/performance.md). Here a delete by id reads
 * only the small per-id arrays and the slot table, and a lookup compares a key string only when its
 * 32-bit hash matches.
 */
export class StringIds {
  /** Per slot: id + 1 (0: empty). */
  #slots = new Int32Array(64);
  #mask = 63;
  #count = 0;
  /** Per id: its key, hash and slot (-1: no key). */
  #keys: (string | undefined)[] = [];
  #hashes = new Int32Array(64);
  #slotOf = new Int32Array(64).fill(-1);

  get size(): number {
    return this.#count;
  }

  /** The id of `key`, or -1. */
  get(key: string): number {
    return this.getHashed(key, hashString(key));
  }

  /** `get` of a key whose `hashString` the caller has (to intern a missing key with one hash). */
  getHashed(key: string, hash: number): number {
    const slots = this.#slots;
    const mask = this.#mask;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry === 0) return -1;
      const id = entry - 1;
      if (this.#hashes[id] === hash && this.#keys[id] === key) return id;
    }
  }

  /** Gives `key` (not in the table) the id `id` (which has no key). */
  set(key: string, id: number): void {
    this.setHashed(key, id, hashString(key));
  }

  /** `set` with the key's `hashString`. */
  setHashed(key: string, id: number, hash: number): void {
    if (2 * (this.#count + 1) > this.#slots.length) this.#resize(this.#slots.length * 2);
    this.#ensureId(id);
    this.#keys[id] = key;
    this.#hashes[id] = hash;
    this.#place(id, hash);
    this.#count++;
  }

  /** The key with id `id`, or undefined. */
  keyOf(id: number): string | undefined {
    return this.#keys[id];
  }

  /** Forgets id `id`'s key (if it has one). */
  deleteId(id: number): void {
    if (id >= this.#keys.length || this.#keys[id] === undefined) return;
    this.#keys[id] = undefined;
    const slots = this.#slots;
    const mask = this.#mask;
    let hole = this.#slotOf[id]!;
    this.#slotOf[id] = -1;
    slots[hole] = 0;
    this.#count--;
    // Backward shift: later entries of the run move into the hole unless their home lies after it.
    for (let slot = (hole + 1) & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry === 0) return;
      const home = this.#hashes[entry - 1]! & mask;
      // Distance from home to slot, and from the hole to slot (both along the probe direction).
      if (((slot - home) & mask) >= ((slot - hole) & mask)) {
        slots[hole] = entry;
        this.#slotOf[entry - 1] = hole;
        slots[slot] = 0;
        hole = slot;
      }
    }
  }

  /** Every (key, id) in id order. */
  *entries(): IterableIterator<[string, number]> {
    for (let id = 0; id < this.#keys.length; id++) {
      const key = this.#keys[id];
      if (key !== undefined) yield [key, id];
    }
  }

  #place(id: number, hash: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let slot = hash & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = id + 1;
    this.#slotOf[id] = slot;
  }

  #ensureId(id: number): void {
    while (this.#keys.length <= id) this.#keys.push(undefined);
    if (id < this.#hashes.length) return;
    let length = this.#hashes.length;
    while (length <= id) length *= 2;
    const hashes = new Int32Array(length);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    const slotOf = new Int32Array(length).fill(-1);
    slotOf.set(this.#slotOf);
    this.#slotOf = slotOf;
  }

  #resize(length: number): void {
    this.#slots = new Int32Array(length);
    this.#mask = length - 1;
    for (let id = 0; id < this.#keys.length; id++) if (this.#keys[id] !== undefined) this.#place(id, this.#hashes[id]!);
  }
}

/** FNV-1a over the string's UTF-16 code units, mixed so that low bits spread. */
export function hashString(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  hash ^= hash >>> 15;
  return Math.imul(hash, 0x2c1b3c6d) ^ (hash >>> 12);
}

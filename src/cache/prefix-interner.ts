import { edgeHash } from '../child-index.js';

/** Largest block id kept in 4 bytes; a larger one switches the interner to 8-byte ids. */
const UINT32_LIMIT = 2 ** 32;
/** Table slots per prefix, at most: lookups stay short, the table stays small. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;

/**
 * Interns prefixes of block-id paths to dense ids: `intern(parent, block)` gives the id of the prefix
 * `parent` extended by `block`, a new one (1, 2, ...) the first time; 0 is the empty prefix. Belady's
 * next-use index needs it for every prefix of a trace, which for a 10M-request trace is tens of millions,
 * so each costs about 13 bytes: its parent and block in typed arrays (blocks in 4 bytes while they fit)
 * and an open-addressing table of ids that compares against them. Nothing is ever removed.
 */
export class PrefixInterner {
  #parent: Int32Array;
  #block32: Uint32Array | undefined;
  #block64: Float64Array | undefined;
  #table: Int32Array; // prefix id per slot, 0 = empty (the empty prefix is nobody's child)
  #count = 1;

  constructor(expectedPrefixes = 1024) {
    const capacity = Math.max(16, Math.ceil(expectedPrefixes));
    this.#parent = new Int32Array(capacity);
    this.#block32 = new Uint32Array(capacity);
    this.#table = new Int32Array(Math.ceil(capacity / MAX_LOAD));
  }

  /** Prefixes interned, the empty one included: ids are below this. */
  get size(): number {
    return this.#count;
  }

  intern(parent: number, block: number): number {
    const table = this.#table;
    const size = table.length;
    const block32 = this.#block32;
    const parents = this.#parent;
    let slot = Math.floor(((edgeHash(parent, block) >>> 0) * size) / UINT32_LIMIT);
    for (;;) {
      const id = table[slot]!;
      if (id === 0) break;
      if (parents[id] === parent && (block32 ? block32[id] === block : this.#block64![id] === block)) return id;
      if (++slot === size) slot = 0;
    }
    const id = this.#count++;
    if (id === parents.length) this.#growPrefixes();
    this.#parent[id] = parent;
    if (this.#block32 && !(block >= 0 && block < UINT32_LIMIT && block % 1 === 0)) this.#widenBlocks();
    if (this.#block32) this.#block32[id] = block;
    else this.#block64![id] = block;
    if (this.#count > table.length * MAX_LOAD) this.#rebuildTable(Math.ceil(table.length * GROWTH));
    else table[slot] = id;
    return id;
  }

  #growPrefixes(): void {
    const capacity = Math.ceil(this.#parent.length * GROWTH);
    this.#parent = copyInto(new Int32Array(capacity), this.#parent);
    if (this.#block32) this.#block32 = copyInto(new Uint32Array(capacity), this.#block32);
    else this.#block64 = copyInto(new Float64Array(capacity), this.#block64!);
  }

  #widenBlocks(): void {
    this.#block64 = Float64Array.from(this.#block32!);
    this.#block32 = undefined;
  }

  #rebuildTable(size: number): void {
    const table = new Int32Array(size);
    for (let id = 1; id < this.#count; id++) {
      const block = this.#block32 ? this.#block32[id]! : this.#block64![id]!;
      let slot = Math.floor(((edgeHash(this.#parent[id]!, block) >>> 0) * size) / UINT32_LIMIT);
      while (table[slot] !== 0) if (++slot === size) slot = 0;
      table[slot] = id;
    }
    this.#table = table;
  }
}

function copyInto<T extends Int32Array | Uint32Array | Float64Array>(target: T, source: T): T {
  target.set(source);
  return target;
}

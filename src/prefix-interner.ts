import { edgeHash } from './child-index.js';

/** Largest block id kept in 4 bytes; a larger one switches the interner to 8-byte ids. */
const UINT32_LIMIT = 2 ** 32;
/** Prefixes per table slot, at most: lookups stay short, the table stays small. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;

/**
 * Interns prefixes of block-id paths to dense ids: `intern(parent, block)` gives the id of the prefix
 * `parent` extended by `block`, a new one (1, 2, ...) the first time; 0 is the empty prefix. A prefix is
 * a page's identity (the same block under two prefixes is two pages), so this is the one page-path
 * interner: Belady's next-use index (next-use.ts), the streaming replay's encoding
 * (replay/replay-stream.ts) and trace statistics (workload/stats.ts) use it. The next-use index needs
 * every prefix of a trace, which for a 10M-request trace is tens of millions, so each costs 13 to 19
 * bytes: its parent and block in typed arrays (blocks in 4 bytes while they fit) and a power-of-two
 * open-addressing table of ids that compares against them. Nothing is ever removed.
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
    let slots = 16;
    while (slots * MAX_LOAD < capacity) slots *= 2;
    this.#table = new Int32Array(slots);
  }

  /** Prefixes interned, the empty one included: ids are below this. */
  get size(): number {
    return this.#count;
  }

  /**
   * Interns every prefix of `blocks` (`blocks[0..i]` for each i) and writes their ids to `out[at + i]`;
   * returns how many were known before (always the leading ones: a new prefix has no extensions yet).
   */
  internPath(blocks: ArrayLike<number>, out: Int32Array, at = 0): number {
    const before = this.#count;
    let prefix = 0;
    let known = 0;
    for (let i = 0; i < blocks.length; i++) {
      prefix = this.intern(prefix, blocks[i]!);
      out[at + i] = prefix;
      if (prefix < before) known++;
    }
    return known;
  }

  intern(parent: number, block: number): number {
    const table = this.#table;
    const size = table.length;
    const block32 = this.#block32;
    const parents = this.#parent;
    let slot = edgeHash(parent, block) & (size - 1);
    for (;;) {
      const id = table[slot]!;
      if (id === 0) break;
      if (parents[id] === parent && (block32 ? block32[id] === block : this.#block64![id] === block)) return id;
      if (++slot === size) slot = 0;
    }
    return this.#add(parent, block, slot);
  }

  /** Adds a new prefix whose table slot is `slot`; returns its id. */
  #add(parent: number, block: number, slot: number): number {
    const table = this.#table;
    const id = this.#count++;
    if (id === this.#parent.length) this.#growPrefixes();
    this.#parent[id] = parent;
    if (this.#block32 && !(block >= 0 && block < UINT32_LIMIT && block % 1 === 0)) this.#widenBlocks();
    if (this.#block32) this.#block32[id] = block;
    else this.#block64![id] = block;
    if (this.#count > table.length * MAX_LOAD) this.#rebuildTable(table.length * 2);
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
      let slot = edgeHash(this.#parent[id]!, block) & (size - 1);
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

import { ChildIndex } from '../child-index.js';

/**
 * Identifies agents in traffic that declares none, by the shape of prompt prefixes seen so far.
 *
 * An agent's fixed prompt is a prefix that later calls *branch* from: two calls share it and then go on
 * with different blocks (their dynamic inputs). So an agent's signature is the deepest page of a request's
 * prompt at which earlier requests continued in at least two different ways.
 *
 * Only continuations that are full, non-final blocks count. A conversation that grows by appending each
 * step re-sends the previous prompt whole, and its one new branch is the old partial last block replaced
 * by a longer one: counting final blocks would make every step a new "agent".
 *
 * Causal by construction: `identify` reads only what `record` was given before.
 */
export class PrefixSignatures {
  #edges = new ChildIndex();
  #nodes = 1; // 0 is the root
  /** Distinct qualifying continuations of each node, capped at 2 (all that matters). */
  #branches = new Uint8Array(1024);
  /** First qualifying continuation block of each node, to tell a second one apart. */
  #firstChild = new Float64Array(1024);
  #depth = new Int32Array(1024);
  readonly minDepth: number;

  /** `minDepth`: signatures shallower than this many pages are ignored (a shared chat-template header). */
  constructor(options: { minDepth?: number } = {}) {
    this.minDepth = options.minDepth ?? 2;
  }

  /** Distinct prefixes recorded (memory grows with them). */
  get size(): number {
    return this.#nodes - 1;
  }

  /**
   * The deepest branching prefix of `blocks` among requests recorded so far: its node id (a stable agent
   * identity) and depth in pages; undefined when there is none yet.
   */
  identify(blocks: ArrayLike<number>): { node: number; depth: number } | undefined {
    let node = 0;
    let found: { node: number; depth: number } | undefined;
    for (let i = 0; i < blocks.length; i++) {
      const child = this.#edges.get(node, blocks[i]!);
      if (child < 0) break;
      node = child;
      if (this.#branches[node]! >= 2 && this.#depth[node]! >= this.minDepth) found = { node, depth: this.#depth[node]! };
    }
    return found;
  }

  /** Adds a request's prompt. */
  record(blocks: ArrayLike<number>): void {
    let node = 0;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      let child = this.#edges.get(node, block);
      if (child < 0) {
        child = this.#allocate(i + 1);
        this.#edges.set(node, block, child);
      }
      // Block i continues node (the prefix of i pages) as a full block when more blocks follow it.
      if (i < blocks.length - 1 && this.#branches[node]! < 2) {
        if (this.#branches[node] === 0) {
          this.#branches[node] = 1;
          this.#firstChild[node] = block;
        } else if (this.#firstChild[node] !== block) {
          this.#branches[node] = 2;
        }
      }
      node = child;
    }
  }

  #allocate(depth: number): number {
    const id = this.#nodes++;
    if (id >= this.#depth.length) {
      const grow = <T extends Uint8Array | Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const next = make(a.length * 2);
        next.set(a);
        return next;
      };
      this.#branches = grow(this.#branches, (n) => new Uint8Array(n));
      this.#firstChild = grow(this.#firstChild, (n) => new Float64Array(n));
      this.#depth = grow(this.#depth, (n) => new Int32Array(n));
    }
    this.#depth[id] = depth;
    return id;
  }
}

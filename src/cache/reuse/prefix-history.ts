import { ChildIndex } from '../../child-index.js';

/** Nodes allocated up front: a trace's prefixes over two horizons are tens of thousands (Mooncake: ~70k), and growing to that by doubling was a tenth of a replay's time. */
const INITIAL_NODES = 1 << 16;

/** The empty prefix: the parent of every prompt's first block. */
export const EMPTY_PREFIX = -1;

/**
 * What the past says about every prefix seen recently: a trie of its own, apart from the cache, since
 * "was this prefix asked for again" is a fact about the trace whatever the cache held, and must survive
 * eviction. Nodes idle for longer than `horizon` requests are dropped in periodic sweeps, so memory
 * follows the horizon, not the trace. (A prefix is touched whenever a longer one is, so a stale node's
 * descendants are stale too and go in the same sweep: no edge ever hangs from a reused id.)
 */
export class PrefixHistory {
  horizon: number;
  #edges = new ChildIndex(INITIAL_NODES * 2);
  #free: number[] = [];
  #next = 0;
  #parent = new Int32Array(INITIAL_NODES);
  #block = new Float64Array(INITIAL_NODES);
  #lastRequest = new Float64Array(INITIAL_NODES).fill(-1);
  #count = new Float64Array(INITIAL_NODES);
  #lastGap = new Float64Array(INITIAL_NODES);
  #children = new Float64Array(INITIAL_NODES);
  /** Pending training sample of the prefix (-1: none), for delayed labelling. */
  #pending = new Int32Array(INITIAL_NODES).fill(-1);
  // The request whose last full block the prefix is (a conversation's turn; -1: none), and that turn's
  // number, gap to its previous turn (-1: first turn) and tokens (prompt + output).
  #turnRequest = new Float64Array(INITIAL_NODES).fill(-1);
  #turnNumber = new Float64Array(INITIAL_NODES);
  #turnGap = new Float64Array(INITIAL_NODES);
  #turnTokens = new Float64Array(INITIAL_NODES);
  #sweptAt = 0;

  constructor(horizon: number) {
    this.horizon = horizon;
  }

  /** Prefixes held. */
  get size(): number {
    return this.#edges.size;
  }

  /** The node of `parent`'s child by `block` (parent EMPTY_PREFIX for a first block), or -1. */
  find(parent: number, block: number): number {
    return this.#edges.get(parent + 1, block);
  }

  /** A new (unseen: count 0) node for `parent`'s child by `block`, which `find` did not find. */
  add(parent: number, block: number): number {
    let node = this.#free.pop();
    if (node === undefined) {
      if (this.#next === this.#count.length) this.#grow();
      node = this.#next++;
    }
    this.#edges.set(parent + 1, block, node);
    this.#parent[node] = parent;
    this.#block[node] = block;
    this.#lastRequest[node] = -1;
    this.#count[node] = 0;
    this.#lastGap[node] = 0;
    this.#children[node] = 0;
    this.#pending[node] = -1;
    this.#turnRequest[node] = -1;
    if (parent >= 0) this.#children[parent]! += 1;
    return node;
  }

  /** Records an access by request `r`. */
  access(node: number, r: number): void {
    const last = this.#lastRequest[node]!;
    if (last >= 0) this.#lastGap[node] = r - last;
    this.#lastRequest[node] = r;
    this.#count[node]! += 1;
  }

  lastRequest(node: number): number {
    return this.#lastRequest[node]!;
  }
  count(node: number): number {
    return this.#count[node]!;
  }
  lastGap(node: number): number {
    return this.#lastGap[node]!;
  }
  children(node: number): number {
    return this.#children[node]!;
  }
  pending(node: number): number {
    return this.#pending[node]!;
  }
  setPending(node: number, sample: number): void {
    this.#pending[node] = sample;
  }

  /** Request `r`, turn number `turn` of its conversation, ended (its last full block) at `node`. */
  setTurn(node: number, r: number, turn: number, gap: number, tokens: number): void {
    this.#turnRequest[node] = r;
    this.#turnNumber[node] = turn;
    this.#turnGap[node] = gap;
    this.#turnTokens[node] = tokens;
  }
  /** The request whose turn ended at `node`, or -1. */
  turnRequest(node: number): number {
    return this.#turnRequest[node]!;
  }
  turnNumber(node: number): number {
    return this.#turnNumber[node]!;
  }
  turnGap(node: number): number {
    return this.#turnGap[node]!;
  }
  turnTokens(node: number): number {
    return this.#turnTokens[node]!;
  }

  /** Drops prefixes idle for more than the horizon; call it every request (it works once per horizon). */
  sweep(r: number): void {
    if (r - this.#sweptAt < this.horizon) return;
    this.#sweptAt = r;
    for (let node = 0; node < this.#next; node++) {
      const last = this.#lastRequest[node]!;
      if (last < 0 || r - last <= this.horizon) continue;
      this.#edges.delete(this.#parent[node]! + 1, this.#block[node]!);
      this.#lastRequest[node] = -1;
      this.#free.push(node);
    }
  }

  #grow(): void {
    const length = this.#count.length * 2;
    const grow = <T extends Float64Array | Int32Array>(array: T, make: (n: number) => T, fill = 0): T => {
      const next = make(length);
      if (fill !== 0) next.fill(fill);
      next.set(array);
      return next;
    };
    this.#parent = grow(this.#parent, (n) => new Int32Array(n));
    this.#block = grow(this.#block, (n) => new Float64Array(n));
    this.#lastRequest = grow(this.#lastRequest, (n) => new Float64Array(n), -1);
    this.#count = grow(this.#count, (n) => new Float64Array(n));
    this.#lastGap = grow(this.#lastGap, (n) => new Float64Array(n));
    this.#children = grow(this.#children, (n) => new Float64Array(n));
    this.#pending = grow(this.#pending, (n) => new Int32Array(n), -1);
    this.#turnRequest = grow(this.#turnRequest, (n) => new Float64Array(n), -1);
    this.#turnNumber = grow(this.#turnNumber, (n) => new Float64Array(n));
    this.#turnGap = grow(this.#turnGap, (n) => new Float64Array(n));
    this.#turnTokens = grow(this.#turnTokens, (n) => new Float64Array(n));
  }
}

/**
 * Which upstreams' shadow trees hold each page, keyed by the page's block id. The gateway's block ids are
 * chained hashes, so one id names a whole prefix: matching a prompt against every upstream at once is one
 * walk over its blocks, AND-ing upstream bitmasks, instead of one tree walk per upstream. Routing cost so
 * follows the prompt's length, not length x upstreams. Holds up to 31 upstreams (one bit each).
 */
import { ChildIndex } from '../../child-index.js';

export const MAX_INDEXED_UPSTREAMS = 31;

export class PrefixIndex {
  /** Block id -> bitmask of upstreams holding the page; reuses the cache's edge table with one "parent". */
  #masks = new ChildIndex(1 << 16);

  /** Upstream `upstream` now holds (or no longer holds) the page of `block`. */
  update(upstream: number, block: number, present: boolean): void {
    const bit = 1 << upstream;
    const current = this.#masks.get(0, block);
    const before = current < 0 ? 0 : current;
    const after = present ? before | bit : before & ~bit;
    if (after === before) return;
    if (current >= 0) this.#masks.delete(0, block);
    if (after !== 0) this.#masks.set(0, block, after);
  }

  /** Forgets every page (the shadow trees were replaced by empty ones). */
  clear(): void {
    this.#masks = new ChildIndex(1 << 16);
  }

  /**
   * Leading pages of `blocks` held by each upstream in `upstreams` (by their bit positions), written to
   * `out` in the same order.
   */
  match(upstreams: readonly number[], blocks: readonly number[], out: Int32Array): Int32Array {
    let live = 0;
    for (const upstream of upstreams) live |= 1 << upstream;
    let depth = 0;
    for (; depth < blocks.length && live !== 0; depth++) {
      const mask = this.#masks.get(0, blocks[depth]!);
      const next = mask < 0 ? 0 : live & mask;
      if (next !== live) record(upstreams, live & ~next, depth, out);
      live = next;
    }
    if (live !== 0) record(upstreams, live, depth, out);
    return out;
  }
}

function record(upstreams: readonly number[], dropped: number, depth: number, out: Int32Array): void {
  for (let i = 0; i < upstreams.length; i++) if (dropped & (1 << upstreams[i]!)) out[i] = depth;
}

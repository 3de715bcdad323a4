/**
 * Interns prompt pages by their path from the root, the identity DESIGN.md section 4 gives a page:
 * the same block id under two different prefixes is two pages. Nothing is ever evicted, so this is
 * the radix cache at unbounded capacity without its bookkeeping, for trace statistics.
 */
import { ChildIndex } from '../child-index.js';

const ROOT = 0;

export class PageTrie {
  private readonly edges = new ChildIndex(1 << 16);
  private pageCount = 0;

  /** Distinct pages interned so far. */
  get size(): number {
    return this.pageCount;
  }

  /**
   * Writes the page number (0, 1, ... in order of first appearance) of every block of `blocks` into
   * `out`, interning pages not seen before, and returns how many leading pages already existed: the
   * prefix an unbounded cache would hit.
   */
  intern(blocks: readonly number[], out: Int32Array): number {
    let parent = ROOT;
    let known = 0;
    let matching = true;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      let node = matching ? this.edges.get(parent, block) : -1;
      if (node === -1) {
        matching = false;
        node = ++this.pageCount; // node numbers start at 1: 0 is the root
        this.edges.set(parent, block, node);
      } else {
        known++;
      }
      out[i] = node - 1;
      parent = node;
    }
    return known;
  }
}

/**
 * Eviction done from the engine's side, ahead of an allocation, for the two SGLang rules the page-granular
 * cache does not follow on its own (the cache stays DESIGN.md section 4's; replay keeps its pages):
 *
 * - node granularity (mem_cache/radix_cache.py evict): SGLang evicts whole radix nodes. A node is the run of
 *   pages one request inserted with one prefill chunk (cache_unfinished_req inserts chunk by chunk), split
 *   where another request's path branches off. Evicting the policy's victim page therefore continues up its
 *   parent chain while the parent came from the same insertion and has become a leaf; a parent with other
 *   children stays, exactly as a split node would.
 * - write_back (mem_cache/hiradix_cache.py evict with write_policy "write_back"): a page without a host copy
 *   is written to the CPU when it is evicted, and eviction waits for the write (writing_check blocks). The
 *   host tier is prefix-closed here, so the victim's path is backed up root first.
 */
import { PageState, ROOT, type RadixCache } from '../cache/radix-cache.js';

export interface GpuEvictorOptions {
  byNode: boolean;
  writeBack: boolean;
  /** Engine seconds a blocking write-back of `pages` costs. */
  writeBackSeconds(pages: number): number;
  /** Charges engine time. */
  charge(seconds: number): void;
}

export class GpuEvictor {
  readonly #cache: RadixCache;
  readonly #options: GpuEvictorOptions;
  /** The insertion (request chunk) each page came from, indexed by page id. */
  #segment = new Int32Array(1024);
  #nextSegment = 1;
  #path: number[] = [];

  constructor(cache: RadixCache, options: GpuEvictorOptions) {
    this.#cache = cache;
    this.#options = options;
  }

  /** A new insertion: the pages noted until the next call form one radix node. */
  startSegment(): number {
    return this.#nextSegment++;
  }

  noteInserted(page: number, segment: number): void {
    if (page >= this.#segment.length) {
      const grown = new Int32Array(Math.max(page + 1, this.#segment.length * 2));
      grown.set(this.#segment);
      this.#segment = grown;
    }
    this.#segment[page] = segment;
  }

  /**
   * A request matched a prefix ending at `page` and goes on differently: SGLang splits the node there
   * (radix_cache.py _split_node), so the matched part becomes a node of its own. Relabels `page` and the
   * ancestors of its insertion.
   */
  splitAt(page: number): void {
    const segment = this.#segment[page];
    if (segment === undefined || segment === 0) return;
    const fresh = this.#nextSegment++;
    for (let p = page; p !== ROOT && this.#segment[p] === segment; p = this.#cache.parentOf(p)) this.#segment[p] = fresh;
  }

  /** Evicts until `slots` GPU slots are free; false when the candidates run out first. */
  makeRoom(slots: number): boolean {
    const cache = this.#cache;
    while (cache.gpuSlots - cache.gpuUsed < slots) {
      const victim = cache.gpuVictim();
      if (victim < 0) return false;
      if (this.#options.writeBack) this.#writeBack(victim);
      const segment = this.#segment[victim];
      if (!cache.evictGpuPage(victim)) return false;
      if (!this.#options.byNode) continue;
      for (let page = cache.parentOf(victim); page !== ROOT && this.#segment[page] === segment; ) {
        const parent = cache.parentOf(page);
        if (this.#options.writeBack) this.#writeBack(page);
        if (!cache.evictGpuPage(page)) break;
        page = parent;
      }
    }
    return true;
  }

  /** Backs up `page` and its ancestors that have no host copy yet, root first, blocking the engine. */
  #writeBack(page: number): void {
    const cache = this.#cache;
    if (cache.cpuSlots === 0) return;
    const path = this.#path;
    path.length = 0;
    for (let p = page; p !== ROOT && (cache.stateOf(p) & (PageState.cpu | PageState.writing)) === 0; p = cache.parentOf(p)) path.push(p);
    let written = 0;
    for (let i = path.length - 1; i >= 0; i--) {
      if (!cache.startWrite(path[i]!)) break;
      cache.finishWrite(path[i]!);
      written++;
    }
    if (written > 0) this.#options.charge(this.#options.writeBackSeconds(written));
  }
}

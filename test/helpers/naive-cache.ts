/**
 * A deliberately naive reference for DESIGN.md section 4, written for clarity, not speed: the cache is a
 * map from a page's path (its blocks joined) to what the policies need; each eviction scans every page.
 * Model-based tests drive it and the real radix cache with the same requests and compare them.
 */
import type { PolicyName, TraceRequest } from '../../src/types.js';

interface NaivePage {
  lastAccess: number;
  accesses: number;
  agents: Set<string>;
}

export class NaiveCache {
  readonly pages = new Map<string, NaivePage>();
  evictions = 0;
  /** STE per agent, for `ste`; agents absent have no STE. */
  ste = new Map<string, number>();

  constructor(
    readonly policy: PolicyName,
    readonly slots: number,
    /** The whole trace, for Belady's look-ahead. */
    readonly future: readonly TraceRequest[] = [],
  ) {}

  /** Replays request number `r`; returns its hit tokens. */
  run(request: TraceRequest, r: number): number {
    const keys = request.blocks.map((_, i) => request.blocks.slice(0, i + 1).join(','));
    let matched = 0;
    while (matched < keys.length && this.pages.has(keys[matched]!)) matched++;
    const locked = new Set<string>();
    for (let i = 0; i < matched; i++) {
      const page = this.pages.get(keys[i]!)!;
      page.lastAccess = r;
      page.accesses++;
      locked.add(keys[i]!);
    }
    let held = matched;
    for (let i = matched; i < keys.length; i++) {
      while (this.pages.size >= this.slots) {
        if (!this.#evictOne(locked, r)) break;
      }
      if (this.pages.size >= this.slots) break;
      this.pages.set(keys[i]!, { lastAccess: r, accesses: 1, agents: new Set() });
      locked.add(keys[i]!);
      held++;
    }
    if (request.agent !== undefined && request.fixedBlocks) {
      for (let i = 0; i < Math.min(request.fixedBlocks, held); i++) this.pages.get(keys[i]!)!.agents.add(request.agent);
    }
    if (matched === 0) return 0;
    if (matched === request.blocks.length) return request.inputLength;
    return matched * request.blockSize;
  }

  #evictOne(locked: Set<string>, r: number): boolean {
    let best: { key: string; priority: number; lastAccess: number } | undefined;
    for (const [key, page] of this.pages) {
      if (locked.has(key) || this.#hasChild(key)) continue;
      const priority = this.#priority(key, page, r);
      if (
        !best ||
        priority < best.priority ||
        (priority === best.priority && page.lastAccess < best.lastAccess)
      ) {
        best = { key, priority, lastAccess: page.lastAccess };
      }
    }
    if (!best) return false;
    this.pages.delete(best.key);
    this.evictions++;
    return true;
  }

  #hasChild(key: string): boolean {
    for (const other of this.pages.keys()) if (other.startsWith(key + ',')) return true;
    return false;
  }

  #priority(key: string, page: NaivePage, r: number): number {
    switch (this.policy) {
      case 'lru':
        return 0;
      case 'reuse':
        return 0; // before its first training round (256 requests) reuse keys pages by last access: LRU
      case 'lfu':
        return page.accesses;
      case 'belady': {
        const blocks = key.split(',');
        for (let later = r + 1; later < this.future.length; later++) {
          const candidate = this.future[later]!.blocks;
          if (candidate.length >= blocks.length && blocks.every((b, i) => String(candidate[i]) === b)) {
            return -later;
          }
        }
        return -Infinity;
      }
      case 'ste': {
        let best: number | undefined;
        for (const agent of page.agents) {
          const ste = this.ste.get(agent);
          if (ste !== undefined && (best === undefined || ste < best)) best = ste;
        }
        return best === undefined ? -Infinity : -best;
      }
    }
  }
}

import { ChildIndex } from './child-index.js';
import { IndexedHeap } from './indexed-heap.js';
import type { EvictionPolicy, PageStats, PriorityOwner } from './policy.js';

/** Tier state bits of a page. A page is in the tree while it has a copy in some tier or is moving. */
export const PageState = {
  /** KV resident in GPU memory: usable by prefill. */
  gpu: 1,
  /** KV resident in CPU memory (HiCache-style backup or offloaded copy). */
  cpu: 2,
  /** Being loaded CPU -> GPU: holds a GPU slot, not yet usable, never evicted. */
  loading: 4,
  /** Being written GPU -> CPU: holds a CPU slot, not yet a valid backup, never evicted. */
  writing: 8,
} as const;

/** The root page: the empty prefix. It has no block, holds no slot and is never evicted. */
export const ROOT = 0;

export interface RadixCacheOptions {
  /** GPU pool size in pages (Infinity: unbounded). */
  gpuSlots: number;
  /** Orders eviction candidates. */
  policy: EvictionPolicy;
}

/**
 * A paged radix tree over block ids (DESIGN.md section 4). One node per page, so eviction is page-granular
 * by construction; a page's identity is its path from the root, found through one hash table of edges.
 *
 * Node fields live in typed arrays indexed by page id; ids of removed pages are reused, so memory follows
 * the number of cached pages, not the length of the trace. Eviction candidates (unlocked, not moving,
 * GPU-resident, no GPU-resident child) sit in an indexed heap ordered by the policy's priority, then by
 * last access, so choosing a victim is O(log n).
 *
 * Residency is prefix-closed per tier: a GPU page's parent is on GPU. Callers keep it so by matching
 * before inserting and by locking the path they use.
 */
export class RadixCache implements PageStats, PriorityOwner {
  readonly policy: EvictionPolicy;
  readonly gpuSlots: number;
  #gpuUsed = 0;
  #evictions = 0;
  #pageCount = 1; // the root

  #edges = new ChildIndex();
  #free: number[] = [];
  #capacity = 0;
  #next = 1; // first never-used page id
  #parent = new Int32Array(0);
  #block = new Float64Array(0);
  #children = new Int32Array(0);
  #gpuChildren = new Int32Array(0);
  #locks = new Int32Array(0);
  #state = new Uint8Array(0);
  #lastAccess = new Float64Array(0);
  #accesses = new Float64Array(0);
  #nextUse = new Float64Array(0);
  #priority = new Float64Array(0);
  #candidates: IndexedHeap;

  constructor(options: RadixCacheOptions) {
    if (!(options.gpuSlots >= 0)) throw new RangeError(`gpuSlots must be >= 0, got ${options.gpuSlots}`);
    this.policy = options.policy;
    this.gpuSlots = options.gpuSlots;
    this.#ensureCapacity(1024);
    this.#state[ROOT] = PageState.gpu;
    this.#parent[ROOT] = -1;
    this.#candidates = new IndexedHeap((a, b) => this.#evictsBefore(a, b));
    this.policy.bind?.(this);
  }

  /** GPU slots in use. */
  get gpuUsed(): number {
    return this.#gpuUsed;
  }
  /** Pages evicted from the GPU tier so far. */
  get evictions(): number {
    return this.#evictions;
  }
  /** Pages in the tree, the root excluded. */
  get size(): number {
    return this.#pageCount - 1;
  }
  /** Eviction candidates on the GPU tier right now. */
  get candidateCount(): number {
    return this.#candidates.size;
  }

  // PageStats, read by policies.
  lastAccess(page: number): number {
    return this.#lastAccess[page]!;
  }
  accessCount(page: number): number {
    return this.#accesses[page]!;
  }
  nextUse(page: number): number {
    return this.#nextUse[page]!;
  }

  parentOf(page: number): number {
    return this.#parent[page]!;
  }
  blockOf(page: number): number {
    return this.#block[page]!;
  }
  stateOf(page: number): number {
    return this.#state[page]!;
  }
  locksOf(page: number): number {
    return this.#locks[page]!;
  }
  childOf(page: number, block: number): number {
    return this.#edges.get(page, block);
  }

  /**
   * Walks the longest GPU-resident prefix of `blocks`, writing its page ids to `out[0..n)`; returns n.
   * Pages that are still loading do not match.
   */
  matchGpu(blocks: ArrayLike<number>, out: Int32Array): number {
    let page = ROOT;
    let n = 0;
    const limit = Math.min(blocks.length, out.length);
    while (n < limit) {
      const child = this.#edges.get(page, blocks[n]!);
      if (child < 0 || (this.#state[child]! & PageState.gpu) === 0) break;
      out[n++] = child;
      page = child;
    }
    return n;
  }

  /** Records an access at `tick`; `nextUse` is the tick of the page's next use, for Belady. */
  touch(page: number, tick: number, nextUse = Infinity): void {
    this.#lastAccess[page] = tick;
    this.#accesses[page]! += 1;
    this.#nextUse[page] = nextUse;
    this.#refresh(page);
  }

  /** Pins a page: a locked page is never evicted. Locks count, so nested users are fine. */
  lock(page: number): void {
    this.#locks[page]! += 1;
    this.#refresh(page);
  }

  unlock(page: number): void {
    if (this.#locks[page]! <= 0) throw new Error(`unlock of page ${page} that is not locked`);
    this.#locks[page]! -= 1;
    this.#refresh(page);
  }

  /**
   * Puts `block` on the GPU as a child of `parent` (which must be on the GPU), evicting one candidate at a
   * time while the pool is full. Returns the new page, or -1 when no candidate is left to evict.
   * The access counts as the page's first (`tick`, `nextUse`).
   */
  insertGpu(parent: number, block: number, tick: number, nextUse = Infinity): number {
    while (this.#gpuUsed >= this.gpuSlots) {
      if (this.evictGpu() < 0) return -1;
    }
    let page = this.#edges.get(parent, block);
    if (page < 0) page = this.#allocate(parent, block);
    else if (this.#state[page]! & PageState.gpu) throw new Error(`block ${block} is already on the GPU`);
    this.#state[page]! |= PageState.gpu;
    this.#gpuUsed++;
    this.#gpuChildren[parent]! += 1;
    this.#lastAccess[page] = tick;
    this.#accesses[page] = 1;
    this.#nextUse[page] = nextUse;
    this.#refresh(page);
    this.#refresh(parent);
    return page;
  }

  /** Evicts the first candidate from the GPU tier; returns it, or -1 when there is none. */
  evictGpu(): number {
    const victim = this.#candidates.pop();
    if (victim < 0) return -1;
    const parent = this.#parent[victim]!;
    this.#state[victim]! &= ~PageState.gpu;
    this.#gpuUsed--;
    this.#gpuChildren[parent]! -= 1;
    this.#evictions++;
    if (this.#state[victim] === 0) this.#remove(victim);
    this.#refresh(parent);
    return victim;
  }

  /** Re-reads a page's priority from the policy (for policies whose keys change between accesses). */
  reprioritize(page: number): void {
    if (this.#candidates.has(page)) {
      this.#priority[page] = this.policy.priority(page, this);
      this.#candidates.update(page);
    }
  }

  /** Block ids from the root to `page`. */
  pathOf(page: number): number[] {
    const path: number[] = [];
    for (let p = page; p !== ROOT; p = this.#parent[p]!) path.push(this.#block[p]!);
    return path.reverse();
  }

  /** Every page in the tree (the root excluded), in id order. */
  *pageIds(): IterableIterator<number> {
    for (let page = 1; page < this.#next; page++) if (this.#state[page] !== 0) yield page;
  }

  /**
   * Throws when a structural invariant does not hold: slot accounting, child counts, edge index, prefix
   * closure of the GPU tier, and that the candidate heap holds exactly the evictable pages. O(n): tests only.
   */
  checkInvariants(): void {
    const children = new Map<number, number>();
    const gpuChildren = new Map<number, number>();
    let gpu = 0;
    let pages = 0;
    for (const page of this.pageIds()) {
      pages++;
      const parent = this.#parent[page]!;
      const onGpu = (this.#state[page]! & PageState.gpu) !== 0;
      if (this.#edges.get(parent, this.#block[page]!) !== page) fail(`edge index misses page ${page}`);
      if (parent !== ROOT && this.#state[parent] === 0) fail(`page ${page} has a removed parent`);
      children.set(parent, (children.get(parent) ?? 0) + 1);
      if (onGpu) {
        gpu++;
        gpuChildren.set(parent, (gpuChildren.get(parent) ?? 0) + 1);
        if ((this.#state[parent]! & PageState.gpu) === 0) fail(`GPU page ${page} has a parent not on GPU`);
      }
      if (this.#locks[page]! < 0) fail(`page ${page} has a negative lock count`);
    }
    if (pages !== this.size) fail(`page count ${this.size} but ${pages} pages`);
    if (this.#edges.size !== pages) fail(`edge index has ${this.#edges.size} edges for ${pages} pages`);
    if (gpu !== this.#gpuUsed) fail(`gpuUsed ${this.#gpuUsed} but ${gpu} pages on GPU`);
    if (gpu > this.gpuSlots) fail(`GPU holds ${gpu} pages over capacity ${this.gpuSlots}`);
    for (const page of [ROOT, ...this.pageIds()]) {
      if ((children.get(page) ?? 0) !== this.#children[page]) fail(`child count of page ${page}`);
      if ((gpuChildren.get(page) ?? 0) !== this.#gpuChildren[page]) fail(`GPU child count of page ${page}`);
      if (this.#isCandidate(page) !== this.#candidates.has(page)) fail(`candidate heap wrong for page ${page}`);
    }
  }

  #isCandidate(page: number): boolean {
    return (
      page !== ROOT &&
      this.#state[page] !== undefined &&
      (this.#state[page]! & (PageState.gpu | PageState.loading | PageState.writing)) === PageState.gpu &&
      this.#gpuChildren[page] === 0 &&
      this.#locks[page] === 0
    );
  }

  /** Puts a page into, or takes it out of, the candidate heap after anything about it changed. */
  #refresh(page: number): void {
    if (this.#isCandidate(page)) {
      this.#priority[page] = this.policy.priority(page, this);
      if (this.#candidates.has(page)) this.#candidates.update(page);
      else this.#candidates.push(page);
    } else {
      this.#candidates.delete(page);
    }
  }

  #evictsBefore(a: number, b: number): boolean {
    const pa = this.#priority[a]!;
    const pb = this.#priority[b]!;
    if (pa !== pb) return pa < pb;
    const ta = this.#lastAccess[a]!;
    const tb = this.#lastAccess[b]!;
    if (ta !== tb) return ta < tb;
    return a < b;
  }

  #allocate(parent: number, block: number): number {
    let page = this.#free.pop();
    if (page === undefined) {
      if (this.#next === this.#capacity) this.#ensureCapacity(this.#capacity * 2);
      page = this.#next++;
    }
    this.#parent[page] = parent;
    this.#block[page] = block;
    this.#children[page] = 0;
    this.#gpuChildren[page] = 0;
    this.#locks[page] = 0;
    this.#state[page] = 0;
    this.#accesses[page] = 0;
    this.#nextUse[page] = Infinity;
    this.#edges.set(parent, block, page);
    this.#children[parent]! += 1;
    this.#pageCount++;
    return page;
  }

  #remove(page: number): void {
    if (this.#children[page] !== 0) throw new Error(`removing page ${page} that still has children`);
    const parent = this.#parent[page]!;
    this.#edges.delete(parent, this.#block[page]!);
    this.#children[parent]! -= 1;
    this.#state[page] = 0;
    this.#candidates.delete(page);
    this.policy.forget?.(page);
    this.#free.push(page);
    this.#pageCount--;
  }

  #ensureCapacity(capacity: number): void {
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(array: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(array);
      return next;
    };
    this.#parent = grow(this.#parent, (n) => new Int32Array(n));
    this.#block = grow(this.#block, (n) => new Float64Array(n));
    this.#children = grow(this.#children, (n) => new Int32Array(n));
    this.#gpuChildren = grow(this.#gpuChildren, (n) => new Int32Array(n));
    this.#locks = grow(this.#locks, (n) => new Int32Array(n));
    this.#state = grow(this.#state, (n) => new Uint8Array(n));
    this.#lastAccess = grow(this.#lastAccess, (n) => new Float64Array(n));
    this.#accesses = grow(this.#accesses, (n) => new Float64Array(n));
    this.#nextUse = grow(this.#nextUse, (n) => new Float64Array(n));
    this.#priority = grow(this.#priority, (n) => new Float64Array(n));
    this.#capacity = capacity;
  }
}

function fail(message: string): never {
  throw new Error(`radix cache invariant: ${message}`);
}

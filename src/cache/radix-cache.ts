import { edgeHash } from '../child-index.js';
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

// Page record layout (see RadixCache): 64 bytes, float64 slots 0..2 and int32 slots 6..15.
const PAGE_BYTES = 64;
const F_BLOCK = 0;
const F_LAST_ACCESS = 1;
const F_NEXT_USE = 2;
const I_ACCESSES = 6; // an access count stays far below 2^31 (one per request)
/** A child of the page (the last one linked or found), 0 for none: most pages have one child, so a walk down a prompt mostly skips the edge table. */
const I_CHILD_HINT = 7;
const I_PARENT = 8;
const I_CHAIN = 9; // next page of the same edge-table bucket
/** Previous page of the bucket, 0 for its first; OFF_TABLE for a page not in the edge table (see #child). */
const I_CHAIN_BEFORE = 10;
const OFF_TABLE = -1;
const I_CHILDREN = 11;
/** Children holding a GPU slot (resident or loading). */
const I_GPU_CHILDREN = 12;
/** Children holding a CPU slot (backed up or being written). */
const I_CPU_CHILDREN = 13;
const I_LOCKS = 14;
const I_STATE = 15;

/** The root page: the empty prefix. It has no block, holds no slot and is never evicted. */
export const ROOT = 0;

export interface RadixCacheOptions {
  /** GPU pool size in pages (Infinity: unbounded). */
  gpuSlots: number;
  /** CPU pool size in pages; 0 (the default) disables the CPU tier. */
  cpuSlots?: number;
  /** Told of every page leaving the GPU tier by eviction (for prefetch accounting). */
  onGpuEvict?: (page: number) => void;
  /** Told of every page becoming usable on the GPU: inserted, or loaded back from the CPU (KV events). */
  onGpuResident?: (page: number) => void;
  /** Orders eviction candidates. */
  policy: EvictionPolicy;
}

/** Entries each candidate heap starts with (it doubles as needed). */
const HEAP_START = 4096;

/**
 * A paged radix tree over block ids (DESIGN.md section 4). One node per page, so eviction is page-granular
 * by construction; a page's identity is its path from the root, found through one hash table of edges
 * (an only child is found through its parent's hint instead, see #child).
 *
 * Node fields live in typed arrays indexed by page id; ids of removed pages are reused, so memory follows
 * the number of cached pages, not the length of the trace. The edge table is chained through the pages
 * themselves (a bucket holds its first child page, each page the next one of its bucket), so an edge costs
 * one slot and finding or dropping one compares the page's own parent and block. Eviction candidates (unlocked, not moving,
 * GPU-resident, no GPU-resident child) sit in an indexed heap ordered by the policy's priority, then by
 * last access, so choosing a victim is O(log n).
 *
 * Residency is prefix-closed per tier: a GPU page's parent is on GPU (or loading), a CPU page's parent has
 * a CPU copy (or is being written). Callers keep it so by matching before inserting, loading and writing
 * in path order, and locking the path they use.
 *
 * The CPU tier (HiCache): `startWrite`/`finishWrite` back a GPU page up; a GPU eviction of a page with a
 * CPU copy keeps it in the tree as CPU-only; `startLoad`/`finishLoad` bring it back. CPU candidates (no
 * child with a CPU copy) sit in a second heap under the same policy.
 */
export class RadixCache implements PageStats, PriorityOwner {
  readonly policy: EvictionPolicy;
  readonly gpuSlots: number;
  readonly cpuSlots: number;
  readonly #onGpuEvict: ((page: number) => void) | undefined;
  readonly #onGpuResident: ((page: number) => void) | undefined;
  #gpuUsed = 0;
  #cpuUsed = 0;
  #gpuReserved = 0;
  /** Pages with a lock, loading, or being written: what eviction cannot touch. */
  #lockedPages = 0;
  #movingPages = 0;
  #evictions = 0;
  #pageCount = 1; // the root

  /** Edge hash table: first page of each bucket (0: empty, the root is nobody's child), then the page's chain field. */
  #buckets = new Int32Array(0);
  #free: number[] = [];
  /** Pages the records have room for (ids below it). */
  #capacity = 0;
  /** Buckets - 1: the edge table has a power of two of buckets, at least one per page record. */
  #bucketMask = 0;
  #next = 1; // first never-used page id
  /**
   * One 64-byte record per page, read through two views of the same buffer: float fields at
   * `page * 8 + F_*`, integer fields at `page * 16 + I_*`. A page's fields share a cache line, so
   * touching a page costs one miss, not one per field (what made a 16M-token cache twice as slow as 1M).
   */
  #f64 = new Float64Array(0);
  #i32 = new Int32Array(0);
  #candidates: IndexedHeap;
  #cpuCandidates: IndexedHeap;

  constructor(options: RadixCacheOptions) {
    if (!(options.gpuSlots >= 0)) throw new RangeError(`gpuSlots must be >= 0, got ${options.gpuSlots}`);
    this.policy = options.policy;
    this.gpuSlots = options.gpuSlots;
    this.cpuSlots = options.cpuSlots ?? 0;
    this.#onGpuEvict = options.onGpuEvict;
    this.#onGpuResident = options.onGpuResident;
    // Room for every page a bounded cache can hold (up to 2^17), so a run does not keep regrowing its
    // records, and no more: each record is a fresh cache line and page the run pays for.
    const slots = this.gpuSlots + this.cpuSlots + 1;
    this.#ensureCapacity(Math.max(1024, Number.isFinite(slots) ? Math.min(slots, 2 ** 17) : 1024));
    this.#i32[I_STATE] = PageState.gpu;
    this.#i32[I_PARENT] = -1;
    // The heaps grow as candidates come (only leaves are candidates): sized to every slot, they cost a
    // simulated replica more to build and clear than its run uses (a c1024 HiCache run: 2 x 84k entries).
    this.#candidates = new IndexedHeap(Math.min(this.#capacity, HEAP_START));
    this.#cpuCandidates = new IndexedHeap(this.cpuSlots > 0 ? Math.min(this.#capacity, HEAP_START) : 16);
    this.policy.bind?.(this);
  }

  /** GPU slots in use: pages resident or loading, plus reservations. */
  get gpuUsed(): number {
    return this.#gpuUsed;
  }
  /** CPU slots in use: pages backed up or being written. */
  get cpuUsed(): number {
    return this.#cpuUsed;
  }
  /**
   * An upper bound on GPU slots eviction cannot free now: locked pages, pages moving between tiers, and
   * reservations. Schedulers use it to admit only what fits.
   */
  get pinnedGpu(): number {
    return this.#lockedPages + this.#movingPages + this.#gpuReserved;
  }

  /** GPU slots reserved outside the tree (decode KV of running requests). */
  get gpuReserved(): number {
    return this.#gpuReserved;
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
    return this.#f64[page * 8 + F_LAST_ACCESS]!;
  }
  accessCount(page: number): number {
    return this.#i32[page * 16 + I_ACCESSES]!;
  }
  nextUse(page: number): number {
    return this.#f64[page * 8 + F_NEXT_USE]!;
  }

  parentOf(page: number): number {
    return this.#i32[page * 16 + I_PARENT]!;
  }
  blockOf(page: number): number {
    return this.#f64[page * 8 + F_BLOCK]!;
  }
  stateOf(page: number): number {
    return this.#i32[page * 16 + I_STATE]!;
  }
  locksOf(page: number): number {
    return this.#i32[page * 16 + I_LOCKS]!;
  }
  childOf(page: number, block: number): number {
    return this.#child(page, block);
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
      const child = this.#child(page, blocks[n]!);
      if (child < 0 || (this.#i32[child * 16 + I_STATE]! & PageState.gpu) === 0) break;
      out[n++] = child;
      page = child;
    }
    return n;
  }

  /**
   * Like `matchGpu`, then continues past the GPU prefix through pages that are only on the CPU or still
   * loading. Writes all their ids to `out`; `gpu` pages are usable now, the next `other` are not, and
   * `loading` of those are already on their way.
   */
  matchTiers(blocks: ArrayLike<number>, out: Int32Array): { gpu: number; other: number; loading: number } {
    const gpu = this.matchGpu(blocks, out);
    let page = gpu > 0 ? out[gpu - 1]! : ROOT;
    let n = gpu;
    let loading = 0;
    const limit = Math.min(blocks.length, out.length);
    while (n < limit) {
      const child = this.#child(page, blocks[n]!);
      if (child < 0) break;
      const state = this.#i32[child * 16 + I_STATE]!;
      if (state & PageState.loading) loading++;
      else if ((state & PageState.cpu) === 0) break;
      out[n++] = child;
      page = child;
    }
    return { gpu, other: n - gpu, loading };
  }

  /** Records an access at `tick`; `nextUse` is the tick of the page's next use, for Belady. */
  touch(page: number, tick: number, nextUse = Infinity): void {
    this.#f64[page * 8 + F_LAST_ACCESS] = tick;
    this.#i32[page * 16 + I_ACCESSES]! += 1;
    this.#f64[page * 8 + F_NEXT_USE] = nextUse;
    // A locked page is no candidate: its keys are read when the last lock goes.
    if (this.#i32[page * 16 + I_LOCKS] === 0) this.#refresh(page);
  }

  /** Pins a page: a locked page is never evicted. Locks count, so nested users are fine. */
  lock(page: number): void {
    const locks = this.#i32[page * 16 + I_LOCKS]!;
    this.#i32[page * 16 + I_LOCKS] = locks + 1;
    if (locks === 0) {
      this.#lockedPages++;
      this.#candidates.delete(page);
      if (this.cpuSlots > 0) this.#cpuCandidates.delete(page);
    }
  }

  unlock(page: number): void {
    const locks = this.#i32[page * 16 + I_LOCKS]!;
    if (locks <= 0) throw new Error(`unlock of page ${page} that is not locked`);
    this.#i32[page * 16 + I_LOCKS] = locks - 1;
    if (locks === 1) {
      this.#lockedPages--;
      this.#enter(page);
    }
  }

  /**
   * Puts `block` on the GPU as a child of `parent` (which must be on the GPU), evicting one candidate at a
   * time while the pool is full. Returns the new page, or -1 when no candidate is left to evict.
   * The access counts as the page's first (`tick`, `nextUse`).
   */
  insertGpu(parent: number, block: number, tick: number, nextUse = Infinity): number {
    const page = this.#insertGpu(parent, block, tick, nextUse, false);
    if (page >= 0) this.#refresh(page);
    return page;
  }

  /**
   * `insertGpu` then `lock` of the new page, in one step: the page never becomes an eviction candidate
   * in between (what cache-only replay does for every block it inserts).
   */
  insertGpuLocked(parent: number, block: number, tick: number, nextUse = Infinity): number {
    return this.#insertGpu(parent, block, tick, nextUse, true);
  }

  /**
   * `insertGpu` then `lock`, with the same policy calls (the policy reads the new page's priority when it is
   * a candidate in between: a learning policy notes what it reads) but without putting the page into a
   * candidate heap and taking it out again. The heaps order by (priority, access, page), a total order, so
   * what they hand out does not depend on where the page sat meanwhile.
   */
  insertGpuThenLock(parent: number, block: number, tick: number, nextUse = Infinity): number {
    const page = this.#insertGpu(parent, block, tick, nextUse, false);
    if (page < 0) return page;
    if (this.#isCandidate(page) || (this.cpuSlots > 0 && this.#isCpuCandidate(page))) this.policy.priority(page, this);
    this.lock(page);
    return page;
  }

  #insertGpu(parent: number, block: number, tick: number, nextUse: number, locked: boolean): number {
    if (parent !== ROOT && (this.#i32[parent * 16 + I_STATE]! & (PageState.gpu | PageState.loading)) === 0) {
      throw new Error(`block ${block} is inserted under page ${parent}, which is off the GPU`);
    }
    if (this.#gpuUsed >= this.gpuSlots && !this.#makeGpuRoomUnder(parent, Infinity)) return -1;
    let page = this.#child(parent, block);
    const fresh = page < 0;
    if (fresh) page = this.#allocate(parent, block);
    else if (this.#i32[page * 16 + I_STATE]! & (PageState.gpu | PageState.loading)) {
      throw new Error(`block ${block} is already on the GPU or loading`);
    }
    this.#i32[page * 16 + I_STATE]! |= PageState.gpu;
    this.#gpuUsed++;
    this.#i32[parent * 16 + I_GPU_CHILDREN]! += 1;
    this.#f64[page * 8 + F_LAST_ACCESS] = tick;
    this.#i32[page * 16 + I_ACCESSES] = 1;
    this.#f64[page * 8 + F_NEXT_USE] = nextUse;
    if (locked && fresh) {
      // A new page is in no candidate heap: nothing to take out.
      this.#i32[page * 16 + I_LOCKS] = 1;
      this.#lockedPages++;
    } else if (locked) this.lock(page);
    // The parent has a GPU child now: no GPU candidate any more (a CPU one may stay).
    this.#candidates.delete(parent);
    this.#onGpuResident?.(page);
    return page;
  }

  /**
   * Evicts the first candidate from the GPU tier; returns it, or -1 when there is none, or when its
   * priority is not below `priorityBelow` (prefetch only displaces less urgent pages).
   */
  evictGpu(priorityBelow = Infinity): number {
    if (this.#candidates.size === 0 || !(this.#candidates.peekPrimary() < priorityBelow)) return -1;
    return this.#evictGpuPage(this.#candidates.pop());
  }

  /** The page `evictGpu` would take next, or -1 when there is none. */
  gpuVictim(): number {
    return this.#candidates.peek();
  }

  /** Evicts `page` from the GPU tier if it is a candidate (a whole radix node is evicted page by page). */
  evictGpuPage(page: number): boolean {
    if (!this.#candidates.has(page)) return false;
    this.#candidates.delete(page);
    this.#evictGpuPage(page);
    return true;
  }

  #evictGpuPage(victim: number): number {
    const parent = this.#i32[victim * 16 + I_PARENT]!;
    this.#i32[victim * 16 + I_STATE]! &= ~PageState.gpu;
    this.#gpuUsed--;
    this.#i32[parent * 16 + I_GPU_CHILDREN]! -= 1;
    this.#evictions++;
    this.#onGpuEvict?.(victim);
    if (this.#i32[victim * 16 + I_STATE] === 0) this.#remove(victim);
    else this.#refresh(victim); // a CPU-only page now, maybe a CPU candidate
    this.#refresh(parent);
    return victim;
  }

  /** Evicts the first CPU candidate (dropping its CPU copy); returns it, or -1 when there is none. */
  evictCpu(): number {
    const victim = this.#cpuCandidates.pop();
    if (victim < 0) return -1;
    const parent = this.#i32[victim * 16 + I_PARENT]!;
    this.#i32[victim * 16 + I_STATE]! &= ~PageState.cpu;
    this.#cpuUsed--;
    this.#i32[parent * 16 + I_CPU_CHILDREN]! -= 1;
    if (this.#i32[victim * 16 + I_STATE] === 0) this.#remove(victim);
    else this.#refresh(victim);
    this.#refresh(parent);
    return victim;
  }

  /**
   * Takes `slots` GPU slots outside the tree (e.g. decode KV), evicting as needed. Returns false, having
   * reserved nothing, when not enough can be evicted.
   */
  reserveGpu(slots: number): boolean {
    if (!this.#makeGpuRoom(slots, Infinity)) return false;
    this.#gpuUsed += slots;
    this.#gpuReserved += slots;
    return true;
  }

  releaseGpu(slots: number): void {
    if (slots > this.#gpuReserved) throw new Error(`releasing ${slots} GPU slots of ${this.#gpuReserved} reserved`);
    this.#gpuUsed -= slots;
    this.#gpuReserved -= slots;
  }

  /**
   * Starts loading a CPU-only page back to the GPU: it takes a GPU slot now (evicting only candidates whose
   * priority is below `priorityBelow`) and becomes usable at `finishLoad`. Its parent must be on the GPU
   * or loading. Returns false, changing nothing, when no room can be made.
   */
  startLoad(page: number, priorityBelow = Infinity): boolean {
    const state = this.#i32[page * 16 + I_STATE]!;
    if ((state & (PageState.gpu | PageState.loading | PageState.cpu)) !== PageState.cpu) {
      throw new Error(`page ${page} is not CPU-only`);
    }
    const parent = this.#i32[page * 16 + I_PARENT]!;
    if (parent !== ROOT && (this.#i32[parent * 16 + I_STATE]! & (PageState.gpu | PageState.loading)) === 0) {
      throw new Error(`page ${page} loads before its parent`);
    }
    if (this.#gpuUsed >= this.gpuSlots && !this.#makeGpuRoomUnder(parent, priorityBelow)) {
      return false;
    }
    this.#i32[page * 16 + I_STATE]! |= PageState.loading;
    this.#movingPages++;
    this.#gpuUsed++;
    this.#i32[parent * 16 + I_GPU_CHILDREN]! += 1;
    this.#refresh(page);
    this.#refresh(parent);
    return true;
  }

  finishLoad(page: number): void {
    if ((this.#i32[page * 16 + I_STATE]! & PageState.loading) === 0) throw new Error(`page ${page} is not loading`);
    this.#i32[page * 16 + I_STATE] = (this.#i32[page * 16 + I_STATE]! & ~PageState.loading) | PageState.gpu;
    this.#movingPages--;
    this.#refresh(page);
    this.#onGpuResident?.(page);
  }

  /** Abandons a load: the page is CPU-only again. It must have no child on, or loading to, the GPU. */
  cancelLoad(page: number): void {
    if ((this.#i32[page * 16 + I_STATE]! & PageState.loading) === 0) throw new Error(`page ${page} is not loading`);
    if (this.#i32[page * 16 + I_GPU_CHILDREN] !== 0) throw new Error(`page ${page} has children on the GPU`);
    const parent = this.#i32[page * 16 + I_PARENT]!;
    this.#i32[page * 16 + I_STATE]! &= ~PageState.loading;
    this.#movingPages--;
    this.#gpuUsed--;
    this.#i32[parent * 16 + I_GPU_CHILDREN]! -= 1;
    this.#refresh(page);
    this.#refresh(parent);
  }

  /**
   * Starts backing a GPU page up to the CPU (write-through): it takes a CPU slot now, evicting CPU
   * candidates, and is a valid backup at `finishWrite`. Returns false when the CPU pool has no room.
   */
  startWrite(page: number): boolean {
    const state = this.#i32[page * 16 + I_STATE]!;
    if ((state & (PageState.gpu | PageState.cpu | PageState.writing)) !== PageState.gpu) {
      throw new Error(`page ${page} is not a GPU page without a CPU copy`);
    }
    const parent = this.#i32[page * 16 + I_PARENT]!;
    if (parent !== ROOT && (this.#i32[parent * 16 + I_STATE]! & (PageState.cpu | PageState.writing)) === 0) {
      throw new Error(`page ${page} is written before its parent`);
    }
    if (this.#cpuUsed >= this.cpuSlots && !this.#makeCpuRoomUnder(parent)) return false;
    this.#i32[page * 16 + I_STATE]! |= PageState.writing;
    this.#movingPages++;
    this.#cpuUsed++;
    this.#i32[parent * 16 + I_CPU_CHILDREN]! += 1;
    this.#refresh(page);
    this.#refresh(parent);
    return true;
  }

  finishWrite(page: number): void {
    if ((this.#i32[page * 16 + I_STATE]! & PageState.writing) === 0) throw new Error(`page ${page} is not being written`);
    this.#i32[page * 16 + I_STATE] = (this.#i32[page * 16 + I_STATE]! & ~PageState.writing) | PageState.cpu;
    this.#movingPages--;
    this.#refresh(page);
  }

  /**
   * Re-reads a page's priority from the policy (for policies whose keys change between accesses); false
   * when the page is in no candidate heap (its priority is read when it enters one: `#refresh`, `#enter`).
   */
  reprioritize(page: number): boolean {
    const onGpu = this.#candidates.has(page);
    const onCpu = this.#cpuCandidates.has(page);
    if (!onGpu && !onCpu) return false;
    const priority = this.policy.priority(page, this);
    if (onGpu) this.#candidates.set(page, priority, this.#f64[page * 8 + F_LAST_ACCESS]!);
    if (onCpu) this.#cpuCandidates.set(page, priority, this.#f64[page * 8 + F_LAST_ACCESS]!);
    return true;
  }

  /** Block ids from the root to `page`. */
  pathOf(page: number): number[] {
    const path: number[] = [];
    for (let p = page; p !== ROOT; p = this.#i32[p * 16 + I_PARENT]!) path.push(this.#f64[p * 8 + F_BLOCK]!);
    return path.reverse();
  }

  /** Every page in the tree (the root excluded), in id order. */
  *pageIds(): IterableIterator<number> {
    for (let page = 1; page < this.#next; page++) if (this.#i32[page * 16 + I_STATE] !== 0) yield page;
  }

  /**
   * Throws when a structural invariant does not hold: slot accounting per tier, child counts, the edge
   * index, prefix closure of both tiers, and that each candidate heap holds exactly the evictable pages.
   * O(n): for tests.
   */
  checkInvariants(): void {
    const children = new Map<number, number>();
    const gpuChildren = new Map<number, number>();
    const cpuChildren = new Map<number, number>();
    const bump = (map: Map<number, number>, key: number) => map.set(key, (map.get(key) ?? 0) + 1);
    let gpu = 0;
    let cpu = 0;
    let pages = 0;
    let offTable = 0;
    for (const page of this.pageIds()) {
      pages++;
      const parent = this.#i32[page * 16 + I_PARENT]!;
      const state = this.#i32[page * 16 + I_STATE]!;
      const parentState = parent === ROOT ? PageState.gpu | PageState.cpu : this.#i32[parent * 16 + I_STATE]!;
      if (this.#child(parent, this.#f64[page * 8 + F_BLOCK]!) !== page) fail(`edge index misses page ${page}`);
      if (parentState === 0) fail(`page ${page} has a removed parent`);
      if ((state & PageState.gpu) && (state & PageState.loading)) fail(`page ${page} is on GPU and loading`);
      if ((state & PageState.cpu) && (state & PageState.writing)) fail(`page ${page} is on CPU and being written`);
      bump(children, parent);
      if (state & (PageState.gpu | PageState.loading)) {
        gpu++;
        bump(gpuChildren, parent);
        if ((parentState & (PageState.gpu | PageState.loading)) === 0) fail(`GPU page ${page} has a parent off the GPU`);
      }
      if (state & (PageState.cpu | PageState.writing)) {
        cpu++;
        bump(cpuChildren, parent);
        if ((parentState & (PageState.cpu | PageState.writing)) === 0) fail(`CPU page ${page} has a parent off the CPU`);
      }
      if (this.#i32[page * 16 + I_LOCKS]! < 0) fail(`page ${page} has a negative lock count`);
      const hint = this.#i32[page * 16 + I_CHILD_HINT]!;
      if (hint !== 0 && (this.#i32[hint * 16 + I_PARENT] !== page || this.#i32[hint * 16 + I_STATE] === 0)) fail(`child hint of page ${page}`);
      if (this.#i32[page * 16 + I_CHAIN_BEFORE] === OFF_TABLE) {
        offTable++;
        if (this.#i32[parent * 16 + I_CHILD_HINT] !== page) fail(`page ${page} is off the edge table but not its parent's hint`);
        if (this.#i32[parent * 16 + I_CHILDREN] !== 1) fail(`page ${page} is off the edge table beside siblings`);
      }
    }
    if (pages !== this.size) fail(`page count ${this.size} but ${pages} pages`);
    const locked = [...this.pageIds()].filter((p) => this.#i32[p * 16 + I_LOCKS]! > 0).length;
    const moving = [...this.pageIds()].filter((p) => this.#i32[p * 16 + I_STATE]! & (PageState.loading | PageState.writing)).length;
    if (locked !== this.#lockedPages) fail(`${this.#lockedPages} locked pages counted, ${locked} found`);
    if (moving !== this.#movingPages) fail(`${this.#movingPages} moving pages counted, ${moving} found`);
    let edges = 0;
    for (const first of this.#buckets) for (let page = first; page !== 0; page = this.#i32[page * 16 + I_CHAIN]!) edges++;
    if (edges + offTable !== pages) fail(`edge index has ${edges} edges and ${offTable} only children off it for ${pages} pages`);
    if (gpu + this.#gpuReserved !== this.#gpuUsed) fail(`gpuUsed ${this.#gpuUsed} but ${gpu} pages + ${this.#gpuReserved} reserved`);
    if (cpu !== this.#cpuUsed) fail(`cpuUsed ${this.#cpuUsed} but ${cpu} pages on CPU`);
    if (this.#gpuUsed > this.gpuSlots) fail(`GPU holds ${this.#gpuUsed} slots over capacity ${this.gpuSlots}`);
    if (cpu > this.cpuSlots) fail(`CPU holds ${cpu} pages over capacity ${this.cpuSlots}`);
    for (const page of [ROOT, ...this.pageIds()]) {
      if ((children.get(page) ?? 0) !== this.#i32[page * 16 + I_CHILDREN]) fail(`child count of page ${page}`);
      if ((gpuChildren.get(page) ?? 0) !== this.#i32[page * 16 + I_GPU_CHILDREN]) fail(`GPU child count of page ${page}`);
      if ((cpuChildren.get(page) ?? 0) !== this.#i32[page * 16 + I_CPU_CHILDREN]) fail(`CPU child count of page ${page}`);
      if (this.#isCandidate(page) !== this.#candidates.has(page)) fail(`GPU candidate heap wrong for page ${page}`);
      if (this.#isCpuCandidate(page) !== this.#cpuCandidates.has(page)) fail(`CPU candidate heap wrong for page ${page}`);
    }
  }

  #isCandidate(page: number): boolean {
    return (
      page !== ROOT &&
      page < this.#capacity &&
      (this.#i32[page * 16 + I_STATE]! & (PageState.gpu | PageState.loading | PageState.writing)) === PageState.gpu &&
      this.#i32[page * 16 + I_GPU_CHILDREN] === 0 &&
      this.#i32[page * 16 + I_LOCKS] === 0
    );
  }

  #isCpuCandidate(page: number): boolean {
    return (
      page !== ROOT &&
      this.#i32[page * 16 + I_STATE] !== undefined &&
      (this.#i32[page * 16 + I_STATE]! & (PageState.cpu | PageState.loading | PageState.writing)) === PageState.cpu &&
      this.#i32[page * 16 + I_CPU_CHILDREN] === 0 &&
      this.#i32[page * 16 + I_LOCKS] === 0
    );
  }

  /**
   * Puts a page into, or takes it out of, the candidate heaps after anything about it changed. The
   * policy's priority is read only for a candidate; the CPU heap is left alone when there is no CPU tier.
   */
  #refresh(page: number): void {
    const gpu = this.#isCandidate(page);
    const cpu = this.cpuSlots > 0 && this.#isCpuCandidate(page);
    if (!gpu && !cpu) {
      this.#candidates.delete(page);
      if (this.cpuSlots > 0) this.#cpuCandidates.delete(page);
      return;
    }
    const priority = this.policy.priority(page, this);
    const tick = this.#f64[page * 8 + F_LAST_ACCESS]!;
    if (gpu) this.#candidates.set(page, priority, tick);
    else this.#candidates.delete(page);
    if (cpu) this.#cpuCandidates.set(page, priority, tick);
    else this.#cpuCandidates.delete(page);
  }

  /** `#refresh` for a page known to be in no heap (its last lock just went: locked pages are in none). */
  #enter(page: number): void {
    const gpu = this.#isCandidate(page);
    const cpu = this.cpuSlots > 0 && this.#isCpuCandidate(page);
    if (!gpu && !cpu) return;
    const priority = this.policy.priority(page, this);
    const tick = this.#f64[page * 8 + F_LAST_ACCESS]!;
    if (gpu) this.#candidates.set(page, priority, tick);
    if (cpu) this.#cpuCandidates.set(page, priority, tick);
  }

  /**
   * Makes one GPU slot free with `parent` locked, so eviction cannot take the page a new or loading child
   * hangs from: that would break prefix closure of the tier being filled. Callers skip it when a slot is
   * free, so the common path pays no heap updates for the lock (nor when the parent is already held).
   */
  #makeGpuRoomUnder(parent: number, priorityBelow: number): boolean {
    if (parent === ROOT || this.#i32[parent * 16 + I_LOCKS]! > 0) return this.#makeGpuRoom(1, priorityBelow);
    this.lock(parent);
    try {
      return this.#makeGpuRoom(1, priorityBelow);
    } finally {
      this.unlock(parent);
    }
  }

  /** `#makeGpuRoomUnder` for a CPU slot: a page being written keeps the parent's CPU copy. */
  #makeCpuRoomUnder(parent: number): boolean {
    if (parent === ROOT || this.#i32[parent * 16 + I_LOCKS]! > 0) return this.#makeCpuRoom();
    this.lock(parent);
    try {
      return this.#makeCpuRoom();
    } finally {
      this.unlock(parent);
    }
  }

  /** Evicts CPU candidates until one CPU slot is free; false when it cannot. */
  #makeCpuRoom(): boolean {
    while (this.#cpuUsed >= this.cpuSlots) {
      if (this.evictCpu() < 0) return false;
    }
    return true;
  }

  /** Evicts GPU candidates below `priorityBelow` until `slots` are free; false when it cannot. */
  #makeGpuRoom(slots: number, priorityBelow: number): boolean {
    while (this.#gpuUsed + slots > this.gpuSlots) {
      if (this.evictGpu(priorityBelow) < 0) return false;
    }
    return true;
  }

  #allocate(parent: number, block: number): number {
    let page = this.#free.pop();
    if (page === undefined) {
      if (this.#next === this.#capacity) this.#ensureCapacity(this.#capacity * 2);
      page = this.#next++;
    }
    this.#i32[page * 16 + I_PARENT] = parent;
    this.#f64[page * 8 + F_BLOCK] = block;
    this.#i32[page * 16 + I_CHILDREN] = 0;
    this.#i32[page * 16 + I_GPU_CHILDREN] = 0;
    this.#i32[page * 16 + I_CPU_CHILDREN] = 0;
    this.#i32[page * 16 + I_LOCKS] = 0;
    this.#i32[page * 16 + I_STATE] = 0;
    this.#i32[page * 16 + I_ACCESSES] = 0;
    this.#i32[page * 16 + I_CHILD_HINT] = 0;
    this.#f64[page * 8 + F_NEXT_USE] = Infinity;
    this.#addEdge(page, parent);
    this.#i32[parent * 16 + I_CHILDREN]! += 1;
    this.#pageCount++;
    return page;
  }

  #remove(page: number): void {
    if (this.#i32[page * 16 + I_CHILDREN] !== 0) throw new Error(`removing page ${page} that still has children`);
    const parent = this.#i32[page * 16 + I_PARENT]!;
    this.#dropEdge(page, parent);
    this.#i32[parent * 16 + I_CHILDREN]! -= 1;
    this.#i32[page * 16 + I_STATE] = 0;
    this.#candidates.delete(page);
    if (this.cpuSlots > 0) this.#cpuCandidates.delete(page);
    this.policy.forget?.(page);
    this.#free.push(page);
    this.#pageCount--;
  }

  /**
   * The child of `parent` reached by `block`, or -1.
   *
   * A page whose parent had no other child when it was added stays out of the edge table: it is the
   * parent's hint, found without a bucket (a prompt's pages form chains of only children, and inserting or
   * evicting one would otherwise read a random bucket, a cache miss). It joins the table when a sibling
   * comes. So a parent with one child whose hint is off the table has no other child to look for.
   */
  #child(parent: number, block: number): number {
    const i32 = this.#i32;
    const f64 = this.#f64;
    const hint = i32[parent * 16 + I_CHILD_HINT]!;
    if (hint !== 0 && f64[hint * 8 + F_BLOCK] === block) return hint;
    const children = i32[parent * 16 + I_CHILDREN]!;
    if (children === 0 || (children === 1 && hint !== 0 && i32[hint * 16 + I_CHAIN_BEFORE] === OFF_TABLE)) return -1;
    for (let page = this.#buckets[edgeHash(parent, block) & this.#bucketMask]!; page !== 0; page = i32[page * 16 + I_CHAIN]!) {
      if (i32[page * 16 + I_PARENT] === parent && f64[page * 8 + F_BLOCK] === block) {
        // Every child is in the table here (an off-table one has no sibling): moving the hint loses none.
        i32[parent * 16 + I_CHILD_HINT] = page;
        return page;
      }
    }
    return -1;
  }

  /** Adds the edge to the new child `page` of `parent` (its parent and block set; not counted yet). */
  #addEdge(page: number, parent: number): void {
    const i32 = this.#i32;
    if (i32[parent * 16 + I_CHILDREN] === 0) {
      i32[page * 16 + I_CHAIN_BEFORE] = OFF_TABLE;
    } else {
      // A sibling comes: an only child kept off the table (always the hint, see #child) joins it.
      const hint = i32[parent * 16 + I_CHILD_HINT]!;
      if (hint !== 0 && i32[hint * 16 + I_CHAIN_BEFORE] === OFF_TABLE) this.#link(hint);
      this.#link(page);
    }
    i32[parent * 16 + I_CHILD_HINT] = page;
  }

  /** Drops the edge to `page` (a child of `parent`). */
  #dropEdge(page: number, parent: number): void {
    const i32 = this.#i32;
    if (i32[parent * 16 + I_CHILD_HINT] === page) i32[parent * 16 + I_CHILD_HINT] = 0;
    if (i32[page * 16 + I_CHAIN_BEFORE] !== OFF_TABLE) this.#unlink(page);
  }

  /** Puts `page` (its parent and block set) at the head of its bucket. */
  #link(page: number): void {
    const i32 = this.#i32;
    const bucket = edgeHash(i32[page * 16 + I_PARENT]!, this.#f64[page * 8 + F_BLOCK]!) & this.#bucketMask;
    const next = this.#buckets[bucket]!;
    i32[page * 16 + I_CHAIN] = next;
    i32[page * 16 + I_CHAIN_BEFORE] = 0;
    if (next !== 0) i32[next * 16 + I_CHAIN_BEFORE] = page;
    this.#buckets[bucket] = page;
  }

  /**
   * Takes `page` out of its bucket. The chain is doubly linked so that this reads no bucket: with buckets
   * at least as many as pages, most pages are alone in theirs, and a bucket read is a cache miss.
   */
  #unlink(page: number): void {
    const i32 = this.#i32;
    const next = i32[page * 16 + I_CHAIN]!;
    const before = i32[page * 16 + I_CHAIN_BEFORE]!;
    if (next !== 0) i32[next * 16 + I_CHAIN_BEFORE] = before;
    if (before !== 0) i32[before * 16 + I_CHAIN] = next;
    else this.#buckets[edgeHash(i32[page * 16 + I_PARENT]!, this.#f64[page * 8 + F_BLOCK]!) & this.#bucketMask] = next;
  }

  /** Grows the page records to `capacity` pages, and the edge table with them when it has fewer buckets. */
  #ensureCapacity(capacity: number): void {
    const buffer = new ArrayBuffer(capacity * PAGE_BYTES);
    new Uint8Array(buffer).set(new Uint8Array(this.#i32.buffer));
    this.#f64 = new Float64Array(buffer);
    this.#i32 = new Int32Array(buffer);
    this.#capacity = capacity;
    if (this.#buckets.length >= capacity) return;
    this.#buckets = new Int32Array(2 ** Math.ceil(Math.log2(capacity)));
    this.#bucketMask = this.#buckets.length - 1;
    for (let page = 1; page < this.#next; page++) {
      if (this.#i32[page * 16 + I_STATE] !== 0 && this.#i32[page * 16 + I_CHAIN_BEFORE] !== OFF_TABLE) this.#link(page);
    }
  }
}

function fail(message: string): never {
  throw new Error(`radix cache invariant: ${message}`);
}

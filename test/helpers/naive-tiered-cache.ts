/**
 * A deliberately naive reference for the tiered radix cache (DESIGN.md section 4, HiCache tiers), written
 * for clarity, not speed: pages are a map from their path (blocks joined by ",") to their state, and every
 * eviction scans every page. The model-based interleaving test drives it and `RadixCache` with the same
 * operations and compares what each returns and what each holds after every step.
 *
 * It restates the rules, not the code: a GPU candidate is an unlocked page on the GPU, neither loading nor
 * written, with no child on (or loading to) the GPU; a CPU candidate is an unlocked page with a CPU copy,
 * neither loading nor written, with no child backed up (or being written). Victims go by priority, then
 * last access, then page id (the real cache's id of that path, which the model is told).
 */
import type { PolicyName } from '../../src/types.js';

export const GPU = 1;
export const CPU = 2;
export const LOADING = 4;
export const WRITING = 8;

export interface ModelPage {
  state: number;
  locks: number;
  lastAccess: number;
  accesses: number;
  nextUse: number;
}

export type ModelPolicy = Extract<PolicyName, 'lru' | 'lfu' | 'belady'>;

export class NaiveTieredCache {
  readonly pages = new Map<string, ModelPage>();
  reserved = 0;
  evictions = 0;

  constructor(
    readonly gpuSlots: number,
    readonly cpuSlots: number,
    readonly policy: ModelPolicy,
    /** The real cache's page id of a path, for the last tie-break. */
    readonly idOf: (path: string) => number,
  ) {}

  get gpuUsed(): number {
    return this.#count(GPU | LOADING) + this.reserved;
  }
  get cpuUsed(): number {
    return this.#count(CPU | WRITING);
  }

  parentOf(path: string): string {
    const cut = path.lastIndexOf(',');
    return cut < 0 ? '' : path.slice(0, cut);
  }

  /** The state bits of `path`'s parent; the root counts as holding every tier. */
  parentState(path: string): number {
    const parent = this.parentOf(path);
    return parent === '' ? GPU | CPU : (this.pages.get(parent)?.state ?? 0);
  }

  insertGpu(parent: string, block: number, tick: number, nextUse: number): string | undefined {
    const path = parent === '' ? String(block) : `${parent},${block}`;
    if (!this.#holding(parent, () => this.#makeGpuRoom(1, Infinity))) return undefined;
    const page = this.pages.get(path) ?? { state: 0, locks: 0, lastAccess: 0, accesses: 0, nextUse: Infinity };
    page.state |= GPU;
    page.lastAccess = tick;
    page.accesses = 1;
    page.nextUse = nextUse;
    this.pages.set(path, page);
    return path;
  }

  touch(path: string, tick: number, nextUse: number): void {
    const page = this.pages.get(path)!;
    page.lastAccess = tick;
    page.accesses++;
    page.nextUse = nextUse;
  }

  lock(path: string): void {
    this.pages.get(path)!.locks++;
  }

  unlock(path: string): void {
    this.pages.get(path)!.locks--;
  }

  evictGpu(priorityBelow = Infinity): string | undefined {
    const victim = this.#best((path, page) => this.#isGpuCandidate(path, page));
    if (victim === undefined || !(this.#priority(this.pages.get(victim)!) < priorityBelow)) return undefined;
    this.#drop(victim, GPU);
    this.evictions++;
    return victim;
  }

  evictCpu(): string | undefined {
    const victim = this.#best((path, page) => this.#isCpuCandidate(path, page));
    if (victim !== undefined) this.#drop(victim, CPU);
    return victim;
  }

  reserveGpu(slots: number): boolean {
    if (!this.#makeGpuRoom(slots, Infinity)) return false;
    this.reserved += slots;
    return true;
  }

  startLoad(path: string, priorityBelow: number): boolean {
    if (!this.#holding(this.parentOf(path), () => this.#makeGpuRoom(1, priorityBelow))) return false;
    this.pages.get(path)!.state |= LOADING;
    return true;
  }

  finishLoad(path: string): void {
    const page = this.pages.get(path)!;
    page.state = (page.state & ~LOADING) | GPU;
  }

  cancelLoad(path: string): void {
    this.pages.get(path)!.state &= ~LOADING;
  }

  startWrite(path: string): boolean {
    const room = this.#holding(this.parentOf(path), () => {
      while (this.cpuUsed >= this.cpuSlots) if (this.evictCpu() === undefined) return false;
      return true;
    });
    if (!room) return false;
    this.pages.get(path)!.state |= WRITING;
    return true;
  }

  finishWrite(path: string): void {
    const page = this.pages.get(path)!;
    page.state = (page.state & ~WRITING) | CPU;
  }

  hasChildWith(path: string, bits: number): boolean {
    for (const [other, page] of this.pages) {
      if (this.parentOf(other) === path && (page.state & bits) !== 0) return true;
    }
    return false;
  }

  /** Making room must not take the page a new child hangs from: the parent is held as if locked. */
  #holding(parent: string, makeRoom: () => boolean): boolean {
    const page = this.pages.get(parent);
    if (page) page.locks++;
    try {
      return makeRoom();
    } finally {
      if (page) page.locks--;
    }
  }

  #makeGpuRoom(slots: number, priorityBelow: number): boolean {
    while (this.gpuUsed + slots > this.gpuSlots) if (this.evictGpu(priorityBelow) === undefined) return false;
    return true;
  }

  #drop(path: string, tier: number): void {
    const page = this.pages.get(path)!;
    page.state &= ~tier;
    if (page.state === 0) this.pages.delete(path);
  }

  #isGpuCandidate(path: string, page: ModelPage): boolean {
    return (page.state & (GPU | LOADING | WRITING)) === GPU && page.locks === 0 && !this.hasChildWith(path, GPU | LOADING);
  }

  #isCpuCandidate(path: string, page: ModelPage): boolean {
    return (page.state & (CPU | LOADING | WRITING)) === CPU && page.locks === 0 && !this.hasChildWith(path, CPU | WRITING);
  }

  #priority(page: ModelPage): number {
    switch (this.policy) {
      case 'lru':
        return 0;
      case 'lfu':
        return page.accesses;
      case 'belady':
        return -page.nextUse;
    }
  }

  #best(candidate: (path: string, page: ModelPage) => boolean): string | undefined {
    let best: { path: string; key: [number, number, number] } | undefined;
    for (const [path, page] of this.pages) {
      if (!candidate(path, page)) continue;
      const key: [number, number, number] = [this.#priority(page), page.lastAccess, this.idOf(path)];
      if (!best || before(key, best.key)) best = { path, key };
    }
    return best?.path;
  }

  #count(bits: number): number {
    let n = 0;
    for (const page of this.pages.values()) if (page.state & bits) n++;
    return n;
  }
}

function before(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

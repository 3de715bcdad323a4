/**
 * The gateway's estimate of one upstream's prefix cache: a bounded `RadixCache` that sees every prompt the
 * gateway routes there, with the same eviction policy objects replay and the simulator use (by default LRU,
 * or KVFlow's STE order when the gateway forwards STE). Routing reads how much of a prompt it holds; a
 * routed request locks its path until the response ends, as the engine locks pages of running requests.
 */
import type { EvictionPolicy, SteChanges } from '../../cache/policy.js';
import { PromptAdmission } from '../../cache/prompt-admission.js';
import { RadixCache } from '../../cache/radix-cache.js';

export interface ShadowCacheOptions {
  /** Pages the estimate may hold (the upstream's KV pool in pages, if known). */
  slots: number;
  /** This tree's own eviction policy object (one per upstream). */
  policy: EvictionPolicy;
  /** Tokens per page (what a policy reads as the prompt's page size). */
  blockSize: number;
  /** Told of every page entering (true) or leaving (false) the tree, by its block id. */
  onPage?: (block: number, present: boolean) => void;
}

/** A routed request's hold on its path; `release` is idempotent. */
export interface ShadowLease {
  release(): void;
}

export class ShadowCache {
  readonly cache: RadixCache;
  readonly #policy: EvictionPolicy;
  readonly #blockSize: number;
  readonly #admission: PromptAdmission;
  #scratch = new Int32Array(512);
  #tick = 0;

  constructor(options: ShadowCacheOptions) {
    const policy = options.policy;
    this.#policy = policy;
    this.#blockSize = options.blockSize;
    const onPage = options.onPage;
    this.cache = new RadixCache({
      gpuSlots: options.slots,
      policy,
      ...(onPage && { onGpuEvict: (page: number) => onPage(this.cache.blockOf(page), false) }),
    });
    this.#admission = new PromptAdmission(this.cache, policy, onPage && ((block: number) => onPage(block, true)));
  }

  /** Leading pages of `blocks` held now. */
  match(blocks: readonly number[]): number {
    if (this.#scratch.length < blocks.length) this.#scratch = new Int32Array(blocks.length * 2);
    return this.cache.matchGpu(blocks, this.#scratch);
  }

  /**
   * Records a routed prompt: touches the cached prefix, inserts the rest (evicting by policy; a full tree
   * of locked pages keeps the tail out), locks the whole path and shows it to the policy (StePolicy tags
   * the first `fixedBlocks` pages with `agentKey`'s STE).
   */
  admit(blocks: readonly number[], fixedBlocks: number, agentKey: string | undefined): ShadowLease {
    // The gateway sees pages, not token counts: lengths are in blocks, so no last block counts as partial.
    const request = { agent: agentKey, blocks, blockSize: 1, inputLength: blocks.length };
    const prompt = { id: '', blockSize: this.#blockSize, inputLength: blocks.length * this.#blockSize, fixedBlocks };
    const admission = this.#admission;
    admission.admit(request, ++this.#tick, prompt, agentKey);
    return new PathLease(this.cache, admission.path.slice(0, admission.held));
  }

  /** New STE values (undefined: unknown), for a policy that takes them. */
  applySte(changes: SteChanges): void {
    this.#policy.applySte?.(changes);
  }

  /** The eviction policy's name. */
  get policyName(): string {
    return this.#policy.name;
  }

  /** Pages held. */
  get pages(): number {
    return this.cache.gpuUsed;
  }

  /** Pages locked by requests still in flight (zero when the gateway is idle). */
  get lockedPages(): number {
    return this.cache.pinnedGpu;
  }
}

/** The pages a routed request locked, unlocked once (one object per request, not a closure and its context). */
class PathLease implements ShadowLease {
  readonly #cache: RadixCache;
  #pages: Int32Array | undefined;

  constructor(cache: RadixCache, pages: Int32Array) {
    this.#cache = cache;
    this.#pages = pages;
  }

  release(): void {
    const pages = this.#pages;
    if (pages === undefined) return;
    this.#pages = undefined;
    for (const page of pages) this.#cache.unlock(page);
  }
}

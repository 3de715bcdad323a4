/**
 * The gateway's estimate of one upstream's prefix cache: a bounded `RadixCache` that sees every prompt the
 * gateway routes there, with the same eviction policy objects replay and the simulator use (by default LRU,
 * or KVFlow's STE order when the gateway forwards STE). Routing reads how much of a prompt it holds; a
 * routed request locks its path until the response ends, as the engine locks pages of running requests.
 */
import type { EvictionPolicy, SteChanges } from '../../cache/policy.js';
import { RadixCache, ROOT } from '../../cache/radix-cache.js';

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
  readonly #onPage: ((block: number, present: boolean) => void) | undefined;
  #scratch = new Int32Array(512);
  #tick = 0;

  constructor(options: ShadowCacheOptions) {
    const policy = options.policy;
    this.#policy = policy;
    this.#blockSize = options.blockSize;
    const onPage = options.onPage;
    this.#onPage = onPage;
    this.cache = new RadixCache({
      gpuSlots: options.slots,
      policy,
      ...(onPage && { onGpuEvict: (page: number) => onPage(this.cache.blockOf(page), false) }),
    });
  }

  /** Leading pages of `blocks` held now. */
  match(blocks: readonly number[]): number {
    return this.cache.matchGpu(blocks, this.#path(blocks.length));
  }

  /**
   * Records a routed prompt: touches the cached prefix, inserts the rest (evicting by policy; a full tree
   * of locked pages keeps the tail out), locks the whole path and shows it to the policy (StePolicy tags
   * the first `fixedBlocks` pages with `agentKey`'s STE).
   */
  admit(blocks: readonly number[], fixedBlocks: number, agentKey: string | undefined): ShadowLease {
    const cache = this.cache;
    const tick = ++this.#tick;
    const path = this.#path(blocks.length);
    // The gateway sees pages, not token counts: lengths are in blocks, so no last block counts as partial.
    const request = { agent: agentKey, blocks, blockSize: 1, inputLength: blocks.length };
    this.#policy.beforeRequest?.(request, tick);
    const matched = cache.matchGpu(blocks, path);
    for (let i = 0; i < matched; i++) {
      cache.lock(path[i]!);
      cache.touch(path[i]!, tick);
    }
    let held = matched;
    let parent = matched > 0 ? path[matched - 1]! : ROOT;
    while (held < blocks.length) {
      const page = cache.insertGpu(parent, blocks[held]!, tick);
      if (page < 0) break;
      cache.lock(page);
      this.#onPage?.(blocks[held]!, true);
      path[held++] = page;
      parent = page;
    }
    if (this.#policy.notePrompt) {
      const prompt = { id: '', blockSize: this.#blockSize, inputLength: blocks.length * this.#blockSize, fixedBlocks };
      this.#policy.notePrompt(prompt, agentKey, path, 0, held);
    }
    this.#policy.afterRequest?.({ request, tick, blocks, pages: path, matched, held, inputLength: blocks.length, outputLength: 0, blockSize: 1 });
    const pages = path.slice(0, held);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        for (const page of pages) cache.unlock(page);
      },
    };
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

  #path(length: number): Int32Array {
    if (this.#scratch.length < length) this.#scratch = new Int32Array(length * 2);
    return this.#scratch;
  }
}


import type { EvictionPolicy, PolicyPrompt, RequestInfo } from './policy.js';
import { ROOT, type RadixCache } from './radix-cache.js';

/** The request hooks an admission calls: an eviction policy's, when it has them. */
export type AdmissionHooks = Pick<EvictionPolicy, 'beforeRequest' | 'notePrompt' | 'afterRequest'>;

/** A request as admission reads it: what the hooks see, and its output length (0 when unknown). */
export interface AdmittedRequest extends RequestInfo {
  readonly outputLength?: number;
}

/**
 * Cache-only admission of one prompt, the loop cache-only replay (replay/replay.ts), the gateway's shadow
 * trees (serve/gateway/shadow-cache.ts) and the policy duel's shadows (policy-duel.ts) share: tell
 * `beforeRequest`; match the longest GPU prefix, lock and touch it; insert the missing blocks in order,
 * each locked as it goes in, evicting one page at a time while no slot is free, and stop at the first block
 * nothing can be evicted for (the rest of the prompt is not cached); show the held pages to `notePrompt`
 * and `afterRequest`. The pages stay locked, `path[0..held)`, until `release()`.
 *
 * A simulated replica (sim/replica.ts) admits differently and does not use this: it matches across tiers,
 * may load CPU pages back or wait for a prefetch, reserves its first output page before it starts, and
 * inserts its prompt chunk by chunk as prefill runs, sharing pages other requests wrote meanwhile.
 */
export class PromptAdmission {
  readonly cache: RadixCache;
  /** Pages of the prompt last admitted, in prompt order (matched ones first). */
  path = new Int32Array(256);
  /** Leading pages that were cached already (the hit). */
  matched = 0;
  /** Leading pages held: matched plus inserted. */
  held = 0;
  readonly #hooks: AdmissionHooks | undefined;
  readonly #onInsert: ((block: number) => void) | undefined;

  /** `onInsert` hears the block id of every page inserted. */
  constructor(cache: RadixCache, hooks?: AdmissionHooks, onInsert?: (block: number) => void) {
    this.cache = cache;
    this.#hooks = hooks;
    this.#onInsert = onInsert;
  }

  /**
   * Admits `request`'s prompt at `tick`; returns the pages matched. `notePrompt` is told only when a
   * `prompt` is given, with `agentKey` (the key its agent's STE is published under). `nextUse[base + i]`
   * is the next use of block i, for a policy that reads the future.
   */
  admit(request: AdmittedRequest, tick: number, prompt?: PolicyPrompt, agentKey?: string, nextUse?: ArrayLike<number>, base = 0): number {
    const { blocks } = request;
    const cache = this.cache;
    const hooks = this.#hooks;
    if (this.path.length < blocks.length) this.path = new Int32Array(blocks.length * 2);
    const path = this.path;
    hooks?.beforeRequest?.(request, tick);
    const matched = cache.matchGpu(blocks, path);
    for (let i = 0; i < matched; i++) {
      cache.lock(path[i]!);
      cache.touch(path[i]!, tick, nextUse ? nextUse[base + i]! : Infinity);
    }
    let held = matched;
    let parent = matched > 0 ? path[matched - 1]! : ROOT;
    for (let i = matched; i < blocks.length; i++) {
      const page = cache.insertGpuLocked(parent, blocks[i]!, tick, nextUse ? nextUse[base + i]! : Infinity);
      if (page < 0) break;
      this.#onInsert?.(blocks[i]!);
      path[held++] = page;
      parent = page;
    }
    this.matched = matched;
    this.held = held;
    if (prompt) hooks?.notePrompt?.(prompt, agentKey, path, 0, held);
    hooks?.afterRequest?.({
      request,
      tick,
      blocks,
      pages: path,
      matched,
      held,
      inputLength: request.inputLength,
      outputLength: request.outputLength ?? 0,
      blockSize: request.blockSize,
    });
    return matched;
  }

  /** Unlocks the pages the last admission holds. */
  release(): void {
    const path = this.path;
    for (let i = 0; i < this.held; i++) this.cache.unlock(path[i]!);
    this.held = 0;
  }
}

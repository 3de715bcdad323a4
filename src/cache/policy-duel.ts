import { LruPolicy, type EvictionPolicy } from './policy.js';
import { PromptAdmission } from './prompt-admission.js';
import { RadixCache } from './radix-cache.js';

/** What a shadow replays of a request. */
export interface ShadowRequest {
  blocks: ArrayLike<number>;
  blockSize: number;
  inputLength: number;
}

/** Hooks a shadow's policy gets around each request it replays (its own page ids, not the real cache's). */
export interface ShadowHooks<R extends ShadowRequest> {
  /** Before the request matches. */
  begin?(request: R, tick: number): void;
  /** Once its pages are matched and inserted (path order, `held` of them), before they unlock. */
  end?(request: R, tick: number, path: ArrayLike<number>, held: number): void;
  /** After its pages unlocked. */
  finish?(request: R): void;
}

/** A cache of the same size replaying the same requests under one policy, only to count its hits. */
export class Shadow<R extends ShadowRequest> {
  readonly cache: RadixCache;
  readonly #hooks: ShadowHooks<R> | undefined;
  readonly #admission: PromptAdmission;

  constructor(slots: number, policy: EvictionPolicy, hooks?: ShadowHooks<R>) {
    this.cache = new RadixCache({ gpuSlots: slots, policy });
    this.#hooks = hooks;
    this.#admission = new PromptAdmission(this.cache); // the shadow's own hooks, not its policy's
  }

  /** Replays one request as cache-only replay does (docs/semantics.md); returns its hit tokens. */
  run(request: R, tick: number): number {
    const admission = this.#admission;
    this.#hooks?.begin?.(request, tick);
    const matched = admission.admit(request, tick);
    this.#hooks?.end?.(request, tick, admission.path, admission.held);
    admission.release();
    this.#hooks?.finish?.(request);
    if (matched <= 0) return 0;
    return matched >= request.blocks.length ? request.inputLength : matched * request.blockSize;
  }
}

/** Per-request weight left to older shadow hits by default (a memory of about 10 requests). */
const DISCOUNT = 0.9;

/**
 * Set dueling, as LeCaR and CPU caches' adaptive insertion do: an LRU shadow and a challenger shadow (a
 * learned order) of the real cache's size replay the same requests, and the real cache follows the
 * challenger only while it has hit more input tokens lately (exponentially discounted, so the choice
 * adapts when the traffic changes). Ties go to LRU, so a challenger that never wins leaves the real cache
 * exactly LRU. Causal: the choice for a request is made from the shadows' hits on earlier ones. Used by
 * `ste-learned` (learned-ste/learned-ste-policy.ts) and `reuse` (reuse/reuse-policy.ts).
 */
export class PolicyDuel<R extends ShadowRequest> {
  readonly #lru: Shadow<R>;
  readonly #challenger: Shadow<R>;
  #followChallenger = false;
  #lruScore = 0;
  #challengerScore = 0;
  /** Requests that ran with each choice, for reports. */
  readonly decisions = { lru: 0, challenger: 0 };

  readonly #discount: number;

  /** `memory`: requests over which shadow hits are weighed (the discount is 1 - 1 / memory). */
  constructor(slots: number, challenger: EvictionPolicy, hooks?: ShadowHooks<R>, memory = 1 / (1 - DISCOUNT)) {
    this.#discount = 1 - 1 / memory;
    this.#lru = new Shadow(slots, new LruPolicy());
    this.#challenger = new Shadow(slots, challenger, hooks);
  }

  /** True while the real cache should follow the challenger. */
  get followsChallenger(): boolean {
    return this.#followChallenger;
  }

  /**
   * The choice for the coming request, from the scores so far: the challenger is followed while it scores
   * above LRU (it must lead to be taken, and is kept while it does not fall behind). Returns true when the
   * choice changed (the real cache must then re-read its candidates' priorities).
   */
  decide(): boolean {
    const stay = this.#followChallenger ? this.#challengerScore >= this.#lruScore : this.#challengerScore > this.#lruScore;
    const changed = stay !== this.#followChallenger;
    this.#followChallenger = stay;
    this.decisions[stay ? 'challenger' : 'lru']++;
    return changed;
  }

  /** Replays a request on both shadows; their hits count for the choices of later requests. */
  run(request: R, tick: number): void {
    this.#lruScore = this.#discount * this.#lruScore + this.#lru.run(request, tick);
    this.#challengerScore = this.#discount * this.#challengerScore + this.#challenger.run(request, tick);
  }
}

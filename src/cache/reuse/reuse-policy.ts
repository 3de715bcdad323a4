import type { EvictionPolicy, PriorityOwner, RequestAccess } from '../policy.js';
import { PolicyDuel } from '../policy-duel.js';
import { ReuseLearner, type ReuseOptions } from './reuse-learner.js';
import { ReuseOrder } from './reuse-order.js';

export { REUSE_DEFAULTS, type ReuseOptions } from './reuse-learner.js';

/**
 * The learned `reuse` policy: evicts the page whose predicted usefulness runs out first. A model of
 * P(prefix asked for again within `horizon` requests) is trained online on the trace's own past (delayed
 * labels, see SampleStore) and a page's key is `last request + lifetime * logit(P)`: Belady's "furthest next
 * use" with the next use replaced by a prediction, blended with recency so that without signal it is LRU.
 *
 * Safety: with a bounded cache (`slots` from the factory's context) an LRU shadow and a shadow under the
 * learned order replay the same requests (PolicyDuel, shared with `ste-learned`), and the real cache
 * follows the learned order only while its shadow has hit more lately; otherwise it is LRU. Both orders
 * share one learner, so features and training are paid once per request.
 *
 * Causal by construction (see ReuseLearner); drivers call `afterRequest` once per request, so replay, the
 * simulator, the engine emulator and the gateway's shadow trees all drive the same object.
 */
export class ReusePolicy implements EvictionPolicy {
  readonly name = 'reuse' as const;
  readonly options: ReuseOptions;
  readonly #learner: ReuseLearner;
  readonly #order: ReuseOrder;
  readonly #shadowOrder: ReuseOrder | undefined;
  readonly #duel: PolicyDuel<RequestAccess> | undefined;

  /**
   * `slots`: the cache's GPU pages (a duel needs a bounded size; unbounded caches evict nothing).
   * `shared` (PolicyContext.shared): the caches of one group share one learner, made by the first with
   * its options, so a replica's model learns from all the replicas' requests.
   */
  constructor(options: Partial<ReuseOptions> = {}, slots = Infinity, shared?: Map<unknown, unknown>) {
    const learner = shared?.get(ReuseLearner);
    this.#learner = learner instanceof ReuseLearner ? learner : new ReuseLearner(options, slots);
    shared?.set(ReuseLearner, this.#learner);
    this.options = this.#learner.options;
    this.#order = new ReuseOrder(this.#learner);
    if (this.options.duel && Number.isFinite(slots)) {
      const shadowOrder = new ReuseOrder(this.#learner);
      this.#shadowOrder = shadowOrder;
      this.#duel = new PolicyDuel(slots, shadowOrder, { end: (_request, tick, path, held) => shadowOrder.remember(path, held, tick) }, this.options.duelMemory);
    }
  }

  /** Training rounds done. */
  get fits(): number {
    return this.#learner.fits;
  }

  /** The label horizon in use (requests; adaptive by default). */
  get horizon(): number {
    return this.#learner.horizon;
  }

  /** Requests that ran under each order (all `learned` without a duel). */
  get decisions(): { lru: number; learned: number } {
    const duel = this.#duel?.decisions;
    return duel ? { lru: duel.lru, learned: duel.challenger } : { lru: 0, learned: this.#learner.requests };
  }

  bind(owner: PriorityOwner): void {
    this.#order.bind(owner);
  }

  priority(page: number): number {
    if (this.#duel && !this.#duel.followsChallenger) {
      // LRU for now (equal priorities): the page is remembered as a candidate for when the order changes.
      this.#order.track(page);
      return 0;
    }
    return this.#order.priority(page);
  }

  forget(page: number): void {
    this.#order.forget(page);
  }

  afterRequest(access: RequestAccess): void {
    const r = this.#learner.observe(access);
    this.#order.remember(access.pages, access.held, r);
    this.#duel?.run(access, r);
    this.#learner.endRequest();
    // The choice for the next request, from the shadows' hits up to this one.
    if (this.#duel?.decide()) this.#order.rescore();
  }
}

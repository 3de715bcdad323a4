import type { EvictionPolicy, PriorityOwner, RequestAccess, RequestInfo } from '../policy.js';
import { PolicyDuel } from '../policy-duel.js';
import { ReuseForecast } from './reuse-forecast.js';

/** Evicts by forecast next use (furthest first, never-again before all), ties by LRU. */
class ForecastOrder {
  readonly forecast = new ReuseForecast();
  owner: PriorityOwner | undefined;
  #owner = -1;

  priority(page: number): number {
    return -this.forecast.nextUse(page);
  }

  begin(request: RequestInfo, tick: number): void {
    const { owner, changed } = this.forecast.call(request, tick);
    this.#owner = owner;
    if (this.owner) for (const page of changed) this.owner.reprioritize(page);
  }

  tag(path: ArrayLike<number>, held: number): void {
    for (let i = 0; i < held; i++) {
      this.forecast.touch(path[i]!, this.#owner);
      this.owner?.reprioritize(path[i]!);
    }
  }
}

/**
 * `ste-learned`: workflow-aware eviction from a step graph learned online, that never does much worse
 * than LRU (issue #12, docs/learned-policy.md). Two shadow caches of the same size, one LRU and one
 * evicting by the learned forecast (`ReuseForecast`: step graph x session pace, dead and ended pages
 * first), replay the same requests; the real cache follows whichever has hit more input tokens lately
 * (exponentially discounted, so it adapts when the traffic changes), as LeCaR and set dueling do. With no
 * signal in the graph the forecast shadow does not win and the policy is LRU.
 *
 * Causal and deterministic: the choice for request r is made from the shadows' hits on requests before
 * r; no randomness. KVFlow's `ste` with a declared graph is untouched: this is a different policy.
 */
export class LearnedStePolicy implements EvictionPolicy {
  readonly name = 'ste-learned' as const;
  readonly #order = new ForecastOrder();
  readonly #duel: PolicyDuel<RequestInfo>;
  #owner: PriorityOwner | undefined;
  /** Requests that ran with each choice, for reports. */
  readonly decisions = { lru: 0, forecast: 0 };

  constructor(slots: number) {
    const order = new ForecastOrder();
    const shadowPolicy: EvictionPolicy = {
      name: 'ste-learned',
      priority: (page) => order.priority(page),
      forget: (page) => order.forecast.forget(page),
      bind: (owner) => (order.owner = owner),
    };
    this.#duel = new PolicyDuel(slots, shadowPolicy, {
      begin: (request, tick) => order.begin(request, tick),
      end: (_request, _tick, path, held) => order.tag(path, held),
      finish: (request) => order.forecast.finished(request),
    });
  }

  bind(owner: PriorityOwner): void {
    this.#owner = owner;
    this.#order.owner = owner;
  }

  /** True while the real cache evicts by the forecast rather than by LRU. */
  get followsForecast(): boolean {
    return this.#duel.followsChallenger;
  }

  priority(page: number): number {
    return this.#duel.followsChallenger ? this.#order.priority(page) : 0;
  }

  forget(page: number): void {
    this.#order.forecast.forget(page);
  }

  beforeRequest(request: RequestInfo, tick: number): void {
    if (this.#duel.decide() && this.#owner) for (const page of this.#order.forecast.pages()) this.#owner.reprioritize(page);
    this.decisions[this.#duel.followsChallenger ? 'forecast' : 'lru']++;
    this.#order.begin(request, tick);
    // The shadows run the whole request now; their hits count for the choice of the next request.
    this.#duel.run(request, tick);
  }

  afterRequest({ request, pages, held }: RequestAccess): void {
    this.#order.tag(pages, held);
    this.#order.forecast.finished(request);
  }
}

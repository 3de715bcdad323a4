import { LruPolicy, type EvictionPolicy, type PriorityOwner } from '../policy.js';
import { RadixCache, ROOT } from '../radix-cache.js';
import { ReuseForecast, type CallIdentity } from './reuse-forecast.js';

/** What the policy sees of a request: its prompt blocks, lengths and whose call it is. */
export interface ObservedRequest extends CallIdentity {
  blocks: ArrayLike<number>;
  blockSize: number;
  inputLength: number;
}

/**
 * A policy that follows requests, not only pages: the driver calls `beforeRequest` before request
 * `tick` matches, `afterRequest` once its pages are in the cache (path order, `held` of them), before
 * they are unlocked. `kvflow replay` calls these hooks when a policy has them.
 */
export interface RequestObserver {
  beforeRequest(request: ObservedRequest, tick: number): void;
  afterRequest(request: ObservedRequest, tick: number, path: ArrayLike<number>, held: number): void;
}

export function observesRequests(policy: EvictionPolicy): policy is EvictionPolicy & RequestObserver {
  return typeof (policy as Partial<RequestObserver>).beforeRequest === 'function';
}

/** Evicts by forecast next use (furthest first, never-again before all), ties by LRU. */
class ForecastOrder {
  readonly forecast = new ReuseForecast();
  owner: PriorityOwner | undefined;
  #owner = -1;

  priority(page: number): number {
    return -this.forecast.nextUse(page);
  }

  begin(request: ObservedRequest, tick: number): void {
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
export class LearnedStePolicy implements EvictionPolicy, RequestObserver {
  readonly name = 'ste-learned' as const;
  readonly #order = new ForecastOrder();
  readonly #shadowLru: Shadow;
  readonly #shadowForecast: Shadow;
  #owner: PriorityOwner | undefined;
  #followForecast = false;
  #lruScore = 0;
  #forecastScore = 0;
  /** Requests that ran with each choice, for reports. */
  readonly decisions = { lru: 0, forecast: 0 };

  constructor(slots: number) {
    this.#shadowLru = new Shadow(slots, new LruPolicy(), undefined);
    const order = new ForecastOrder();
    this.#shadowForecast = new Shadow(slots, { name: 'ste-learned', priority: (page) => order.priority(page), forget: (page) => order.forecast.forget(page), bind: (owner) => (order.owner = owner) }, order);
  }

  bind(owner: PriorityOwner): void {
    this.#owner = owner;
    this.#order.owner = owner;
  }

  /** True while the real cache evicts by the forecast rather than by LRU. */
  get followsForecast(): boolean {
    return this.#followForecast;
  }

  priority(page: number): number {
    return this.#followForecast ? this.#order.priority(page) : 0;
  }

  forget(page: number): void {
    this.#order.forecast.forget(page);
  }

  beforeRequest(request: ObservedRequest, tick: number): void {
    const follow = this.#forecastScore > this.#lruScore * (1 + SWITCH_MARGIN);
    const stay = this.#followForecast ? this.#forecastScore >= this.#lruScore : follow;
    if (stay !== this.#followForecast) {
      this.#followForecast = stay;
      if (this.#owner) for (const page of this.#order.forecast.pages()) this.#owner.reprioritize(page);
    }
    this.decisions[this.#followForecast ? 'forecast' : 'lru']++;
    this.#order.begin(request, tick);
    // The shadows run the whole request now; their hits count for the choice of the next request.
    this.#lruScore = DISCOUNT * this.#lruScore + this.#shadowLru.run(request, tick);
    this.#forecastScore = DISCOUNT * this.#forecastScore + this.#shadowForecast.run(request, tick);
  }

  afterRequest(request: ObservedRequest, _tick: number, path: ArrayLike<number>, held: number): void {
    this.#order.tag(path, held);
    this.#order.forecast.finished(request);
  }
}

/** Per-request weight left to older shadow hits (a memory of about 50 requests). */
const DISCOUNT = 0.9;
/** The forecast must lead LRU by this share before the real cache follows it. */
const SWITCH_MARGIN = 0;

/** A cache of the same size replaying the same requests under one policy, only to count its hits. */
class Shadow {
  readonly #cache: RadixCache;
  readonly #order: ForecastOrder | undefined;
  #path = new Int32Array(256);

  constructor(slots: number, policy: EvictionPolicy, order: ForecastOrder | undefined) {
    this.#cache = new RadixCache({ gpuSlots: slots, policy });
    this.#order = order;
  }

  /** Replays one request (DESIGN.md section 4's replay step); returns its hit tokens. */
  run(request: ObservedRequest, tick: number): number {
    const { blocks } = request;
    const cache = this.#cache;
    if (this.#path.length < blocks.length) this.#path = new Int32Array(blocks.length * 2);
    const path = this.#path;
    this.#order?.begin(request, tick);
    const matched = cache.matchGpu(blocks, path);
    for (let i = 0; i < matched; i++) {
      cache.lock(path[i]!);
      cache.touch(path[i]!, tick);
    }
    let held = matched;
    let parent = matched > 0 ? path[matched - 1]! : ROOT;
    for (let i = matched; i < blocks.length; i++) {
      const page = cache.insertGpu(parent, blocks[i]!, tick);
      if (page < 0) break;
      cache.lock(page);
      path[held++] = page;
      parent = page;
    }
    this.#order?.tag(path, held);
    for (let i = 0; i < held; i++) cache.unlock(path[i]!);
    this.#order?.forecast.finished(request);
    if (matched <= 0) return 0;
    return matched >= blocks.length ? request.inputLength : matched * request.blockSize;
  }
}

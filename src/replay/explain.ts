/**
 * `kvflow replay --explain`: where each policy's misses come from, against Belady (docs/replay-explain.md).
 *
 * Every miss is either cold (the prefix was never seen: no policy avoids it, unbounded capacity misses
 * it too) or caused by an eviction: the page was cached, evicted, and its next use came. Each eviction is
 * a decision; one whose victim is used again (`live`) costs that page's tokens at its next use, one whose
 * victim never is (`dead`) costs nothing. Belady makes the fewest costly evictions, so a policy's
 * eviction misses minus Belady's are what its decisions lose. Misses are summed per session and agent of
 * the request that missed them, evictions per session and agent of the request that last used the
 * victim (its owner) and of the request whose insertion evicted it.
 */
import { GLOBAL_SESSION, type SteSource, type TraceRequest } from '../types.js';
import type { PolicyFactory } from '../cache/policy.js';
import { policyFactory } from '../cache/policy-registry.js';
import type { NextUseIndex } from '../cache/next-use.js';
import type { RadixCache } from '../cache/radix-cache.js';
import { CacheReplayer, type ReplayProbe, type ReplayRequest } from './replay.js';

/** Misses and evictions of one group (a session, or an agent) under one policy. */
export interface ExplainGroup {
  /** Session id or agent name (`*`: requests that name none). */
  name: string;
  requests: number;
  inputTokens: number;
  /** Tokens missed at this group's requests because a page was evicted earlier. */
  evictionMissTokens: number;
  /** The same under Belady at the same capacity. */
  beladyEvictionMissTokens: number;
  /** Evictions of pages this group used last that were used again later (each a missed page). */
  liveEvictionsOfItsPages: number;
  /** Evictions of its pages never used again. */
  deadEvictionsOfItsPages: number;
  /** Live evictions made to fit this group's requests (pages of any group). */
  liveEvictionsItCaused: number;
}

/** One (capacity, policy) run explained. Field names are the JSON contract. */
export interface ExplainRun {
  policy: string;
  capacityTokens: number | null;
  hitRate: number;
  inputTokens: number;
  hitTokens: number;
  /** Misses at unbounded capacity: the first use of each prefix. */
  coldMissTokens: number;
  /** The rest of the misses: pages evicted before their next use. */
  evictionMissTokens: number;
  beladyEvictionMissTokens: number;
  /** evictionMissTokens - beladyEvictionMissTokens: what this policy's decisions lose to the optimum. */
  excessMissTokens: number;
  evictions: number;
  liveEvictions: number;
  deadEvictions: number;
  /** Sessions, most excess misses first. */
  sessions: ExplainGroup[];
  /** Agents (declared or learned), most excess misses first; empty when no request has one. */
  agents: ExplainGroup[];
}

/** Explains every (capacity, policy) pair; Belady runs once per capacity as the reference. */
export function explainReplay(
  requests: readonly TraceRequest[],
  options: {
    /** One factory per policy; results name each by its `name`. */
    policies: readonly PolicyFactory[];
    capacities: readonly (number | null)[];
    blockSize: number;
    nextUse: NextUseIndex;
    /** A fresh STE source for each run of a policy that takes STE (`applySte`). */
    steSource?: () => SteSource;
  },
): ExplainRun[] {
  const unbounded = replayWithProbe(requests, policyFactory('lru'), { capacityTokens: null, blockSize: options.blockSize, nextUse: options.nextUse });
  const runs: ExplainRun[] = [];
  for (const capacityTokens of options.capacities) {
    const common = { capacityTokens, blockSize: options.blockSize, nextUse: options.nextUse };
    const belady = replayWithProbe(requests, policyFactory('belady'), common);
    for (const makePolicy of options.policies) {
      const { name, applySte } = makePolicy();
      const ste = applySte ? options.steSource?.() : undefined;
      const probe = name === 'belady' ? belady : replayWithProbe(requests, makePolicy, { ...common, ...(ste && { ste }) });
      runs.push(summarize(requests, name, capacityTokens, probe, belady, unbounded));
    }
  }
  return runs;
}

/** What a probe collected over one replay. */
interface ProbeResult {
  hits: Float64Array;
  inputTokens: number;
  groups: Map<string, GroupCounts>;
  evictions: number;
  liveEvictions: number;
}

interface GroupCounts {
  requests: number;
  inputTokens: number;
  liveOwned: number;
  deadOwned: number;
  liveCaused: number;
}

function replayWithProbe(
  requests: readonly TraceRequest[],
  policy: PolicyFactory,
  options: { capacityTokens: number | null; blockSize: number; nextUse: NextUseIndex; ste?: SteSource },
): ProbeResult {
  const probe = new EvictionProbe(requests);
  const replayer = new CacheReplayer(requests, { policy, ...options, probe });
  const hits = new Float64Array(requests.length);
  for (let r = 0; r < requests.length; r++) hits[r] = replayer.run(r);
  return { hits, inputTokens: replayer.totals().inputTokens, groups: probe.groups, evictions: probe.evictions, liveEvictions: probe.live };
}

/** Remembers which request last used each page, and counts evictions by owner and by evicting request. */
class EvictionProbe implements ReplayProbe {
  readonly groups = new Map<string, GroupCounts>();
  evictions = 0;
  live = 0;
  #lastUser = new Int32Array(1024).fill(-1);
  #current = -1;
  readonly #requests: readonly TraceRequest[];

  constructor(requests: readonly TraceRequest[]) {
    this.#requests = requests;
  }

  afterRequest(request: ReplayRequest, r: number, path: ArrayLike<number>, held: number): void {
    for (const key of groupKeys(request)) {
      const group = this.#group(key);
      group.requests++;
      group.inputTokens += request.inputLength;
    }
    for (let i = 0; i < held; i++) {
      const page = path[i]!;
      if (page >= this.#lastUser.length) {
        const grown = new Int32Array(Math.max(page + 1, this.#lastUser.length * 2)).fill(-1);
        grown.set(this.#lastUser);
        this.#lastUser = grown;
      }
      this.#lastUser[page] = r;
    }
    this.#current = r + 1; // evictions during the next request are made for it
  }

  onEvict(page: number, cache: RadixCache): void {
    this.evictions++;
    const live = Number.isFinite(cache.nextUse(page));
    if (live) this.live++;
    const owner = page < this.#lastUser.length ? this.#lastUser[page]! : -1;
    if (owner >= 0) {
      for (const key of groupKeys(this.#requests[owner]!)) {
        if (live) this.#group(key).liveOwned++;
        else this.#group(key).deadOwned++;
      }
    }
    const cause = this.#requests[Math.max(0, this.#current)];
    if (live && cause) for (const key of groupKeys(cause)) this.#group(key).liveCaused++;
  }

  #group(key: string): GroupCounts {
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { requests: 0, inputTokens: 0, liveOwned: 0, deadOwned: 0, liveCaused: 0 }));
    return group;
  }
}

/** A request counts for its session (`s:` prefix) and, when known, its agent (`a:`). */
function groupKeys(request: Pick<TraceRequest, 'workflow' | 'agent'>): string[] {
  const keys = [`s:${request.workflow ?? GLOBAL_SESSION}`];
  if (request.agent !== undefined) keys.push(`a:${request.agent}`);
  return keys;
}

function summarize(
  requestList: readonly TraceRequest[],
  policy: string, capacityTokens: number | null, run: ProbeResult, belady: ProbeResult, unbounded: ProbeResult): ExplainRun {
  // Per request: misses beyond the unbounded ones are eviction misses (replay order is the same in all runs).
  const requests = run.hits.length;
  const missByGroup = new Map<string, { own: number; belady: number }>();
  let hitTokens = 0;
  let evictionMiss = 0;
  let beladyEvictionMiss = 0;
  for (let r = 0; r < requests; r++) {
    hitTokens += run.hits[r]!;
    const own = unbounded.hits[r]! - run.hits[r]!;
    const best = unbounded.hits[r]! - belady.hits[r]!;
    evictionMiss += own;
    beladyEvictionMiss += best;
    if (own === 0 && best === 0) continue;
    for (const key of groupKeys(requestList[r]!)) {
      const entry = missByGroup.get(key) ?? { own: 0, belady: 0 };
      entry.own += own;
      entry.belady += best;
      missByGroup.set(key, entry);
    }
  }
  const groups = (prefix: string): ExplainGroup[] =>
    [...run.groups]
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, counts]) => {
        const miss = missByGroup.get(key) ?? { own: 0, belady: 0 };
        return {
          name: key.slice(prefix.length),
          requests: counts.requests,
          inputTokens: counts.inputTokens,
          evictionMissTokens: miss.own,
          beladyEvictionMissTokens: miss.belady,
          liveEvictionsOfItsPages: counts.liveOwned,
          deadEvictionsOfItsPages: counts.deadOwned,
          liveEvictionsItCaused: counts.liveCaused,
        };
      })
      .sort((a, b) => b.evictionMissTokens - b.beladyEvictionMissTokens - (a.evictionMissTokens - a.beladyEvictionMissTokens) || compare(a.name, b.name));
  return {
    policy,
    capacityTokens,
    hitRate: run.inputTokens > 0 ? hitTokens / run.inputTokens : 0,
    inputTokens: run.inputTokens,
    hitTokens,
    coldMissTokens: run.inputTokens - sum(unbounded.hits),
    evictionMissTokens: evictionMiss,
    beladyEvictionMissTokens: beladyEvictionMiss,
    excessMissTokens: evictionMiss - beladyEvictionMiss,
    evictions: run.evictions,
    liveEvictions: run.liveEvictions,
    deadEvictions: run.evictions - run.liveEvictions,
    sessions: groups('s:'),
    agents: groups('a:'),
  };
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

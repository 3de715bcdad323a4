/** What a policy may read about a page. Ticks are request numbers in replay and seconds in simulation. */
export interface PageStats {
  /** Tick of the page's last access (match or insert). */
  lastAccess(page: number): number;
  /** Accesses since the page entered the cache (its insert counts as one). */
  accessCount(page: number): number;
  /** Tick of the next request that will use the page (Infinity: never); set by an offline driver. */
  nextUse(page: number): number;
}

/** The few cache operations a policy whose priorities change between accesses needs. */
export interface PriorityOwner {
  /**
   * Re-reads `page`'s priority. Returns false when the page is no eviction candidate (its priority is not
   * read now): the owner reads it again, through `priority`, when the page becomes one, so until then a
   * policy need not ask for this page again. An owner that does not say (void) is asked every time.
   */
  reprioritize(page: number): boolean | void;
}

/** A request as a policy that learns from traffic sees it: its prompt and whose call it is. */
export interface RequestInfo {
  readonly workflow?: string | undefined;
  readonly agent?: string | undefined;
  /** The prompt as block ids. */
  readonly blocks: ArrayLike<number>;
  /** Tokens per block. */
  readonly blockSize: number;
  /** Prompt tokens. */
  readonly inputLength: number;
}

/** One request's use of the cache, told to policies that learn from traffic (before its path is unlocked). */
export interface RequestAccess {
  /** The request, as `beforeRequest` saw it. */
  request: RequestInfo;
  /** The driver's request counter: replay's request number, a replica's or shadow tree's arrivals. */
  tick: number;
  /** The prompt as block ids. */
  blocks: ArrayLike<number>;
  /** Page ids of the prompt's first `held` blocks in the cache. */
  pages: ArrayLike<number>;
  /** Leading pages that were already cached (the hit). */
  matched: number;
  /** Leading pages the request holds (matched plus inserted). */
  held: number;
  inputLength: number;
  outputLength: number;
  blockSize: number;
}

/** A request's prompt as a policy sees it (a trace request, a simulated one, or one the gateway routes). */
export interface PolicyPrompt {
  readonly id: string;
  readonly workflow?: string | undefined;
  readonly agent?: string | undefined;
  /** Tokens per page. */
  readonly blockSize: number;
  /** Prompt tokens. */
  readonly inputLength: number;
  /** How many leading pages are the agent's fixed prompt. */
  readonly fixedBlocks?: number | undefined;
}

/** Steps-to-execution changes per agent key (undefined: the agent's future is no longer known). */
export type SteChanges = ReadonlyMap<string, number | undefined>;

/**
 * An eviction policy is one priority key, as in SGLang's `evict_policy.py`: among unlocked leaf pages the
 * cache evicts the smallest priority first, and equal priorities go to the least recently used page.
 * A page's priority is read when it becomes an eviction candidate and again on `reprioritize`.
 *
 * The optional members are how a policy asks the drivers (replay, simulator, engine emulator, gateway)
 * for more than page statistics; a driver calls only the members a policy has. `StePolicy`
 * (ste-policy.ts) uses all of them except `usesNextUse`; docs/policies.md shows a user policy.
 */
export interface EvictionPolicy {
  /** Names the policy in results and reports; unique among the policies of one run. */
  readonly name: string;
  priority(page: number, pages: PageStats): number;
  /** Called by the cache it serves, once, so the policy can ask for re-reads. */
  bind?(owner: PriorityOwner): void;
  /** Called when a page leaves the cache; its id may be reused for another path. */
  forget?(page: number): void;
  /**
   * The request hooks, for policies that learn from traffic. `beforeRequest` comes before the request's
   * prefix is matched (a policy may re-rank pages for it); `afterRequest` once its pages are matched and
   * inserted, while they are still locked. Replay calls both in request order; a replica calls
   * `beforeRequest` on arrival and `afterRequest` on completion, so other requests may come in between.
   */
  beforeRequest?(request: RequestInfo, tick: number): void;
  afterRequest?(access: RequestAccess): void;
  /**
   * Pages `pages[from..to)` hold positions `from..to-1` of `prompt` and are in use by it now (matched or
   * just inserted, locked). `agentKey` is the key its agent's STE is published under (see `applySte`),
   * undefined when the request names no agent. Each position is reported once per admission.
   */
  notePrompt?(prompt: PolicyPrompt, agentKey: string | undefined, pages: ArrayLike<number>, from: number, to: number): void;
  /**
   * Takes changed steps-to-execution values of agent keys. A driver feeds workflow progress (a declared or
   * learned step graph) only to policies that have this member.
   */
  applySte?(changes: SteChanges): void;
  /**
   * The priority this policy gives the fixed-prompt pages of an agent due in `ste` steps. The prefetcher
   * displaces only pages whose priority is below it; without this member a prefetch only fills free slots.
   */
  stePriority?(ste: number): number;
  /**
   * True when the policy reads `PageStats.nextUse` (the future): offline drivers then compute next-use
   * ticks, and online ones (engine, gateway) refuse it.
   */
  readonly usesNextUse?: boolean;
}

/** What a driver tells a factory about the cache the policy will serve. */
export interface PolicyContext {
  /** GPU pages of the cache (Infinity: unbounded). */
  readonly gpuSlots: number;
  /**
   * One object per group of caches that serve one stream of traffic between them (a simulation run's
   * replicas), the same for every cache of the group: policies may keep what they learn from the traffic
   * there, keyed by something of their own, so that each learns from all of it. Absent: nothing is shared.
   */
  readonly shared?: Map<unknown, unknown>;
}

/**
 * Makes a fresh policy: drivers that build several caches (one per run, replica or upstream) take one.
 * The context is absent when a driver only asks what kind of policy it makes (its name, `usesNextUse`).
 */
export type PolicyFactory = (context?: PolicyContext) => EvictionPolicy;

/** Least recently used: every page has the same priority, so the LRU tie-break decides alone. */
export class LruPolicy implements EvictionPolicy {
  readonly name = 'lru';
  priority(): number {
    return 0;
  }
}

/** Least frequently used: fewest accesses first, then LRU. */
export class LfuPolicy implements EvictionPolicy {
  readonly name = 'lfu';
  priority(page: number, pages: PageStats): number {
    return pages.accessCount(page);
  }
}

/**
 * Belady's offline optimum: the page whose next use is furthest away goes first; pages never used again
 * (next use Infinity) go before all others, among themselves by LRU. Needs next-use ticks from the driver.
 */
export class BeladyPolicy implements EvictionPolicy {
  readonly name = 'belady';
  readonly usesNextUse = true;
  priority(page: number, pages: PageStats): number {
    return -pages.nextUse(page);
  }
}

import { PageState, RadixCache, ROOT } from '../cache/radix-cache.js';
import type { NextUseIndex } from '../cache/next-use.js';
import type { EvictionPolicy } from '../cache/policy.js';
import { InputError } from '../errors.js';
import { Prefetcher } from './prefetcher.js';
import type { DecodeStep, IterationBatch, PrefillChunk } from './cost-model.js';
import { SELECTIVE_WRITE_HITS } from './engine-profile.js';
import type { EngineRules } from './engine-rules.js';
import type { Clock, Timed } from './event-queue.js';
import { Link, type LinkOptions, type Transfer } from './link.js';
import { overlappedEnd } from './load-path.js';
import { GpuEvictor } from './gpu-evictor.js';
import type { Setup } from './setups.js';
import type { SimRequest } from './sim-request.js';

/** The parts of the cost model an engine replica needs. */
export interface EngineCost {
  iterationSeconds(batch: IterationBatch): number;
  /** The iteration without its fixed overhead: the part a layer-wise load overlaps with. */
  forwardSeconds(batch: IterationBatch): number;
  overheadSeconds(batch: IterationBatch): number;
  /**
   * `forwardSeconds` of a decode-only batch of `requests` steps whose contexts add up to `contextTokens`
   * (exactly the same number): lets a decode iteration that repeats the last one skip walking its batch.
   */
  decodeForwardSeconds?(requests: number, contextTokens: number): number;
  /** Bytes of one page of KV. */
  readonly pageBytes: number;
  /** Whether loading `pages` from the CPU beats recomputing them after `contextTokens` of context. */
  loadIsCheaper(pages: number, contextTokens: number): boolean;
}

export interface ReplicaOptions {
  setup: Setup;
  /** This replica's policy object; default a fresh one from the setup's factory. */
  policy?: EvictionPolicy;
  gpuSlots: number;
  cpuSlots: number;
  blockSize: number;
  /** Most prompt tokens prefilled in one iteration (chunked prefill). */
  tokenBudget: number;
  /** Most requests running (prefill or decode) at once. */
  maxRunning: number;
  schedule: 'fcfs' | 'lpm';
  h2d: LinkOptions;
  d2h: LinkOptions;
  loadAhead: number;
  cost: EngineCost;
  /** Belady's look-ahead, indexed by request index. */
  nextUse?: NextUseIndex;
  /** The engine profile's rules; without them the replica is the `ideal` engine. */
  rules?: EngineRules;
  /** Told of every page becoming usable on the GPU and of every GPU eviction (the engine's KV events). */
  cacheEvents?: { resident(page: number): void; evicted(page: number): void };
  /** Every iteration end takes the full scheduling path, never #repeat's shortcut (tests compare the two). */
  fullPath?: boolean;
}

/** What a replica tells the simulation. */
export interface ReplicaHooks {
  onFirstToken(request: SimRequest): void;
  onComplete(request: SimRequest): void;
  /** For the report's agent timeline: an agent's fixed prompt was prefetched (landed) or left the GPU. */
  onPromptEvent?(kind: 'prefetched' | 'evicted', agentKey: string): void;
  /** Whether `onPromptEvent` wants the events of this agent (default: every agent's). */
  followsPrompt?(agentKey: string): boolean;
}

interface ScheduledWork {
  request: SimRequest;
  kind: 'prefill' | 'decode';
  /** Prompt tokens this prefill chunk adds to the request's KV. */
  progress: number;
  /**
   * Tokens the chunk computes: `progress`, or 1 when the whole prompt was cached, since the engine still
   * runs the last prompt token to get the first output token's logits.
   */
  tokens: number;
}

/**
 * One serving engine: a waiting queue, a continuous-batching scheduler with chunked prefill, a GPU KV pool
 * in a paged radix cache, optionally a CPU tier with a PCIe link each way, and one setup's policies.
 *
 * Each iteration: every decoding request makes one token (reserving an output page every block, and
 * preempting the newest request when memory runs out); then prefill chunks fill the token budget, first
 * for requests already prefilling, then for waiting ones in schedule order. Prefix pages found only on the
 * CPU are loaded back when cheaper than recomputing; a blocking setup holds the engine for the load, a
 * status-aware one skips that request until its pages land.
 */
export class Replica implements Timed {
  readonly id: number;
  readonly cache: RadixCache;
  readonly h2d: Link;
  readonly d2h: Link;
  readonly prefetcher: Prefetcher | undefined;
  readonly policy: EvictionPolicy;
  /** Seconds the GPU sat idle while a request waited on a load. */
  stallSeconds = 0;
  iterations = 0;
  preemptions = 0;

  readonly #options: ReplicaOptions;
  readonly #events: Clock;
  readonly #hooks: ReplicaHooks;
  #waiting: SimRequest[] = [];
  #running: SimRequest[] = [];
  #busy = false;
  /** On-demand load-backs in flight: like HiCache, the engine waits for them. */
  #blockingLoads = 0;
  /** A request met a prefix the prefetcher is still loading and the setup is not status-aware. */
  #holdForPrefetch = false;
  #stallSince = NaN;
  /** Page ids of prefix matches whose result is only a length. */
  #scratch = new Int32Array(256);
  /** Batched load-backs started this pass, merged into one load when the batch launches (sglang-0.4). */
  #passLoad: PageMove | undefined;
  /** Landed write-throughs and merged loads, for the next ones (see PageMove). */
  readonly #spareWrites: PageMove[] = [];
  readonly #spareLoads: PageMove[] = [];
  /** Engine seconds that write-throughs started during the last iteration add to the next one. */
  #writeDebt = 0;
  readonly #batched: boolean;
  readonly #evictor: GpuEvictor | undefined;
  /** A policy that follows requests (ste-learned): told of each arrival and completion. */
  #arrivals = 0;
  /** Coming iteration ends that only repeat the decode batch in flight (see #repeat). */
  #repeats = 0;
  /** Ends from the one in flight to the first at which a request of the batch fills its last page (see #repeat). */
  #boundaryAhead = 0;
  /** Requests of the running list, from the front, whose output page a repeat end has just reserved (see #decodeWork). */
  #reservedUpTo = 0;
  /** While repeating: the decode batch's context tokens, all requests together (-1: walk the batch). */
  #decodeContext = -1;
  /** The repeats' iteration ends are a stretch on the clock (see #scheduleEnd): its elided ends are not applied yet. */
  #stretching = false;
  /** The stretch's iteration end times. */
  #ends = new Float64Array(STRETCH_ENDS);

  // Reused every iteration, so the hot path allocates nothing once they have grown to the largest batch.
  /** The iteration's work records: entries [0, #workCount) are live until the iteration finishes. */
  readonly #work: ScheduledWork[] = [];
  #workCount = 0;
  /** Snapshot of #running that decoding walks (preemption may remove requests from #running meanwhile). */
  readonly #runningCopy: SimRequest[] = [];
  /** Waiting requests in admission order (a snapshot: admitting one removes it from #waiting). */
  readonly #ordered: SimRequest[] = [];
  /** Positions in #waiting, sorted for lpm, and each one's GPU prefix match. */
  readonly #positions: number[] = [];
  readonly #matches: number[] = [];
  readonly #byLongestMatch = (a: number, b: number): number => this.#matches[b]! - this.#matches[a]! || a - b;
  readonly #prefillChunks: PrefillChunk[] = [];
  readonly #decodeSteps: DecodeStep[] = [];
  readonly #batch: IterationBatch & { prefillCount: number; decodeCount: number } = {
    prefill: this.#prefillChunks,
    decode: this.#decodeSteps,
    prefillCount: 0,
    decodeCount: 0,
  };

  constructor(id: number, events: Clock, hooks: ReplicaHooks, given: ReplicaOptions) {
    this.id = id;
    this.#events = events;
    this.#hooks = hooks;
    const options = fixedShape(given);
    this.#options = options;
    this.policy = options.policy ?? options.setup.policy({ gpuSlots: options.gpuSlots });
    this.cache = new RadixCache({
      gpuSlots: options.gpuSlots,
      cpuSlots: options.setup.cpuTier ? options.cpuSlots : 0,
      policy: this.policy,
      onGpuEvict: (page) => {
        this.prefetcher?.noteEvicted(page);
        this.#notePromptEvicted(page);
        options.cacheEvents?.evicted(page);
      },
      ...(options.cacheEvents && { onGpuResident: options.cacheEvents.resident }),
    });
    const layerwise = options.rules?.h2d;
    // One load thread walks the layers of one merged load at a time (managers/cache_controller.py).
    this.h2d = new Link(events, layerwise ? { ...options.h2d, latency: 0, concurrency: 1, wireSeconds: layerwise.loadSeconds } : options.h2d);
    this.d2h = new Link(events, options.d2h);
    this.#batched = options.rules?.profile.loadBacks === 'batched';
    const rules = options.rules;
    if (rules && (rules.evictGranularity === 'node' || (rules.writePolicy === 'write_back' && options.setup.cpuTier))) {
      this.#evictor = new GpuEvictor(this.cache, {
        byNode: rules.evictGranularity === 'node',
        writeBack: rules.writePolicy === 'write_back',
        writeBackSeconds: (pages) => {
          const bytes = pages * options.cost.pageBytes;
          return this.d2h.idleSeconds(bytes) + rules.writeSeconds(bytes);
        },
        charge: (seconds) => {
          // The stretch's ends were priced without debt: from the one in flight on, they are priced again.
          if (this.#stretching) this.#settle();
          this.#writeDebt += seconds;
        },
      });
    }
    if (options.setup.prefetch) {
      this.prefetcher = new Prefetcher(this.cache, this.h2d, {
        policy: this.policy,
        pageBytes: options.cost.pageBytes,
        loadAhead: options.loadAhead,
        evictionNotices: true, // onGpuEvict above
      });
      this.prefetcher.onLanded = (agent) => {
        this.#hooks.onPromptEvent?.('prefetched', agent);
        this.#holdForPrefetch = false;
        this.#kick();
      };
    }
  }

  /** Requests waiting or running here: the router's load signal. */
  get load(): number {
    return this.#waiting.length + this.#running.length;
  }

  /** Requests queued, not yet admitted (or preempted back to the queue). */
  get waitingCount(): number {
    return this.#waiting.length;
  }

  /** Requests prefilling or decoding. */
  get runningCount(): number {
    return this.#running.length;
  }

  /** Prefix pages of `blocks` this replica holds in any tier: the router's cache signal. */
  cachedPrefix(blocks: readonly number[]): number {
    if (this.#scratch.length < blocks.length) this.#scratch = new Int32Array(blocks.length * 2);
    const { gpu, other } = this.cache.matchTiers(blocks, this.#scratch);
    return gpu + other;
  }

  /** STE values that changed in the step graph (undefined: unknown): re-order eviction, re-plan prefetch. */
  updateSte(changes: ReadonlyMap<string, number | undefined>): void {
    this.policy.applySte?.(changes);
    if (this.prefetcher) {
      this.prefetcher.update(changes);
      this.#kick();
    }
  }

  enqueue(request: SimRequest): void {
    request.phase = 'waiting';
    request.replica = this.id;
    const { fixedBlocks, blocks } = request.request;
    if (this.prefetcher && request.agentKey !== undefined && fixedBlocks) {
      this.prefetcher.notePrompt(request.agentKey, blocks, Math.min(fixedBlocks, blocks.length));
    }
    this.policy.beforeRequest?.(request.request, this.#arrivals++);
    this.#waiting.push(request);
    this.#kick();
  }

  /** True when nothing is queued, running or moving. */
  get idle(): boolean {
    return this.#waiting.length === 0 && this.#running.length === 0 && !this.#busy;
  }

  #kick(): void {
    if (this.#busy) {
      // Something changed while an iteration runs: its end must take the full path (see #repeat).
      if (this.#stretching) this.#settle();
      this.#repeats = 0;
      return;
    }
    if (this.#blockingLoads > 0 || this.#holdForPrefetch) return this.#markStall(true);
    const work = this.#schedule();
    const load = this.#flushPassLoads();
    if (work === 0) {
      if (load) this.h2d.submit(load);
      this.#markStall(this.#waiting.length > 0 && this.h2d.pending > 0);
      return;
    }
    this.#markStall(false);
    this.#run(load);
  }

  /**
   * Submits the load-backs started this pass as one merged load (cache_controller.py merges the queued
   * operations when the batch launches). Its pages become usable when it lands.
   */
  #flushPassLoads(): Transfer | undefined {
    const load = this.#passLoad;
    if (load === undefined) return undefined;
    this.#passLoad = undefined;
    load.bytes = load.count * this.#options.cost.pageBytes;
    load.onStart = undefined;
    return load;
  }

  readonly #loaded = (load: PageMove): void => {
    for (let i = 0; i < load.count; i++) this.cache.finishLoad(load.pages[i]!);
    this.#spareLoads.push(load);
    this.#kick();
  };

  #markStall(stalled: boolean): void {
    const now = this.#events.now;
    if (stalled && Number.isNaN(this.#stallSince)) this.#stallSince = now;
    if (!stalled && !Number.isNaN(this.#stallSince)) {
      this.stallSeconds += now - this.#stallSince;
      this.#stallSince = NaN;
    }
  }

  /**
   * Builds the next iteration's work; empty when nothing can run now. When requests hold memory but none
   * can move and no transfer will free any, the newest is preempted; a lone request that cannot fit is
   * an error rather than a hang.
   */
  #schedule(): number {
    for (;;) {
      const work = this.#buildIteration();
      if (work > 0 || this.#running.length === 0) return work;
      if (this.h2d.pending > 0 || this.d2h.pending > 0) return work; // a transfer will change things
      if (this.#running.length === 1) {
        throw new InputError(
          `the workload cannot fit: request ${this.#running[0]!.request.id} needs more than the ` +
            `${this.cache.gpuSlots} GPU pages (${this.cache.gpuSlots * this.#options.blockSize} tokens) of the KV pool ` +
            `(a GPU with more memory, more GPUs, or a higher --memory-fraction gives a larger pool)`,
        );
      }
      this.#preempt(this.#running[this.#running.length - 1]!);
    }
  }

  /** Builds the next iteration into #work; returns its number of records. */
  #buildIteration(): number {
    this.#workCount = 0;
    if (this.#options.rules?.mixed === false) {
      // managers/scheduler.py get_next_batch_to_run: a new prefill batch when one can be formed, else decode.
      if (this.#prefillWork() > 0) return this.#workCount;
      this.#decodeWork();
      return this.#workCount;
    }
    this.#decodeWork();
    return this.#prefillWork();
  }

  #addWork(request: SimRequest, kind: ScheduledWork['kind'], progress: number, tokens: number): void {
    const record = this.#work[this.#workCount];
    if (record) {
      record.request = request;
      record.kind = kind;
      record.progress = progress;
      record.tokens = tokens;
    } else this.#work.push({ request, kind, progress, tokens });
    this.#workCount++;
  }

  /** Every running request past prefill makes one token. */
  #decodeWork(): void {
    // Preemption may remove later requests from #running while we walk it: iterate a copy.
    const copy = this.#runningCopy;
    const count = this.#running.length;
    for (let i = 0; i < count; i++) copy[i] = this.#running[i]!;
    const reserved = this.#reservedUpTo;
    this.#reservedUpTo = 0;
    for (let i = 0; i < count; i++) {
      const request = copy[i]!;
      if (request.phase !== 'decode') continue; // waiting again if preempted meanwhile
      if (i < reserved || this.#ensureOutputSlot(request)) this.#addWork(request, 'decode', 0, 1);
    }
  }

  /**
   * Prefill chunks fill the token budget: requests already prefilling, then waiting ones in schedule
   * order. Returns the number of work records (decodes included).
   */
  #prefillWork(): number {
    let budget = this.#options.tokenBudget;
    for (const request of this.#running) {
      if (request.phase !== 'prefill' || budget <= 0) continue;
      budget -= this.#prefillChunk(request, budget);
    }
    if (budget > 0 && this.#waiting.length > 0) {
      const ordered = this.#admissionOrder();
      for (let i = 0; i < ordered; i++) {
        const request = this.#ordered[i]!;
        if (budget <= 0 || this.#running.length >= this.#options.maxRunning) break;
        if (this.#blockingLoads > 0 || this.#holdForPrefetch) break;
        const admitted = this.#admit(request);
        if (admitted === 'full') break;
        if (admitted === 'skip') continue;
        budget -= this.#prefillChunk(request, budget);
      }
    }
    // Decode slots may have preempted requests already in the batch.
    let kept = 0;
    for (let i = 0; i < this.#workCount; i++) {
      const record = this.#work[i]!;
      if (record.request.phase !== 'decode' && record.request.phase !== 'prefill') continue;
      if (kept !== i) {
        this.#work[i] = this.#work[kept]!;
        this.#work[kept] = record;
      }
      kept++;
    }
    this.#workCount = kept;
    return kept;
  }

  /** Fills #ordered with the waiting requests in admission order; returns how many. */
  #admissionOrder(): number {
    const waiting = this.#waiting;
    const count = waiting.length;
    const ordered = this.#ordered;
    if (this.#options.schedule === 'fcfs') {
      for (let i = 0; i < count; i++) ordered[i] = waiting[i]!;
      return count;
    }
    // Longest prefix match first (SGLang's lpm); ties keep arrival order.
    const positions = this.#positions;
    positions.length = count;
    for (let i = 0; i < count; i++) {
      const blocks = waiting[i]!.request.blocks;
      if (this.#scratch.length < blocks.length) this.#scratch = new Int32Array(blocks.length * 2);
      this.#matches[i] = this.cache.matchGpu(blocks, this.#scratch);
      positions[i] = i;
    }
    if (count > 1) positions.sort(this.#byLongestMatch);
    for (let i = 0; i < count; i++) ordered[i] = waiting[positions[i]!]!;
    return count;
  }

  /**
   * Tries to start a waiting request: match its prefix, load back CPU-only pages when that beats
   * recomputing, and lock what it uses. False leaves it waiting (its pages are loading).
   */
  #admit(request: SimRequest): 'admitted' | 'skip' | 'full' {
    if (request.loadsPending > 0) return 'skip';
    const { blocks } = request.request;
    const cache = this.cache;
    const path = request.pages;
    const { gpu, other, loading } = cache.matchTiers(blocks, path);
    // The prefetcher is bringing this prefix in (a blocking load-back would hold the whole engine).
    // Status-aware scheduling skips the request for now; otherwise the engine waits for the prefetch.
    if (loading > 0) {
      // sglang-0.4 just leaves it for a later pass: only the batch that needs a load waits for it.
      if (!this.#options.setup.statusAware && !this.#batched) this.#holdForPrefetch = true;
      return 'skip';
    }
    if (!this.#fits(request, path, gpu)) return 'full';
    let loaded = 0;
    if (other > 0 && this.#batched) {
      if (this.#shouldLoad(other, gpu, request)) loaded = this.#startBatchedLoad(path, gpu, gpu + other);
    } else if (other > 0 && this.#options.cost.loadIsCheaper(other, prefixTokens(request, gpu))) {
      this.#loadBack(request, path.subarray(gpu, gpu + other));
      if (request.loadsPending > 0) return 'skip';
    }
    const prefix = gpu + loaded;
    if (this.#evictor && prefix > 0 && prefix < blocks.length) this.#evictor.splitAt(path[prefix - 1]!);
    // Pin the cached prefix, then reserve the page of the first output token up front, so finishing the
    // prompt never waits on memory (and never preempts anyone).
    for (let i = 0; i < prefix; i++) this.cache.lock(path[i]!);
    request.held = prefix;
    if (!this.#ensureOutputSlot(request)) {
      this.#release(request);
      return 'full';
    }
    for (let i = 0; i < prefix; i++) {
      const page = path[i]!;
      this.#touch(request, page, i);
      if (i >= gpu || request.loadedPages?.has(page)) request.loadedTokens += request.blockTokens(i);
      else request.hitTokens += request.blockTokens(i);
    }
    request.loadedPages?.clear();
    request.computed = prefixTokens(request, prefix);
    if (Number.isNaN(request.admitted)) request.admitted = this.#events.now;
    request.phase = 'prefill';
    this.#notePrompt(request);
    this.#waiting.splice(this.#waiting.indexOf(request), 1);
    this.#running.push(request);
    return 'admitted';
  }

  /**
   * Admission control, as SGLang's: a request starts only if every page it will hold (its prompt and its
   * output), less the cached ones other requests already pin, fits beside what running requests hold
   * and will still need. Cached pages nobody pins count as needed: they are evictable until locked.
   * The first request always starts, so one too large for the pool is reported rather than starved.
   */
  #fits(request: SimRequest, path: Int32Array, cached: number): boolean {
    if (this.#running.length === 0) return true;
    let committed = 0;
    for (const r of this.#running) committed += r.request.blocks.length - r.held + this.#outputPages(r) - r.reserved;
    let shared = 0;
    for (let i = 0; i < cached; i++) if (this.cache.locksOf(path[i]!) > 0) shared++;
    const needed = request.request.blocks.length - shared + this.#outputPages(request);
    return needed <= this.cache.gpuSlots - this.cache.pinnedGpu - committed;
  }

  #outputPages(request: SimRequest): number {
    return Math.ceil(request.request.outputLength / this.#options.blockSize);
  }

  /**
   * mem_cache/hiradix_cache.py load_back: a host hit of at least load_back_threshold tokens is loaded,
   * whatever recomputing it would cost.
   */
  #shouldLoad(pages: number, gpu: number, request: SimRequest): boolean {
    const rules = this.#options.rules!;
    if (rules.profile.loadDecision === 'cheaper') return this.#options.cost.loadIsCheaper(pages, prefixTokens(request, gpu));
    return prefixTokens(request, gpu + pages) - prefixTokens(request, gpu) >= rules.profile.loadBackThreshold;
  }

  /**
   * Starts loading CPU-only prefix pages all or nothing (hiradix_cache.py load_back: "load it all or not at
   * all"); they join this pass's merged load. The pages are `path[from..to)`; returns how many started.
   * Their parent (the last GPU-resident page of the match, none when `from` is 0) is locked meanwhile, as
   * load_back protects the ancestor with inc_lock_ref: making room must not evict the page they hang from.
   */
  #startBatchedLoad(path: Int32Array, from: number, to: number): number {
    const parent = from > 0 ? path[from - 1]! : -1;
    if (parent >= 0) this.cache.lock(parent);
    let end = from;
    while (end < to && this.#makeRoom(1) && this.cache.startLoad(path[end]!)) end++;
    if (parent >= 0) this.cache.unlock(parent);
    if (end < to) {
      for (let i = end - 1; i >= from; i--) this.cache.cancelLoad(path[i]!);
      return 0;
    }
    let load = this.#passLoad;
    if (load === undefined) {
      load = this.#passLoad = this.#spareLoads.pop() ?? new PageMove(this.#loaded);
      load.count = 0;
    }
    for (let i = from; i < to; i++) load.pages[load.count++] = path[i]!;
    return to - from;
  }

  /**
   * Loads CPU-only prefix pages for `request` on demand, in path order, as far as GPU room allows. As in
   * HiCache the engine waits for the load; only prefetched loads overlap with compute.
   */
  #loadBack(request: SimRequest, pages: Int32Array): void {
    const started: number[] = [];
    for (const page of pages) {
      if (!this.cache.startLoad(page)) break;
      started.push(page);
    }
    if (started.length === 0) return;
    if (Number.isNaN(request.loadStart)) request.loadStart = this.#events.now;
    request.loadsPending++;
    this.#blockingLoads++;
    this.h2d.submit({
      bytes: started.length * this.#options.cost.pageBytes,
      onDone: () => {
        for (const page of started) {
          this.cache.finishLoad(page);
          (request.loadedPages ??= new Set()).add(page);
        }
        request.loadsPending--;
        this.#blockingLoads--;
        this.#kick();
      },
    });
  }

  /**
   * Fixed-prompt pages' owning agent, by page id (an index into #ownerNames, 0 for none), kept only when
   * someone listens for prompt events. A typed array: a JS array grown to a large page id became a
   * dictionary (~6% of a c1024 HiCache run growing it and looking pages up).
   */
  #promptOwner: Int32Array = new Int32Array(0);
  /** Agent keys by owner index (index 0 unused), and the index of each. */
  readonly #ownerNames: string[] = [''];
  readonly #ownerIndex = new Map<string, number>();

  #notePromptOwner(request: SimRequest): void {
    const agent = request.agentKey;
    if (!this.#hooks.onPromptEvent || agent === undefined) return;
    const fixed = Math.min(request.request.fixedBlocks ?? 0, request.held);
    let owners = this.#promptOwner;
    if (this.#hooks.followsPrompt && !this.#hooks.followsPrompt(agent)) {
      // An agent nobody follows has no evictions to report, but its request still takes the pages over.
      for (let i = 0; i < fixed; i++) {
        const page = request.pages[i]!;
        if (page < owners.length) owners[page] = 0;
      }
      return;
    }
    let owner = this.#ownerIndex.get(agent);
    if (owner === undefined) {
      owner = this.#ownerNames.push(agent) - 1;
      this.#ownerIndex.set(agent, owner);
    }
    for (let i = 0; i < fixed; i++) {
      const page = request.pages[i]!;
      if (owners.length <= page) owners = this.#promptOwner = grownOwners(owners, page);
      owners[page] = owner;
    }
  }

  #notePromptEvicted(page: number): void {
    const owners = this.#promptOwner;
    if (page >= owners.length || owners[page] === 0) return;
    const agent = this.#ownerNames[owners[page]!]!;
    owners[page] = 0;
    this.#hooks.onPromptEvent?.('evicted', agent);
  }

  /** Shows the policy the prompt pages the request holds that it has not seen yet (StePolicy tags them). */
  #notePrompt(request: SimRequest): void {
    if (!this.policy.notePrompt || request.tagged >= request.held) return;
    this.policy.notePrompt(request.request, request.agentKey, request.pages, request.tagged, request.held);
    request.tagged = request.held;
  }

  /** Adds the next prefill chunk of `request` within `budget` tokens (none when memory is short); returns its tokens. */
  #prefillChunk(request: SimRequest, budget: number): number {
    this.#adoptResidentPages(request);
    const progress = this.#allocateChunk(request, budget);
    if (progress > 0) {
      this.#addWork(request, 'prefill', progress, progress);
      return progress;
    }
    if (request.computed >= request.inputLength) {
      this.#addWork(request, 'prefill', 0, 1);
      return 1;
    }
    return 0;
  }

  /**
   * Takes over pages that reached the GPU after admission (a prefetch landed, another request prefilled
   * the same blocks) and that this request has not started computing: they count as hits.
   */
  #adoptResidentPages(request: SimRequest): void {
    const { blocks, blockSize } = request.request;
    let parent = request.held > 0 ? request.pages[request.held - 1]! : ROOT;
    while (request.held < blocks.length && request.computed === request.held * blockSize) {
      const page = this.cache.childOf(parent, blocks[request.held]!);
      if (page < 0 || (this.cache.stateOf(page) & PageState.gpu) === 0) return;
      this.#use(request, page, request.held);
      request.hitTokens += request.blockTokens(request.held);
      request.computed += request.blockTokens(request.held);
      request.pages[request.held++] = page;
      this.#notePrompt(request);
      parent = page;
    }
  }

  /** Locks and touches a page the request uses as position `i` of its prompt. */
  #use(request: SimRequest, page: number, i: number): void {
    this.cache.lock(page);
    this.#touch(request, page, i);
  }

  /** Records the request's access to its page at position `i` (and that a prefetch, if any, paid off). */
  #touch(request: SimRequest, page: number, i: number): void {
    const nextUse = this.#options.nextUse;
    this.cache.touch(page, this.#events.now, nextUse ? nextUse.nextUse[nextUse.offsets[request.index]! + i]! : Infinity);
    this.prefetcher?.noteUsed(page);
  }

  /**
   * Inserts the pages the next chunk of `request`'s prefill writes, evicting as needed; returns the
   * prompt tokens the chunk computes (fewer than asked when memory ran out).
   */
  #allocateChunk(request: SimRequest, budget: number): number {
    const { blocks, blockSize, inputLength } = request.request;
    const goal = Math.min(inputLength, request.computed + budget);
    const lastBlock = Math.ceil(goal / blockSize); // blocks [held, lastBlock) are written by this chunk
    const now = this.#events.now;
    const nextUse = this.#options.nextUse;
    const base = nextUse ? nextUse.offsets[request.index]! : 0;
    let parent = request.held > 0 ? request.pages[request.held - 1]! : ROOT;
    const segment = this.#evictor ? this.#evictor.startSegment() : 0;
    while (request.held < lastBlock) {
      const i = request.held;
      const existing = this.cache.childOf(parent, blocks[i]!);
      let page: number;
      if (existing >= 0 && this.cache.stateOf(existing) & PageState.loading) break;
      if (existing >= 0 && this.cache.stateOf(existing) & PageState.gpu) {
        // Written meanwhile by someone else: share it, but this chunk still computes its tokens.
        this.#use(request, existing, i);
        page = existing;
      } else {
        if (!this.#makeRoom(1)) break;
        page = this.cache.insertGpuThenLock(parent, blocks[i]!, now, nextUse ? nextUse.nextUse[base + i]! : Infinity);
        if (page < 0) break;
        if (this.#evictor) this.#evictor.noteInserted(page, segment);
      }
      request.pages[request.held++] = page;
      parent = page;
    }
    this.#notePrompt(request);
    const reachable = Math.min(goal, request.held * blockSize);
    return Math.max(0, reachable - request.computed);
  }

  /**
   * Reserves the page its next output token needs. When memory is short, preempts the running request
   * with the least progress (fewest output tokens, then the newest), as SGLang's retract does, but never
   * one further along than the request asking: that is how two requests would preempt each other forever.
   */
  #ensureOutputSlot(request: SimRequest): boolean {
    if (request.generated % this.#options.blockSize !== 0) return true;
    while (!(this.#makeRoom(1) && this.cache.reserveGpu(1))) {
      const victim = this.#leastProgressedOtherThan(request);
      if (!victim) return false;
      this.#preempt(victim);
    }
    request.reserved++;
    return true;
  }

  /**
   * Frees `slots` GPU slots ahead of an allocation when eviction is by radix node; page-granular eviction
   * is the cache's own, during the allocation. False when not enough can be evicted.
   */
  #makeRoom(slots: number): boolean {
    return this.#evictor ? this.#evictor.makeRoom(slots) : true;
  }

  #leastProgressedOtherThan(request: SimRequest): SimRequest | undefined {
    let victim: SimRequest | undefined;
    for (let i = this.#running.length - 1; i >= 0; i--) {
      const candidate = this.#running[i]!;
      if (candidate === request || candidate.generated > request.generated) continue;
      if (!victim || candidate.generated < victim.generated) victim = candidate;
    }
    return victim;
  }

  /** Retracts a running request (SGLang's retract): its progress is lost and it waits again. */
  #preempt(request: SimRequest): void {
    this.#release(request);
    this.#running.splice(this.#running.indexOf(request), 1);
    request.phase = 'waiting';
    request.computed = 0;
    request.generated = 0;
    request.hitTokens = 0;
    request.loadedTokens = 0;
    request.recomputedTokens = 0;
    request.preemptions++;
    this.preemptions++;
    this.#waiting.unshift(request);
  }

  #release(request: SimRequest): void {
    for (let i = 0; i < request.held; i++) this.cache.unlock(request.pages[i]!);
    request.held = 0;
    request.tagged = 0;
    if (request.reserved > 0) this.cache.releaseGpu(request.reserved);
    request.reserved = 0;
  }

  /** Runs the iteration in #work; with `load`, its forward pass overlaps that load layer by layer. */
  #run(load: Transfer | undefined): void {
    const batch = this.#batch;
    let prefills = 0;
    let decodes = 0;
    let context = 0;
    let integral = true;
    for (let i = 0; i < this.#workCount; i++) {
      const { request, kind, tokens } = this.#work[i]!;
      if (kind === 'decode') {
        context += request.inputLength + request.generated;
        integral &&= Number.isInteger(request.inputLength);
      }
      if (kind === 'prefill') {
        const chunk = this.#prefillChunks[prefills];
        if (chunk) {
          chunk.newTokens = tokens;
          chunk.contextTokens = request.computed;
        } else this.#prefillChunks.push({ newTokens: tokens, contextTokens: request.computed });
        prefills++;
      } else {
        const step = this.#decodeSteps[decodes];
        if (step) step.contextTokens = request.inputLength + request.generated;
        else this.#decodeSteps.push({ contextTokens: request.inputLength + request.generated });
        decodes++;
      }
    }
    batch.prefillCount = prefills;
    batch.decodeCount = decodes;
    this.#busy = true;
    this.iterations++;
    const now = this.#events.now;
    if (!load) {
      this.#repeats = prefills === 0 && !this.#options.fullPath ? this.#repeatsAhead() : 0;
      // Integer contexts add up exactly in any order, so a running total prices the repeats alike.
      this.#decodeContext = this.#repeats > 0 && this.#options.cost.decodeForwardSeconds && integral && Number.isSafeInteger(context) ? context : -1;
      this.#scheduleEnd(now + this.#batchSeconds());
      return;
    }
    const { cost, rules } = this.#options;
    if (!rules) {
      this.#events.wake(now + cost.iterationSeconds(batch), this, 0);
      return;
    }
    const debt = this.#writeDebt;
    this.#writeDebt = 0;
    const forward = cost.forwardSeconds(batch);
    const fixed = cost.overheadSeconds(batch) + debt;
    const layerSeconds = rules.h2d ? rules.h2d.layerSeconds(load.bytes) : this.h2d.idleSeconds(load.bytes) / rules.layers;
    load.onStart = (loadStart) => {
      this.#events.wake(overlappedEnd(now, forward, rules.layers, loadStart, layerSeconds) + fixed, this, 0);
    };
    this.h2d.submit(load);
  }

  /** Seconds of the batch in #batch with no load to overlap; pays the write-throughs' debt. */
  #batchSeconds(): number {
    const { cost, rules } = this.#options;
    const batch = this.#batch;
    if (!rules) return cost.iterationSeconds(batch);
    const debt = this.#writeDebt;
    this.#writeDebt = 0;
    const forward = cost.forwardSeconds(batch);
    return forward + (cost.overheadSeconds(batch) + debt);
  }

  /**
   * How many of the coming iteration ends would rebuild this same decode batch: every running request
   * decoding in it, none finishing, nothing waiting or held up. Each such end only adds a token per
   * request, and reserves a page for those starting a new one, unless something reaches the replica
   * meanwhile (#kick). Also sets #boundaryAhead.
   */
  #repeatsAhead(): number {
    if (this.#workCount !== this.#running.length || this.#waiting.length > 0) return 0;
    if (this.#blockingLoads > 0 || this.#holdForPrefetch || this.#passLoad !== undefined) return 0;
    const blockSize = this.#options.blockSize;
    let completes = Infinity;
    let boundary = Infinity;
    for (let i = 0; i < this.#workCount; i++) {
      const { generated, request } = this.#work[i]!.request;
      // The k-th end from now completes the request at outputLength and reserves a page at a block multiple.
      completes = Math.min(completes, request.outputLength - generated);
      boundary = Math.min(boundary, blockSize - (generated % blockSize));
    }
    this.#boundaryAhead = boundary;
    return completes - 1;
  }

  /** The iteration in flight has finished (the only event a replica schedules on itself); `tag` ends of its stretch were elided. */
  onTime(tag: number): void {
    if (this.#stretching) {
      this.#stretching = false;
      this.#applyRepeats(tag);
    }
    if (this.#repeats > 0) this.#repeat();
    else this.#finishIteration();
  }

  /**
   * Schedules the end of the iteration just started, at `end`. When the coming ends only repeat the
   * decode batch (priced from the running context total), their times are known now: the clock gets them
   * as a stretch and wakes the replica once, at the last (or where something else happens meanwhile, see
   * EventQueue.stretch); the elided ends' tokens are added then (#applyRepeats), or when something
   * reaches the replica first (#settle).
   */
  #scheduleEnd(end: number): void {
    const events = this.#events;
    const ahead = this.#repeats;
    // Elided ends only add tokens: the stretch stops at the first end that reserves a page.
    const count = Math.min(ahead, STRETCH_ENDS - 1, this.#boundaryAhead - 1) + 1;
    if (count === 1 || this.#decodeContext < 0 || events.stretch === undefined) {
      events.wake(end, this, 0);
      return;
    }
    const ends = this.#ends;
    const { cost, rules } = this.#options;
    const requests = this.#workCount;
    const overhead = cost.overheadSeconds(this.#batch);
    let context = this.#decodeContext;
    ends[0] = end;
    // #repeat's arithmetic at each end (no write debt: a charge settles the stretch first).
    for (let i = 1; i < count; i++) {
      context += requests;
      const forward = cost.decodeForwardSeconds!(requests, context);
      ends[i] = ends[i - 1]! + (rules ? forward + (overhead + 0) : forward + overhead);
    }
    this.#stretching = events.stretch(this, ends, count) > 0;
  }

  /** The stretch's elided ends that have passed: each made one token per request, as #repeat does. */
  #applyRepeats(ends: number): void {
    if (ends === 0) return;
    const count = this.#workCount;
    for (let i = 0; i < count; i++) this.#work[i]!.request.generated += ends;
    this.iterations += ends;
    this.#decodeContext += count * ends;
    this.#repeats -= ends;
  }

  /** Something reaches the replica during its stretch: the elided ends before now are applied, the next one will fire. */
  #settle(): void {
    this.#stretching = false;
    this.#applyRepeats(this.#events.settle!(this));
  }

  /**
   * An iteration end that the full path (#finishIteration, #kick, #schedule, #run) would turn into the same
   * decode batch again: each request makes its token, those that start a new page reserve it, and the next
   * iteration starts, with the same float arithmetic, without rebuilding the batch.
   */
  #repeat(): void {
    const count = this.#workCount;
    const blockSize = this.#options.blockSize;
    let boundary = Infinity;
    let reserve = false;
    if (this.#decodeContext < 0) {
      const steps = this.#decodeSteps;
      for (let i = 0; i < count; i++) {
        const request = this.#work[i]!.request;
        const generated = ++request.generated;
        steps[i]!.contextTokens = request.inputLength + generated;
        boundary = Math.min(boundary, blockSize - (generated % blockSize));
        reserve ||= generated % blockSize === 0;
      }
    } else {
      for (let i = 0; i < count; i++) {
        const generated = ++this.#work[i]!.request.generated;
        boundary = Math.min(boundary, blockSize - (generated % blockSize));
        reserve ||= generated % blockSize === 0;
      }
    }
    // A request at a block multiple reserves its next output page, as #decodeWork would.
    if (reserve && !this.#reserveOutputPages()) return;
    this.#repeats--;
    this.iterations++;
    this.#boundaryAhead = boundary;
    if (this.#decodeContext < 0) {
      this.#events.wake(this.#events.now + this.#batchSeconds(), this, 0);
      return;
    }
    this.#decodeContext += count;
    const { cost, rules } = this.#options;
    // #batchSeconds' arithmetic on the same numbers; the batch (rebuilt by the next full path) is not read.
    const forward = cost.decodeForwardSeconds!(count, this.#decodeContext);
    const overhead = cost.overheadSeconds(this.#batch);
    let seconds: number;
    if (rules) {
      // Written only when there is debt: a store to a float field allocates, and repeats rarely have any.
      const debt = this.#writeDebt;
      if (debt !== 0) this.#writeDebt = 0;
      seconds = forward + (overhead + debt);
    } else seconds = forward + overhead;
    this.#scheduleEnd(this.#events.now + seconds);
  }

  /**
   * Reserves the next output page of each request of the repeated batch at a block multiple, in batch order
   * (the running list's). When one needs a running request preempted, the full path takes over from that
   * request on (#decodeWork skips the ones before it) and this returns false.
   */
  #reserveOutputPages(): boolean {
    const blockSize = this.#options.blockSize;
    for (let i = 0; i < this.#workCount; i++) {
      const request = this.#work[i]!.request;
      if (request.generated % blockSize !== 0) continue;
      if (this.#makeRoom(1) && this.cache.reserveGpu(1)) {
        request.reserved++;
        continue;
      }
      // A failed attempt changed nothing that trying again would see (no candidate was left to evict).
      this.#repeats = 0;
      this.#reservedUpTo = i;
      this.#busy = false;
      this.#kick();
      return false;
    }
    return true;
  }

  #finishIteration(): void {
    const now = this.#events.now;
    for (let i = 0; i < this.#workCount; i++) {
      const { request, kind, progress } = this.#work[i]!;
      if (request.phase !== 'decode' && request.phase !== 'prefill') continue; // preempted meanwhile
      if (kind === 'prefill') {
        request.computed += progress;
        request.recomputedTokens += progress;
        if (request.computed < request.inputLength) continue;
        // The iteration that finishes the prompt also produces the first token (its page was reserved
        // at admission). A preempted request keeps the time of its first first token.
        request.phase = 'decode';
        request.generated = 1;
        if (Number.isNaN(request.firstToken)) request.firstToken = now;
        this.#hooks.onFirstToken(request);
        if (this.#options.setup.cpuTier && this.#options.rules?.writePolicy !== 'write_back') this.#writeThrough(request);
      } else {
        request.generated++;
      }
      if (request.generated >= request.request.outputLength) this.#complete(request);
    }
    this.#busy = false;
    this.#kick();
  }

  /**
   * HiCache write-through: back the prompt's pages up to the CPU, in path order; the copy runs in the
   * background, its gather and synchronisation cost the engine (sglang-0.4). Under write_through_selective
   * a page is backed up only once hit often enough (hiradix_cache.py inc_hit_count).
   */
  #writeThrough(request: SimRequest): void {
    const selective = this.#options.rules?.writePolicy === 'write_through_selective';
    const write = this.#spareWrites.pop() ?? new PageMove(this.#written);
    const pages = write.pages;
    let count = 0;
    for (let i = 0; i < request.held; i++) {
      const page = request.pages[i]!;
      const state = this.cache.stateOf(page);
      if (state & (PageState.cpu | PageState.writing)) continue;
      // The insert is the first access; every later one is a hit.
      if (selective && this.cache.accessCount(page) - 1 < SELECTIVE_WRITE_HITS) break;
      if (!this.cache.startWrite(page)) break;
      pages[count++] = page;
    }
    if (count === 0) {
      this.#spareWrites.push(write);
      return;
    }
    write.count = count;
    write.bytes = count * this.#options.cost.pageBytes;
    if (this.#options.rules) this.#writeDebt += this.#options.rules.writeSeconds(write.bytes);
    this.d2h.submit(write);
  }

  readonly #written = (write: PageMove): void => {
    for (let i = 0; i < write.count; i++) this.cache.finishWrite(write.pages[i]!);
    this.#spareWrites.push(write);
    // A page being written cannot be evicted: a request that found no GPU room may go on now.
    this.#kick();
  };

  /**
   * Drops a request whose client went away: out of the queue, or out of the batch with its pages unlocked
   * and its reservations returned. False when it cannot be dropped now (its own load-back is in flight)
   * or is not here.
   */
  abort(request: SimRequest): boolean {
    if (request.loadsPending > 0) return false;
    if (this.#stretching) this.#settle();
    const waiting = this.#waiting.indexOf(request);
    const running = this.#running.indexOf(request);
    if (waiting >= 0) this.#waiting.splice(waiting, 1);
    else if (running >= 0) {
      this.#release(request);
      this.#running.splice(running, 1);
    } else return false;
    request.phase = 'done';
    this.#kick();
    return true;
  }

  #complete(request: SimRequest): void {
    this.#notePromptOwner(request);
    const { blocks, inputLength, outputLength, blockSize } = request.request;
    const matched = Math.floor(request.hitTokens / blockSize);
    this.policy.afterRequest?.({ request: request.request, tick: this.#arrivals, blocks, pages: request.pages, matched, held: request.held, inputLength, outputLength, blockSize });
    this.#release(request);
    this.#running.splice(this.#running.indexOf(request), 1);
    request.phase = 'done';
    request.done = this.#events.now;
    this.#hooks.onComplete(request);
  }
}

/**
 * The options as one object literal with every field, in one order: callers build them with spreads and
 * optional fields, and the simulator's run made such an object with a new hidden class on runs 10-13 of a
 * process (every replica method reading it deoptimised, and the JIT took ~15 runs to settle).
 */
function fixedShape(options: ReplicaOptions): ReplicaOptions {
  return {
    setup: options.setup,
    policy: options.policy,
    gpuSlots: options.gpuSlots,
    cpuSlots: options.cpuSlots,
    blockSize: options.blockSize,
    tokenBudget: options.tokenBudget,
    maxRunning: options.maxRunning,
    schedule: options.schedule,
    h2d: options.h2d,
    d2h: options.d2h,
    loadAhead: options.loadAhead,
    cost: options.cost,
    nextUse: options.nextUse,
    rules: options.rules,
    cacheEvents: options.cacheEvents,
    fullPath: options.fullPath,
  };
}

/**
 * Pages moving over one of the replica's links (a write-through, a merged load-back), kept for the next
 * move once landed: a fresh array, transfer and closure per prompt were ~2 MB of a c1024 HiCache run.
 */
class PageMove implements Transfer {
  bytes = 0;
  /** The pages are pages[0..count). */
  readonly pages: number[] = [];
  count = 0;
  onStart: ((start: number) => void) | undefined = undefined;
  readonly onDone: () => void;

  constructor(land: (move: PageMove) => void) {
    this.onDone = () => land(this);
  }
}

/** Most iteration ends one stretch covers: its times are computed ahead, and an arrival may cut it short. */
const STRETCH_ENDS = 64;

/** `owners` with empty entries past `page`, at least twice as long. */
function grownOwners(owners: Int32Array, page: number): Int32Array {
  const grown = new Int32Array(Math.max(page + 1, 2 * owners.length, 64));
  grown.set(owners);
  return grown;
}

function prefixTokens(request: SimRequest, pages: number): number {
  const { blocks, blockSize, inputLength } = request.request;
  return pages >= blocks.length ? inputLength : pages * blockSize;
}

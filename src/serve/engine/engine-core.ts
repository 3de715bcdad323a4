/**
 * The emulated engine behind `kvflow engine`: one simulator `Replica` (continuous batching, chunked
 * prefill, the real radix cache and eviction policy, CPU tier, prefetch) driven by a `RealTimeClock`, so
 * requests take the time the cost model says, scaled by `speed`. HTTP concerns live in engine-server.ts.
 */
import { CostModel } from '../../sim/cost-model.js';
import { engineRules } from '../../sim/engine-rules.js';
import type { HardwareConfig } from '../../sim/hardware.js';
import { Replica } from '../../sim/replica.js';
import { PageState } from '../../cache/radix-cache.js';
import type { Setup } from '../../sim/setups.js';
import { SimRequest } from '../../sim/sim-request.js';
import type { TransferObservers } from '../../sim/transfer-plan.js';
import { diffSnapshots } from '../../graph/ste-feed.js';
import { ApiError } from '../http/openai-errors.js';
import { RealTimeClock } from '../../sim/real-time-clock.js';
import { EngineKvEvents, type KvEventSink } from './engine-kv-events.js';
import { reportedCachedTokens } from '../http/cached-tokens.js';

export { reportedCachedTokens };

export interface EngineCoreOptions {
  hardware: HardwareConfig;
  /** The cache setup; its policy factory makes the engine's one policy object. */
  setup: Setup;
  /** Model seconds per wall-clock second. */
  speed: number;
  tokenBudget: number;
  maxRunning: number;
  schedule: 'fcfs' | 'lpm';
  loadAhead: number;
  /** Told of every transfer the engine's links issue (`kvflow engine --tensors` records the plan). */
  transfers?: TransferObservers;
  /** Where the engine's KV cache events go (`kvflow engine --kv-events`), one batch per step. */
  kvEvents?: KvEventSink;
}

/** One generation as the engine model needs it. */
export interface Generation {
  blocks: number[];
  inputTokens: number;
  outputTokens: number;
  /** Leading blocks that are the agent's fixed prompt (tagged with its STE). */
  fixedBlocks: number;
  /** The key the agent's STE is published under (KVFlow's agent id). */
  agentKey?: string;
  workflow?: string;
  /** The prompt's token ids (for KV events: the engine publishes each stored block's tokens). */
  tokenIds?: Int32Array;
  /** The prompt's cache salt, if any (published in the first block's extra keys). */
  salt?: string;
}

/** What a caller hears about its generation, in model order. */
export interface GenerationObserver {
  onFirstToken?(): void;
  /** `generated` output tokens exist now (called after every clock advance that produced some). */
  onTokens?(generated: number): void;
  onDone(outcome: GenerationOutcome): void;
}

export interface GenerationOutcome {
  /** Prompt tokens found on the GPU. */
  cachedTokens: number;
  /** Prompt tokens loaded back from the CPU tier. */
  loadedTokens: number;
}

/** Counters for `/v1/engine/state` and tests. */
export interface EngineState {
  setup: string;
  /** The eviction policy's name. */
  policy: string;
  speed: number;
  modelSeconds: number;
  /** Requests accepted and not finished (queued or in the batch). */
  running: number;
  /** Of those, requests in the batch (prefilling or decoding), and requests queued for admission. */
  batch: number;
  waiting: number;
  gpuPages: number;
  gpuSlots: number;
  cpuPages: number;
  cpuSlots: number;
  /** GPU pages eviction cannot touch now: locked by running requests or moving between tiers. */
  pinnedPages: number;
  completed: number;
  /** Clients that went away before their generation finished (the model still finishes it). */
  disconnects: number;
  promptTokens: number;
  cachedTokens: number;
  /** Prompt tokens of finished requests looked up in the prefix cache (vLLM's prefix_cache_queries). */
  queriedTokens: number;
  /** Times the prefix cache was emptied (`/reset_prefix_cache`, `/flush_cache`). */
  cacheResets: number;
  prefetchedPages: number;
  steUpdates: number;
  ste: Record<string, number>;
}

interface Active {
  request: SimRequest;
  observer: GenerationObserver;
  sent: number;
}

export class EngineCore {
  readonly cost: CostModel;
  readonly blockSize: number;
  readonly #options: EngineCoreOptions;
  readonly #clock: RealTimeClock;
  readonly #replica: Replica;
  readonly #active = new Map<SimRequest, Active>();
  /** Generations whose observers want every token (streams). */
  readonly #streaming = new Set<Active>();
  #nextIndex = 0;
  #ste = new Map<string, number>();
  #steUpdates = 0;
  #completed = 0;
  #disconnects = 0;
  #promptTokens = 0;
  #cachedTokens = 0;
  #queriedTokens = 0;
  #cacheResets = 0;
  readonly #kvEvents: EngineKvEvents | undefined;

  constructor(options: EngineCoreOptions) {
    this.#options = options;
    this.cost = new CostModel(options.hardware);
    this.blockSize = options.hardware.blockSize;
    this.#clock = new RealTimeClock({
      speed: options.speed,
      onAdvance: () => this.#flushTokens(),
      onError: (error) => process.emitWarning(`kvflow engine: event failed: ${(error as Error).stack ?? String(error)}`),
    });
    const { hardware } = options;
    this.#kvEvents =
      options.kvEvents && new EngineKvEvents(options.kvEvents, hardware.blockSize, () => [...this.#active.keys()].map((request) => request.request.blocks));
    this.#replica = new Replica(
      0,
      this.#clock,
      { onFirstToken: (request) => this.#firstToken(request), onComplete: (request) => this.#complete(request) },
      {
        setup: options.setup,
        gpuSlots: this.cost.gpuPoolPages,
        cpuSlots: this.cost.cpuPoolPages,
        blockSize: hardware.blockSize,
        tokenBudget: options.tokenBudget,
        maxRunning: options.maxRunning,
        schedule: options.schedule,
        h2d: options.transfers ? { ...hardware.h2d, observer: options.transfers.h2d } : hardware.h2d,
        d2h: options.transfers ? { ...hardware.d2h, observer: options.transfers.d2h } : hardware.d2h,
        loadAhead: options.loadAhead,
        cost: this.cost,
        // The hardware's engine profile; the emulator backs every prompt up (write_through) so its CPU tier,
        // load-backs and tensor plans are exercised whatever the profile's default write policy.
        rules: engineRules(hardware, { writePolicy: 'write_through' }),
        ...(this.#kvEvents && { cacheEvents: this.#kvEvents }),
      },
    );
    this.#kvEvents?.attach(this.#replica.cache);
  }

  /**
   * Starts a generation. Throws a 400 when the prompt plus output cannot fit in the KV pool at all (the
   * model would otherwise fail the whole engine). `cancel` stops the observer and drops the request from
   * the model, freeing its pages (unless its own load-back is in flight: then the model finishes it).
   */
  submit(generation: Generation, observer: GenerationObserver): { cancel(): void } {
    const outputPages = Math.ceil(generation.outputTokens / this.blockSize);
    if (generation.blocks.length + outputPages > this.cost.gpuPoolPages) {
      const limit = this.cost.gpuPoolPages * this.blockSize;
      throw ApiError.invalid(
        `prompt (${generation.inputTokens} tokens) plus max_tokens (${generation.outputTokens}) exceed the KV pool of ${limit} tokens`,
        'messages',
        'context_length_exceeded',
      );
    }
    const index = this.#nextIndex++;
    const request = new SimRequest(
      {
        id: `r${index}`,
        blocks: generation.blocks,
        blockSize: this.blockSize,
        inputLength: generation.inputTokens,
        outputLength: Math.max(1, generation.outputTokens),
        fixedBlocks: generation.fixedBlocks,
        ...(generation.workflow !== undefined && { workflow: generation.workflow }),
        ...(generation.agentKey !== undefined && { agent: generation.agentKey }),
      },
      index,
      generation.agentKey,
    );
    if (this.#kvEvents && generation.tokenIds) this.#kvEvents.notePrompt(generation.blocks, generation.tokenIds, generation.salt);
    const active: Active = { request, observer, sent: 0 };
    this.#active.set(request, active);
    if (observer.onTokens) this.#streaming.add(active);
    this.#promptTokens += generation.inputTokens;
    this.#clock.run(() => {
      request.arrival = this.#clock.now;
      this.#replica.enqueue(request);
    });
    return {
      cancel: () => {
        if (!this.#active.has(request)) return;
        this.#disconnects++;
        this.#streaming.delete(active);
        active.observer = DROPPED;
        this.#clock.run(() => {
          if (this.#replica.abort(request)) this.#active.delete(request);
        });
      },
    };
  }

  /** A full STE snapshot (KVFlow semantics: agents left out are unknown); re-orders eviction and prefetch. */
  updateSte(snapshot: ReadonlyMap<string, number>): void {
    const changes = diffSnapshots(this.#ste, snapshot);
    this.#ste = new Map(snapshot);
    this.#steUpdates++;
    if (changes.size > 0) this.#clock.run(() => this.#replica.updateSte(changes));
  }

  /** Merges a partial update (undefined: no longer known); returns how many agents have an STE now. */
  applySteChanges(changes: ReadonlyMap<string, number | undefined>): number {
    const moved = new Map<string, number | undefined>();
    for (const [key, value] of changes) {
      if (this.#ste.get(key) === value) continue;
      moved.set(key, value);
      if (value === undefined) this.#ste.delete(key);
      else this.#ste.set(key, value);
    }
    this.#steUpdates++;
    if (moved.size > 0) this.#clock.run(() => this.#replica.updateSte(moved));
    return this.#ste.size;
  }

  state(): EngineState {
    const cache = this.#replica.cache;
    return {
      setup: this.#options.setup.name,
      policy: this.#replica.policy.name,
      speed: this.#options.speed,
      modelSeconds: this.#clock.now,
      running: this.#active.size,
      batch: this.#replica.runningCount,
      waiting: this.#replica.waitingCount,
      gpuPages: cache.gpuUsed,
      gpuSlots: cache.gpuSlots,
      cpuPages: cache.cpuUsed,
      cpuSlots: cache.cpuSlots,
      pinnedPages: cache.pinnedGpu - cache.gpuReserved,
      completed: this.#completed,
      disconnects: this.#disconnects,
      promptTokens: this.#promptTokens,
      cachedTokens: this.#cachedTokens,
      queriedTokens: this.#queriedTokens,
      cacheResets: this.#cacheResets,
      prefetchedPages: this.#replica.prefetcher?.stats.prefetchedPages ?? 0,
      steUpdates: this.#steUpdates,
      ste: Object.fromEntries([...this.#ste].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
  }

  /**
   * Empties the prefix cache, GPU and CPU tiers, as vLLM's `/reset_prefix_cache` and SGLang's
   * `/flush_cache` do. Refused (false) while any request is queued or running, as the engines refuse.
   * Pages still moving between tiers finish their transfer and stay.
   */
  resetPrefixCache(): boolean {
    if (this.#active.size > 0 || !this.#replica.idle) return false;
    const cache = this.#replica.cache;
    this.#clock.run(() => {
      while (cache.evictGpu() >= 0);
      while (cache.evictCpu() >= 0);
    });
    this.#cacheResets++;
    return true;
  }

  /**
   * Full blocks usable on the GPU now, by id, sorted (what the KV events published so far add up to);
   * undefined without KV events.
   */
  kvEventBlocks(): number[] | undefined {
    if (!this.#kvEvents) return undefined;
    const cache = this.#replica.cache;
    const blocks: number[] = [];
    for (const page of cache.pageIds()) {
      if ((cache.stateOf(page) & PageState.gpu) !== 0 && this.#kvEvents.isFullBlock(cache.blockOf(page))) blocks.push(cache.blockOf(page));
    }
    return blocks.sort((a, b) => a - b);
  }

  /** Leading pages of `blocks` the engine's GPU cache holds now. */
  cachedPrefixPages(blocks: readonly number[]): number {
    return this.#replica.cache.matchGpu(blocks, new Int32Array(blocks.length));
  }

  /** Stops the clock; pending generations never finish. */
  close(): void {
    this.#clock.stop();
  }

  #firstToken(request: SimRequest): void {
    this.#active.get(request)?.observer.onFirstToken?.();
  }

  #complete(request: SimRequest): void {
    const active = this.#active.get(request);
    this.#active.delete(request);
    this.#completed++;
    const cachedTokens = reportedCachedTokens(request.hitTokens, request.inputLength, this.blockSize);
    this.#cachedTokens += cachedTokens;
    this.#queriedTokens += request.inputLength;
    if (!active) return;
    this.#streaming.delete(active);
    if (active.sent < request.generated) active.observer.onTokens?.(request.generated);
    active.observer.onDone({ cachedTokens, loadedTokens: request.loadedTokens });
  }

  /** After the clock advanced: tell every stream how many tokens exist now. */
  #flushTokens(): void {
    for (const active of this.#streaming) {
      const generated = active.request.generated;
      if (generated > active.sent) {
        active.sent = generated;
        active.observer.onTokens!(generated);
      }
    }
  }
}

const DROPPED: GenerationObserver = { onDone() {} };

import { cpuTfSync, type Tf } from '../../tensor/backend.js';
import type { EvictionPolicy, PriorityOwner, RequestAccess } from '../policy.js';
import { FEATURE_COUNT, featureMask, writeFeatures, type PrefixFeatures, type RequestFeatures } from './features.js';
import { ReuseModel } from './model.js';
import { EMPTY_PREFIX, PrefixHistory } from './prefix-history.js';
import { SampleStore } from './samples.js';

export interface ReuseOptions {
  /** Requests within which a reuse counts as one (the label's horizon). */
  horizon: number;
  /**
   * Requests of extra life a certain reuse is worth: a page's key is its last request + `lifetime` * P(reuse),
   * so a page the model gives up on ages like LRU and a likely one outlives its neighbours.
   */
  lifetime: number;
  /** How P becomes extra life: `linear` lifetime * P, or `logit` lifetime * ln(P / (1 - P)). */
  shape: 'linear' | 'logit';
  /** Requests between training rounds; after each, cached predictions of cached pages are refreshed. */
  retrainEvery: number;
  /** Labelled samples needed before the first round. */
  minSamples: number;
  /** One page reference in this many becomes a training sample. */
  sampleEvery: number;
  /** Most recent labelled samples kept for training. */
  trainWindow: number;
  hidden: number;
  learningRate: number;
  batchSize: number;
  stepsPerFit: number;
  seed: number;
  /** Feature names left out (the default leaves out what ablation found harmful). */
  without: readonly string[];
}

export const REUSE_DEFAULTS: ReuseOptions = {
  horizon: 1000,
  lifetime: 700,
  shape: 'logit',
  retrainEvery: 256,
  minSamples: 512,
  sampleEvery: 2,
  trainWindow: 1 << 15,
  hidden: 16,
  learningRate: 0.02,
  batchSize: 256,
  stepsPerFit: 16,
  seed: 1,
  // Left out by ablation on the Mooncake conversation trace: with it, hit rates were lower at 1M and 4M.
  without: ['output_length'],
};

/**
 * The learned `reuse` policy: evicts the page whose predicted usefulness runs out first. A model of
 * P(prefix asked for again within `horizon` requests) is trained online on the trace's own past (delayed
 * labels, see SampleStore) and a page's key is `last request + lifetime * P`: Belady's "furthest next use"
 * with the next use replaced by a prediction, blended with recency so that without signal it is LRU.
 *
 * Causal by construction: everything it reads at request r (features, labels, the model) was built from
 * requests before r, and its own request counter (not the driver's clock) times everything, so replay,
 * the simulator, the engine emulator and the gateway's shadow trees all drive it the same way.
 */
export class ReusePolicy implements EvictionPolicy {
  readonly name = 'reuse' as const;
  readonly options: ReuseOptions;
  readonly #tf: () => Tf;
  readonly #enabled: Uint8Array;
  readonly #history: PrefixHistory;
  readonly #samples: SampleStore;
  #model: ReuseModel | undefined;
  #owner: PriorityOwner | undefined;
  #requests = 0;
  readonly #request: RequestFeatures = { blocks: 0, lastPartial: false, seen: 0, turnGap: -1, turns: 0, inputLength: 0, outputLength: 0 };
  readonly #prefix: PrefixFeatures = { count: 0, lastGap: 0, children: 0 };
  // Per cached page: its key, the request of its last access, and the features of that access.
  #key = new Float64Array(1024);
  #tick = new Float64Array(1024);
  #features = new Float32Array(1024 * FEATURE_COUNT);
  // Pages observed and not forgotten (a sparse set), whose predictions a retraining refreshes.
  #live = new Int32Array(1024);
  #liveAt = new Int32Array(1024).fill(-1);
  #liveCount = 0;
  // Per-request scratch.
  #nodes = new Int32Array(256);
  #row = new Float32Array(FEATURE_COUNT);
  #refs = 0;

  /**
   * TensorFlow.js is loaded at the first training round (short traces never load it), on the CPU backend:
   * its kernels are single-threaded JavaScript, so a seed gives the same model bit for bit.
   */
  constructor(options: Partial<ReuseOptions> = {}) {
    this.options = { ...REUSE_DEFAULTS, ...options };
    this.#tf = cpuTfSync;
    this.#enabled = featureMask(this.options.without);
    this.#history = new PrefixHistory(this.options.horizon * 2);
    this.#samples = new SampleStore(this.options.horizon, 1 << 17, this.options.trainWindow);
  }

  /** Training rounds done. */
  get fits(): number {
    return this.#model?.fits ?? 0;
  }

  bind(owner: PriorityOwner): void {
    this.#owner = owner;
  }

  priority(page: number): number {
    // A page never observed (inserted but not yet released by its request) is as fresh as can be.
    return page < this.#liveAt.length && this.#liveAt[page]! >= 0 ? this.#key[page]! : this.#requests + this.#life(0.5);
  }

  forget(page: number): void {
    if (page >= this.#liveAt.length) return;
    const at = this.#liveAt[page]!;
    if (at < 0) return;
    const last = this.#live[--this.#liveCount]!;
    this.#live[at] = last;
    this.#liveAt[last] = at;
    this.#liveAt[page] = -1;
  }

  observe(access: RequestAccess): void {
    const r = this.#requests++;
    const { blocks, pages, held } = access;
    const n = blocks.length;
    if (this.#nodes.length < n) this.#nodes = new Int32Array(n * 2);
    const history = this.#history;
    const samples = this.#samples;
    samples.expire(r);
    history.sweep(r);

    // How far the prompt continues prefixes seen before (the history holds prefix-closed paths).
    let seen = 0;
    let node = EMPTY_PREFIX;
    while (seen < n) {
      const child = history.find(node, blocks[seen]!);
      if (child < 0) break;
      this.#nodes[seen++] = child;
      node = child;
    }
    for (let i = seen; i < n; i++) {
      node = history.findOrAdd(node, blocks[i]!);
      this.#nodes[i] = node;
    }
    const deepest = seen >= 2 ? this.#nodes[seen - 1]! : -1;
    const request = this.#request;
    request.blocks = n;
    request.lastPartial = access.inputLength % access.blockSize !== 0;
    request.seen = seen;
    request.turnGap = deepest >= 0 ? r - history.lastRequest(deepest) : -1;
    request.turns = deepest >= 0 ? history.count(deepest) : 0;
    request.inputLength = access.inputLength;
    request.outputLength = access.outputLength;

    const row = this.#row;
    const prefix = this.#prefix;
    for (let i = 0; i < n; i++) {
      const node = this.#nodes[i]!;
      // The prefix came back: its waiting sample, if any, is a positive.
      const waiting = history.pending(node);
      if (waiting >= 0) {
        samples.reused(waiting, history.lastRequest(node), r);
        history.setPending(node, -1);
      }
      prefix.count = history.count(node);
      prefix.lastGap = history.lastGap(node);
      prefix.children = history.children(node);
      writeFeatures(row, 0, request, i, prefix, this.#enabled);
      if (this.#refs++ % this.options.sampleEvery === 0) {
        const sample = samples.add(r);
        samples.features.set(row, sample * FEATURE_COUNT);
        history.setPending(node, sample);
      }
      if (i < held) this.#remember(pages[i]!, r, row);
      history.access(node, r);
    }

    if ((r + 1) % this.options.retrainEvery === 0 && samples.trainCount >= this.options.minSamples) this.#retrain();
  }

  /** Caches the page's features and key from this access. */
  #remember(page: number, r: number, row: Float32Array): void {
    if (page >= this.#liveAt.length) this.#grow(page + 1);
    if (this.#liveAt[page]! < 0) {
      this.#liveAt[page] = this.#liveCount;
      this.#live[this.#liveCount++] = page;
    }
    this.#tick[page] = r;
    this.#features.set(row, page * FEATURE_COUNT);
    this.#key[page] = r + this.#life(this.#predict(this.#features, page * FEATURE_COUNT));
  }

  #life(p: number): number {
    if (this.options.shape === 'linear') return this.options.lifetime * p;
    const clamped = Math.min(Math.max(p, 1e-4), 1 - 1e-4);
    return this.options.lifetime * Math.log(clamped / (1 - clamped));
  }

  #predict(features: Float32Array, offset: number): number {
    return this.#model ? this.#model.predict(features, offset) : 0.5;
  }

  /** One training round, then every cached page's prediction is redone with the new weights. */
  #retrain(): void {
    const o = this.options;
    this.#model ??= new ReuseModel(this.#tf(), {
      hidden: o.hidden,
      learningRate: o.learningRate,
      batchSize: o.batchSize,
      stepsPerFit: o.stepsPerFit,
      seed: o.seed,
    });
    this.#model.fit(this.#samples.trainFeatures, this.#samples.trainLabels, this.#samples.trainCount);
    for (let k = 0; k < this.#liveCount; k++) {
      const page = this.#live[k]!;
      this.#key[page] = this.#tick[page]! + this.#life(this.#model.predict(this.#features, page * FEATURE_COUNT));
      this.#owner?.reprioritize(page);
    }
  }

  #grow(minLength: number): void {
    let length = this.#liveAt.length;
    while (length < minLength) length *= 2;
    const key = new Float64Array(length);
    key.set(this.#key);
    this.#key = key;
    const tick = new Float64Array(length);
    tick.set(this.#tick);
    this.#tick = tick;
    const features = new Float32Array(length * FEATURE_COUNT);
    features.set(this.#features);
    this.#features = features;
    const live = new Int32Array(length);
    live.set(this.#live);
    this.#live = live;
    const liveAt = new Int32Array(length).fill(-1);
    liveAt.set(this.#liveAt);
    this.#liveAt = liveAt;
  }
}

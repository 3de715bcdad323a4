import { cpuTfSync } from '../../tensor/backend.js';
import type { RequestAccess } from '../policy.js';
import { copyRow, FEATURE_COUNT, featureMask, writeFeatures, writeRequestFeatures, type PrefixFeatures, type RequestFeatures } from './features.js';
import { LogisticModel } from './logistic.js';
import { ReuseModel } from './model.js';
import { BinnedLogistic } from './binned-logistic.js';
import { CONVERSATION_WIDTH, conversationMask, writeConversationRow, type ConversationTurn } from './conversation-features.js';
import { EMPTY_PREFIX, PrefixHistory } from './prefix-history.js';
import { SampleStore } from './samples.js';

export interface ReuseOptions {
  /**
   * What one training sample is: `conversation`, one per request (its last full block: does a later turn
   * continue the conversation), with one prediction for all the request's full blocks (conversation-features.ts);
   * `page`, sampled page references with per-page features (features.ts).
   */
  target: 'conversation' | 'page';
  /** Conversation feature groups left out (conversation-features.ts). */
  conversationWithout: readonly string[];
  /** Requests within which a reuse counts as one (the label's horizon). */
  horizon: number;
  /**
   * Requests of extra life a certain reuse is worth: a page's key is its last request + `lifetime` * P(reuse),
   * so a page the model gives up on ages like LRU and a likely one outlives its neighbours.
   */
  lifetime: number;
  /**
   * Where the horizon and lifetime come from, re-read at each training round once `minReuses` gaps were
   * seen (`horizon` and `lifetime` until then, and always with `fixed`). Gaps are counted in this policy's
   * own requests, so a replica that sees an eighth of the traffic gets horizons an eighth as long.
   * - `reuse-gaps`: the horizon is the `gapQuantile` of the gaps after which prefixes were asked for again,
   *   and the lifetime `lifetimePerGap` times the mean of the gaps within the horizon (held past a typical
   *   gap, a page is likely one that will not come back). With a bounded cache the horizon is also capped
   *   where the prefixes reused within it, each held from one use to the next, would fill more than
   *   `capacityShare` of the cache (a small cache then learns "back soon", a large one "back at all";
   *   Infinity: no cap).
   * - `turn-gaps`: the horizon is the `gapQuantile` of the gaps between a conversation's turns, and the
   *   lifetime `lifetimeShare` of the horizon.
   */
  horizonFrom: 'reuse-gaps' | 'turn-gaps' | 'fixed';
  gapQuantile: number;
  lifetimePerGap: number;
  capacityShare: number;
  lifetimeShare: number;
  minReuses: number;
  /** How P becomes extra life: `linear` lifetime * P, or `logit` lifetime * ln(P / (1 - P)). */
  shape: 'linear' | 'logit';
  /** Requests between training rounds up to request `denseUntil`; cached predictions refresh after each. */
  retrainEvery: number;
  /** Request after which training rounds are `retrainLater` requests apart (the model has settled). */
  denseUntil: number;
  retrainLater: number;
  /** Labelled samples needed before the first round. */
  minSamples: number;
  /** One page reference in this many becomes a training sample. */
  sampleEvery: number;
  /** Most recent labelled samples kept for training. */
  trainWindow: number;
  /** Hidden units; 0 is logistic regression. */
  hidden: number;
  /**
   * Who trains the model: `plain` loops over typed arrays (logistic regression only), or TensorFlow.js on
   * its CPU backend (any `hidden`). Same loss, optimizer and mini-batches; see logistic.ts for why plain.
   */
  trainer: 'plain' | 'tfjs';
  learningRate: number;
  batchSize: number;
  stepsPerFit: number;
  seed: number;
  /** Feature names left out (the default leaves out what ablation found harmful). */
  without: readonly string[];
  /** Duel against an LRU shadow (policy-duel.ts), so the real cache follows the learned order only while it wins. */
  duel: boolean;
  /** Requests over which the duel weighs the shadows' hits. */
  duelMemory: number;
}

export const REUSE_DEFAULTS: ReuseOptions = {
  target: 'conversation',
  conversationWithout: [],
  horizon: 1000,
  lifetime: 700,
  shape: 'logit',
  horizonFrom: 'reuse-gaps',
  gapQuantile: 0.95,
  lifetimePerGap: 1.5,
  capacityShare: Infinity,
  lifetimeShare: 0.7,
  minReuses: 50,
  retrainEvery: 256,
  denseUntil: Infinity,
  retrainLater: 1024,
  minSamples: 512,
  sampleEvery: 2,
  trainWindow: 1 << 15,
  hidden: 0,
  trainer: 'plain',
  learningRate: 0.05,
  batchSize: 512,
  stepsPerFit: 4,
  seed: 1,
  // Left out by ablation on the Mooncake conversation trace: with it, hit rates were lower at 1M and 4M.
  without: ['output_length'],
  duel: true,
  duelMemory: 1000,
};

const GAP_BUCKETS = 80;

/** Gap buckets are quarter powers of two: bucket b holds gaps g with floor(4 log2(1 + g)) = b. */
function gapBucket(gap: number): number {
  return gap < BUCKET_TABLE.length ? BUCKET_TABLE[gap]! : Math.min(GAP_BUCKETS - 1, Math.floor(4 * Math.log2(1 + gap)));
}
/** gapBucket of the gaps below 4096, the common ones (no log per page reference). */
const BUCKET_TABLE = Uint8Array.from({ length: 4096 }, (_, gap) => Math.floor(4 * Math.log2(1 + gap)));
function bucketEdge(bucket: number): number {
  return Math.max(8, Math.round(2 ** ((bucket + 1) / 4) - 1));
}

/** Logits are clamped to P in [1e-4, 1 - 1e-4]. */
const MAX_LOGIT = Math.log((1 - 1e-4) / 1e-4);

/**
 * What the `reuse` policy learns, apart from any cache: the history of prefixes, delayed labels (SampleStore),
 * the model of P(prefix asked for again within `horizon` requests), and the feature rows of the request
 * being observed. One learner serves every cache that replays the same requests (the real one and the
 * duel's shadow, see reuse-policy.ts), so features are computed and the model trained once per request.
 *
 * Causal: at request r everything here was built from requests before r; its own request counter (not a
 * driver's clock) times everything, so every driver drives it the same way.
 */
export class ReuseLearner {
  readonly options: ReuseOptions;
  readonly #enabled: Uint8Array;
  readonly #history: PrefixHistory;
  readonly #samples: SampleStore;
  #model: ReuseModel | LogisticModel | BinnedLogistic | undefined;
  #requests = 0;
  #nextRound: number;
  /** Feature rows of the observed request's blocks, `FEATURE_COUNT` each. */
  #rows = new Float32Array(256 * FEATURE_COUNT);
  /** Extra life (requests) of each of the observed request's blocks, from the model as it is now. */
  lives = new Float64Array(256);
  readonly #request: RequestFeatures = { blocks: 0, lastPartial: false, seen: 0, turnGap: -1, turns: 0, inputLength: 0, outputLength: 0 };
  readonly #requestRow = new Float32Array(FEATURE_COUNT);
  readonly #prefix: PrefixFeatures = { count: 0, lastGap: 0, children: 0 };
  #nodes = new Int32Array(256);
  #refs = 0;
  #lifetime: number;
  /** Turn gaps seen, in buckets of a quarter power of two (see #bucket). */
  readonly #gaps = new Float64Array(GAP_BUCKETS);
  #turns = 0;
  /** Prefix reuses seen, and the requests they were held for, by gap bucket (see #reuseGapHorizon). */
  readonly #reuses = new Float64Array(GAP_BUCKETS);
  readonly #held = new Float64Array(GAP_BUCKETS);
  #reuseCount = 0;
  readonly #slots: number;
  // Conversation target: the request's row, the groups enabled, and the partial last blocks' reuse rate.
  readonly #turnRow = new Float32Array(CONVERSATION_WIDTH);
  readonly #turnEnabled: Uint8Array;
  readonly #turn: ConversationTurn = { turn: 0, gap: -1, previousGap: -1, inputLength: 0, outputLength: 0, newBlocks: 0, userTokens: -1, blockSize: 1 };
  #partials = 0;
  #partialsReused = 0;

  /** `slots`: the size in pages of the caches this learner serves (Infinity: unbounded). */
  constructor(options: Partial<ReuseOptions> = {}, slots = Infinity) {
    this.options = { ...REUSE_DEFAULTS, ...options };
    if (this.options.target === 'conversation' && this.options.trainer !== 'plain') {
      throw new RangeError(`reuse: target 'conversation' needs trainer 'plain'`);
    }
    if (this.options.trainer === 'plain' && this.options.hidden !== 0) {
      throw new RangeError(`reuse: hidden ${this.options.hidden} needs trainer 'tfjs' (the plain trainer is logistic regression)`);
    }
    this.#slots = slots;
    this.#enabled = featureMask(this.options.without);
    this.#history = new PrefixHistory(this.options.horizon * 2);
    const width = this.options.target === 'conversation' ? CONVERSATION_WIDTH : FEATURE_COUNT;
    this.#samples = new SampleStore(this.options.horizon, 1 << 17, this.options.trainWindow, width);
    this.#turnEnabled = conversationMask(this.options.conversationWithout);
    this.#nextRound = this.options.retrainEvery;
    this.#lifetime = this.options.lifetime;
  }

  /** The label horizon in use (requests). */
  get horizon(): number {
    return this.#samples.horizon;
  }

  /** Requests observed. */
  get requests(): number {
    return this.#requests;
  }

  /** Training rounds done. */
  get fits(): number {
    return this.#model?.fits ?? 0;
  }

  /** The conversation row of the request observed last (target `conversation`; for evaluations). */
  get turnRow(): Float32Array {
    return this.#turnRow;
  }

  /** The feature rows of the request observed last, `FEATURE_COUNT` per block (target `page`; for tests and evaluations). */
  get pageRows(): Float32Array {
    return this.#rows;
  }

  /** The training samples: waiting, labelled, and the rows a round trains on (for tests and evaluations). */
  get samples(): SampleStore {
    return this.#samples;
  }

  /**
   * Takes request number `requests` (returned): labels the samples its prefixes settle, and writes the
   * extra life of its blocks into `lives`, from the history and model before it. Call `endRequest` after
   * the caches have taken the lives.
   */
  observe(access: Pick<RequestAccess, 'blocks' | 'inputLength' | 'outputLength' | 'blockSize'>): number {
    const r = this.#requests++;
    const { blocks } = access;
    const n = blocks.length;
    if (this.#nodes.length < n) this.#nodes = new Int32Array(n * 2);
    if (this.#rows.length < n * FEATURE_COUNT) this.#rows = new Float32Array(n * 2 * FEATURE_COUNT);
    if (this.lives.length < n) this.lives = new Float64Array(n * 2);
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
    // The rest is new: the first miss was just looked up, and a new node has no children.
    for (let i = seen; i < n; i++) {
      node = history.add(node, blocks[i]!);
      this.#nodes[i] = node;
    }
    if (this.options.target === 'conversation') return this.#observeTurn(access, r, n, seen);
    const deepest = seen >= 2 ? this.#nodes[seen - 1]! : -1;
    const request = this.#request;
    request.blocks = n;
    request.lastPartial = access.inputLength % access.blockSize !== 0;
    request.seen = seen;
    request.turnGap = deepest >= 0 ? r - history.lastRequest(deepest) : -1;
    request.turns = deepest >= 0 ? history.count(deepest) : 0;
    request.inputLength = access.inputLength;
    request.outputLength = access.outputLength;
    writeRequestFeatures(this.#requestRow, request, this.#enabled);
    if (request.turnGap >= 0) {
      this.#gaps[gapBucket(request.turnGap)]! += 1;
      this.#turns++;
    }

    const rows = this.#rows;
    const prefix = this.#prefix;
    const every = this.options.sampleEvery;
    for (let i = 0; i < n; i++) {
      const node = this.#nodes[i]!;
      this.#noteReturn(node, r);
      prefix.count = history.count(node);
      prefix.lastGap = history.lastGap(node);
      prefix.children = history.children(node);
      writeFeatures(rows, i * FEATURE_COUNT, request, this.#requestRow, i, prefix, this.#enabled);
      if (this.#refs++ % every === 0) {
        const sample = samples.add(r);
        copyRow(rows, i, samples.features, sample);
        history.setPending(node, sample);
      }
      history.access(node, r);
      this.lives[i] = this.life(rows, i * FEATURE_COUNT);
    }
    return r;
  }

  /**
   * The conversation target: one sample and one prediction per request. The turn it continues is the
   * deepest prefix seen before at which an earlier request's full blocks ended.
   */
  #observeTurn(access: Pick<RequestAccess, 'blocks' | 'inputLength' | 'outputLength' | 'blockSize'>, r: number, n: number, seen: number): number {
    const history = this.#history;
    const samples = this.#samples;
    const nodes = this.#nodes;
    const partial = access.inputLength % access.blockSize !== 0;
    const lastFull = partial ? n - 2 : n - 1;
    let previous = -1;
    for (let i = Math.min(seen, lastFull + 1) - 1; i >= 1; i--) {
      if (history.turnRequest(nodes[i]!) >= 0) {
        previous = nodes[i]!;
        break;
      }
    }
    const turn = this.#turn;
    turn.turn = previous >= 0 ? history.turnNumber(previous) + 1 : 0;
    turn.gap = previous >= 0 ? r - history.turnRequest(previous) : -1;
    turn.previousGap = previous >= 0 ? history.turnGap(previous) : -1;
    turn.userTokens = previous >= 0 ? Math.max(0, access.inputLength - history.turnTokens(previous)) : -1;
    turn.inputLength = access.inputLength;
    turn.outputLength = access.outputLength;
    turn.newBlocks = n - seen;
    turn.blockSize = access.blockSize;
    writeConversationRow(this.#turnRow, 0, turn, this.#turnEnabled);
    if (turn.gap >= 0) {
      this.#gaps[gapBucket(turn.gap)]! += 1;
      this.#turns++;
    }

    if (partial) {
      this.#partials++;
      // An identical prompt came back within the horizon: its partial last block was reused.
      const last = seen === n ? history.lastRequest(nodes[n - 1]!) : -1;
      if (last >= 0 && r - last <= samples.horizon) this.#partialsReused++;
    }
    for (let i = 0; i < n; i++) {
      const node = nodes[i]!;
      this.#noteReturn(node, r);
      history.access(node, r);
    }
    const fullLife = this.life(this.#turnRow, 0);
    // Before the first round every key is LRU's (no signal yet), partial blocks included.
    const partialLife = this.#model ? this.lifeOf((this.#partialsReused + 1) / (this.#partials + 2)) : this.lifeOf(0.5);
    for (let i = 0; i < n; i++) this.lives[i] = i <= lastFull ? fullLife : partialLife;
    if (lastFull >= 1) {
      const end = nodes[lastFull]!;
      const sample = samples.add(r);
      copyRow(this.#turnRow, 0, samples.features, sample, CONVERSATION_WIDTH);
      history.setPending(end, sample);
      history.setTurn(end, r, turn.turn, turn.gap, access.inputLength + access.outputLength);
    }
    return r;
  }

  /** Ends the observed request: a training round when one is due. True when the weights changed. */
  /**
   * Request `r` uses prefix `node` again: its reuse gap is counted, and its waiting sample, if any, is
   * labelled a positive (before `access` moves its last request to `r`).
   */
  #noteReturn(node: number, r: number): void {
    const history = this.#history;
    const last = history.lastRequest(node);
    if (last >= 0) {
      const gap = r - last;
      const bucket = gapBucket(gap);
      this.#reuses[bucket]! += 1;
      this.#held[bucket]! += gap;
      this.#reuseCount++;
    }
    const waiting = history.pending(node);
    if (waiting >= 0) {
      this.#samples.reused(waiting, last, r);
      history.setPending(node, -1);
    }
  }

  endRequest(): boolean {
    const done = this.#requests;
    if (done < this.#nextRound) return false;
    const o = this.options;
    this.#nextRound = done + (done < o.denseUntil ? o.retrainEvery : o.retrainLater);
    if (o.horizonFrom === 'reuse-gaps' && this.#reuseCount >= o.minReuses) this.#reuseGapHorizon();
    if (o.horizonFrom === 'turn-gaps' && this.#turns >= o.minReuses) this.#turnGapHorizon();
    if (this.#samples.trainCount < o.minSamples) return false;
    this.#model ??= this.#makeModel();
    this.#model.fit(this.#samples.trainFeatures, this.#samples.trainLabels, this.#samples.trainCount);
    return true;
  }

  #makeModel(): ReuseModel | LogisticModel | BinnedLogistic {
    const o = this.options;
    const training = { learningRate: o.learningRate, batchSize: o.batchSize, stepsPerFit: o.stepsPerFit, seed: o.seed };
    if (o.target === 'conversation') return new BinnedLogistic(training);
    if (o.trainer === 'plain') return new LogisticModel(training);
    // TensorFlow.js is loaded at the first round (short traces never load it), on the CPU backend: its
    // kernels are single-threaded JavaScript, so a seed gives the same model bit for bit.
    return new ReuseModel(cpuTfSync(), { ...training, hidden: o.hidden });
  }

  /** Horizon: the upper edge of the bucket holding the chosen quantile of turn gaps. */
  #turnGapHorizon(): void {
    const wanted = this.options.gapQuantile * this.#turns;
    let seen = 0;
    let bucket = 0;
    while (bucket < GAP_BUCKETS - 1 && seen + this.#gaps[bucket]! < wanted) seen += this.#gaps[bucket++]!;
    this.#setHorizon(bucketEdge(bucket), this.options.lifetimeShare * bucketEdge(bucket));
  }

  /**
   * Horizon from the reuse gaps: the upper edge of the bucket holding their `gapQuantile`, or an earlier one
   * where the cache would overflow. A prefix reused after g requests occupies a page for g requests if kept,
   * so the prefixes reused within h fill on average (sum of their gaps) / requests pages.
   */
  #reuseGapHorizon(): void {
    const o = this.options;
    const room = o.capacityShare * this.#slots * this.#requests;
    const wanted = o.gapQuantile * this.#reuseCount;
    let held = 0;
    let seen = 0;
    let bucket = 0;
    while (bucket < GAP_BUCKETS - 1 && held + this.#held[bucket]! <= room && seen + this.#reuses[bucket]! < wanted) {
      held += this.#held[bucket]!;
      seen += this.#reuses[bucket++]!;
    }
    const horizon = bucketEdge(bucket);
    this.#setHorizon(horizon, seen > 0 ? o.lifetimePerGap * (held / seen) : o.lifetimeShare * horizon);
  }

  #setHorizon(horizon: number, lifetime: number): void {
    this.#samples.horizon = horizon;
    this.#history.horizon = horizon * 2;
    this.#lifetime = lifetime;
  }

  /** Extra life (in requests) of a page whose feature row is at `features[offset ..)`. */
  life(features: Float32Array, offset: number): number {
    if (!this.#model) return this.lifeOf(0.5);
    const z = this.#model.logit(features, offset);
    if (this.options.shape === 'linear') return this.#lifetime / (1 + Math.exp(-z));
    return this.#lifetime * Math.min(Math.max(z, -MAX_LOGIT), MAX_LOGIT);
  }

  /** Extra life (in requests) of a page reused with probability `p`. */
  lifeOf(p: number): number {
    if (this.options.shape === 'linear') return this.#lifetime * p;
    return this.#lifetime * Math.min(Math.max(Math.log(p / (1 - p)), -MAX_LOGIT), MAX_LOGIT);
  }
}

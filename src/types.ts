/**
 * Public types shared across kvflow's modules. Every module imports its cross-module types from here so
 * that the data flow (workload -> graph -> simulator -> cache -> metrics -> report) stays one-way.
 */

/** One request in kvflow's canonical trace form (DESIGN.md section 3), after validation. */
export interface TraceRequest {
  /** Unique within its trace. */
  id: string;
  /** Arrival time in seconds (open loop). Absent when the request is closed-loop (`after`). */
  t?: number;
  /** Ids of requests that must complete before this one is sent (closed loop). */
  after?: string[];
  /** Seconds between the last of `after` completing and sending this request. */
  think?: number;
  /** Workflow instance id. */
  workflow?: string;
  /** Agent name within the workflow. */
  agent?: string;
  /** Prompt as block ids; block i's identity is the whole prefix `blocks[0..i]`. Safe integers. */
  blocks: number[];
  /** Tokens per block. */
  blockSize: number;
  /** Prompt tokens; the last block holds `inputLength - (blocks.length - 1) * blockSize`. */
  inputLength: number;
  /** Tokens generated. */
  outputLength: number;
  /** How many leading blocks are the agent's fixed prompt. */
  fixedBlocks?: number;
  /**
   * Seconds since the trace's start at which the call was logged, kept by importers whose timestamps may
   * go backwards within a session (LMCache), for `--sessions-start` (canonical field `logged_t`).
   */
  loggedT?: number;
}

/**
 * Trace formats kvflow reads: its canonical JSONL, Mooncake JSONL, Azure LLM inference CSV, LMCache agent
 * traces (raw prompt text) and LLMServingSim agentic-session JSONL.
 */
export type TraceFormat = 'kvflow' | 'mooncake' | 'azure' | 'lmcache' | 'servingsim';

/** A whole trace read into memory, in file order. */
export interface Trace {
  path: string;
  format: TraceFormat;
  requests: TraceRequest[];
  /** Lines skipped under `skipInvalid`. */
  skipped: number;
}

/**
 * Tokens per block (one KV page) wherever nothing else fixes it: kvflow trace lines without `block_size`,
 * the importers that cut token ids into blocks, workflow specs, the engine, the gateway and the simulated
 * hardware. vLLM's default too. Mooncake traces are always 512.
 */
export const DEFAULT_BLOCK_SIZE = 16;

/** Options for reading traces. */
export interface ReadTraceOptions {
  /** `auto` detects the format from the first line (the Azure CSV header, or the keys of a JSON object). */
  format?: TraceFormat | 'auto';
  /**
   * Tokens per block when the trace does not fix it: kvflow lines without `block_size` (after the header),
   * and the Azure, LMCache and LLMServingSim importers (default 16). Mooncake is always 512.
   */
  blockSize?: number;
  /** Skip and count invalid lines instead of stopping at the first. */
  skipInvalid?: boolean;
  /** Tokenizer of raw-text traces (LMCache): a model preset, a tokenizer.json path, or cl100k_base (default Llama-3.1-8B). */
  tokenizer?: string;
}

/** The built-in eviction policies' names (cache/policy-registry.ts registers them; user policies join). */
export const POLICY_NAMES = ['lru', 'lfu', 'belady', 'ste', 'reuse'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];
/**
 * What `kvflow replay` compares: the cache policies plus `ste-learned`, the learned step-graph policy
 * that follows requests (docs/learned-policy.md).
 */
export const REPLAY_POLICY_NAMES = [...POLICY_NAMES, 'ste-learned'] as const;
export type ReplayPolicyName = (typeof REPLAY_POLICY_NAMES)[number];

/** The result of replaying one trace with one (policy, capacity). Field names are the JSON contract. */
export interface ReplayResult {
  /** The policy's `name`. */
  policy: string;
  /** `null` means unbounded. */
  capacityTokens: number | null;
  requests: number;
  inputTokens: number;
  hitTokens: number;
  hitRate: number;
  evictions: number;
  /** Replay wall time without parsing. */
  seconds: number;
}

/** Summary of a trace for the replay report. */
export interface TraceSummary {
  path: string;
  requests: number;
  inputTokens: number;
  /** Total page references: the sum over requests of their block counts. */
  pages: number;
  /** How sessions were re-timed (`--sessions-start`), when they were. */
  sessionsStart?: string;
  /** Invalid lines left out, with `--skip-invalid`. */
  skippedLines?: number;
}

/** The workflow instance of requests that name none: traffic without sessions is one stream. */
export const GLOBAL_SESSION = '*';

/**
 * Live steps-to-execution per agent, fed with workflow progress. The graph module's tracker implements
 * it for declared graphs; the online learner for traffic that declares nothing.
 */
export interface SteSource {
  begin(instance: string, agent: string): void;
  end(instance: string, agent: string): void;
  finish(instance: string): void;
  /** Every agent with a known STE. */
  snapshot(): ReadonlyMap<string, number>;
  /** Changes whenever any STE may have changed. */
  readonly version: number;
  /** The key an agent's fixed-prompt pages are tagged with (default: the agent's name). */
  tagKey?(instance: string, agent: string): string;
  /**
   * Keys whose STE changed since the last call (undefined: no longer known). Optional: callers diff
   * snapshots when a source cannot say.
   */
  takeChanges?(): ReadonlyMap<string, number | undefined>;
}

/** Mean and tail percentiles of a latency distribution, in seconds. */
export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

/** One setup's results in `kvflow simulate --json`. Field names are the JSON contract (issue 3). */
export interface SimResult {
  setup: string;
  /** The engine profile of a setup that names its own (`engine=ideal`); absent: the run's (`config.hardware.engine`). */
  engine?: string;
  requests: number;
  workflows: number;
  /** Seconds from the first arrival to the last completion. */
  makespan: number;
  workflowLatency: LatencySummary;
  e2e: LatencySummary;
  ttft: LatencySummary;
  tpot: LatencySummary;
  gpuHitRate: number;
  cpuHitRate: number;
  recomputedTokens: number;
  loadedTokens: number;
  prefetchedTokens: number;
  wastedPrefetchTokens: number;
  stallSeconds: number;
  linkUtilization: { h2d: number; d2h: number };
  /** `speedup.X` = X's mean workflow latency / this setup's (mean e2e for traces without workflows). */
  speedup: Record<string, number>;
  /**
   * True when the latency figures and `speedup` above leave out the warm-up rounds (`--warmup-rounds`);
   * `all` then has them over every request.
   */
  warm: boolean;
  all: SimLatencies;
}

/** The latency figures of a result, over a chosen set of requests. */
export interface SimLatencies {
  workflowLatency: LatencySummary;
  e2e: LatencySummary;
  ttft: LatencySummary;
  tpot: LatencySummary;
  speedup: Record<string, number>;
}

/** What the HTML report plots besides the summary: raw samples and time series per setup. */
export interface SimTimeline {
  setup: string;
  /** End-to-end latency of every request, seconds, in completion order. */
  e2e: number[];
  /** Latency of every workflow instance, keyed by instance id. */
  workflowLatency: { workflow: string; seconds: number }[];
  /** Sampled over simulated time. `gpuPages`/`cpuPages` are occupied slots; bytes are cumulative. */
  samples: SimSample[];
  gpuSlots: number;
  cpuSlots: number;
  /** Engine replicas: link busy seconds add up over this many links per direction. */
  replicas?: number;
  /** Time-to-first-token and time-per-output-token of every request, seconds (TPOT: requests with > 1 output token). */
  ttft?: number[];
  tpot?: number[];
  /** The phases of the first few workflow instances' requests, for the agent timeline. */
  steps?: StepSpan[];
  /** When those instances' agents' fixed prompts were prefetched onto or evicted from the GPU. */
  promptEvents?: PromptEvent[];
}

/** One sample of a simulation's state; the bytes and busy seconds are cumulative since the start. */
export interface SimSample {
  t: number;
  gpuPages: number;
  cpuPages: number;
  h2dBytes: number;
  d2hBytes: number;
  /** Link busy seconds so far, summed over replicas. */
  h2dBusy?: number;
  d2hBusy?: number;
  /** Requests prefilling or decoding, and requests queued, summed over replicas. */
  running?: number;
  waiting?: number;
}

/**
 * One request's life, in simulated seconds: queued from `arrival`, loading its prefix from the CPU tier
 * on demand from `loadStart` (NaN: never), prefilling from `admitted`, decoding from `firstToken` to `done`.
 */
export interface StepSpan {
  workflow: string;
  agent: string;
  request: string;
  arrival: number;
  loadStart: number;
  admitted: number;
  firstToken: number;
  done: number;
  hitTokens: number;
  loadedTokens: number;
  inputTokens: number;
}

/** An agent's fixed prompt landed on the GPU by prefetch, or one of its pages was evicted from it. */
export interface PromptEvent {
  t: number;
  kind: 'prefetched' | 'evicted';
  /** The workflow instance the event is drawn on. */
  workflow: string;
  agent: string;
}

/** The document `kvflow simulate --json` prints. */
export interface SimReport {
  config: Record<string, unknown>;
  results: SimResult[];
  /** Sizes that make the comparison less meaningful than it looks, with the flag that changes them. */
  warnings?: string[];
  /** With `--tensors`: each setup's transfer plan run on real KV blocks, measured against the model. */
  tensors?: TensorPlanReport[];
}

/** `simulate --tensors`: a setup's transfer plan run on real tensor blocks (src/tensor/plan-executor.ts). */
/** Measured against modelled, for one direction of one setup. Field names are the JSON contract. */
export interface DirectionReport {
  /** Transfers the simulated link issued, and their pages. */
  transfers: number;
  pages: number;
  /** Queued transfers the simulation cancelled (stale prefetches): never executed. */
  cancelled: number;
  /** Transfers and pages executed on real tensors (fewer than issued beyond `maxPages`). */
  executedTransfers: number;
  executedPages: number;
  /** Bytes of all issued transfers at the model's page size. */
  modelledBytes: number;
  /** What the link model charges for them: sum of latency + bytes / bandwidth (idle link). */
  modelledSeconds: number;
  /** Bytes of block tensors actually moved (scaled blocks, float32). */
  measuredBytes: number;
  /** Wall time of moving them with the link's concurrency. */
  measuredSeconds: number;
  /** measuredBytes / measuredSeconds; null when nothing moved. */
  measuredBandwidth: number | null;
  /** modelledBytes / measuredBandwidth: the whole plan at full size on this machine. */
  projectedSeconds: number | null;
  /** projectedSeconds / modelledSeconds: above 1, this machine's link is slower than the model's. */
  ratio: number | null;
  /** Every block copied in this direction read back with the checksum it should have. */
  verified: boolean;
}

export interface TensorPlanReport {
  setup: string;
  backend: string;
  tensorScale: number;
  blockShape: number[];
  /** Bytes of one block tensor, and of one simulated page. */
  blockBytes: number;
  pageBytes: number;
  h2d: DirectionReport;
  d2h: DirectionReport;
  /** `tf.memory().numTensors` after the run minus before: 0 unless something leaked. */
  leakedTensors: number;
}

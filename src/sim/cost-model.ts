/**
 * The simulator's roofline cost model (DESIGN.md section 5): how long one engine iteration takes, how
 * long a KV transfer over the host link takes, and how many KV pages fit in GPU and CPU memory. Pure
 * arithmetic over a resolved `HardwareConfig`, so the simulator, the engine emulator and tests agree.
 */
import { InputError } from '../errors.js';
import type { HardwareConfig } from './hardware-config.js';
import type { ModelPreset } from './presets.js';

/** A chunk of one request's prefill: `newTokens` computed now, after `contextTokens` already in cache. */
export interface PrefillChunk {
  newTokens: number;
  contextTokens: number;
}

/** One request generating one token, attending to `contextTokens` earlier tokens. */
export interface DecodeStep {
  contextTokens: number;
}

/** Everything one engine iteration computes (continuous batching mixes prefill chunks and decodes). */
export interface IterationBatch {
  prefill: readonly PrefillChunk[];
  decode: readonly DecodeStep[];
  /** Leading entries of `prefill` in the batch (default all): lets an engine reuse its arrays. */
  prefillCount?: number;
  /** Leading entries of `decode` in the batch (default all). */
  decodeCount?: number;
}

export type TransferDirection = 'h2d' | 'd2h';

/** The fields that decide how much GPU memory is left for the KV pool. */
export type MemoryBudget = Pick<HardwareConfig, 'engine' | 'model' | 'gpu' | 'gpuCount' | 'memoryFraction' | 'activationReserveBytes'>;

/** K and V, per layer, per KV head. Tensor parallelism splits the heads, not the total. */
export function kvBytesPerToken(model: ModelPreset): number {
  return 2 * model.layers * model.kvHeads * model.headDim * model.dtypeBytes;
}

export function weightBytes(model: ModelPreset): number {
  return model.params * model.dtypeBytes;
}

/**
 * GPU memory left for the KV pool, as SGLang sizes it: the `memoryFraction` share of all GPUs' memory,
 * minus the weights and a per-GPU reserve for activations and runtime buffers. Throws `InputError` when
 * nothing is left, since no request could run. `sglang-0.4` starts from the memory CUDA reports
 * (model_executor/model_runner.py profile_max_num_token: memory after loading the weights, less
 * (1 - mem_fraction_static) of the total); `ideal` from the datasheet's decimal GB.
 */
export function gpuKvPoolBytes(budget: MemoryBudget): number {
  const { model, gpu, gpuCount, memoryFraction, activationReserveBytes } = budget;
  const memoryBytes = poolMemoryBytes(budget);
  const usable = gpuCount * memoryBytes * memoryFraction;
  const reserved = gpuCount * activationReserveBytes;
  const pool = usable - weightBytes(model) - reserved;
  if (pool <= 0) {
    throw new InputError(
      `model ${model.name} does not fit on ${gpuCount} x ${gpu.name}: ${gigabytes(weightBytes(model))} of weights ` +
        `+ ${gigabytes(reserved)} reserved > ${gigabytes(usable)} usable (memoryFraction ${memoryFraction})`,
    );
  }
  return pool;
}

/** Per-GPU memory the pool formula starts from: CUDA's figure under `sglang-0.4`, the datasheet's under `ideal`. */
export function poolMemoryBytes(budget: Pick<HardwareConfig, 'engine' | 'gpu'>): number {
  return budget.engine === 'ideal' ? budget.gpu.memoryBytes : budget.gpu.cudaMemoryBytes;
}

export class CostModel {
  readonly kvBytesPerToken: number;
  readonly weightBytes: number;
  /** Bytes of one KV page (`blockSize` tokens): the unit of caching and of transfers. */
  readonly pageBytes: number;
  readonly gpuPoolBytes: number;
  readonly gpuPoolPages: number;
  readonly cpuPoolPages: number;

  /** FLOP/s and bytes/s the whole replica sustains: datasheet peaks times GPUs times derating. */
  private readonly flopRate: number;
  private readonly byteRate: number;
  /** FLOPs of attention per (query token, attended token) pair: QK^T and PV, 2 FLOPs per MAC each. */
  private readonly attentionFlopsPerPair: number;

  constructor(readonly hardware: HardwareConfig) {
    const { model, gpu, gpuCount, blockSize } = hardware;
    this.kvBytesPerToken = kvBytesPerToken(model);
    this.weightBytes = weightBytes(model);
    this.pageBytes = this.kvBytesPerToken * blockSize;
    this.gpuPoolBytes = gpuKvPoolBytes(hardware);
    this.gpuPoolPages = Math.floor(this.gpuPoolBytes / this.pageBytes);
    this.cpuPoolPages = Math.floor(hardware.cpuPoolBytes / this.pageBytes);
    this.flopRate = gpu.peakFlops * gpuCount * hardware.mfu;
    this.byteRate = gpu.hbmBandwidth * gpuCount * hardware.bandwidthEfficiency;
    this.attentionFlopsPerPair = 4 * model.layers * model.heads * model.headDim;
  }

  /**
   * Seconds for one iteration: whichever of compute and memory traffic takes longer, plus the fixed
   * scheduling and launch overhead. Every iteration streams all weights once; an empty batch costs 0.
   */
  iterationSeconds(batch: IterationBatch): number {
    if (prefillCount(batch) === 0 && decodeCount(batch) === 0) return 0;
    return this.rooflineSeconds(batch, true) + this.overheadSeconds(batch);
  }

  /** The iteration's compute and memory time alone, without the fixed overhead (what layers split). */
  forwardSeconds(batch: IterationBatch): number {
    if (prefillCount(batch) === 0 && decodeCount(batch) === 0) return 0;
    return this.rooflineSeconds(batch, true);
  }

  /**
   * `forwardSeconds` of a decode-only batch of `requests` steps whose contexts add up to `contextTokens`,
   * with the same float operations (the sums are of integers, exact in any order): what a replica that
   * only keeps the running total needs each decode iteration, without a batch to walk.
   */
  decodeForwardSeconds(requests: number, contextTokens: number): number {
    if (requests === 0) return 0;
    const flops = 2 * this.hardware.model.params * requests + this.attentionFlopsPerPair * contextTokens;
    const bytes = (contextTokens + requests) * this.kvBytesPerToken + this.weightBytes;
    return Math.max(flops / this.flopRate, bytes / this.byteRate);
  }

  /**
   * The fixed cost of an iteration: scheduling and kernel launches. Under `sglang-0.4` a decode-only batch
   * of at most `cudaGraphMaxBs` requests replays a CUDA graph (model_executor/cuda_graph_runner.py), so no
   * kernel is launched one by one, and the overlap scheduler (managers/scheduler.py, v0.4's "zero-overhead
   * batch scheduler") prepares the next batch while this one runs: only the roofline remains.
   */
  overheadSeconds(batch: IterationBatch): number {
    const { engine, cudaGraphMaxBs, iterationOverhead } = this.hardware;
    if (engine !== 'ideal' && prefillCount(batch) === 0 && decodeCount(batch) <= cudaGraphMaxBs) return 0;
    return iterationOverhead;
  }

  /** One iteration holding a single request's prefill of `tokens` after `contextTokens` cached. */
  prefillSeconds(tokens: number, contextTokens: number): number {
    return this.iterationSeconds({ prefill: [{ newTokens: tokens, contextTokens }], decode: [] });
  }

  /**
   * What recomputing `tokens` adds to a prefill that runs anyway: their FLOPs and KV traffic only, since
   * the request's own prefill already streams the weights and pays the iteration overhead.
   */
  marginalPrefillSeconds(tokens: number, contextTokens: number): number {
    if (tokens <= 0) return 0;
    return this.rooflineSeconds({ prefill: [{ newTokens: tokens, contextTokens }], decode: [] }, false);
  }

  /** Seconds to move `bytes` over the host link in one direction. */
  transferSeconds(bytes: number, direction: TransferDirection): number {
    const link = this.hardware[direction];
    return link.latency + bytes / link.bandwidth;
  }

  /**
   * Whether loading `pages` of KV from CPU memory beats recomputing their tokens, for pages that follow
   * `contextTokens` tokens already on the GPU (DESIGN.md section 4: load back unless recomputing is
   * cheaper).
   */
  loadIsCheaper(pages: number, contextTokens: number): boolean {
    if (pages <= 0) return false;
    const load = this.transferSeconds(pages * this.pageBytes, 'h2d');
    const recompute = this.marginalPrefillSeconds(pages * this.hardware.blockSize, contextTokens);
    return load < recompute;
  }

  /**
   * Seconds of a batch's compute or memory traffic, whichever takes longer; `weights` adds one stream of
   * all weights. Linear layers cost 2 FLOPs per parameter per new token. A prefill chunk of n tokens
   * after c cached ones attends, per query, to c + (n + 1) / 2 tokens on average (causal mask); a decode
   * token attends to its whole context. Every context token's KV is read once and every new token's KV
   * written once. One function with no intermediate object: it runs once per simulated iteration.
   */
  private rooflineSeconds(batch: IterationBatch, weights: boolean): number {
    let newTokens = 0;
    let attendedPairs = 0;
    let contextTokens = 0;
    const prefills = prefillCount(batch);
    for (let i = 0; i < prefills; i++) {
      const chunk = batch.prefill[i]!;
      newTokens += chunk.newTokens;
      attendedPairs += chunk.newTokens * (chunk.contextTokens + (chunk.newTokens + 1) / 2);
      contextTokens += chunk.contextTokens;
    }
    const decodes = decodeCount(batch);
    for (let i = 0; i < decodes; i++) {
      const step = batch.decode[i]!;
      newTokens += 1;
      attendedPairs += step.contextTokens;
      contextTokens += step.contextTokens;
    }
    const flops = 2 * this.hardware.model.params * newTokens + this.attentionFlopsPerPair * attendedPairs;
    const kvBytes = (contextTokens + newTokens) * this.kvBytesPerToken;
    const bytes = weights ? kvBytes + this.weightBytes : kvBytes;
    return Math.max(flops / this.flopRate, bytes / this.byteRate);
  }
}

function prefillCount(batch: IterationBatch): number {
  return batch.prefillCount ?? batch.prefill.length;
}

function decodeCount(batch: IterationBatch): number {
  return batch.decodeCount ?? batch.decode.length;
}

function gigabytes(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/**
 * Engine profiles: how a simulated serving engine schedules, loads, writes back and evicts, as a table of
 * small rules rather than flags spread through the replica. `sglang-0.4` follows SGLang v0.4 (the version
 * the KVFlow paper, arXiv 2507.07400, ran on); each rule names the SGLang file it follows. `ideal` is
 * kvflow's earlier idealised engine, kept unchanged for what-if studies.
 */

export const ENGINE_NAMES = ['sglang-0.4', 'ideal'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export const DEFAULT_ENGINE: EngineName = 'sglang-0.4';

/** SGLang's `--hicache-write-policy` values. */
export const WRITE_POLICIES = ['write_through', 'write_through_selective', 'write_back'] as const;
export type WritePolicy = (typeof WRITE_POLICIES)[number];

/** What one eviction removes: a whole radix node (an inserted prompt segment) or one page. */
export const EVICT_GRANULARITIES = ['node', 'page'] as const;
export type EvictGranularity = (typeof EVICT_GRANULARITIES)[number];

/**
 * How host KV reaches the GPU: `direct` is SGLang v0.4's path (per layer, gather the rows on the CPU into
 * a new unpinned tensor, then a synchronous `.to(device)`); `kernel` is the path of sgl-project/sglang PR
 * #7313 (per layer, one GPU gather kernel reading pinned host memory).
 */
export const LOAD_MODES = ['direct', 'kernel'] as const;
export type LoadMode = (typeof LOAD_MODES)[number];

export interface EngineProfile {
  name: EngineName;
  /**
   * `hold-engine`: one on-demand load-back starts per scheduling pass and the whole engine waits for it.
   * `batched`: every admitted request with a host hit starts its load in the same pass, the loads merge
   * into one operation, and only the forward pass of the batch that needs them waits, layer by layer.
   */
  loadBacks: 'hold-engine' | 'batched';
  /**
   * `cheaper`: load a host hit only when that beats recomputing it under the cost model. `threshold`:
   * always load a host hit of at least `loadBackThreshold` tokens.
   */
  loadDecision: 'cheaper' | 'threshold';
  /** Tokens; used by the `threshold` decision. */
  loadBackThreshold: number;
  /** Host transfers: `link` = latency + bytes / bandwidth; `layerwise` = the per-layer load path. */
  transfers: 'link' | 'layerwise';
  /** Prefill chunks and decodes share one iteration unless the run asks otherwise (`--mixed-chunk`). */
  mixedByDefault: boolean;
  /** Write-through's GPU gather and synchronisation delay the engine (`critical-path`) or not (`free`). */
  writeCost: 'free' | 'critical-path';
  /** Decode-only batches of at most `cudaGraphMaxBs` requests replay a CUDA graph (no launch overhead). */
  decodeGraphs: boolean;
  /** Defaults of the per-run rules. */
  writePolicy: WritePolicy;
  evictGranularity: EvictGranularity;
  loadMode: LoadMode;
}

const PROFILES: Record<EngineName, EngineProfile> = {
  'sglang-0.4': {
    name: 'sglang-0.4',
    // managers/schedule_policy.py (PrefillAdder.add_one_req calls tree_cache.init_load_back for every admitted
    // request with a host hit) and managers/cache_controller.py (load_thread_func_layer_by_layer merges the
    // queued loads into one operation when the scheduler launches a batch).
    loadBacks: 'batched',
    // mem_cache/hiradix_cache.py: load_back skips a host hit shorter than load_back_threshold = 10 tokens
    // and otherwise always loads ("load it all or not at all").
    loadDecision: 'threshold',
    loadBackThreshold: 10,
    // managers/cache_controller.py + mem_cache/memory_pool.py: per layer, get_flat_data_by_layer gathers host
    // rows, transfer_per_layer copies them; the forward pass waits on layer_done_counter per layer.
    transfers: 'layerwise',
    // managers/scheduler.py: get_next_batch_to_run runs a new prefill batch, else a decode batch; prefill and
    // decode mix only under --enable-mixed-chunk (server_args.py, off by default).
    mixedByDefault: false,
    // managers/cache_controller.py write_thread_func_direct: a GPU gather of the rows, a device-to-host copy
    // and a synchronize for every backup.
    writeCost: 'critical-path',
    // model_executor/cuda_graph_runner.py: decode batches up to cuda_graph_max_bs replay captured graphs.
    decodeGraphs: true,
    // server_args.py: hicache_write_policy defaults to write_through_selective.
    writePolicy: 'write_through_selective',
    // mem_cache/radix_cache.py / hiradix_cache.py evict(): whole leaf nodes.
    evictGranularity: 'node',
    loadMode: 'direct',
  },
  ideal: {
    name: 'ideal',
    loadBacks: 'hold-engine',
    loadDecision: 'cheaper',
    loadBackThreshold: 0,
    transfers: 'link',
    mixedByDefault: true,
    writeCost: 'free',
    decodeGraphs: false,
    writePolicy: 'write_through',
    evictGranularity: 'page',
    loadMode: 'direct',
  },
};

export function engineProfile(name: EngineName): EngineProfile {
  return PROFILES[name];
}

/**
 * mem_cache/hiradix_cache.py (v0.4): under write_through every inserted node is backed up at once; under
 * write_through_selective once `hit_count > write_through_threshold` (1), where a node's hit count grows at
 * every match and every insert that passes it: a prompt is backed up on its first reuse by a later request.
 * (Later releases raised the threshold: `1 if write_through else 3`.)
 */
export const SELECTIVE_WRITE_HITS = 1;

/**
 * server_args.py (v0.4): mem_fraction_static by tensor-parallel size, for a run that does not set it.
 * 0.88 at TP 1; the rest of memory holds activations and CUDA graphs.
 */
export function sglangMemoryFraction(tensorParallel: number): number {
  if (tensorParallel >= 16) return 0.79;
  if (tensorParallel >= 8) return 0.81;
  if (tensorParallel >= 4) return 0.85;
  if (tensorParallel >= 2) return 0.87;
  return 0.88;
}

/** server_args.py (v0.4): GPUs reporting under 25,000 MiB get the small-GPU defaults below. */
const SMALL_GPU_MIB = 25_000;
const MIB = 2 ** 20;

/** server_args.py (v0.4): chunked_prefill_size is 2048 on small GPUs, else 8192. */
export function sglangChunkedPrefill(cudaMemoryBytes: number): number {
  return cudaMemoryBytes / MIB < SMALL_GPU_MIB ? 2048 : 8192;
}

/** server_args.py (v0.4): cuda_graph_max_bs is 8 on small GPUs (80 from TP 4), else 160. */
export function sglangCudaGraphMaxBs(cudaMemoryBytes: number, tensorParallel: number): number {
  if (cudaMemoryBytes / MIB >= SMALL_GPU_MIB) return 160;
  return tensorParallel < 4 ? 8 : 80;
}

/** The resolved hardware of one simulated replica (built by hardware.ts, read by the cost model and the engine). */
import type { EngineName, LoadMode } from './engine-profile.js';
import type { GpuPreset, ModelPreset } from './presets.js';

/** One direction of the host link as the simulator uses it. */
export interface LinkConfig {
  /** Bytes/s. */
  bandwidth: number;
  /** Seconds of fixed cost per transfer. */
  latency: number;
  /** Transfers the prefetcher may have in flight at once in this direction. */
  concurrency: number;
}

/** The host load path of the `sglang-0.4` engine (engine-profile.ts): what one layer's copy costs. */
export interface LoadPathConfig {
  /** `direct` (SGLang v0.4: CPU gather + pageable copy per layer) or `kernel` (PR #7313: one GPU gather kernel, pinned). */
  mode: LoadMode;
  /** Bytes/s one CPU thread gathers host rows at; also bounds pageable copies. */
  hostCopyBandwidth: number;
  /** Seconds of each layer's copy call and synchronisation. */
  syncLatency: number;
  /** Bytes/s of a pageable per-layer copy (default: the link, capped by the host copy bandwidth); calibrate --load-from sets it. */
  pageableBandwidth?: number;
}

export interface HardwareConfig {
  /** The engine profile: whose scheduling, memory and transfer rules the replica follows. */
  engine: EngineName;
  model: ModelPreset;
  gpu: GpuPreset;
  /** GPUs in one replica; the model is split over them (tensor parallelism). */
  gpuCount: number;
  /** Share of each GPU's memory for weights + KV pool (SGLang's `--mem-fraction-static`). */
  memoryFraction: number;
  /** Per-GPU bytes kept out of the KV pool for activations and runtime buffers. */
  activationReserveBytes: number;
  /** Share of peak FLOP/s that prefill actually achieves (model FLOPs utilisation). */
  mfu: number;
  /** Share of peak memory bandwidth that weight and KV streaming achieves. */
  bandwidthEfficiency: number;
  /** Seconds added to every iteration: scheduling, kernel launches, sampling. */
  iterationOverhead: number;
  h2d: LinkConfig;
  d2h: LinkConfig;
  /** Host memory for the CPU KV tier (HiCache). */
  cpuPoolBytes: number;
  /** Tokens per KV page. */
  blockSize: number;
  loadPath: LoadPathConfig;
  /** Largest decode batch that replays a CUDA graph (SGLang's `cuda_graph_max_bs`; `sglang-0.4` only). */
  cudaGraphMaxBs: number;
}

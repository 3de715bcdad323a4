/**
 * Hardware and model presets for the serving simulator's cost model (DESIGN.md section 5). Every number
 * carries its source so that a simulated result can be traced back to a datasheet, a model's
 * config.json or the KVFlow paper (Pan et al., 2025, arXiv 2507.07400). Any field can be overridden from
 * a `--config` file (see hardware.ts); presets are only the starting point.
 */

/** A decoder-only transformer, described by what the cost model needs from its config.json. */
export interface ModelPreset {
  name: string;
  /** Total parameters, embeddings and LM head included (both are stored and read every step). */
  params: number;
  layers: number;
  hiddenSize: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (grouped-query attention); these, not `heads`, size the KV cache. */
  kvHeads: number;
  headDim: number;
  /** Bytes per weight and per KV element (2 for BF16). */
  dtypeBytes: number;
  /** GPUs the model is split over by default. */
  tensorParallel: number;
}

/** One GPU. Rates are peaks from the datasheet; the cost model derates them (mfu, bandwidth efficiency). */
export interface GpuPreset {
  name: string;
  /** Device memory in bytes, as the datasheet gives it (decimal GB). */
  memoryBytes: number;
  /** Device memory as CUDA reports it (nvidia-smi's total), which SGLang sizes its pool from. */
  cudaMemoryBytes: number;
  /** Dense (no sparsity) BF16 tensor-core FLOP/s. */
  peakFlops: number;
  /** Device memory bandwidth, bytes/s. */
  hbmBandwidth: number;
  /** The host link this GPU usually sits behind (a key of `LINKS`). */
  defaultLink: LinkName;
}

/** A host <-> GPU link, modelled per direction. */
export interface LinkPreset {
  name: string;
  /** Bytes/s in one direction, as achieved by pinned-memory copies (not the raw signalling rate). */
  bandwidth: number;
  /** Seconds of fixed cost per transfer. */
  latency: number;
}

const GB = 1e9;
const TERA = 1e12;

/**
 * Per-transfer latency: submitting one cudaMemcpyAsync costs about 5-7 us (DualPath, Wu et al., 2026,
 * arXiv 2602.21548, section 5.2); we take the upper end for every link.
 */
const COPY_LATENCY_SECONDS = 7e-6;

export const LINKS = {
  // KVFlow paper, testbed section: the A10G host link measured at 2 GB/s (the paper calls it PCIe Gen1).
  'pcie-gen1-a10g': { name: 'pcie-gen1-a10g', bandwidth: 2 * GB, latency: COPY_LATENCY_SECONDS },
  // PCIe 4.0 x16 signals 31.5 GB/s per direction (16 GT/s x 16 lanes, 128b/130b); pinned copies
  // reach about 80% of that, ~25 GB/s.
  'pcie-gen4': { name: 'pcie-gen4', bandwidth: 25 * GB, latency: COPY_LATENCY_SECONDS },
  // KVFlow paper, testbed section: the H100 host link is PCIe Gen5 at 64 GB/s.
  'pcie-gen5': { name: 'pcie-gen5', bandwidth: 64 * GB, latency: COPY_LATENCY_SECONDS },
} as const satisfies Record<string, LinkPreset>;

export type LinkName = keyof typeof LINKS;

/**
 * The host-side costs of SGLang's load path (engine-profile.ts). One CPU thread gathers scattered KV rows
 * into a new tensor: one server core streams about 12 GB/s (AnandTech, "Intel Skylake-EP vs AMD EPYC
 * 7000", memory subsystem: STREAM with one thread on Skylake-SP), and pageable copies are staged through
 * the driver's pinned buffer at that same rate (CUDA C++ Best Practices Guide, "Pinned Memory").
 */
export const HOST_COPY_BANDWIDTH = 12 * GB;
/** Seconds of each per-layer copy call and its synchronisation: the per-call cost above (DualPath). */
export const LAYER_SYNC_SECONDS = COPY_LATENCY_SECONDS;
export const LINK_NAMES = Object.keys(LINKS) as LinkName[];

// Memory sizes use NVIDIA's decimal GB; CUDA reports slightly more (e.g. A10 23028 MiB = 24.15e9 B,
// H100 81559 MiB = 85.5e9 B; modal-labs/modal-client PR #2797), so the `ideal` engine's pools come out
// slightly conservative. `cudaMemoryBytes` is nvidia-smi's total, what SGLang's pool formula starts from:
// A10G (AWS g5) 23028 MiB like the A10, L4 23034 MiB, A100 80GB 81920 MiB, H100 SXM 81559 MiB,
// H200 143771 MiB.
const MIB = 2 ** 20;
export const GPUS = {
  // AWS's A10G (g5 instances) has no public NVIDIA datasheet. 24 GB GDDR6 at 600 GB/s, and 70 TFLOPS
  // dense BF16 tensor (the A10 has 125): Baseten, "NVIDIA A10 vs A10G for ML model inference".
  A10G: { name: 'A10G', memoryBytes: 24 * GB, cudaMemoryBytes: 23028 * MIB, peakFlops: 70 * TERA, hbmBandwidth: 600 * GB, defaultLink: 'pcie-gen1-a10g' },
  // NVIDIA L4 datasheet: 24 GB GDDR6, 300 GB/s, BF16 tensor 242 TFLOPS with sparsity = 121 dense;
  // PCIe Gen4 x16 host interface.
  L4: { name: 'L4', memoryBytes: 24 * GB, cudaMemoryBytes: 23034 * MIB, peakFlops: 121 * TERA, hbmBandwidth: 300 * GB, defaultLink: 'pcie-gen4' },
  // NVIDIA A100 datasheet (80GB SXM): 80 GB HBM2e, 2039 GB/s, BF16 tensor 312 TFLOPS dense; PCIe Gen4.
  'A100-80G': { name: 'A100-80G', memoryBytes: 80 * GB, cudaMemoryBytes: 81920 * MIB, peakFlops: 312 * TERA, hbmBandwidth: 2039 * GB, defaultLink: 'pcie-gen4' },
  // NVIDIA H100 datasheet (SXM): 80 GB HBM3, 3.35 TB/s, BF16 tensor 1979 TFLOPS with sparsity = 989 dense;
  // the KVFlow paper's H100 testbed has a 64 GB/s PCIe Gen5 host link.
  'H100-SXM': { name: 'H100-SXM', memoryBytes: 80 * GB, cudaMemoryBytes: 81559 * MIB, peakFlops: 989 * TERA, hbmBandwidth: 3350 * GB, defaultLink: 'pcie-gen5' },
  // NVIDIA H200 datasheet (SXM): 141 GB HBM3e, 4.8 TB/s, BF16 tensor 1979 TFLOPS with sparsity = 989
  // dense (same GH100 die as H100); PCIe Gen5.
  H200: { name: 'H200', memoryBytes: 141 * GB, cudaMemoryBytes: 143771 * MIB, peakFlops: 989 * TERA, hbmBandwidth: 4800 * GB, defaultLink: 'pcie-gen5' },
} as const satisfies Record<string, GpuPreset>;

export type GpuName = keyof typeof GPUS;
export const GPU_NAMES = Object.keys(GPUS) as GpuName[];

// Shapes from each model's Hugging Face config.json (hidden_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, torch_dtype bfloat16; head_dim = hidden_size / heads).
// `params` is counted from the same config: embeddings + layers (attention, SwiGLU MLP, norms) + final
// norm + untied LM head; it matches the safetensors totals on the model cards.
export const MODELS = {
  // meta-llama/Llama-3.1-8B: hidden 4096, 32 layers, 32 heads, 8 KV heads, intermediate 14336, vocab 128256.
  'Llama-3.1-8B': {
    name: 'Llama-3.1-8B',
    params: 8_030_261_248,
    layers: 32,
    hiddenSize: 4096,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    dtypeBytes: 2,
    tensorParallel: 1,
  },
  // Qwen/Qwen2.5-32B: hidden 5120, 64 layers, 40 heads, 8 KV heads, intermediate 27648, vocab 152064,
  // QKV biases.
  'Qwen2.5-32B': {
    name: 'Qwen2.5-32B',
    params: 32_763_876_352,
    layers: 64,
    hiddenSize: 5120,
    heads: 40,
    kvHeads: 8,
    headDim: 128,
    dtypeBytes: 2,
    tensorParallel: 1,
  },
  // meta-llama/Llama-3.1-70B: hidden 8192, 80 layers, 64 heads, 8 KV heads, intermediate 28672,
  // vocab 128256. 141 GB of BF16 weights: served with tensor parallelism 4.
  'Llama-3.1-70B': {
    name: 'Llama-3.1-70B',
    params: 70_553_706_496,
    layers: 80,
    hiddenSize: 8192,
    heads: 64,
    kvHeads: 8,
    headDim: 128,
    dtypeBytes: 2,
    tensorParallel: 4,
  },
} as const satisfies Record<string, ModelPreset>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

/** The paper's headline setup (DESIGN.md section 1): Llama-3.1-8B on one A10G. */
export const DEFAULT_MODEL: ModelName = 'Llama-3.1-8B';
export const DEFAULT_GPU: GpuName = 'A10G';

/**
 * Other names people give these GPUs: cloud instance docs and nvidia-smi say "H100" or "A100", often
 * with a form factor and memory. Compared without case, spaces or underscores (see `gpuPresetName`).
 */
export const GPU_ALIASES: Record<string, GpuName> = {
  a10: 'A10G',
  a100: 'A100-80G',
  'a100-80gb': 'A100-80G',
  'a100-sxm4-80gb': 'A100-80G',
  h100: 'H100-SXM',
  'h100-sxm5': 'H100-SXM',
  'h100-80gb': 'H100-SXM',
  'h100-80gb-hbm3': 'H100-SXM',
  'h200-sxm': 'H200',
  'h200-141gb': 'H200',
};

/** `a10g`, `H100`, `NVIDIA H100 80GB HBM3` -> the preset name, or undefined. */
export function gpuPresetName(text: string): GpuName | undefined {
  const key = text.trim().toLowerCase().replace(/[\s_]+/g, '-').replace(/^nvidia-/, '');
  return GPU_NAMES.find((name) => name.toLowerCase() === key) ?? GPU_ALIASES[key];
}

/**
 * `llama-3.1-8b`, a Hugging Face id such as `meta-llama/Llama-3.1-8B-Instruct` or
 * `Qwen/Qwen2.5-32B-Instruct` -> the preset name, or undefined. An instruct model has its base model's
 * shapes, so the organisation, `-Instruct` and Meta's older `Meta-` prefix are dropped before comparing.
 */
export function modelPresetName(text: string): ModelName | undefined {
  const key = text
    .trim()
    .toLowerCase()
    .replace(/^.*\//, '')
    .replace(/-instruct$/, '')
    .replace(/^meta-(?=llama)/, '');
  return MODEL_NAMES.find((name) => name.toLowerCase() === key);
}

/** `--gpu` help: the presets, and their aliases in parentheses. */
export function gpuHelp(): string {
  const names = GPU_NAMES.map((name) => {
    const aliases = Object.keys(GPU_ALIASES).filter((alias) => GPU_ALIASES[alias] === name);
    return aliases.length === 0 ? name : `${name} (${aliases.join(', ')})`;
  });
  return `GPU preset, any case: ${names.join(', ')}`;
}

/** `--model` help: the presets, and that Hugging Face ids of them work. */
export function modelHelp(): string {
  return `model preset, any case: ${MODEL_NAMES.join(', ')}, or its Hugging Face id (meta-llama/Llama-3.1-8B-Instruct, Qwen/Qwen2.5-32B-Instruct)`;
}

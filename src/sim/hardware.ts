/**
 * The hardware a simulated engine replica runs on: a model preset on a GPU preset, plus the derating
 * and memory-policy coefficients the cost model needs. `resolveHardware` merges, in increasing
 * priority, the presets, the defaults below, a `--config FILE` document and the `--gpu`/`--model`
 * flags. Config documents are validated strictly (unknown fields are errors), so a typo cannot
 * silently leave a default in place.
 */
import type { z as Zod } from 'zod';
import { nearestName, unknownName } from '../did-you-mean.js';
import { InputError } from '../errors.js';
import { inputErrorFrom } from '../zod-issues.js';
import { readInputJson } from '../input-files.js';
import { DEFAULT_BLOCK_SIZE } from '../types.js';
import { describeValue, expecting } from '../workload/problem.js';
import { lazySchema, type ZodApi } from '../workload/lazy-zod.js';
import { CostModel, gpuKvPoolBytes } from './cost-model.js';
import type { HardwareConfig, LinkConfig, LoadPathConfig } from './hardware-config.js';
import {
  DEFAULT_ENGINE,
  ENGINE_NAMES,
  LOAD_MODES,
  sglangCudaGraphMaxBs,
  sglangMemoryFraction,
  type EngineName,
  type LoadMode,
} from './engine-profile.js';
import {
  DEFAULT_GPU,
  HOST_COPY_BANDWIDTH,
  LAYER_SYNC_SECONDS,
  DEFAULT_MODEL,
  GPU_NAMES,
  GPUS,
  LINK_NAMES,
  LINKS,
  MODEL_NAMES,
  MODELS,
  GPU_ALIASES,
  gpuPresetName,
  modelPresetName,
  type GpuPreset,
  type LinkPreset,
  type ModelPreset,
} from './presets.js';

export type { LinkConfig, LoadPathConfig, HardwareConfig } from './hardware-config.js';

/** What callers know: flag values, and the parsed JSON of a `--config` file with its name. */
export interface HardwareInput {
  /** `--engine` flag; wins over the config file's `engine`. */
  engine?: string;
  /** `--gpu` flag; wins over the config file's `gpu`. */
  gpu?: string;
  /** `--model` flag; wins over the config file's `model`. */
  model?: string;
  /** Parsed JSON of the config file. */
  overrides?: unknown;
  /** Names the config file in error messages. */
  source?: string;
}

/** Defaults for everything the presets do not fix. */
export const HARDWARE_DEFAULTS = {
  /** SGLang's `--mem-fraction-static`: weights and KV pool share 90% of GPU memory. */
  memoryFraction: 0.9,
  /**
   * 1 GiB per GPU. SGLang sizes the KV pool from the memory still free after loading the weights, so
   * what the CUDA context, cuBLAS/NCCL workspaces and CUDA-graph buffers already hold (around a GiB) is
   * not available to it on top of the 10% left by `memoryFraction`.
   */
  activationReserveBytes: 2 ** 30,
  /** Large prefills reach about half of peak tensor throughput. */
  mfu: 0.5,
  /** Streaming reads reach about 80% of peak memory bandwidth. */
  bandwidthEfficiency: 0.8,
  /** 4 ms per iteration for the scheduler and kernel launches. */
  iterationOverhead: 0.004,
  /** A few copy streams per direction are enough to keep a copy engine busy. */
  linkConcurrency: 4,
  /** SGLang HiCache's `--hicache-ratio` default: the host pool is twice the GPU KV pool. */
  cpuPoolRatio: 2,
  /** One block size for every layer (types.ts). */
  blockSize: DEFAULT_BLOCK_SIZE,
} as const;

/** Labels config problems when the caller does not name the document. */
const UNNAMED_SOURCE = 'config';

/**
 * The `--config` schema, built with zod on first use (zod loads only when a config file is given; a run
 * from presets and flags never needs it). Field messages read "expected a number > 0, got -1", like the
 * trace readers'.
 */
function buildOverridesSchema(z: ZodApi) {
  const positiveNumber = z.number(expecting('a number > 0')).gt(0);
  const nonNegativeNumber = z.number(expecting('a number >= 0')).min(0);
  const positiveInt = z.int(expecting('an integer >= 1')).min(1);
  const fraction = z.number(expecting('a number in (0, 1]')).gt(0).max(1);
  const label = z.string(expecting('a non-empty string')).min(1);

  /** A name from `accepted`; anything else is reported with the whole list. */
  function presetName<T extends string>(accepted: readonly T[]) {
    return z.enum(accepted as [T, ...T[]], {
      error: (issue) =>
        typeof issue.input === 'string' ? unknownName(issue.input, accepted) : `expected a name, got ${describeValue(issue.input)}`,
    });
  }

  /** A GPU or model preset under any of its names (presets.ts), stored as the preset name. */
  function aliasedPresetName<T extends string>(accepted: readonly T[], resolve: (text: string) => T | undefined, aliases: readonly string[]) {
    return z.string(expecting('a name')).transform((text, context) => {
      const name = resolve(text);
      if (name === undefined) context.addIssue({ code: 'custom', message: unknownName(text, accepted, '', aliases) });
      return name ?? (text as T);
    });
  }

  /** An object that rejects unknown fields, naming the fields it does accept. */
  function strictObject<S extends Zod.ZodRawShape>(shape: S) {
    const fields = Object.keys(shape).join(', ');
    return z.strictObject(shape, {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown field (${didYouMean(issue.keys[0], Object.keys(shape))}accepted: ${fields})`
          : `expected an object, got ${describeValue(issue.input)}`,
    });
  }

  const linkOverrides = strictObject({
    bandwidth: positiveNumber.optional(),
    latency: nonNegativeNumber.optional(),
    concurrency: positiveInt.optional(),
  });

  const gpuPresetOverrides = strictObject({
    name: label.optional(),
    memoryBytes: positiveNumber.optional(),
    peakFlops: positiveNumber.optional(),
    hbmBandwidth: positiveNumber.optional(),
    defaultLink: presetName(LINK_NAMES).optional(),
    cudaMemoryBytes: positiveNumber.optional(),
  });

  const loadPathOverrides = strictObject({
    mode: presetName(LOAD_MODES).optional(),
    hostCopyBandwidth: positiveNumber.optional(),
    syncLatency: nonNegativeNumber.optional(),
    pageableBandwidth: positiveNumber.optional(),
  });

  const modelPresetOverrides = strictObject({
    name: label.optional(),
    params: positiveNumber.optional(),
    layers: positiveInt.optional(),
    hiddenSize: positiveInt.optional(),
    heads: positiveInt.optional(),
    kvHeads: positiveInt.optional(),
    headDim: positiveInt.optional(),
    dtypeBytes: positiveNumber.optional(),
    tensorParallel: positiveInt.optional(),
  });

  const overridesSchema = strictObject({
    /** Free text (a string, or lines) saying where the values come from; ignored. */
    description: z.union([z.string(), z.array(z.string())], expecting('a string or a list of strings')).optional(),
    engine: presetName(ENGINE_NAMES).optional(),
    gpu: aliasedPresetName(GPU_NAMES, gpuPresetName, Object.keys(GPU_ALIASES)).optional(),
    model: aliasedPresetName(MODEL_NAMES, modelPresetName, []).optional(),
    gpuCount: positiveInt.optional(),
    memoryFraction: fraction.optional(),
    activationReserveBytes: nonNegativeNumber.optional(),
    mfu: fraction.optional(),
    bandwidthEfficiency: fraction.optional(),
    iterationOverhead: nonNegativeNumber.optional(),
    h2d: linkOverrides.optional(),
    d2h: linkOverrides.optional(),
    cpuPoolBytes: nonNegativeNumber.optional(),
    blockSize: positiveInt.optional(),
    loadPath: loadPathOverrides.optional(),
    cudaGraphMaxBs: positiveInt.optional(),
    gpuPreset: gpuPresetOverrides.optional(),
    modelPreset: modelPresetOverrides.optional(),
  });
  return overridesSchema;
}

const overridesSchema = lazySchema(buildOverridesSchema);

/** A validated `--config` document: every field optional. */
export type HardwareOverrides = Zod.output<ReturnType<typeof buildOverridesSchema>>;

/** Validates the parsed JSON of a config file; problems become `source: path.to.field: problem`. */
export function parseHardwareOverrides(json: unknown, source: string = UNNAMED_SOURCE): HardwareOverrides {
  const result = overridesSchema().safeParse(json);
  if (result.success) return result.data;
  throw inputErrorFrom(result.error, { file: source });
}

/** Reads a `--config` file as JSON (validation happens in `resolveHardware`). */
export async function readHardwareConfigFile(path: string): Promise<unknown> {
  return readInputJson(path);
}

/**
 * The hardware for a run: presets, then defaults, then the config file, then the flags. The default
 * pair is the KVFlow paper's headline setup, Llama-3.1-8B on one A10G. Throws `InputError` for bad
 * config fields, unknown names, and a model that does not fit.
 */
export function resolveHardware(input: HardwareInput = {}): HardwareConfig {
  const file = input.overrides === undefined ? {} : parseHardwareOverrides(input.overrides, input.source);
  return hardwareFrom(file, input);
}

/** `resolveHardware` for a document already validated, or built from values checked field by field (config/hardware-input.ts). */
export function hardwareFrom(file: HardwareOverrides, input: Pick<HardwareInput, 'engine' | 'gpu' | 'model'> = {}): HardwareConfig {
  const engine = input.engine === undefined ? (file.engine ?? DEFAULT_ENGINE) : flagName('--engine', input.engine, ENGINE_NAMES);
  const ideal = engine === 'ideal';
  const gpuName = input.gpu === undefined ? (file.gpu ?? DEFAULT_GPU) : presetFlag('--gpu', input.gpu, GPU_NAMES, gpuPresetName, Object.keys(GPU_ALIASES));
  const modelName = input.model === undefined ? (file.model ?? DEFAULT_MODEL) : presetFlag('--model', input.model, MODEL_NAMES, modelPresetName, []);
  const gpu: GpuPreset = { ...GPUS[gpuName], ...file.gpuPreset };
  const model: ModelPreset = { ...MODELS[modelName], ...file.modelPreset };
  const gpuCount = file.gpuCount ?? model.tensorParallel;
  // sglang-0.4: server_args.py's mem_fraction_static by TP size, and its 1 - fraction is the only reserve.
  const memory = {
    engine,
    model,
    gpu,
    gpuCount,
    memoryFraction: file.memoryFraction ?? (ideal ? HARDWARE_DEFAULTS.memoryFraction : sglangMemoryFraction(gpuCount)),
    activationReserveBytes: file.activationReserveBytes ?? (ideal ? HARDWARE_DEFAULTS.activationReserveBytes : 0),
  };
  // Computed even when cpuPoolBytes is given: a model that does not fit is reported here, up front.
  const gpuPoolBytes = gpuKvPoolBytes(memory);
  const link = LINKS[gpu.defaultLink];
  return {
    ...memory,
    mfu: file.mfu ?? HARDWARE_DEFAULTS.mfu,
    bandwidthEfficiency: file.bandwidthEfficiency ?? HARDWARE_DEFAULTS.bandwidthEfficiency,
    iterationOverhead: file.iterationOverhead ?? HARDWARE_DEFAULTS.iterationOverhead,
    h2d: linkConfig(link, file.h2d),
    d2h: linkConfig(link, file.d2h),
    cpuPoolBytes: file.cpuPoolBytes ?? HARDWARE_DEFAULTS.cpuPoolRatio * gpuPoolBytes,
    blockSize: file.blockSize ?? HARDWARE_DEFAULTS.blockSize,
    loadPath: {
      mode: file.loadPath?.mode ?? 'direct',
      hostCopyBandwidth: file.loadPath?.hostCopyBandwidth ?? HOST_COPY_BANDWIDTH,
      syncLatency: file.loadPath?.syncLatency ?? LAYER_SYNC_SECONDS,
      ...(file.loadPath?.pageableBandwidth !== undefined && { pageableBandwidth: file.loadPath.pageableBandwidth }),
    },
    cudaGraphMaxBs: file.cudaGraphMaxBs ?? sglangCudaGraphMaxBs(gpu.cudaMemoryBytes, gpuCount),
  };
}

/**
 * A JSON-able description for the report's `config`. Apart from `derived` (sizes computed from the
 * rest, for readers), it is itself a config document that reproduces `hw`, as long as the preset
 * names were not overridden (`gpu` and `model` must name presets).
 */
export function describeHardware(hw: HardwareConfig): Record<string, unknown> {
  const costs = new CostModel(hw);
  return {
    engine: hw.engine,
    gpu: hw.gpu.name,
    model: hw.model.name,
    gpuCount: hw.gpuCount,
    memoryFraction: hw.memoryFraction,
    activationReserveBytes: hw.activationReserveBytes,
    mfu: hw.mfu,
    bandwidthEfficiency: hw.bandwidthEfficiency,
    iterationOverhead: hw.iterationOverhead,
    h2d: { ...hw.h2d },
    d2h: { ...hw.d2h },
    cpuPoolBytes: hw.cpuPoolBytes,
    blockSize: hw.blockSize,
    loadPath: { ...hw.loadPath },
    cudaGraphMaxBs: hw.cudaGraphMaxBs,
    gpuPreset: { ...hw.gpu },
    modelPreset: { ...hw.model },
    derived: {
      kvBytesPerToken: costs.kvBytesPerToken,
      weightBytes: costs.weightBytes,
      pageBytes: costs.pageBytes,
      gpuPoolBytes: costs.gpuPoolBytes,
      gpuPoolPages: costs.gpuPoolPages,
      cpuPoolPages: costs.cpuPoolPages,
    },
  };
}

function linkConfig(preset: LinkPreset, overrides: Partial<LinkConfig> | undefined): LinkConfig {
  return {
    bandwidth: overrides?.bandwidth ?? preset.bandwidth,
    latency: overrides?.latency ?? preset.latency,
    concurrency: overrides?.concurrency ?? HARDWARE_DEFAULTS.linkConcurrency,
  };
}

function flagName<T extends string>(flag: string, value: string, accepted: readonly T[]): T {
  if (!(accepted as readonly string[]).includes(value)) throw InputError.flag(flag, unknownName(value, accepted));
  return value as T;
}

function presetFlag<T extends string>(flag: string, value: string, accepted: readonly T[], resolve: (text: string) => T | undefined, aliases: readonly string[]): T {
  const name = resolve(value);
  if (name === undefined) throw InputError.flag(flag, unknownName(value, accepted, '', aliases));
  return name;
}

function didYouMean(name: string | undefined, accepted: readonly string[]): string {
  const nearest = name === undefined ? undefined : nearestName(name, accepted);
  return nearest === undefined ? '' : `did you mean ${nearest}? `;
}

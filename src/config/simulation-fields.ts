/**
 * The fields of a simulation run, one table per concern: the workload, the serving system, and the
 * hardware. `kvflow simulate` gets its flags from these tables (cli/simulate.ts), a sweep grid of kind
 * `simulate` its fields (sweep/sweep-grid.ts), and `--config` documents their hardware layering
 * (`HARDWARE_DOCUMENT_PATHS`). To add a setting: add a field here (and read it where the run is built,
 * config/simulation-input.ts); docs/architecture.md says more.
 */
import { GPU_ALIASES, GPU_NAMES, MODEL_NAMES, gpuHelp, gpuPresetName, modelHelp, modelPresetName } from '../sim/presets.js';
import { ENGINE_NAMES, EVICT_GRANULARITIES, LOAD_MODES, WRITE_POLICIES, type EngineName, type LoadMode } from '../sim/engine-profile.js';
import type { z as Zod } from 'zod';
import { ROUTER_NAMES, type RouterName } from '../sim/router.js';
import { SETUP_NAMES } from '../sim/setups.js';
import { MAX_REPLICAS, SERVING_DEFAULTS } from '../sim/simulate.js';
import {
  boolean,
  byteCount,
  byteRate,
  fraction,
  integer,
  listOf,
  number,
  oneOf,
  path,
  presetName,
  text,
  tokens,
  type ConfigField,
} from './field.js';
import { policyListHelp } from './policy-spec.js';
import { WORKLOAD_FIELDS } from './workload-fields.js';

export { WORKLOAD_FIELDS };
import { parseSetupSpec, parseSetupText, setupDefinitionSchema, type SetupSpec } from './setup-spec.js';

/** The serving system: setups compared, replicas, routing and the engine's scheduler. */
export const SERVING_FIELDS = {
  setups: {
    flag: '--setups <list>',
    description: `setups to compare, comma list of ${SETUP_NAMES.join(', ')}`,
    parse: listOf(SETUP_NAMES).parse,
    // A document may also define a setup from parts in this list.
    schema: (z) => z.array(z.union([z.enum(SETUP_NAMES), setupDefinitionSchema(z)])).min(1),
    default: ['sglang', 'hicache', 'kvflow'],
    defaultText: 'sglang,hicache,kvflow',
  } satisfies ConfigField<SetupSpec[]>,
  setup: {
    flag: '--setup <definition>',
    description: 'one more setup from parts, e.g. name=mine,policy=./p.js,cpu=on,prefetch=ste[,status-aware=on][,base=kvflow] (repeatable)',
    parse: (value: string) => parseSetupSpec(value, '--setup'),
    repeatable: true,
    schema: (z) =>
      z.array(
        z.union([
          z.string().transform((value, context) => {
            try {
              return parseSetupText(value, 'setup');
            } catch (error) {
              context.addIssue({ code: 'custom', message: (error as Error).message.replace(/^setup: /, '') });
              return z.NEVER;
            }
          }),
          setupDefinitionSchema(z),
        ]),
      ),
  } satisfies ConfigField<SetupSpec | SetupSpec[]>,
  policy: {
    flag: '--policy <list>',
    description: `one more GPU-only setup per eviction policy, named after it: ${policyListHelp()}`,
    parse: (value: string) => value.split(','),
    schema: (z) => z.array(z.string().min(1)),
  } satisfies ConfigField<string[]>,
  replicas: {
    flag: '--replicas <n>',
    description: `engine replicas (1 to ${MAX_REPLICAS})`,
    ...integer(1, MAX_REPLICAS, `"%s" is more than ${MAX_REPLICAS} replicas`),
    default: SERVING_DEFAULTS.replicas,
  },
  router: {
    flag: '--router <name>',
    description: `request routing across replicas: ${ROUTER_NAMES.join(', ')}`,
    ...oneOf(ROUTER_NAMES),
    default: SERVING_DEFAULTS.router,
  } satisfies ConfigField<RouterName>,
  schedule: {
    flag: '--schedule <name>',
    description: 'admission order: fcfs | lpm (longest prefix match first)',
    ...oneOf(['fcfs', 'lpm'] as const),
    default: SERVING_DEFAULTS.schedule,
  } satisfies ConfigField<'fcfs' | 'lpm'>,
  tokenBudget: {
    flag: '--token-budget <n>',
    description: "most prompt tokens prefilled per iteration (chunked prefill; default sglang-0.4: SGLang's chunked_prefill_size for the GPU, ideal: 8192)",
    ...tokens(1),
  },
  mixedChunk: {
    flag: '--mixed-chunk',
    description: 'prefill chunks and decodes share an iteration (default for ideal)',
    negation: 'separate prefill and decode batches (default for sglang-0.4)',
    ...boolean,
  },
  writePolicy: {
    flag: '--write-policy <name>',
    description: `CPU tier fill: ${WRITE_POLICIES.join(' | ')} (default sglang-0.4: write_through_selective, ideal: write_through)`,
    ...oneOf(WRITE_POLICIES),
  },
  evictGranularity: {
    flag: '--evict-granularity <name>',
    description: `GPU eviction unit: ${EVICT_GRANULARITIES.join(' | ')} (default sglang-0.4: node, ideal: page)`,
    ...oneOf(EVICT_GRANULARITIES),
  },
  warmupRounds: {
    flag: '--warmup-rounds <n>',
    description: 'leading rounds of every workflow left out of the latency figures and speedups (default 1 for --workload, 0 for --trace)',
    ...integer(0),
  },
  maxRunning: {
    flag: '--max-running <n>',
    description: 'most requests running at once per replica',
    ...integer(1),
    default: SERVING_DEFAULTS.maxRunning,
  },
  loadAhead: {
    flag: '--load-ahead <n>',
    description: 'kvflow prefetches agents at most this many steps away',
    ...integer(0),
    default: SERVING_DEFAULTS.loadAhead,
  },
  timeScale: {
    flag: '--time-scale <x>',
    description: 'multiply open-loop arrival times by x',
    ...number(0),
    default: SERVING_DEFAULTS.timeScale,
  },
} as const satisfies Record<string, ConfigField>;

/** The hardware of one replica: presets, an optional `--config` document, and single coefficients over it. */
export const HARDWARE_FIELDS = {
  config: { flag: '--config <file>', description: 'hardware/cost-model JSON (see workloads/configs/); flags win over it', ...path },
  gpu: { flag: '--gpu <name>', description: `${gpuHelp()} (default A10G)`, ...presetName(GPU_NAMES, gpuPresetName, Object.keys(GPU_ALIASES)) },
  model: { flag: '--model <name>', description: `${modelHelp()} (default Llama-3.1-8B)`, ...presetName(MODEL_NAMES, modelPresetName) },
  engine: {
    flag: '--engine <name>',
    description: `engine profile: ${ENGINE_NAMES.join(' | ')} (default sglang-0.4: SGLang v0.4's scheduler and HiCache; ideal: kvflow's idealised engine)`,
    ...oneOf(ENGINE_NAMES),
  } satisfies ConfigField<EngineName>,
  loadMode: {
    flag: '--load-mode <name>',
    description: `sglang-0.4 host load path: ${LOAD_MODES.join(' | ')} (direct: v0.4's CPU gather + pageable copy per layer; kernel: PR #7313's gather kernel)`,
    ...oneOf(LOAD_MODES),
  } satisfies ConfigField<LoadMode>,
  hostCopyBandwidth: {
    flag: '--host-copy-bandwidth <bytes/s>',
    description: 'bytes/s one CPU thread gathers host KV at (sglang-0.4 direct load path; 12e9, 12G)',
    ...byteRate,
  },
  syncLatency: { flag: '--sync-latency <s>', description: "seconds of each layer's copy call and synchronisation (sglang-0.4)", ...number(0) },
  cudaGraphMaxBs: {
    flag: '--cuda-graph-max-bs <n>',
    description: "largest decode batch replayed as a CUDA graph (sglang-0.4; default SGLang's for the GPU)",
    ...integer(1),
  },
  mfu: { flag: '--mfu <x>', description: 'model FLOPs utilisation in (0, 1]', ...fraction },
  bandwidthEfficiency: { flag: '--bandwidth-efficiency <x>', description: 'share of peak HBM bandwidth reached, in (0, 1]', ...fraction },
  iterationOverhead: { flag: '--iteration-overhead <s>', description: 'seconds added to every engine iteration', ...number(0) },
  memoryFraction: { flag: '--memory-fraction <x>', description: 'share of GPU memory for weights + KV pool, in (0, 1]', ...fraction },
  h2dBandwidth: { flag: '--h2d-bandwidth <bytes/s>', description: 'host-to-device link bandwidth (25e9, 25G = 25 GiB/s, 25GB/s)', ...byteRate },
  d2hBandwidth: { flag: '--d2h-bandwidth <bytes/s>', description: 'device-to-host link bandwidth (25e9, 25G = 25 GiB/s, 25GB/s)', ...byteRate },
  cpuPoolBytes: { flag: '--cpu-pool-bytes <bytes>', description: 'CPU KV tier size (default 2x the GPU KV pool; 64G, 64GiB)', ...byteCount },
  linkLatency: { flag: '--link-latency <s>', description: 'seconds added to every host-link transfer, both directions', ...number(0) },
  linkConcurrency: { flag: '--link-concurrency <n>', description: 'transfers in flight per link direction', ...integer(1) },
  activationReserveBytes: { flag: '--activation-reserve-bytes <bytes>', description: 'per-GPU memory kept out of the KV pool (bytes; 2G)', ...byteCount },
  gpuCount: { flag: '--gpu-count <n>', description: 'GPUs per replica (tensor parallel; default the model preset)', ...integer(1) },
} as const satisfies Record<string, ConfigField>;

/**
 * Where each hardware coefficient goes in a `--config` document (sim/hardware.ts's schema): a field given
 * as a flag or in a grid is laid over the document at these paths. `gpu` and `model` are resolved as
 * names instead, and `config` is the document itself.
 */
export const HARDWARE_DOCUMENT_PATHS: Readonly<Record<Exclude<keyof typeof HARDWARE_FIELDS, 'gpu' | 'model' | 'config'>, readonly string[]>> = {
  engine: ['engine'],
  loadMode: ['loadPath.mode'],
  hostCopyBandwidth: ['loadPath.hostCopyBandwidth'],
  syncLatency: ['loadPath.syncLatency'],
  cudaGraphMaxBs: ['cudaGraphMaxBs'],
  mfu: ['mfu'],
  bandwidthEfficiency: ['bandwidthEfficiency'],
  iterationOverhead: ['iterationOverhead'],
  memoryFraction: ['memoryFraction'],
  h2dBandwidth: ['h2d.bandwidth'],
  d2hBandwidth: ['d2h.bandwidth'],
  cpuPoolBytes: ['cpuPoolBytes'],
  linkLatency: ['h2d.latency', 'd2h.latency'],
  linkConcurrency: ['h2d.concurrency', 'd2h.concurrency'],
  activationReserveBytes: ['activationReserveBytes'],
  gpuCount: ['gpuCount'],
};

/** Every field of a simulation run, in `--help` order: workload, serving, hardware. */
export const SIMULATION_FIELDS = { ...WORKLOAD_FIELDS, ...SERVING_FIELDS, ...HARDWARE_FIELDS } as const;

/** A simulation run's settings as flags and grid points give them: every field optional. */
export type SimulationSettings = { -readonly [K in keyof typeof SIMULATION_FIELDS]?: FieldValue<(typeof SIMULATION_FIELDS)[K]> };
type FieldValue<F> = F extends { schema: (z: never) => Zod.ZodType<infer T, unknown> } ? T : never;

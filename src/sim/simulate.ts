import type { SimLatencies, SimReport, SimResult, SimTimeline, SteSource, TraceRequest } from '../types.js';
import { CostModel } from './cost-model.js';
import { engineProfile, sglangChunkedPrefill, type EngineName, type EvictGranularity, type WritePolicy } from './engine-profile.js';
import { engineRules, type EngineRules } from './engine-rules.js';
import { describeHardware, type HardwareConfig } from './hardware.js';
import { workloadWarnings } from './warnings.js';
import type { TransferObservers } from './transfer-plan.js';
import type { RouterName } from './router.js';
import type { Setup } from './setups.js';
import { runSimulation, type RunLatencies, type SimulationRun } from './simulation.js';

/** Engine knobs that are not hardware (DESIGN.md section 5). */
export interface ServingOptions {
  replicas: number;
  router: RouterName;
  schedule: 'fcfs' | 'lpm';
  /** Most prompt tokens prefilled per iteration (SGLang's chunked prefill size). */
  tokenBudget: number;
  /** Most requests running at once per replica. */
  maxRunning: number;
  /** kvflow prefetches agents whose STE is at most this. */
  loadAhead: number;
  /** Multiplies open-loop arrival times. */
  timeScale: number;
  /** Prefill chunks and decodes share an iteration (SGLang's `--enable-mixed-chunk`). */
  mixedChunk: boolean;
  /** How the CPU tier is filled (SGLang's `--hicache-write-policy`). */
  writePolicy: WritePolicy;
  /** What one GPU eviction removes: a radix node or a page. */
  evictGranularity: EvictGranularity;
  /** Leading rounds of every workflow that run but stay out of the latency figures and speedups. */
  warmupRounds: number;
}

/** Replicas one simulation may model: each holds its own cache and queues, so memory grows with them. */
export const MAX_REPLICAS = 1024;

/** Defaults that do not depend on the engine, the GPU or the workload (`ideal`'s, for the rest). */
export const SERVING_DEFAULTS: ServingOptions = {
  replicas: 1,
  router: 'cache-aware',
  schedule: 'lpm',
  tokenBudget: 8192,
  maxRunning: 256,
  loadAhead: 2,
  timeScale: 1,
  mixedChunk: true,
  writePolicy: 'write_through',
  evictGranularity: 'page',
  warmupRounds: 0,
};

/** What serving defaults depend on: the engine and GPU, and whether the workload is a spec (which has rounds). */
export interface ServingContext {
  hardware?: Pick<HardwareConfig, 'engine' | 'gpu'>;
  /** Workflow specs warm up one round by default, traces none. */
  workload?: 'spec' | 'trace';
}

/**
 * Serving options with every setting not given taken from the engine profile (`sglang-0.4`: SGLang's
 * chunked_prefill_size for the GPU, separate prefill and decode batches, write_through_selective, node
 * eviction) and otherwise from `SERVING_DEFAULTS`.
 */
export function servingOptions(settings: Partial<ServingOptions>, context: ServingContext = {}): ServingOptions {
  const hardware = context.hardware;
  const profile = engineProfile(hardware?.engine ?? 'ideal');
  const sglang = hardware !== undefined && hardware.engine !== 'ideal';
  return {
    replicas: settings.replicas ?? SERVING_DEFAULTS.replicas,
    router: settings.router ?? SERVING_DEFAULTS.router,
    schedule: settings.schedule ?? SERVING_DEFAULTS.schedule,
    // server_args.py: chunked_prefill_size by GPU memory.
    tokenBudget: settings.tokenBudget ?? (sglang ? sglangChunkedPrefill(hardware.gpu.cudaMemoryBytes) : SERVING_DEFAULTS.tokenBudget),
    maxRunning: settings.maxRunning ?? SERVING_DEFAULTS.maxRunning,
    loadAhead: settings.loadAhead ?? SERVING_DEFAULTS.loadAhead,
    timeScale: settings.timeScale ?? SERVING_DEFAULTS.timeScale,
    mixedChunk: settings.mixedChunk ?? profile.mixedByDefault,
    writePolicy: settings.writePolicy ?? profile.writePolicy,
    evictGranularity: settings.evictGranularity ?? profile.evictGranularity,
    warmupRounds: settings.warmupRounds ?? (context.workload === 'spec' ? 1 : 0),
  };
}

export interface SimulateInput {
  requests: readonly TraceRequest[];
  /** Setups to compare, each run on the same requests; names must differ. */
  setups: readonly Setup[];
  hardware: HardwareConfig;
  serving: ServingOptions;
  /** A fresh STE source per setup run (the declared workflow graph), if any. */
  steSource?: () => SteSource;
  /** Describes the workload in the report's config. */
  workload: Record<string, unknown>;
  onProgress?: (completedInSetup: number, setupIndex: number) => void;
  /** Per setup run: observers of its links' transfers (`kvflow simulate --tensors`). */
  observeTransfers?: (setup: string) => TransferObservers;
  /** Per request, its workflow round (counted from 0), for `serving.warmupRounds`; none: no warm-up. */
  rounds?: readonly number[];
  /**
   * The serving settings as given, before the engine profile filled the rest in: a setup on an engine
   * profile of its own (`Setup.engine`) takes that profile's defaults for what was not given. Absent:
   * such a setup keeps `serving` as it is.
   */
  servingSettings?: Partial<ServingOptions>;
  /**
   * The hardware resolved again for each other engine profile a setup names (pool sizes and memory
   * fractions follow the profile; config/simulation-input.ts resolves them). Absent for a profile: the
   * run's hardware with only its `engine` changed.
   */
  engineHardware?: Partial<Record<EngineName, HardwareConfig>>;
}

export interface SimulateOutput {
  report: SimReport;
  timelines: SimTimeline[];
}

/**
 * Runs every setup on the same requests and hardware and compares them: `speedup.X` is X's mean
 * workflow latency over this setup's (mean end-to-end latency when the workload has no workflows).
 */
export function simulate(input: SimulateInput): SimulateOutput {
  const { serving, hardware } = input;
  const base = engineRun(hardware, serving);
  const { cost } = base;
  const rounds = input.rounds;
  const warmup = rounds && serving.warmupRounds > 0 ? rounds.map((round) => round < serving.warmupRounds) : undefined;
  const runs: SimulationRun[] = input.setups.map((setup, setupIndex) => {
    const ste = input.steSource?.();
    const observers = input.observeTransfers?.(setup.name);
    const { cost, rules, serving } = setup.engine === undefined || setup.engine === hardware.engine ? base : onEngine(input, setup.engine);
    return runSimulation(input.requests, {
      setup,
      engine: {
        gpuSlots: cost.gpuPoolPages,
        cpuSlots: cost.cpuPoolPages,
        blockSize: hardware.blockSize,
        tokenBudget: serving.tokenBudget,
        maxRunning: serving.maxRunning,
        schedule: serving.schedule,
        h2d: observers ? { ...hardware.h2d, observer: observers.h2d } : hardware.h2d,
        d2h: observers ? { ...hardware.d2h, observer: observers.d2h } : hardware.d2h,
        loadAhead: serving.loadAhead,
        cost,
        rules,
      },
      replicas: serving.replicas,
      router: serving.router,
      timeScale: serving.timeScale,
      ...(ste && { ste }),
      onProgress: (completed) => input.onProgress?.(completed, setupIndex),
      ...(warmup && { warmup }),
    });
  });
  const latency = (figures: RunLatencies) => (figures.workflows > 0 ? figures.workflowLatency.mean : figures.e2e.mean);
  const speedups = (pick: (run: SimulationRun) => RunLatencies, run: SimulationRun) =>
    Object.fromEntries(runs.map((other) => [other.result.setup, ratio(latency(pick(other)), latency(pick(run)))]));
  const warm = runs.every((run) => run.latencies.warm !== undefined);
  const shown = (run: SimulationRun) => (warm ? run.latencies.warm! : run.latencies.all);
  const results: SimResult[] = runs.map((run, i) => {
    const { workflows: _workflows, ...all } = run.latencies.all;
    const allFigures: SimLatencies = { ...all, speedup: speedups((r) => r.latencies.all, run) };
    const engine = input.setups[i]!.engine;
    return { ...run.result, ...(engine !== undefined && { engine }), speedup: speedups(shown, run), warm, all: allFigures };
  });
  return {
    report: {
      config: {
        workload: input.workload,
        hardware: describeHardware(hardware),
        kvPool: { gpuPages: cost.gpuPoolPages, cpuPages: cost.cpuPoolPages, pageBytes: cost.pageBytes },
        serving,
        setups: input.setups.map((setup) => setup.name),
      },
      results,
      warnings: workloadWarnings(input.requests, input.setups, cost, hardware),
    },
    timelines: runs.map(({ timeline }) => timeline),
  };
}

/** The cost model, rules and serving options of one engine profile on the run's hardware. */
interface EngineRun {
  cost: CostModel;
  rules: EngineRules;
  serving: ServingOptions;
}

function engineRun(hardware: HardwareConfig, serving: ServingOptions): EngineRun {
  return { cost: new CostModel(hardware), rules: engineRules(hardware, serving), serving };
}

/**
 * A setup's own engine profile: its pool size, scheduler rules and the profile's serving defaults for the
 * settings the run did not give. Replicas, routing, time scale and warm-up stay the run's, so the setups
 * still see the same traffic.
 */
function onEngine(input: SimulateInput, engine: EngineName): EngineRun {
  const hardware = input.engineHardware?.[engine] ?? { ...input.hardware, engine };
  const { replicas, router, timeScale, warmupRounds } = input.serving;
  const serving = input.servingSettings ? { ...servingOptions(input.servingSettings, { hardware }), replicas, router, timeScale, warmupRounds } : input.serving;
  return engineRun(hardware, serving);
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 1;
}

import type { SimReport, SimResult, SimTimeline, SteSource, TraceRequest } from '../types.js';
import { CostModel } from './cost-model.js';
import { describeHardware, type HardwareConfig } from './hardware.js';
import type { TransferObservers } from '../tensor/transfer-plan.js';
import type { RouterName } from './router.js';
import { setupByName, type SetupName } from './setups.js';
import { runSimulation, type SimulationRun } from './simulation.js';

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
}

export const SERVING_DEFAULTS: ServingOptions = {
  replicas: 1,
  router: 'cache-aware',
  schedule: 'lpm',
  tokenBudget: 8192,
  maxRunning: 256,
  loadAhead: 2,
  timeScale: 1,
};

/** Serving options with every setting not given taken from `SERVING_DEFAULTS`. */
export function servingOptions(settings: Partial<ServingOptions>): ServingOptions {
  return {
    replicas: settings.replicas ?? SERVING_DEFAULTS.replicas,
    router: settings.router ?? SERVING_DEFAULTS.router,
    schedule: settings.schedule ?? SERVING_DEFAULTS.schedule,
    tokenBudget: settings.tokenBudget ?? SERVING_DEFAULTS.tokenBudget,
    maxRunning: settings.maxRunning ?? SERVING_DEFAULTS.maxRunning,
    loadAhead: settings.loadAhead ?? SERVING_DEFAULTS.loadAhead,
    timeScale: settings.timeScale ?? SERVING_DEFAULTS.timeScale,
  };
}

export interface SimulateInput {
  requests: readonly TraceRequest[];
  setups: readonly SetupName[];
  hardware: HardwareConfig;
  serving: ServingOptions;
  /** A fresh STE source per setup run (the declared workflow graph), if any. */
  steSource?: () => SteSource;
  /** Describes the workload in the report's config. */
  workload: Record<string, unknown>;
  onProgress?: (completedInSetup: number, setupIndex: number) => void;
  /** Per setup run: observers of its links' transfers (`kvflow simulate --tensors`). */
  observeTransfers?: (setup: SetupName) => TransferObservers;
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
  const cost = new CostModel(input.hardware);
  const { serving, hardware } = input;
  const runs: SimulationRun[] = input.setups.map((name, setupIndex) => {
    const ste = input.steSource?.();
    const observers = input.observeTransfers?.(name);
    return runSimulation(input.requests, {
      setup: setupByName(name),
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
      },
      replicas: serving.replicas,
      router: serving.router,
      timeScale: serving.timeScale,
      ...(ste && { ste }),
      onProgress: (completed) => input.onProgress?.(completed, setupIndex),
    });
  });
  const latency = (result: SimulationRun['result']) =>
    result.workflows > 0 ? result.workflowLatency.mean : result.e2e.mean;
  const results: SimResult[] = runs.map(({ result }) => ({
    ...result,
    speedup: Object.fromEntries(runs.map(({ result: other }) => [other.setup, ratio(latency(other), latency(result))])),
  }));
  return {
    report: {
      config: {
        workload: input.workload,
        hardware: describeHardware(hardware),
        kvPool: { gpuPages: cost.gpuPoolPages, cpuPages: cost.cpuPoolPages, pageBytes: cost.pageBytes },
        serving,
        setups: [...input.setups],
      },
      results,
    },
    timelines: runs.map(({ timeline }) => timeline),
  };
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 1;
}

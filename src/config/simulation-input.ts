/**
 * A simulation run from its settings, built the same way for `kvflow simulate` (flags) and a sweep grid's
 * `simulate` points: the workload with its graph source, the hardware, the serving options and the setups.
 * Absent settings take the defaults of config/simulation-fields.ts.
 */
import type { EngineName } from '../sim/engine-profile.js';
import type { HardwareConfig } from '../sim/hardware.js';
import type { Setup } from '../sim/setups.js';
import { servingOptions, type ServingOptions, type SimulateInput } from '../sim/simulate.js';
import { hardwareFor } from './hardware-input.js';
import { resolveSetups } from './setup-spec.js';
import { SERVING_FIELDS, WORKLOAD_FIELDS, type SimulationSettings } from './simulation-fields.js';
import { loadWorkload, withGraph, type LoadedWorkload, type WorkloadFlags } from './workload-input.js';

export interface SimulationInput {
  workload: LoadedWorkload;
  hardware: HardwareConfig;
  serving: ServingOptions;
  setups: Setup[];
  /** The serving settings as given, for setups on an engine profile of their own. */
  servingSettings: Partial<ServingOptions>;
  /** The hardware on each other engine profile a setup names (`engine=` in a setup definition). */
  engineHardware: Partial<Record<EngineName, HardwareConfig>>;
}

export interface SimulationContext {
  /** Names where the settings came from in hardware problems without a config file (`flags`, `grid`). */
  source: string;
  /** Labels setup and policy problems (`--setup`, `grid.json: runs.3: setups`). */
  setupsWhere: string;
  policyWhere: string;
  /** Reads the workload (a sweep worker keeps each one it read); default: read it. */
  load?: (flags: WorkloadFlags) => Promise<LoadedWorkload>;
}

export async function resolveSimulation(settings: SimulationSettings, context: SimulationContext): Promise<SimulationInput> {
  const load = context.load ?? loadWorkload;
  const workload = await withGraph(await load(workloadFlags(settings)), settings.graph);
  const hardware = await hardwareFor(settings, workload.blockSize, context.source);
  const serving = servingOptions(settings, { hardware, workload: settings.workload !== undefined ? 'spec' : 'trace' });
  const setups = await resolveSetups([...(settings.setups ?? SERVING_FIELDS.setups.default), ...(settings.setup ?? [])], settings.policy ?? [], {
    where: context.setupsWhere,
    policyWhere: context.policyWhere,
  });
  const engineHardware: Partial<Record<EngineName, HardwareConfig>> = {};
  for (const { engine } of setups) {
    if (engine !== undefined && engine !== hardware.engine && !engineHardware[engine]) {
      engineHardware[engine] = await hardwareFor({ ...settings, engine }, workload.blockSize, context.source);
    }
  }
  return { workload, hardware, serving, setups, servingSettings: servingSettingsOf(settings), engineHardware };
}

/** The simulator's input for a resolved run (progress and transfer observers are the caller's to add). */
export function simulateInputOf(run: SimulationInput): SimulateInput {
  const { workload } = run;
  return {
    requests: workload.requests,
    setups: run.setups,
    hardware: run.hardware,
    serving: run.serving,
    servingSettings: run.servingSettings,
    engineHardware: run.engineHardware,
    ...(workload.steSource && { steSource: workload.steSource }),
    ...(workload.rounds && { rounds: workload.rounds }),
    workload: workload.description,
  };
}

/** The serving settings a run gave (the rest comes from its engine profile). */
function servingSettingsOf(settings: SimulationSettings): Partial<ServingOptions> {
  const given: Partial<Record<keyof ServingOptions, unknown>> = {};
  for (const key of SERVING_OPTION_KEYS) if (settings[key] !== undefined) given[key] = settings[key];
  return given as Partial<ServingOptions>;
}

const SERVING_OPTION_KEYS = [
  'replicas', 'router', 'schedule', 'tokenBudget', 'maxRunning', 'loadAhead', 'timeScale', 'mixedChunk', 'writePolicy', 'evictGranularity', 'warmupRounds',
] as const satisfies readonly (keyof ServingOptions & keyof SimulationSettings)[];

/** The workload settings alone (a sweep worker keys its cache of read workloads by them). */
export function workloadFlags(settings: SimulationSettings): WorkloadFlags {
  return {
    ...(settings.workload !== undefined && { workload: settings.workload }),
    ...(settings.trace !== undefined && { trace: settings.trace }),
    ...(settings.format !== undefined && { format: settings.format }),
    ...(settings.blockSize !== undefined && { blockSize: settings.blockSize }),
    ...(settings.skipInvalid !== undefined && { skipInvalid: settings.skipInvalid }),
    ...(settings.tokenizer !== undefined && { tokenizer: settings.tokenizer }),
    ...(settings.sessionsStart !== undefined && { sessionsStart: settings.sessionsStart }),
    seed: settings.seed ?? WORKLOAD_FIELDS.seed.default,
  };
}

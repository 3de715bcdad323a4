/** Defaults shared by `kvflow engine` and the emulators that start engines in-process. */
import { DEFAULT_BLOCK_SIZE } from '../../types.js';
import type { HardwareConfig } from '../../sim/hardware.js';
import { setupByName, type SetupName } from '../../sim/setups.js';
import { SERVING_DEFAULTS } from '../../sim/simulate.js';
import type { EngineCoreOptions } from './engine-core.js';

/** Setups an online engine can run: Belady needs the future, which a server does not have. */
export const ENGINE_SETUPS = ['sglang', 'hicache', 'kvflow-evict', 'kvflow', 'lfu'] as const satisfies readonly SetupName[];
export type EngineSetup = (typeof ENGINE_SETUPS)[number];

export const ENGINE_DEFAULTS = {
  setup: 'kvflow' as EngineSetup,
  speed: 1,
  blockSize: DEFAULT_BLOCK_SIZE,
  tokenBudget: SERVING_DEFAULTS.tokenBudget,
  maxRunning: SERVING_DEFAULTS.maxRunning,
  schedule: SERVING_DEFAULTS.schedule,
  loadAhead: SERVING_DEFAULTS.loadAhead,
};

/** Engine model options with the defaults filled in. */
export function engineCoreOptions(hardware: HardwareConfig, options: Partial<Omit<EngineCoreOptions, 'hardware'>> = {}): EngineCoreOptions {
  return {
    hardware,
    setup: options.setup ?? setupByName(ENGINE_DEFAULTS.setup),
    speed: options.speed ?? ENGINE_DEFAULTS.speed,
    tokenBudget: options.tokenBudget ?? ENGINE_DEFAULTS.tokenBudget,
    maxRunning: options.maxRunning ?? ENGINE_DEFAULTS.maxRunning,
    schedule: options.schedule ?? ENGINE_DEFAULTS.schedule,
    loadAhead: options.loadAhead ?? ENGINE_DEFAULTS.loadAhead,
  };
}

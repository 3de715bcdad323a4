/**
 * One run's engine rules: the profile's table (engine-profile.ts) with the run's choices laid over it
 * (`--mixed-chunk`, `--write-policy`, `--evict-granularity`) and the load path's timing for its hardware.
 * Replicas read only this object, so a rule lives in one place.
 */
import {
  engineProfile,
  type EngineName,
  type EngineProfile,
  type EvictGranularity,
  type WritePolicy,
} from './engine-profile.js';
import type { HardwareConfig } from './hardware.js';
import { layerwiseTiming, type LayerwiseTiming } from './load-path.js';

/** The per-run choices; undefined takes the profile's default. */
export interface EngineChoices {
  mixedChunk?: boolean;
  writePolicy?: WritePolicy;
  evictGranularity?: EvictGranularity;
}

export interface EngineRules {
  profile: EngineProfile;
  /** Prefill chunks and decodes share an iteration. */
  mixed: boolean;
  writePolicy: WritePolicy;
  evictGranularity: EvictGranularity;
  /** Model layers: the forward pass overlaps a load layer by layer. */
  layers: number;
  /** Host-to-device timing under the layer-wise path (undefined: the plain link model). */
  h2d: LayerwiseTiming | undefined;
  /** Seconds of engine time a write-through of `bytes` costs: a GPU gather and a synchronisation. */
  writeSeconds(bytes: number): number;
}

export function engineRules(hardware: HardwareConfig, choices: EngineChoices = {}): EngineRules {
  const profile = engineProfile(hardware.engine);
  const { model, gpu, gpuCount, bandwidthEfficiency, loadPath } = hardware;
  // The gather reads and writes every byte once in device memory.
  const deviceRate = gpu.hbmBandwidth * gpuCount * bandwidthEfficiency;
  return {
    profile,
    mixed: choices.mixedChunk ?? profile.mixedByDefault,
    writePolicy: choices.writePolicy ?? profile.writePolicy,
    evictGranularity: choices.evictGranularity ?? profile.evictGranularity,
    layers: model.layers,
    h2d: profile.transfers === 'layerwise' ? layerwiseTiming(loadPath, hardware.h2d.bandwidth, model.layers) : undefined,
    writeSeconds: profile.writeCost === 'free' ? () => 0 : (bytes) => (2 * bytes) / deviceRate + loadPath.syncLatency,
  };
}

/** The rules of an engine by name on `hardware` with the profile's defaults (for tests and tools). */
export function defaultRules(hardware: HardwareConfig, engine: EngineName = hardware.engine): EngineRules {
  return engineRules({ ...hardware, engine });
}

/** `kvflow/sim`: the discrete-event serving simulator: presets, hardware, cost model, replicas, setups, routing,
 * prefetcher, transfer plans. This file only re-exports. */
export { Prefetcher, type PrefetchStats } from './prefetcher.js';
export { MODELS, GPUS, LINKS, type ModelPreset, type GpuPreset, type LinkPreset } from './presets.js';
export { resolveHardware, describeHardware, parseHardwareOverrides, type HardwareConfig, type HardwareInput } from './hardware.js';
export { CostModel, type IterationBatch } from './cost-model.js';
export { EventQueue } from './event-queue.js';
export { Link, type LinkOptions, type Transfer } from './link.js';
export { Replica, type ReplicaOptions, type EngineCost } from './replica.js';
export { SETUP_NAMES, SETUP_PRESETS, setupByName, policySetup, isSetupName, type Setup, type SetupName, type SetupParts } from './setups.js';
export { ROUTER_NAMES, createRouter, type Router, type RouterName } from './router.js';
export { runSimulation, type SimulationOptions, type SimulationRun } from './simulation.js';
export { simulate, SERVING_DEFAULTS, type ServingOptions, type SimulateInput, type SimulateOutput } from './simulate.js';
export { summarize, percentile } from './metrics.js';
export { TransferRecorder, type TransferObserver, type TransferObservers } from './transfer-plan.js';
export { fitRoofline } from './calibrate.js';
export { readCalibrationCsv } from './calibration-csv.js';
export { RealTimeClock } from './real-time-clock.js';

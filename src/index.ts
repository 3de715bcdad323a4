/** kvflow's public API. This file only re-exports. */
export * from './types.js';
export { InputError } from './errors.js';

export { RadixCache, PageState, ROOT, type RadixCacheOptions } from './cache/radix-cache.js';
export {
  LruPolicy,
  LfuPolicy,
  BeladyPolicy,
  type EvictionPolicy,
  type PolicyFactory,
  type PolicyPrompt,
  type SteChanges,
  type PageStats,
  type PriorityOwner,
} from './cache/policy.js';
export { StePolicy } from './cache/ste-policy.js';
export { PolicyRegistry, policyRegistry, createPolicy, policyFactory, isPolicyName, type PolicyEntry } from './cache/policy-registry.js';
export { resolvePolicy, resolvePolicies, isPolicyPath, type PolicyChoice, type ResolveOptions } from './config/policy-spec.js';
export { parseSetupSpec, resolveSetup, resolveSetups, setupDefinitionSchema, type SetupDefinition, type SetupSpec } from './config/setup-spec.js';
export { computeNextUse, NEVER, type NextUseIndex } from './cache/next-use.js';
export { replayTrace, replayOrder, prefixTokens, CacheReplayer, type ReplayOptions } from './replay/replay.js';
export { replaySuite, summarizeTrace, type ReplaySuiteOptions, type ReplayReport } from './replay/replay-suite.js';

export { AgentStepGraph } from './graph/graph.js';
export { StepTracker } from './graph/tracker.js';
export { WorkflowSte } from './graph/workflow-ste.js';
export { SteChangeFeed } from './graph/ste-feed.js';
export { replayStream, NeedsSortError, type StreamReplayOptions } from './replay/replay-stream.js';
export { AgentAnnotator, OnlineGraphLearner, learnGraph, type LearnedGraph, type LearnerOptions } from './graph/learner.js';
export { PrefixSignatures } from './graph/prefix-signatures.js';

export { Prefetcher, type PrefetchStats } from './sim/prefetcher.js';

export {
  readTrace,
  streamTrace,
  readLines,
  formatRequestJsonl,
  writeTrace,
  traceStats,
  convertTrace,
  convertTraceToFile,
  TRACE_FORMATS,
  type TraceStats,
  type StreamTraceOptions,
  type TraceStatsReport,
  type ConvertSummary,
} from './workload/trace.js';
export { parseWorkflowSpec, loadWorkflowSpec, type WorkflowSpec, type AgentSpec, type EdgeSpec, type ArrivalSpec } from './workload/spec.js';
export { generateRequests, type GenerateOptions } from './workload/generate.js';

export { MODELS, GPUS, LINKS, type ModelPreset, type GpuPreset, type LinkPreset } from './sim/presets.js';
export { resolveHardware, describeHardware, parseHardwareOverrides, type HardwareConfig, type HardwareInput } from './sim/hardware.js';
export { CostModel, type IterationBatch } from './sim/cost-model.js';
export { EventQueue } from './sim/event-queue.js';
export { Link, type LinkOptions, type Transfer } from './sim/link.js';
export { Replica, type ReplicaOptions, type EngineCost } from './sim/replica.js';
export { SETUP_NAMES, SETUP_PRESETS, setupByName, policySetup, isSetupName, type Setup, type SetupName, type SetupParts } from './sim/setups.js';
export { ROUTER_NAMES, createRouter, type Router, type RouterName } from './sim/router.js';
export { runSimulation, type SimulationOptions, type SimulationRun } from './sim/simulation.js';
export { simulate, SERVING_DEFAULTS, type ServingOptions, type SimulateInput, type SimulateOutput } from './sim/simulate.js';
export { summarize, percentile } from './sim/metrics.js';

export { renderHtmlReport } from './report/html.js';

export { hashTokenBlocks, hashTokenBlocksTs, nativeHashInUse } from './native.js';
export { selectBackend, BACKEND_NAMES } from './tensor/backend.js';
export { kvBlockShape } from './tensor/block-shape.js';
export { HostBlockStore, DeviceBlockStore } from './tensor/block-store.js';
export { BlockMover } from './tensor/block-mover.js';
export { measureBandwidth, calibrateLink } from './tensor/bandwidth.js';
export { TransferRecorder, type TransferObserver, type TransferObservers } from './tensor/transfer-plan.js';
export { executeTransferPlan, type TensorPlanReport } from './tensor/plan-executor.js';
export { fitRoofline } from './sim/calibrate.js';
export { readCalibrationCsv } from './sim/calibration-csv.js';

export { startEngineServer, type EngineServer, type EngineServerOptions } from './serve/engine/engine-server.js';
export { startGateway, GATEWAY_DEFAULTS, type GatewayServer, type GatewayOptions } from './serve/gateway/gateway-server.js';
export { GATEWAY_MODE_NAMES, gatewayMode, type GatewayMode, type GatewayModeName } from './serve/gateway/gateway-mode.js';
export { CacheAwareRouting, type RoutingPolicy, type RouteCandidate, type RouteQuery } from './serve/gateway/routing.js';
export { RealTimeClock } from './sim/real-time-clock.js';
export { runEmulation, type EmulateOptions, type EmulateResult } from './loadgen/emulate.js';
export { runComparison } from './loadgen/emulate-compare.js';
export { loadSweepGrid, parseSweepGrid } from './sweep/sweep-grid.js';
export { runSweep, renderSweepHtml, type SweepDocument } from './sweep/sweep.js';

/**
 * Small builders for serving-simulation tests: workflow specs written in code, hardware with a KV pool of
 * a chosen size, engine options for `runSimulation`, and the token-accounting identity.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { CostModel, poolMemoryBytes } from '../../src/sim/cost-model.js';
import { engineRules } from '../../src/sim/engine-rules.js';
import { resolveHardware, type HardwareConfig } from '../../src/sim/hardware.js';
import type { ReplicaOptions } from '../../src/sim/replica.js';
import type { EngineOptions } from '../../src/sim/simulation.js';
import { SERVING_DEFAULTS, servingOptions, simulate, type ServingOptions, type SimulateOutput } from '../../src/sim/simulate.js';
import { setupByName, type SetupName } from '../../src/sim/setups.js';
import type { SimResult, SteSource, TraceRequest } from '../../src/types.js';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec, parseWorkflowSpec, type EdgeSpec, type WorkflowSpec } from '../../src/workload/spec.js';
import { formatRequestJsonl } from '../../src/workload/trace.js';

/** The repository root (test/helpers/../..). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Validates a spec written in code; `name` defaults to "test". */
export function parseSpec(json: Record<string, unknown>): WorkflowSpec {
  return parseWorkflowSpec({ name: 'test', ...json }, 'test.json');
}

export interface AgentSize {
  fixed: number;
  dynamic: number;
  output: number;
}

export interface ChainSpecOptions {
  /** Sizes of the chain's agents a0, a1, ... (at least one). */
  agents: AgentSize[];
  /**
   * Replace the last chain edge by a branch from the second-to-last agent to the last one (with this
   * probability) or to an extra agent `alt` (with the rest). Needs at least two agents.
   */
  branch?: { probability: number; alt: AgentSize };
  /** A count loop from the chain's last agent back to a0. */
  loopCount?: number;
  rounds?: number;
  instances?: number;
  /** Closed-loop concurrency (default: all instances at once). */
  concurrency?: number;
  shareAgents?: boolean;
  blockSize?: number;
  name?: string;
}

/** A chain a0 -> a1 -> ... with an optional final branch and an optional loop back to a0. */
export function chainSpec(options: ChainSpecOptions): WorkflowSpec {
  const names = options.agents.map((_, i) => `a${i}`);
  const agents: Record<string, AgentSize> = Object.fromEntries(options.agents.map((size, i) => [names[i]!, size]));
  const edges: EdgeSpec[] = [];
  for (let i = 0; i + 1 < names.length; i++) edges.push({ kind: 'chain', from: names[i]!, to: names[i + 1]! });
  if (options.branch) {
    if (names.length < 2) throw new Error('a branch needs at least two agents');
    const last = edges.pop()!;
    const to = last.kind === 'chain' ? last.to : names[names.length - 1]!;
    agents.alt = options.branch.alt;
    const p = options.branch.probability;
    edges.push({ kind: 'branch', from: names[names.length - 2]!, to: p >= 1 ? { [to]: 1 } : { [to]: p, alt: 1 - p } });
  }
  if (options.loopCount !== undefined) {
    edges.push({ kind: 'loop', from: names[names.length - 1]!, to: names[0]!, count: options.loopCount });
  }
  const instances = options.instances ?? 1;
  return parseSpec({
    name: options.name ?? 'chain',
    blockSize: options.blockSize ?? 16,
    agents,
    edges,
    start: names[0],
    rounds: options.rounds ?? 1,
    instances,
    shareAgents: options.shareAgents ?? true,
    arrival: { kind: 'closed', concurrency: options.concurrency ?? instances },
  });
}

/** A fresh declared-graph STE source per run, as the CLI builds it. */
export function steSourceOf(spec: WorkflowSpec): () => SteSource {
  const graph = AgentStepGraph.fromSpec(spec);
  return () => new WorkflowSte(graph, { shareAgents: spec.shareAgents });
}

export function totalInputTokens(requests: readonly TraceRequest[]): number {
  return requests.reduce((sum, request) => sum + request.inputLength, 0);
}

/**
 * Every prompt token is a GPU hit, loaded from the CPU, or recomputed, exactly once:
 * `gpuHitRate * input + loadedTokens + recomputedTokens - input`, relative to `input` (0 when it adds up).
 */
export function accountingGap(result: Pick<SimResult, 'gpuHitRate' | 'loadedTokens' | 'recomputedTokens'>, input: number): number {
  return (result.gpuHitRate * input + result.loadedTokens + result.recomputedTokens - input) / input;
}

export interface HardwareChoice {
  /** Engine profile (default `ideal`: most tests here pin down the idealised engine's documented rules). */
  engine?: string;
  gpu?: string;
  model?: string;
  blockSize: number;
  /** Any other `--config` fields. */
  overrides?: Record<string, unknown>;
}

export function hardwareOf(choice: HardwareChoice): HardwareConfig {
  return resolveHardware({
    engine: choice.engine ?? 'ideal',
    ...(choice.gpu !== undefined && { gpu: choice.gpu }),
    ...(choice.model !== undefined && { model: choice.model }),
    overrides: { ...choice.overrides, blockSize: choice.blockSize },
    source: 'test',
  });
}

/**
 * The `memoryFraction` that leaves a GPU KV pool of exactly `pages` pages on `gpu`/`model` (other
 * settings at their defaults).
 */
export function memoryFractionForPages(pages: number, choice: Omit<HardwareChoice, 'overrides'>): number {
  const base = hardwareOf(choice);
  const cost = new CostModel(base);
  const fixedBytes = cost.weightBytes + base.gpuCount * base.activationReserveBytes;
  return (fixedBytes + (pages + 0.5) * cost.pageBytes) / (base.gpuCount * poolMemoryBytes(base));
}

/** Engine options for `runSimulation` from a hardware config, with pool sizes chosen by the test. */
export function engineOf(
  hardware: HardwareConfig,
  pools: { gpuSlots: number; cpuSlots: number },
  serving: Partial<ServingOptions> = {},
): EngineOptions {
  const settings = { ...SERVING_DEFAULTS, ...serving };
  return {
    gpuSlots: pools.gpuSlots,
    cpuSlots: pools.cpuSlots,
    blockSize: hardware.blockSize,
    tokenBudget: settings.tokenBudget,
    maxRunning: settings.maxRunning,
    schedule: settings.schedule,
    h2d: hardware.h2d,
    d2h: hardware.d2h,
    loadAhead: settings.loadAhead,
    cost: new CostModel(hardware),
    rules: engineRules(hardware, settings),
  };
}

export interface RunSpecOptions {
  seed?: number;
  setups: readonly SetupName[];
  hardware: HardwareConfig;
  serving?: Partial<ServingOptions>;
  /** Default true: give the run the spec's declared step graph. */
  withGraph?: boolean;
  onProgress?: (completedInSetup: number, setupIndex: number) => void;
}

/** Generates a spec's requests and simulates every setup on them. */
export function simulateSpec(spec: WorkflowSpec, options: RunSpecOptions): SimulateOutput & { requests: TraceRequest[] } {
  const seed = options.seed ?? 1;
  const requests = generateRequests(spec, { seed });
  const output = simulate({
    requests,
    setups: options.setups.map(setupByName),
    hardware: options.hardware,
    serving: servingOptions(options.serving ?? {}, { hardware: options.hardware }),
    ...(options.withGraph !== false && { steSource: steSourceOf(spec) }),
    workload: { name: spec.name, seed },
    ...(options.onProgress && { onProgress: options.onProgress }),
  });
  return { ...output, requests };
}

/** Prompt pages plus output pages of the largest request: the least GPU pool a lone request needs. */
export function largestRequestPages(requests: readonly TraceRequest[]): number {
  let most = 0;
  for (const request of requests) {
    most = Math.max(most, request.blocks.length + Math.max(1, Math.ceil(request.outputLength / request.blockSize)));
  }
  return most;
}

/**
 * Options for a `Replica` built directly in a test: `hardware`'s links and cost model, 16-token blocks,
 * 4 GPU slots and no CPU tier, a 256-token budget, 8 running, FCFS, one step of prefetch look-ahead.
 * `options` (with the setup) set the rest.
 */
export function replicaOptions(hardware: HardwareConfig, options: Partial<ReplicaOptions> & Pick<ReplicaOptions, 'setup'>): ReplicaOptions {
  return {
    gpuSlots: 4,
    cpuSlots: 0,
    blockSize: 16,
    tokenBudget: 256,
    maxRunning: 8,
    schedule: 'fcfs',
    h2d: hardware.h2d,
    d2h: hardware.d2h,
    loadAhead: 1,
    cost: new CostModel(hardware),
    ...options,
  };
}

/** Writes the requests of the bundled spec `specPath` (relative to the repository, seed 1) as a canonical JSONL trace at `path`. */
export async function writeSpecTrace(specPath: string, path: string): Promise<void> {
  const spec = await loadWorkflowSpec(join(REPO, specPath));
  writeFileSync(path, generateRequests(spec, { seed: 1 }).map((r) => `${formatRequestJsonl(r)}\n`).join(''));
}

/**
 * `kvflow emulate`: many concurrent workflow instances from a spec against a gateway or engine URL, on
 * piscina worker threads (or in-process with `workers: 0`). Instances are spread over closed-loop lanes
 * (`concurrency` of them), lanes over workers; results are reported with `kvflow simulate`'s keys where
 * they apply, in wall-clock seconds.
 */
import { Piscina } from 'piscina';
import { request } from 'undici';
import { summarize } from '../sim/metrics.js';
import type { LatencySummary } from '../types.js';
import type { WorkflowSpec } from '../workload/spec.js';
import { workerScript } from '../worker-script.js';
import { runEmulateTask, type EmulateSamples, type EmulateTask } from './workflow-client.js';

export interface EmulateOptions {
  url: string;
  /** Model id to request; undefined asks the URL's `/v1/models` for its first model. */
  model?: string;
  spec: WorkflowSpec;
  seed: number;
  /** Workflow instances to run. */
  workflows: number;
  /** Instances running at once (closed-loop lanes). */
  concurrency: number;
  /** Worker threads; 0 runs in this thread. */
  workers: number;
  /** Stop sending new steps after this many seconds. */
  durationSeconds?: number;
  /** Think time in seconds (default: the spec's). */
  think?: number;
  stream: boolean;
  requestTimeoutMs: number;
}

/** One emulation's measurements; keys shared with `SimResult` mean the same, in wall-clock seconds. */
export interface EmulateResult {
  target: string;
  requests: number;
  /** Workflow instances that completed every step. */
  workflows: number;
  /** Instances cut by the duration limit or by an error. */
  incompleteWorkflows: number;
  errors: number;
  errorKinds: Record<string, number>;
  makespan: number;
  workflowLatency: LatencySummary;
  e2e: LatencySummary;
  ttft: LatencySummary;
  tpot: LatencySummary;
  throughput: { requestsPerSecond: number; outputTokensPerSecond: number };
  /** Prompt tokens the server reported as cached (`usage.prompt_tokens_details.cached_tokens`), null if it reported none. */
  gpuHitRate: number | null;
}

export interface EmulateReport {
  config: Record<string, unknown>;
  results: EmulateResult[];
}

export async function runEmulation(options: EmulateOptions): Promise<EmulateResult> {
  const model = options.model ?? (await discoverModel(options.url));
  const laneCount = Math.max(1, Math.min(options.concurrency, options.workflows));
  const lanes = Array.from({ length: laneCount }, (_, lane) => {
    const instances: number[] = [];
    for (let instance = lane; instance < options.workflows; instance += laneCount) instances.push(instance);
    return instances;
  });
  const workers = Math.min(options.workers, laneCount);
  const base: Omit<EmulateTask, 'lanes'> = {
    url: options.url,
    model,
    spec: options.spec,
    seed: options.seed,
    deadline: options.durationSeconds === undefined ? null : Date.now() + options.durationSeconds * 1000,
    think: options.think ?? options.spec.think,
    stream: options.stream,
    requestTimeoutMs: options.requestTimeoutMs,
  };
  let samples: EmulateSamples[];
  if (workers === 0) {
    samples = [await runEmulateTask({ ...base, lanes })];
  } else {
    const pool = new Piscina<EmulateTask, EmulateSamples>({ filename: workerScript(import.meta.url, 'emulate-task'), minThreads: workers, maxThreads: workers, idleTimeout: 1000 });
    try {
      samples = await Promise.all(
        Array.from({ length: workers }, (_, worker) => pool.run({ ...base, lanes: lanes.filter((_, lane) => lane % workers === worker) })),
      );
    } finally {
      await pool.destroy();
    }
  }
  return summarizeSamples(options.url, samples);
}

/** Merges workers' samples into one result. */
export function summarizeSamples(target: string, parts: readonly EmulateSamples[]): EmulateResult {
  const e2e: number[] = [];
  const ttft: number[] = [];
  const tpot: number[] = [];
  const workflowLatency: number[] = [];
  const errorKinds: Record<string, number> = {};
  let first = Infinity;
  let last = 0;
  let promptTokens = 0;
  let cachedTokens = 0;
  let reportedCache = false;
  let outputTokens = 0;
  let incomplete = 0;
  for (const part of parts) {
    first = Math.min(first, part.first);
    last = Math.max(last, part.last);
    incomplete += part.incompleteWorkflows;
    for (const [kind, count] of Object.entries(part.errors)) errorKinds[kind] = (errorKinds[kind] ?? 0) + count;
    for (const [start, end] of part.workflows) workflowLatency.push((end - start) / 1000);
    for (const [sent, firstToken, end, prompt, cached, output] of part.requests as [number, number, number, number, number, number][]) {
      e2e.push((end - sent) / 1000);
      ttft.push((firstToken - sent) / 1000);
      if (output > 1) tpot.push((end - firstToken) / 1000 / (output - 1));
      outputTokens += output;
      if (cached >= 0) {
        reportedCache = true;
        promptTokens += prompt;
        cachedTokens += cached;
      }
    }
  }
  const makespan = last > first ? (last - first) / 1000 : 0;
  const errors = Object.values(errorKinds).reduce((sum, count) => sum + count, 0);
  return {
    target,
    requests: e2e.length,
    workflows: workflowLatency.length,
    incompleteWorkflows: incomplete,
    errors,
    errorKinds: Object.fromEntries(Object.entries(errorKinds).sort(([a], [b]) => (a < b ? -1 : 1))),
    makespan,
    workflowLatency: summarize(workflowLatency),
    e2e: summarize(e2e),
    ttft: summarize(ttft),
    tpot: summarize(tpot),
    throughput: {
      requestsPerSecond: makespan > 0 ? e2e.length / makespan : 0,
      outputTokensPerSecond: makespan > 0 ? outputTokens / makespan : 0,
    },
    gpuHitRate: reportedCache && promptTokens > 0 ? cachedTokens / promptTokens : null,
  };
}

/** The first model the server lists. */
async function discoverModel(url: string): Promise<string> {
  const response = await request(`${url.replace(/\/+$/, '')}/v1/models`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.body.json()) as { data?: { id?: unknown }[] };
  const id = body.data?.[0]?.id;
  if (response.statusCode !== 200 || typeof id !== 'string') throw new Error(`${url}/v1/models lists no model; pass --model`);
  return id;
}

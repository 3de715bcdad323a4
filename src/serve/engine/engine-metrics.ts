/**
 * The engine emulator's Prometheus metrics, named as vLLM's v1 engine exposes them (vllm/v1/metrics/
 * loggers.py), so routers that score engines by them (llm-d's scorers read the queue length, KV cache
 * usage and prefix-cache counters) work against the emulator unchanged; plus kvflow's own. Every value is
 * read from the engine's state at scrape time. Labels as vLLM's: `model_name` and `engine` (index "0").
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { EngineCore, EngineState } from './engine-core.js';

export interface EngineMetrics {
  contentType: string;
  /** The Prometheus text exposition, read from one snapshot of the engine's state. */
  scrape(): Promise<string>;
}

export function engineMetrics(core: EngineCore, modelName: string): EngineMetrics {
  const registry = new Registry();
  const labels = { model_name: modelName, engine: '0' };
  const labelNames = ['model_name', 'engine'] as const;
  let state: EngineState | undefined;
  /** One state snapshot per scrape, taken by the first metric collected. */
  const current = (): EngineState => (state ??= core.state());
  const gauge = (name: string, help: string, value: (s: EngineState) => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.set(labels, value(current()));
      },
    });
  // prom-client counters cannot be set, only increased: add what changed since the last scrape.
  const counter = (name: string, help: string, value: (s: EngineState) => number) => {
    let reported = 0;
    return new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        const now = value(current());
        if (now > reported) this.inc(labels, now - reported);
        reported = Math.max(reported, now);
      },
    });
  };
  gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (s) => s.batch);
  gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (s) => s.waiting);
  gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', (s) => ratio(s.gpuPages, s.gpuSlots));
  counter('vllm:prefix_cache_queries_total', 'Prefix cache queries, in terms of number of queried tokens.', (s) => s.queriedTokens);
  counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', (s) => s.cachedTokens);
  counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', (s) => s.promptTokens);
  counter('vllm:request_success_total', 'Count of successfully processed requests.', (s) => s.completed);
  gauge('kvflow_engine_cpu_cache_usage_perc', 'CPU (host) KV tier usage, 1 = full.', (s) => ratio(s.cpuPages, s.cpuSlots));
  gauge('kvflow_engine_pinned_pages', 'GPU pages eviction cannot touch now (locked or moving).', (s) => s.pinnedPages);
  gauge('kvflow_engine_model_seconds', 'Model time of the emulated engine, seconds.', (s) => s.modelSeconds);
  counter('kvflow_engine_prefetched_pages_total', 'Pages the prefetcher moved CPU -> GPU ahead of use.', (s) => s.prefetchedPages);
  counter('kvflow_engine_client_disconnects_total', 'Clients that left before their generation finished.', (s) => s.disconnects);
  counter('kvflow_engine_ste_updates_total', 'STE snapshots received on /v1/update.', (s) => s.steUpdates);
  counter('kvflow_engine_prefix_cache_resets_total', 'Prefix cache resets (/reset_prefix_cache, /flush_cache).', (s) => s.cacheResets);
  return {
    contentType: registry.contentType,
    scrape: () => {
      state = undefined;
      return registry.metrics();
    },
  };
}

function ratio(used: number, slots: number): number {
  return slots > 0 ? used / slots : 0;
}

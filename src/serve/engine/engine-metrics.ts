/**
 * The engine emulator's Prometheus metrics, named, typed and labelled as vLLM's v1 engine exposes them
 * (PrometheusStatLogger in vllm/v1/metrics/loggers.py), so routers that score engines by them work against
 * the emulator unchanged; plus kvflow's own. llm-d's inference scheduler reads, for a vLLM pod, the gauges
 * vllm:num_requests_waiting, vllm:num_requests_running and vllm:kv_cache_usage_perc (0 to 1) by name, and
 * the labels block_size and num_gpu_blocks of vllm:cache_config_info (its metrics extractor, factories.go);
 * docs/engine-metrics.md lists what is and is not exposed. Every value is read from the engine's state at
 * scrape time. Labels as vLLM's: `model_name` and `engine` (index "0").
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { HardwareConfig } from '../../sim/hardware.js';
import type { EngineCore, EngineState } from './engine-core.js';

export interface EngineMetrics {
  contentType: string;
  /** The Prometheus text exposition, read from one snapshot of the engine's state. */
  scrape(): Promise<string>;
}

/** `more` registers metrics of the server around the core (its load shedding). */
export function engineMetrics(
  core: EngineCore,
  modelName: string,
  hardware: Pick<HardwareConfig, 'memoryFraction'>,
  more: (registry: Registry) => void = () => {},
): EngineMetrics {
  const registry = new Registry();
  more(registry);
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
  // vLLM labels finished requests by reason and creates every reason's series up front; the emulator
  // always generates max_tokens tokens, so every request finishes by length.
  let succeeded = 0;
  const success = new Counter({
    name: 'vllm:request_success_total',
    help: 'Count of successfully processed requests.',
    labelNames: [...labelNames, 'finished_reason'],
    registers: [registry],
    collect() {
      const now = current().completed;
      if (now > succeeded) this.inc({ ...labels, finished_reason: 'length' }, now - succeeded);
      succeeded = Math.max(succeeded, now);
    },
  });
  for (const reason of ['stop', 'length', 'abort']) success.inc({ ...labels, finished_reason: reason }, 0);
  // vLLM's info-style gauge (always 1) carrying the cache configuration in its labels, with no model_name.
  const cacheInfo = {
    block_size: String(core.blockSize),
    num_gpu_blocks: String(core.cost.gpuPoolPages),
    num_cpu_blocks: String(core.cost.cpuPoolPages),
    enable_prefix_caching: 'True',
    cache_dtype: 'auto',
    gpu_memory_utilization: String(hardware.memoryFraction),
    engine: '0',
  };
  new Gauge({
    name: 'vllm:cache_config_info',
    help: 'Information of the LLMEngine CacheConfig',
    labelNames: Object.keys(cacheInfo),
    registers: [registry],
  }).set(cacheInfo, 1);
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

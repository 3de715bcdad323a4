/* eslint-disable @typescript-eslint/no-explicit-any -- OpenAI response bodies, checked field by field */
/**
 * The engine emulator's operational API: vLLM-named Prometheus metrics scraped as llm-d's scorers scrape
 * them (text exposition, one gauge per engine read by name), prefix-cache reset (vLLM) and flush (SGLang)
 * refused with 409 while requests run, unique response ids, vLLM-style cached_tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliServer, type CliServer } from '../helpers/cli.js';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { reportedCachedTokens } from '../../src/serve/engine/engine-core.js';
import { startEngineServer, type EngineServer } from '../../src/serve/engine/engine-server.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { setupByName } from '../../src/sim/setups.js';

const MODEL = 'Llama-3.1-8B';
const hardware = resolveHardware({ gpu: 'A10G', model: MODEL });
const system = `You are a careful agent. ${'Report what you did, step by step. '.repeat(60)}`;

/** Parses the Prometheus text format as a scorer does: `name{labels} value` lines, comments skipped. */
function parseMetrics(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const metrics = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    metrics.set(match[1]!, [...(metrics.get(match[1]!) ?? []), { labels, value: Number(match[3]) }]);
  }
  return metrics;
}

describe('engine operational API', () => {
  let engine: EngineServer;
  beforeAll(async () => {
    engine = await startEngineServer({ ...engineCoreOptions(hardware, { speed: 50, setup: setupByName('kvflow') }), modelName: MODEL });
  });
  afterAll(async () => {
    await engine.close();
  });

  const chat = (user: string, maxTokens = 4): Promise<{ json(): Promise<any> }> =>
    fetch(`${engine.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: maxTokens, messages: [{ role: 'system', content: system }, { role: 'user', content: user }] }),
    });
  const scrape = async () => {
    const response = await fetch(`${engine.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return parseMetrics(await response.text());
  };
  const value = (metrics: Map<string, { labels: Record<string, string>; value: number }[]>, name: string) => {
    const samples = metrics.get(name);
    expect(samples, name).toBeDefined();
    expect(samples![0]!.labels).toMatchObject({ model_name: MODEL, engine: '0' });
    return samples![0]!.value;
  };

  it('exposes the metrics llm-d scorers read, equal to the engine state', async () => {
    const first = await (await chat('What is 2+2?')).json();
    const second = await (await chat('What is 3+3?')).json();
    const metrics = await scrape();
    const state = engine.core.state();
    expect(value(metrics, 'vllm:num_requests_running')).toBe(state.batch);
    expect(value(metrics, 'vllm:num_requests_waiting')).toBe(state.waiting);
    expect(value(metrics, 'vllm:kv_cache_usage_perc')).toBeCloseTo(state.gpuPages / state.gpuSlots, 12);
    expect(value(metrics, 'vllm:kv_cache_usage_perc')).toBeGreaterThan(0);
    const queries = value(metrics, 'vllm:prefix_cache_queries_total');
    const hits = value(metrics, 'vllm:prefix_cache_hits_total');
    expect(queries).toBe(first.usage.prompt_tokens + second.usage.prompt_tokens);
    expect(hits).toBe(first.usage.prompt_tokens_details.cached_tokens + second.usage.prompt_tokens_details.cached_tokens);
    // The second request shares the long system prompt: a hit, in whole blocks, below the prompt.
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    expect(cached).toBeGreaterThan(0);
    expect(cached % hardware.blockSize).toBe(0);
    expect(cached).toBeLessThan(second.usage.prompt_tokens);
    expect(value(metrics, 'kvflow_engine_cpu_cache_usage_perc')).toBeGreaterThanOrEqual(0);
    // Counters only grow between scrapes.
    await (await chat('What is 4+4?')).json();
    expect(value(await scrape(), 'vllm:prefix_cache_queries_total')).toBeGreaterThan(queries);
  });

  it('gives every response a different id', async () => {
    const ids = await Promise.all(Array.from({ length: 4 }, async (_, i) => (await (await chat(`id ${i}`)).json()).id as string));
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
  });

  it('resets the prefix cache when idle and refuses with 409 while a request runs', async () => {
    const running = chat('a long answer please', 400);
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const path of ['/reset_prefix_cache', '/flush_cache']) {
      const refused = await fetch(`${engine.url}${path}`, { method: 'POST' });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('requests_running');
    }
    await (await running).json();
    expect(engine.core.state().gpuPages).toBeGreaterThan(0);
    const reset = await fetch(`${engine.url}/reset_prefix_cache`, { method: 'POST' });
    expect(reset.status).toBe(200);
    const state = engine.core.state();
    expect(state.gpuPages).toBe(0);
    expect(state.cpuPages).toBe(0);
    expect((await fetch(`${engine.url}/flush_cache`, { method: 'POST' })).status).toBe(200);
    expect(value(await scrape(), 'kvflow_engine_prefix_cache_resets_total')).toBe(2);
    // After the reset the shared prompt is a miss again.
    const after = await (await chat('What is 2+2?')).json();
    expect(after.usage.prompt_tokens_details.cached_tokens).toBe(0);
  });
});

/**
 * What llm-d's inference scheduler does with a vLLM pod's /metrics (pkg/epp/framework/plugins/datalayer/
 * extractor/metrics: factories.go, spec.go, extractor.go): parse the text exposition into typed families,
 * take the newest sample of each configured family by name, read a gauge's or counter's value (anything
 * else reads 0), and read the cache configuration from the labels of vllm:cache_config_info.
 */
const LLM_D_VLLM = {
  queued: 'vllm:num_requests_waiting',
  running: 'vllm:num_requests_running',
  kvUsage: 'vllm:kv_cache_usage_perc',
  cacheInfo: 'vllm:cache_config_info',
} as const;

interface Family {
  type: string;
  samples: { labels: Record<string, string>; value: number }[];
}

function parseFamilies(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) families.set(type[1]!, { type: type[2]!, samples: [] });
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    const family = families.get(sample[1]!);
    if (!family) throw new Error(`sample before its # TYPE: ${line}`);
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    family.samples.push({ labels, value: Number(sample[3]) });
  }
  return families;
}

function scoreInputs(text: string) {
  const families = parseFamilies(text);
  const latest = (name: string) => {
    const family = families.get(name);
    if (!family || family.samples.length === 0) throw new Error(`metric family "${name}" not found`);
    return { type: family.type, sample: family.samples.at(-1)! };
  };
  const value = (name: string) => {
    const { type, sample } = latest(name);
    return type === 'gauge' || type === 'counter' ? sample.value : 0;
  };
  const info = latest(LLM_D_VLLM.cacheInfo).sample.labels;
  return {
    types: Object.fromEntries(Object.values(LLM_D_VLLM).map((name) => [name, latest(name).type])),
    waitingQueueSize: Math.trunc(value(LLM_D_VLLM.queued)),
    runningRequestsSize: Math.trunc(value(LLM_D_VLLM.running)),
    kvCacheUsagePercent: value(LLM_D_VLLM.kvUsage),
    cacheBlockSize: Number.parseInt(info.block_size ?? '', 10),
    cacheNumBlocks: Number.parseInt(info.num_gpu_blocks ?? '', 10),
    families,
  };
}

describe('a kvflow engine process scraped as llm-d scrapes a vLLM pod', () => {
  let server: CliServer;
  const MODEL_ID = 'meta-llama/Llama-3.1-8B-Instruct';
  beforeAll(async () => {
    server = await startCliServer(['engine', '--model', MODEL_ID, '--gpu', 'a10g', '--speed', '20']);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('has every family llm-d reads, with the type, labels and values vLLM gives them', async () => {
    const ask = (content: string, maxTokens: number) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL_ID, max_tokens: maxTokens, messages: [{ role: 'system', content: system }, { role: 'user', content }] }),
      });
    await (await ask('warm up', 2)).json();
    // Three long generations at once: while they run, the scorer must see them running.
    const inFlight = [1, 2, 3].map((i) => ask(`long answer ${i}`, 300));
    let during = scoreInputs(await (await fetch(`${server.url}/metrics`)).text());
    for (let tries = 0; during.runningRequestsSize === 0 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      during = scoreInputs(await (await fetch(`${server.url}/metrics`)).text());
    }
    expect(during.types).toEqual({
      'vllm:num_requests_waiting': 'gauge',
      'vllm:num_requests_running': 'gauge',
      'vllm:kv_cache_usage_perc': 'gauge',
      'vllm:cache_config_info': 'gauge',
    });
    expect(during.runningRequestsSize + during.waitingQueueSize).toBeGreaterThan(0);
    expect(during.runningRequestsSize + during.waitingQueueSize).toBeLessThanOrEqual(3);
    expect(during.kvCacheUsagePercent).toBeGreaterThan(0);
    expect(during.kvCacheUsagePercent).toBeLessThanOrEqual(1);
    for (const response of await Promise.all(inFlight)) await response.json();

    const after = scoreInputs(await (await fetch(`${server.url}/metrics`)).text());
    expect(after.runningRequestsSize).toBe(0);
    expect(after.waitingQueueSize).toBe(0);
    // The cache configuration is the engine's: 16-token pages, the A10G pool for Llama-3.1-8B.
    const expectedHardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B', overrides: { blockSize: 16 } });
    expect(after.cacheBlockSize).toBe(16);
    expect(after.cacheNumBlocks).toBe(new CostModel(expectedHardware).gpuPoolPages);
    // Labels as vLLM's: model_name (the served id) and engine on the per-engine series; the info gauge has
    // engine but no model_name; request_success by finished_reason, each reason's series present.
    const { families } = after;
    expect(families.get('vllm:num_requests_waiting')!.samples[0]!.labels).toEqual({ model_name: MODEL_ID, engine: '0' });
    expect(families.get('vllm:cache_config_info')!.samples[0]!.labels).toMatchObject({ engine: '0', block_size: '16' });
    expect(families.get('vllm:cache_config_info')!.samples[0]!.labels.model_name).toBeUndefined();
    expect(families.get('vllm:prefix_cache_queries_total')!.type).toBe('counter');
    expect(families.get('vllm:prefix_cache_hits_total')!.type).toBe('counter');
    const success = families.get('vllm:request_success_total')!;
    expect(success.type).toBe('counter');
    expect(Object.fromEntries(success.samples.map((sample) => [sample.labels.finished_reason, sample.value]))).toEqual({ stop: 0, length: 4, abort: 0 });
    expect(success.samples[0]!.labels).toMatchObject({ model_name: MODEL_ID, engine: '0' });
  }, 60_000);
});

describe('reportedCachedTokens', () => {
  it('reports whole blocks below the prompt', () => {
    expect(reportedCachedTokens(64, 64, 16)).toBe(48);
    expect(reportedCachedTokens(64, 65, 16)).toBe(64);
    expect(reportedCachedTokens(50, 100, 16)).toBe(48);
    expect(reportedCachedTokens(0, 10, 16)).toBe(0);
    expect(reportedCachedTokens(10, 10, 16)).toBe(0);
  });
});

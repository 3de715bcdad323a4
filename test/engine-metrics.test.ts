/* eslint-disable @typescript-eslint/no-explicit-any -- OpenAI response bodies, checked field by field */
/**
 * The engine emulator's operational API: vLLM-named Prometheus metrics scraped as llm-d's scorers scrape
 * them (text exposition, one gauge per engine read by name), prefix-cache reset (vLLM) and flush (SGLang)
 * refused with 409 while requests run, unique response ids, vLLM-style cached_tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineCoreOptions } from '../src/serve/engine/engine-config.js';
import { reportedCachedTokens } from '../src/serve/engine/engine-core.js';
import { startEngineServer, type EngineServer } from '../src/serve/engine/engine-server.js';
import { resolveHardware } from '../src/sim/hardware.js';
import { setupByName } from '../src/sim/setups.js';

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

describe('reportedCachedTokens', () => {
  it('reports whole blocks below the prompt', () => {
    expect(reportedCachedTokens(64, 64, 16)).toBe(48);
    expect(reportedCachedTokens(64, 65, 16)).toBe(64);
    expect(reportedCachedTokens(50, 100, 16)).toBe(48);
    expect(reportedCachedTokens(0, 10, 16)).toBe(0);
    expect(reportedCachedTokens(10, 10, 16)).toBe(0);
  });
});

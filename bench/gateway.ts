/**
 * Gateway benchmark (issue 6), loopback only and bounded in time:
 * 1. Overhead: the same open-loop load (1,000 requests/s, small chat requests, one output token) sent
 *    straight to a `kvflow engine` and through a `kvflow gateway` in front of it, in alternating phases
 *    of 1.5 s (6,000 requests each way); the gateway's added latency is the difference of the two latency
 *    distributions (p50, p99). Engine and gateway share a worker thread, the load generator has the main one.
 * 2. Routing decision (tinybench): choosing among 8 upstreams for a 4k-token prompt whose shadow trees
 *    hold similar prompts; also the per-request work around it (hashing, memoized tokenization, lease).
 * Targets: p99 added latency < 0.5 ms at 1,000 req/s; a routing decision < 20 us.
 */
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { Pool } from 'undici';
import { PromptTokenizer } from '../src/serve/http/prompt-tokens.js';
import { PrefixIndex } from '../src/serve/gateway/prefix-index.js';
import { shadowQuery } from '../src/serve/gateway/proxy.js';
import { CacheAwareRouting } from '../src/serve/gateway/routing.js';
import { FILLER_WORDS } from '../src/serve/http/synthetic-text.js';
import { Upstream } from '../src/serve/gateway/upstream.js';
import { hashTokenBlocks, nativeHashInUse } from '../src/native.js';
import { percentile } from '../src/sim/metrics.js';
import type { BenchLine } from './replay.js';

const MODEL = 'Llama-3.1-8B';
const RATE = 1000;
const PHASE_SECONDS = 1.5;
const ROUNDS = 4;
/** The gateway's default shadow capacity: 1M tokens in 16-token pages. */
const SHADOW_SLOTS = 2 ** 16;

export async function benchGateway(): Promise<BenchLine[]> {
  return [...(await overheadLines()), ...(await routingLines())];
}

// ---------------------------------------------------------------------------------------------------
// 1. Overhead at 1,000 requests/s

async function overheadLines(): Promise<BenchLine[]> {
  const servers = await startServersThread();
  try {
    const direct: number[] = [];
    const proxied: number[] = [];
    let errors = 0;
    await openLoop(servers.engine, RATE, 0.5); // warm up both paths (JIT, connections)
    await openLoop(servers.gateway, RATE, 0.5);
    // Short alternating phases, so background noise on a shared machine hits both paths alike.
    for (let round = 0; round < ROUNDS; round++) {
      const a = await openLoop(servers.engine, RATE, PHASE_SECONDS);
      const b = await openLoop(servers.gateway, RATE, PHASE_SECONDS);
      direct.push(...a.latencies);
      proxied.push(...b.latencies);
      errors += a.errors + b.errors;
    }
    const d = Float64Array.from(direct).sort();
    const p = Float64Array.from(proxied).sort();
    const ms = (x: number) => `${x.toFixed(3)} ms`;
    const at = (sorted: Float64Array, q: number) => percentile(sorted, q);
    return [
      { name: 'engine direct p50 / p99', value: `${ms(at(d, 0.5))} / ${ms(at(d, 0.99))} (${d.length} requests)` },
      { name: 'via gateway p50 / p99', value: `${ms(at(p, 0.5))} / ${ms(at(p, 0.99))} (${p.length} requests)` },
      {
        name: `gateway added p50 / p99 @ ${RATE}/s`,
        value: `${ms(at(p, 0.5) - at(d, 0.5))} / ${ms(at(p, 0.99) - at(d, 0.99))} (target p99 < 0.5 ms; ${errors} errors)`,
      },
    ];
  } finally {
    await servers.close();
  }
}

/** Sends requests at `rate` per second for `seconds` (open loop), returns each one's latency in ms. */
async function openLoop(url: string, rate: number, seconds: number): Promise<{ latencies: number[]; errors: number }> {
  const pool = new Pool(url, { connections: 64 });
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(rate * seconds);
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      (async () => {
        const sent = performance.now();
        try {
          const response = await pool.request({
            method: 'POST',
            path: '/v1/chat/completions',
            headers: { 'content-type': 'application/json', 'x-kvflow-agent': `agent${i % 8}` },
            body: JSON.stringify({
              model: MODEL,
              max_tokens: 1,
              messages: [
                { role: 'system', content: `You are agent ${i % 8}. Answer briefly.` },
                { role: 'user', content: `Request ${i}: what next?` },
              ],
            }),
          });
          await response.body.dump();
          if (response.statusCode === 200) latencies.push(performance.now() - sent);
          else errors++;
        } catch {
          errors++;
        }
      })(),
    );
  }
  await Promise.all(inFlight);
  await pool.close();
  return { latencies, errors };
}

interface ServersThread {
  engine: string;
  gateway: string;
  close(): Promise<void>;
}

/**
 * Starts an engine (model time 10^6 x real time, so its latency is the HTTP path) and a gateway in front
 * of it on one worker thread: with the load generator on the main thread, two busy threads for two cores.
 */
async function startServersThread(): Promise<ServersThread> {
  const modules = {
    engine: new URL('../src/serve/engine/engine-server.js', import.meta.url).href,
    config: new URL('../src/serve/engine/engine-config.js', import.meta.url).href,
    hardware: new URL('../src/sim/hardware.js', import.meta.url).href,
    gateway: new URL('../src/serve/gateway/gateway-server.js', import.meta.url).href,
  };
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { modules, model } = workerData;
      const { startEngineServer } = await import(modules.engine);
      const { engineCoreOptions } = await import(modules.config);
      const { resolveHardware } = await import(modules.hardware);
      const { startGateway, GATEWAY_DEFAULTS } = await import(modules.gateway);
      const hardware = resolveHardware({ gpu: 'H100-SXM', model });
      const engine = await startEngineServer({ ...engineCoreOptions(hardware, { speed: 1e6, setup: 'sglang' }), modelName: model });
      const gateway = await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url: engine.url, kind: 'kvflow' }], models: [model] });
      parentPort.postMessage({ engine: engine.url, gateway: gateway.url });
      parentPort.once('message', async () => {
        await gateway.close();
        await engine.close();
        parentPort.postMessage({ closed: true });
      });
    })().catch((error) => parentPort.postMessage({ error: String((error && error.stack) || error) }));
  `;
  const worker = new Worker(source, { eval: true, workerData: { modules, model: MODEL } });
  const first = await new Promise<{ engine?: string; gateway?: string; error?: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (first.error || !first.engine || !first.gateway) {
    await worker.terminate();
    throw new Error(`server thread failed: ${first.error}`);
  }
  return {
    engine: first.engine,
    gateway: first.gateway,
    close: async () => {
      const closed = new Promise((resolve) => worker.once('message', resolve));
      worker.postMessage('close');
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// 2. Routing decision for a 4k-token prompt over 8 upstreams

async function routingLines(): Promise<BenchLine[]> {
  const blockSize = 16;
  const tokenizer = await PromptTokenizer.create({ blockSize });
  // One token per word: a 3,840-token system prompt and a 256-token step input, 4,096 tokens and change.
  const words = (seed: number, count: number) => Array.from({ length: count }, (_, i) => ` ${FILLER_WORDS[(seed * 7919 + i * 104729) % FILLER_WORDS.length]}`).join('');
  const systemPrompt = `You are the planner.${words(1, 3840)}`;
  const messages = [
    { role: 'system', content: systemPrompt },
    { role: 'user', content: `Step 12.${words(2, 256)}` },
  ];
  const prompt = tokenizer.chat(messages);
  const tokens = new Int32Array(prompt.tokens).map((_, i) => (i * 2654435761) >>> 16);
  const prefixIndex = new PrefixIndex();
  const upstreams = Array.from(
    { length: 8 },
    (_, index) =>
      new Upstream({
        index,
        url: `http://127.0.0.1:${9 + index}`,
        kind: 'kvflow',
        timeouts: { connectMs: 1000, headersMs: 1000, bodyMs: 1000 },
        connections: 1,
        shadow: { slots: SHADOW_SLOTS, eviction: 'ste', onPage: (block, present) => prefixIndex.update(index, block, present) },
      }),
  );
  // Each shadow tree holds prompts sharing the system prompt with different suffixes (upstream 3 holds
  // this one's longest prefix), plus unrelated prompts; loads are balanced so the cache path runs.
  upstreams.forEach((upstream, index) => {
    for (let k = 0; k < 4; k++) {
      const other = tokenizer.chat([{ role: 'system', content: index === 3 ? systemPrompt : `${systemPrompt} v${index}` }, { role: 'user', content: `Step ${k}.${words(k + 10 * index, 256)}` }]);
      upstream.shadow.admit(other.blocks, other.blocks.length - 13, 'planner').release();
      const unrelated = tokenizer.chat([{ role: 'system', content: `Other agent ${index}-${k}.${words(100 + k, 3840)}` }]);
      upstream.shadow.admit(unrelated.blocks, unrelated.blocks.length, `other${k}`).release();
    }
    // Fill the tree to its capacity with other prompts, as a busy gateway's would be (tables out of cache).
    for (let k = 0; upstream.shadow.pages < SHADOW_SLOTS - 300; k++) {
      const blocks = Array.from({ length: 256 }, (_, b) => (index * 1_000_003 + k * 257 + b) * 7919);
      upstream.shadow.admit(blocks, 240, `filler${k % 50}`).release();
    }
    upstream.load = index % 3;
  });
  const routing = new CacheAwareRouting();
  const decision = routing.choose(upstreams, shadowQuery(upstreams, prompt.blocks, prefixIndex));
  const bench = new Bench({ time: 1500, warmupTime: 300 });
  bench.add('route 4k-token prompt over 8 upstreams', () => {
    routing.choose(upstreams, shadowQuery(upstreams, prompt.blocks, prefixIndex));
  });
  bench.add('route, tree by tree (no prefix index)', () => {
    routing.choose(upstreams, shadowQuery(upstreams, prompt.blocks, undefined));
  });
  bench.add(`chained hashes of 4k tokens (${nativeHashInUse() ? 'native' : 'TypeScript'})`, () => {
    hashTokenBlocks(tokens, blockSize);
  });
  bench.add('tokenize + hash 4k-token chat (memoized system)', () => {
    tokenizer.chat(messages);
  });
  bench.add('shadow admit + release (4k tokens)', () => {
    upstreams[decision.index]!.shadow.admit(prompt.blocks, 240, 'planner').release();
  });
  await bench.run();
  await Promise.all(upstreams.map((upstream) => upstream.close()));
  const lines: BenchLine[] = [];
  for (const task of bench.tasks) {
    const latency = task.result?.state === 'completed' ? task.result.latency : undefined;
    if (!latency) continue;
    const target = task.name.startsWith('route 4k') ? ` (target < 20 us; chose upstream ${decision.index} by ${decision.reason}, ${decision.matchedBlocks}/${prompt.blocks.length} pages)` : '';
    lines.push({ name: task.name, value: `${(latency.mean * 1000).toFixed(2)} us mean (p99 ${(latency.p99 * 1000).toFixed(2)} us)${target}` });
  }
  return lines;
}

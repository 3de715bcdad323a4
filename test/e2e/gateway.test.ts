/**
 * Engine emulator and gateway on loopback (port 0): OpenAI shapes, streaming, hints and KVFlow updates,
 * routing under concurrent load, and faults (bad input, upstream down, killed mid-stream, timing out,
 * client gone). Every server is closed in afterAll/finally; every load is bounded in count and time.
 */
import { setupByName } from '../../src/sim/setups.js';
import { LruPolicy } from '../../src/cache/policy.js';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { startEngineServer, type EngineServer } from '../../src/serve/engine/engine-server.js';
import { GATEWAY_DEFAULTS, startGateway, type GatewayOptions, type GatewayServer } from '../../src/serve/gateway/gateway-server.js';
import { hashTokenBlocks } from '../../src/native.js';
import { PromptTokenizer } from '../../src/serve/http/prompt-tokens.js';
import { RealTimeClock } from '../../src/sim/real-time-clock.js';
import { steUpdateBody, snapshotOfUpdate } from '../../src/serve/http/kvflow-update.js';
import { bodyFor, headersFor } from '../../src/serve/gateway/forward-body.js';
import { PrefixIndex } from '../../src/serve/gateway/prefix-index.js';
import { CacheAwareRouting, type RouteCandidate } from '../../src/sim/cache-aware-routing.js';
import { ShadowCache } from '../../src/serve/gateway/shadow-cache.js';
import { Rng } from '../../src/workload/rng.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { metricValue } from '../helpers/metrics.js';

const MODEL = 'Llama-3.1-8B';
const hardware = resolveHardware({ gpu: 'A10G', model: MODEL });

function startEngine(speed = 200): Promise<EngineServer> {
  return startEngineServer({ ...engineCoreOptions(hardware, { speed, setup: setupByName('kvflow') }), modelName: MODEL });
}

function gatewayOptions(upstreams: GatewayOptions['upstreams'], extra: Partial<GatewayOptions> = {}): GatewayOptions {
  return { ...GATEWAY_DEFAULTS, upstreams, ...extra };
}

const systemPrompt = (agent: string) => `You are agent ${agent}. ${'Work carefully and report what you did. '.repeat(120)}`;

function chatBody(agent: string, user: string, extra: Record<string, unknown> = {}) {
  return { model: MODEL, max_tokens: 4, messages: [{ role: 'system', content: systemPrompt(agent) }, { role: 'user', content: user }], ...extra };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

async function json(url: string, timeoutMs = 5_000): Promise<any> {
  return (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).json();
}

async function lockedPages(gateway: GatewayServer): Promise<number> {
  const state = await json(`${gateway.url}/v1/gateway/state`);
  return state.upstreams.reduce((sum: number, u: { shadowLockedPages: number }) => sum + u.shadowLockedPages, 0);
}

/** Runs `tasks` with at most `limit` at a time. */
async function pooled<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

/** A raw HTTP upstream that misbehaves on purpose. */
async function fakeUpstream(handler: (response: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => handler(response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('building blocks', () => {
  it('prompts become blocks: a shared leading message gives shared leading blocks', async () => {
    const tokenizer = await PromptTokenizer.create({ blockSize: 16 });
    const system = { role: 'system', content: systemPrompt('planner') };
    const a = tokenizer.chat([system, { role: 'user', content: 'first task' }]);
    const b = tokenizer.chat([system, { role: 'user', content: 'second task' }]);
    expect(a.systemTokens).toBeGreaterThan(500);
    expect(a.blocks).toHaveLength(Math.ceil(a.tokens / 16));
    const shared = Math.floor(a.systemTokens / 16);
    expect(b.blocks.slice(0, shared)).toEqual(a.blocks.slice(0, shared));
    expect(b.blocks.at(-1)).not.toBe(a.blocks.at(-1));
    expect(tokenizer.completion([1, 2, 3]).blocks).toEqual(hashTokenBlocks([1, 2, 3], 16));
  });

  it('real-time clock fires in time order with now = event time, scaled by speed', async () => {
    let wall = 0;
    const order: [string, number][] = [];
    const clock = new RealTimeClock({ speed: 10, wallMs: () => wall });
    clock.run(() => {
      clock.after(2, () => order.push(['b', clock.now]));
      clock.after(1, () => order.push(['a', clock.now]));
      clock.after(1, () => order.push(['a2', clock.now]));
    });
    wall = 250; // 0.25 s of wall time = 2.5 model seconds
    clock.run(() => order.push(['arrival', clock.now]));
    expect(order).toEqual([['a', 1], ['a2', 1], ['b', 2], ['arrival', 2.5]]);
    clock.stop();
  });

  it('the shared prefix index agrees with matching every shadow tree, through inserts and evictions', () => {
    const rng = new Rng(7);
    const index = new PrefixIndex();
    const shadows = Array.from({ length: 5 }, (_, u) => new ShadowCache({ slots: 40, policy: new LruPolicy(), blockSize: 16, onPage: (block, present) => index.update(u, block, present) }));
    // Prompts from a few shared prefixes with random tails, chained so equal ids mean equal prefixes.
    const prompt = () => hashTokenBlocks(Array.from({ length: 16 * (1 + Math.floor(rng.next() * 12)) }, (_, i) => (i < 64 ? Math.floor(rng.next() * 3) * 1000 + (i % 7) : Math.floor(rng.next() * 1e6))), 16);
    const held: { release(): void }[] = [];
    for (let step = 0; step < 400; step++) {
      const u = Math.floor(rng.next() * shadows.length);
      held.push(shadows[u]!.admit(prompt(), 2, 'a'));
      if (held.length > 3 || rng.next() < 0.5) held.splice(Math.floor(rng.next() * held.length), 1)[0]!.release();
      const probe = prompt();
      const picked = [0, 2, 3, 4];
      const viaIndex = index.match(picked, probe, new Int32Array(picked.length));
      expect([...viaIndex]).toEqual(picked.map((p) => shadows[p]!.match(probe)));
    }
    for (const lease of held) lease.release();
    for (const shadow of shadows) expect(shadow.lockedPages).toBe(0);
  });

  it('cache-aware routing: best prefix, then the load bound, then the roomiest tree on a miss', () => {
    const routing = new CacheAwareRouting();
    const candidate = (index: number, load: number, cachedPages: number): RouteCandidate => ({ index, load, cachedPages });
    const query = (matches: number[], pages = 10) => ({ pages, matches: () => matches });
    expect(routing.choose([candidate(0, 0, 50), candidate(1, 3, 50)], query([2, 9]))).toEqual({ index: 1, reason: 'cache', matchedBlocks: 9 });
    expect(routing.choose([candidate(0, 0, 50), candidate(1, 40, 50)], query([2, 9]))).toEqual({ index: 0, reason: 'balance', matchedBlocks: 2 });
    expect(routing.choose([candidate(0, 0, 50), candidate(1, 0, 10)], query([2, 3]))).toEqual({ index: 1, reason: 'miss', matchedBlocks: 3 });
  });

  it('forwards each upstream kind the hints it understands, and untouched bytes when nothing changes', () => {
    const value = { model: 'm', messages: [], agent_hints: { workflow_id: 'w1', agent_id: 'coder', step_id: '3' } };
    const input = { raw: Buffer.from(JSON.stringify(value)), value, hints: { workflow: 'w1', agent: 'coder', step: '3' }, tagKey: 'coder', forkAgentId: '0', outgoingHints: undefined };
    expect(bodyFor('kvflow', input)).toBe(input.raw);
    expect(JSON.parse(String(bodyFor('kvflow', { ...input, tagKey: 'w1/coder' }))).agent_hints.agent_id).toBe('w1/coder');
    expect(JSON.parse(String(bodyFor('kvflow-sglang', input)))).toEqual({ model: 'm', messages: [], agent_id: '0' });
    expect(JSON.parse(String(bodyFor('openai', { ...input, value: { ...value, agent_id: 'x' } })))).toEqual({ model: 'm', messages: [] });
    const plain = { model: 'm', messages: [] };
    const untouched = { raw: Buffer.from('{"model":"m","messages":[]}'), value: plain, hints: {}, tagKey: undefined, forkAgentId: '-1', outgoingHints: undefined };
    for (const kind of ['kvflow', 'sglang-hints', 'openai'] as const) expect(bodyFor(kind, untouched)).toBe(untouched.raw);
    expect(JSON.parse(String(bodyFor('kvflow-sglang', untouched)))).toEqual({ ...plain, agent_id: '-1' });
    const client = { host: 'gw', 'content-length': '10', connection: 'keep-alive', authorization: 'Bearer k', 'x-kvflow-agent': 'coder' };
    expect(headersFor('openai', client, input)).toEqual({ authorization: 'Bearer k', 'content-type': 'application/json' });
    expect(headersFor('kvflow', client, { ...input, tagKey: 'w1/coder' })).toMatchObject({ 'x-kvflow-agent': 'w1/coder', 'x-kvflow-workflow': 'w1', 'x-kvflow-step': '3' });
  });

  it('KVFlow update bodies round-trip and list agents by step', () => {
    const body = steUpdateBody(new Map([['coder', 1], ['planner', 0], ['tester', 1]]), 7);
    expect(body).toEqual({ agent_data: { coder: 1, planner: 0, tester: 1 }, timestep_data: { '0': ['planner'], '1': ['coder', 'tester'] }, timestep_cnt: 7 });
    expect(snapshotOfUpdate(body)).toEqual(new Map([['coder', 1], ['planner', 0], ['tester', 1]]));
    expect(snapshotOfUpdate({ timestep_data: { '2': ['x'], '0': ['y'] } })).toEqual(new Map([['x', 2], ['y', 0]]));
  });
});

describe('kvflow engine', () => {
  let engine: EngineServer;
  beforeAll(async () => {
    engine = await startEngine();
  });
  afterAll(async () => {
    await engine.close();
  });

  it('serves models and health', async () => {
    expect(await json(`${engine.url}/health`)).toEqual({ status: 'ok' });
    expect((await json(`${engine.url}/v1/models`)).data[0].id).toBe(MODEL);
  });

  it('answers chat completions with exactly max_tokens and reports cached prompt tokens on reuse', async () => {
    const first = JSON.parse((await post(`${engine.url}/v1/chat/completions`, chatBody('cache-probe', 'one'))).text);
    const second = JSON.parse((await post(`${engine.url}/v1/chat/completions`, chatBody('cache-probe', 'two'))).text);
    expect(first.object).toBe('chat.completion');
    expect(first.choices[0].finish_reason).toBe('length');
    expect(first.usage.completion_tokens).toBe(4);
    expect(first.choices[0].message.content.trim().split(' ')).toHaveLength(4);
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(second.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(first.usage.prompt_tokens * 0.9);
  });

  it('streams SSE chunks ending in [DONE], with usage when asked; outputs are deterministic', async () => {
    const body = chatBody('stream', 'hello', { max_tokens: 6, stream: true, stream_options: { include_usage: true } });
    const a = await post(`${engine.url}/v1/chat/completions`, body);
    const b = await post(`${engine.url}/v1/chat/completions`, body);
    expect(a.headers.get('content-type')).toContain('text/event-stream');
    const events = a.text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.slice('data: '.length)));
    const text = chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
    expect(text.trim().split(' ')).toHaveLength(6);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-1).usage.completion_tokens).toBe(6);
    const textB = b.text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    expect(textB).toBe(text);
  });

  it('answers text completions for text and token-id prompts', async () => {
    const text = JSON.parse((await post(`${engine.url}/v1/completions`, { model: MODEL, prompt: 'Once upon a time', max_tokens: 3 })).text);
    expect(text.object).toBe('text_completion');
    expect(text.choices[0].text.trim().split(' ')).toHaveLength(3);
    const ids = JSON.parse((await post(`${engine.url}/v1/completions`, { model: MODEL, prompt: [1, 2, 3, 4], max_tokens: 2 })).text);
    expect(ids.usage.prompt_tokens).toBe(4);
  });

  it('rejects bad input with OpenAI-style errors', async () => {
    const bad = await post(`${engine.url}/v1/chat/completions`, '{"model": ');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
    const wrong = await post(`${engine.url}/v1/chat/completions`, { model: MODEL, messages: 'hi' });
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.text).error.param).toBe('messages');
    const unknown = await post(`${engine.url}/v1/chat/completions`, chatBody('x', 'y', { model: 'gpt-nope' }));
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text).error.code).toBe('model_not_found');
    const huge = await post(`${engine.url}/v1/completions`, { model: MODEL, prompt: [1, 2, 3], max_tokens: 10_000_000 });
    expect(huge.status).toBe(400);
    expect(JSON.parse(huge.text).error.code).toBe('context_length_exceeded');
  });

  it('takes KVFlow /v1/update snapshots and agent hints', async () => {
    const update = await post(`${engine.url}/v1/update`, { agent_data: { planner: 0, coder: 1 }, timestep_data: { '0': ['planner'], '1': ['coder'] }, timestep_cnt: 1 });
    expect(update.status).toBe(200);
    expect((await json(`${engine.url}/v1/engine/state`)).ste).toEqual({ coder: 1, planner: 0 });
    await post(`${engine.url}/v1/update`, { agent_data: { coder: 0 }, timestep_cnt: 2 });
    expect((await json(`${engine.url}/v1/engine/state`)).ste).toEqual({ coder: 0 });
    const hinted = await post(`${engine.url}/v1/chat/completions`, chatBody('coder', 'task', { agent_hints: { workflow_id: 'w1', agent_id: 'coder', step_id: 3, children_step_ids: [4] } }));
    expect(hinted.status).toBe(200);
    const kvflow = await post(`${engine.url}/v1/chat/completions`, chatBody('coder', 'task 2', { agent_id: 'coder' }));
    expect(kvflow.status).toBe(200);
    expect((await post(`${engine.url}/v1/update`, { timestep_cnt: 3 })).status).toBe(400);
  });
});

describe('kvflow engine --tensors', () => {
  it('records its KV transfers and runs them on real blocks on request', async () => {
    const engine = await startEngineServer({
      ...engineCoreOptions(hardware, { speed: 200, setup: setupByName('hicache') }),
      modelName: MODEL,
      tensors: { backend: 'tfjs-cpu', tensorScale: 1 / 64 },
    });
    try {
      expect((await post(`${engine.url}/v1/chat/completions`, chatBody('tensor', 'write me through'))).status).toBe(200);
      // The write-through starts after the answer: wait (bounded) until its pages hold CPU slots, which is
      // when its transfer is issued, instead of guessing how long that takes.
      await waitFor(async () => (await json(`${engine.url}/v1/engine/state`)).cpuPages > 0);
      const report = await json(`${engine.url}/v1/engine/tensors`, 30_000); // runs the plan on real tfjs blocks
      expect(report.setup).toBe('hicache');
      expect(report.d2h.transfers).toBeGreaterThan(0);
      expect(report.d2h.verified).toBe(true);
      expect(report.leakedTensors).toBe(0);
    } finally {
      await engine.close();
    }
    const plain = await startEngine();
    try {
      expect((await fetch(`${plain.url}/v1/engine/tensors`)).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe('kvflow gateway', () => {
  let engines: EngineServer[];
  let gateway: GatewayServer;
  beforeAll(async () => {
    engines = [await startEngine(), await startEngine()];
    gateway = await startGateway(gatewayOptions(engines.map((e) => ({ url: e.url, kind: 'kvflow' as const }))));
    const spec = JSON.parse(await readFile(new URL('../../workloads/sequential-10.json', import.meta.url), 'utf8'));
    expect((await post(`${gateway.url}/v1/workflows`, spec)).status).toBe(201);
  });
  afterAll(async () => {
    await gateway.close();
    for (const engine of engines) await engine.close();
  });

  it('serves concurrent load, keeps agents on one upstream, names it, and returns the shadow locks to zero', async () => {
    const agents = ['a0', 'a1', 'a2', 'a3'];
    const tasks = Array.from({ length: 48 }, (_, i) => async () => {
      const agent = agents[i % agents.length]!;
      const stream = i % 3 === 0;
      const result = await post(`${gateway.url}/v1/chat/completions`, chatBody(agent, `step ${i}`, { stream }), {
        'x-kvflow-workflow': `wf${i % 6}`,
        'x-kvflow-agent': agent,
        'x-kvflow-step': String(i),
      });
      return { agent, stream, ...result };
    });
    const results = await pooled(tasks, 12);
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(engines.map((e) => e.url)).toContain(result.headers.get('x-kvflow-upstream'));
      if (result.stream) expect(result.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      else expect(JSON.parse(result.text).usage.completion_tokens).toBe(4);
    }
    // Cache-aware routing: most requests of an agent land where its prompt already is.
    for (const agent of agents) {
      const counts = new Map<string, number>();
      for (const r of results.filter((r) => r.agent === agent)) counts.set(r.headers.get('x-kvflow-upstream')!, (counts.get(r.headers.get('x-kvflow-upstream')!) ?? 0) + 1);
      expect(Math.max(...counts.values())).toBeGreaterThanOrEqual(9);
    }
    expect(await lockedPages(gateway)).toBe(0);
    expect(await metricValue(gateway, 'kvflow_gateway_requests_total', { status: '200' })).toBeGreaterThanOrEqual(48);
    expect(await metricValue(gateway, 'kvflow_gateway_routing_decisions_total', { reason: 'cache' })).toBeGreaterThan(30);
    expect(await metricValue(gateway, 'kvflow_gateway_predicted_hit_tokens_total')).toBeGreaterThan(0);
    expect(await metricValue(gateway, 'kvflow_gateway_request_duration_seconds_count')).toBeGreaterThanOrEqual(48);
  });

  it('pushes STE from the registered graph to the engines in KVFlow format', async () => {
    await post(`${gateway.url}/v1/chat/completions`, chatBody('a4', 'go'), { 'x-kvflow-workflow': 'ste-probe', 'x-kvflow-agent': 'a4' });
    await gateway.steSettled();
    const published = await json(`${gateway.url}/v1/ste`);
    expect(published.agent_data.a5).toBe(1); // a4 just ended in ste-probe: a5 runs next
    for (const engine of engines) expect((await json(`${engine.url}/v1/engine/state`)).ste).toEqual(published.agent_data);
    expect(await metricValue(gateway, 'kvflow_gateway_ste_updates_total', { outcome: 'ok' })).toBeGreaterThan(0);
    // The table is serialized once per change: the same bytes while nothing moved, new ones after.
    const text = await (await fetch(`${gateway.url}/v1/ste`)).text();
    expect(await (await fetch(`${gateway.url}/v1/ste`)).text()).toBe(text);
    const finished = await fetch(`${gateway.url}/v1/workflows/instances/ste-probe`, { method: 'DELETE' });
    expect(finished.status).toBe(204);
  });

  it('learns the step graph of unregistered workflows with --graph learned', async () => {
    const gw = await startGateway(gatewayOptions([{ url: engines[0]!.url, kind: 'kvflow' }], { graph: 'learned' }));
    try {
      const cycle = ['planner', 'coder', 'tester'];
      for (let step = 0; step < 3 * cycle.length; step++) {
        const agent = cycle[step % cycle.length]!;
        const response = await post(`${gw.url}/v1/chat/completions`, chatBody(agent, `step ${step}`), { 'x-kvflow-workflow': 'session-1', 'x-kvflow-agent': agent });
        expect(response.status).toBe(200);
      }
      await gw.steSettled();
      const ste = (await json(`${gw.url}/v1/ste`)).agent_data;
      // tester just ended: planner runs next, then coder.
      expect(ste['session-1/planner']).toBe(1);
      expect(ste['session-1/coder']).toBe(2);
      expect((await json(`${engines[0]!.url}/v1/engine/state`)).ste).toEqual(ste);
    } finally {
      await gw.close();
    }
  });

  it('answers bad JSON, wrong types, oversized bodies and unknown models with 4xx and keeps serving', async () => {
    const cases = [
      { body: '{"model": "x", ', status: 400, code: 'invalid_json' },
      { body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 5 }] }), status: 400, param: 'messages.0.content' },
      { body: JSON.stringify({ model: MODEL, max_tokens: 'many', messages: [{ role: 'user', content: 'x' }] }), status: 400, param: 'max_tokens' },
      { body: JSON.stringify(chatBody('a0', 'x', { model: 'no-such-model' })), status: 404, code: 'model_not_found' },
      { body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(GATEWAY_DEFAULTS.bodyLimit + 1) }] }), status: 413, code: 'request_too_large' },
    ];
    for (const { body, status, code, param } of cases) {
      const response = await post(`${gateway.url}/v1/chat/completions`, body);
      expect(response.status).toBe(status);
      const error = JSON.parse(response.text).error;
      expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
      if (code) expect(error.code).toBe(code);
      if (param) expect(error.param).toBe(param);
    }
    const workflow = await post(`${gateway.url}/v1/workflows`, { name: 'broken', agents: {}, start: 'a' });
    expect(workflow.status).toBe(400);
    expect((await post(`${gateway.url}/v1/chat/completions`, chatBody('a0', 'still there?'))).status).toBe(200);
    expect(await lockedPages(gateway)).toBe(0);
  });

  it('aborts the upstream request when the client leaves mid-stream', async () => {
    const slow = await startEngine(1); // 1x real time: 400 decode steps take seconds
    const gw = await startGateway(gatewayOptions([{ url: slow.url, kind: 'kvflow' }]));
    try {
      const abort = new AbortController();
      const response = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chatBody('leaver', 'long answer please', { stream: true, max_tokens: 400 })),
        signal: abort.signal,
      });
      const reader = response.body!.getReader();
      await reader.read(); // the first chunk arrived: the stream is live
      abort.abort();
      await waitFor(async () => (await json(`${slow.url}/v1/engine/state`)).disconnects === 1);
      await waitFor(async () => (await lockedPages(gw)) === 0);
      expect(await metricValue(gw, 'kvflow_gateway_client_disconnects_total')).toBe(1);
    } finally {
      await gw.close();
      await slow.close();
    }
  });
});

describe('gateway faults', () => {
  it('retries on another upstream when one is down, and cools the dead one down', async () => {
    const dead = await fakeUpstream(() => {});
    await closeServer(dead.server); // nothing listens there any more
    const engine = await startEngine();
    const gw = await startGateway(gatewayOptions([{ url: dead.url, kind: 'kvflow' }, { url: engine.url, kind: 'kvflow' }], { models: [MODEL] }));
    try {
      const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => post(`${gw.url}/v1/chat/completions`, chatBody('r', `x${i}`))));
      for (const response of responses) {
        expect(response.status).toBe(200);
        expect(response.headers.get('x-kvflow-upstream')).toBe(engine.url);
      }
      expect(await metricValue(gw, 'kvflow_gateway_upstream_errors_total', { kind: 'connect', upstream: dead.url })).toBeGreaterThanOrEqual(1);
      expect(await metricValue(gw, 'kvflow_gateway_retries_total')).toBeGreaterThanOrEqual(1);
      expect(await metricValue(gw, 'kvflow_gateway_upstream_up', { upstream: dead.url })).toBe(0);
      expect(await lockedPages(gw)).toBe(0);
    } finally {
      await gw.close();
      await engine.close();
    }
  });

  it('answers 502 when every upstream is down', async () => {
    const dead = await fakeUpstream(() => {});
    await closeServer(dead.server);
    const gw = await startGateway(gatewayOptions([{ url: dead.url, kind: 'openai' }], { models: [MODEL] }));
    try {
      const response = await post(`${gw.url}/v1/chat/completions`, chatBody('x', 'y'));
      expect(response.status).toBe(502);
      expect(JSON.parse(response.text).error.type).toBe('upstream_error');
      expect(await lockedPages(gw)).toBe(0);
    } finally {
      await gw.close();
    }
  });

  it('ends the client stream with an error event when the upstream dies mid-stream', async () => {
    const dying = await fakeUpstream((response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: {"choices":[{"index":0,"delta":{"content":" one"}}]}\n\n');
      // Dies once both chunks are handed to the kernel (they still arrive: the request was read, so the
      // close is a FIN after the data), not after a guessed delay.
      response.write('data: {"choices":[{"index":0,"delta":{"content":" two"}}]}\n\n', () => response.socket?.destroy());
    });
    const gw = await startGateway(gatewayOptions([{ url: dying.url, kind: 'openai' }], { models: [MODEL] }));
    try {
      const response = await post(`${gw.url}/v1/chat/completions`, chatBody('x', 'y', { stream: true }));
      expect(response.status).toBe(200);
      expect(response.text).toContain('" one"');
      expect(response.text).toContain('" two"');
      const last = response.text.trim().split('\n\n').at(-1)!;
      expect(JSON.parse(last.slice('data: '.length)).error.code).toBe('upstream_stream_error');
      expect(await metricValue(gw, 'kvflow_gateway_upstream_errors_total', { kind: 'stream' })).toBe(1);
      expect(await lockedPages(gw)).toBe(0);
      expect((await json(`${gw.url}/health`)).status).toBe('ok');
    } finally {
      await gw.close();
      await closeServer(dying.server);
    }
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    const silent = await fakeUpstream(() => {}); // never responds
    const gw = await startGateway(
      gatewayOptions([{ url: silent.url, kind: 'openai' }], { models: [MODEL], timeouts: { connectMs: 1000, headersMs: 300, bodyMs: 300 } }),
    );
    try {
      const started = performance.now();
      const response = await post(`${gw.url}/v1/chat/completions`, chatBody('x', 'y'));
      expect(response.status).toBe(504);
      expect(JSON.parse(response.text).error.code).toBe('upstream_timeout');
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(await lockedPages(gw)).toBe(0);
    } finally {
      await gw.close();
      await closeServer(silent.server);
    }
  });

  it('passes upstream error statuses and bodies through unchanged', async () => {
    const picky = await fakeUpstream((response) => {
      response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      response.end('{"error":{"message":"slow down","type":"rate_limit","param":null,"code":"rate_limited"}}');
    });
    const gw = await startGateway(gatewayOptions([{ url: picky.url, kind: 'openai' }], { models: [MODEL] }));
    try {
      const response = await post(`${gw.url}/v1/chat/completions`, chatBody('x', 'y'));
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('x-kvflow-upstream')).toBe(picky.url);
      expect(JSON.parse(response.text).error.code).toBe('rate_limited');
    } finally {
      await gw.close();
      await closeServer(picky.server);
    }
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

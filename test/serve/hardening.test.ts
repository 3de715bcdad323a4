/**
 * The servers exposed and under abuse: API/admin/metrics keys, slow clients, oversized headers, content
 * types, hint values that cannot travel in headers, workflow replacement and registry limits, a stalled
 * upstream (SIGSTOP) leaving routing and coming back, and STE pushed as diffs that keep the engine's
 * table equal to the gateway's. Every server is closed in finally blocks; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { startEngineServer, type EngineServer, type EngineServerOptions } from '../../src/serve/engine/engine-server.js';
import { GATEWAY_DEFAULTS, startGateway, type GatewayOptions } from '../../src/serve/gateway/gateway-server.js';
import { WorkflowRegistry } from '../../src/serve/gateway/workflow-registry.js';
import { decodeHintHeader, encodeHintHeader } from '../../src/serve/http/hints.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { setupByName } from '../../src/sim/setups.js';
import { parseWorkflowSpec } from '../../src/workload/spec.js';
import { CLI } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

const MODEL = 'Llama-3.1-8B';
const hardware = resolveHardware({ gpu: 'A10G', model: MODEL });

function startEngine(extra: Partial<EngineServerOptions> = {}): Promise<EngineServer> {
  return startEngineServer({ ...engineCoreOptions(hardware, { speed: 500, setup: setupByName('kvflow') }), modelName: MODEL, ...extra });
}

function gatewayOptions(upstreams: GatewayOptions['upstreams'], extra: Partial<GatewayOptions> = {}): GatewayOptions {
  return { ...GATEWAY_DEFAULTS, upstreams, warn: () => {}, ...extra };
}

async function call(url: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body !== undefined && { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

/** An OpenAI-shaped error body: `{error: {message, type, param, code}}`. */
function expectApiError(result: { status: number; json: any; text: string }, status: number, code?: string) {
  expect(result.status, result.text).toBe(status);
  expect(Object.keys(result.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  if (code) expect(result.json.error.code).toBe(code);
}

const chat = (agent?: string, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  max_tokens: 2,
  messages: [{ role: 'system', content: `You are ${agent ?? 'nobody'}. ${'Be brief. '.repeat(40)}` }, { role: 'user', content: 'go' }],
  ...extra,
});

const spec = (name: string, agents = ['planner', 'coder']) =>
  parseWorkflowSpec(
    {
      name,
      agents: Object.fromEntries(agents.map((agent) => [agent, { fixed: 64, dynamic: 8, output: 4 }])),
      edges: agents.slice(1).map((agent, i) => ({ from: agents[i], to: agent })),
      start: agents[0],
      instances: 1,
    },
    'spec',
  );

/** Polls `check` every 50 ms until it holds, for at most `ms`. */
async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('API keys', () => {
  it('the engine asks for the API key on /v1, the admin key on /v1/update, nothing on /health', async () => {
    const engine = await startEngine({ keys: { api: 'k-api', admin: 'k-admin' } });
    try {
      expectApiError(await call(`${engine.url}/v1/models`), 401, 'invalid_api_key');
      expectApiError(await call(`${engine.url}/v1/models`, { headers: { authorization: 'Bearer wrong' } }), 401, 'invalid_api_key');
      expect((await call(`${engine.url}/v1/models`, { headers: { authorization: 'Bearer k-api' } })).status).toBe(200);
      expect((await call(`${engine.url}/v1/models`, { headers: { authorization: 'Bearer k-admin' } })).status).toBe(200);
      expect((await call(`${engine.url}/health`)).status).toBe(200);
      const update = { agent_data: { planner: 0 } };
      expectApiError(await call(`${engine.url}/v1/update`, { body: update, headers: { authorization: 'Bearer k-api' } }), 403, 'admin_key_required');
      expect((await call(`${engine.url}/v1/update`, { body: update, headers: { authorization: 'Bearer k-admin' } })).status).toBe(200);
    } finally {
      await engine.close();
    }
  });

  it('the gateway keeps its own key, sends the upstream its key, and guards workflow changes with the admin key', async () => {
    const engine = await startEngine({ keys: { api: 'engine-key' } });
    const gateway = await startGateway(
      gatewayOptions([{ url: engine.url, kind: 'kvflow' }], { keys: { api: 'gw', admin: 'gw-admin' }, upstreamApiKey: 'engine-key', models: [MODEL] }),
    );
    try {
      expectApiError(await call(`${gateway.url}/v1/chat/completions`, { body: chat('a') }), 401);
      // The engine only accepts its own key: the answer proves the gateway swapped the client's key for it.
      const ok = await call(`${gateway.url}/v1/chat/completions`, { body: chat('a'), headers: { authorization: 'Bearer gw' } });
      expect(ok.status, ok.text).toBe(200);
      const body = { name: 'wf', agents: { planner: { fixed: 64, dynamic: 8, output: 4 } }, edges: [], start: 'planner', instances: 1 };
      expectApiError(await call(`${gateway.url}/v1/workflows`, { body, headers: { authorization: 'Bearer gw' } }), 403);
      expect((await call(`${gateway.url}/v1/workflows`, { body, headers: { authorization: 'Bearer gw-admin' } })).status).toBe(201);
      expectApiError(await call(`${gateway.url}/v1/workflows/instances/x`, { method: 'DELETE', headers: { authorization: 'Bearer gw' } }), 403);
      expect((await call(`${gateway.url}/metrics`)).status).toBe(200);
      expect((await call(`${gateway.url}/health`)).status).toBe(200);
    } finally {
      await gateway.close();
      await engine.close();
    }
  });

  it('warns when listening beyond loopback without a key, and never prints the key', async () => {
    const warnings: string[] = [];
    const engine = await startEngine();
    const gateway = await startGateway(gatewayOptions([{ url: engine.url, kind: 'openai' }], { host: '0.0.0.0', models: [MODEL], warn: (m) => warnings.push(m) }));
    await gateway.close();
    const keyed = await startGateway(
      gatewayOptions([{ url: engine.url, kind: 'openai' }], { host: '0.0.0.0', models: [MODEL], keys: { api: 'secret-123' }, warn: (m) => warnings.push(m) }),
    );
    await keyed.close();
    await engine.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/without an API key/);
    expect(warnings.join('\n')).not.toContain('secret-123');
  });
});

describe('bad requests get the right status and an OpenAI-shaped body', () => {
  it('415 for any body that is not JSON, 431 for oversized headers, 400 naming a bad hint', async () => {
    const engine = await startEngine();
    const gateway = await startGateway(gatewayOptions([{ url: engine.url, kind: 'kvflow' }], { models: [MODEL] }));
    try {
      for (const url of [engine.url, gateway.url]) {
        expectApiError(await call(`${url}/v1/chat/completions`, { body: 'hello', headers: { 'content-type': 'text/plain' } }), 415);
        const none = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: new Uint8Array([1, 2, 3]) });
        expectApiError({ status: none.status, text: '', json: await none.json() }, 415);
        const bad = await call(`${url}/v1/chat/completions`, { body: chat(undefined, { agent_hints: { agent_id: 'a\r\nb' } }) });
        expectApiError(bad, 400, 'invalid_hint');
        expect(bad.json.error.param).toBe('agent_hints.agent_id');
        const raw = await rawRequest(url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`);
        expect(raw).toMatch(/^HTTP\/1\.1 431/);
        expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error.code).toBe('headers_too_large');
      }
    } finally {
      await gateway.close();
      await engine.close();
    }
  });

  it('a Unicode agent name travels end to end, percent-encoded in headers', async () => {
    expect(decodeHintHeader(encodeHintHeader('агент/1'))).toBe('агент/1');
    expect(encodeHintHeader('planner')).toBe('planner');
    expect(decodeHintHeader(encodeHintHeader('50%off'))).toBe('50%off');
    const engine = await startEngine();
    const gateway = await startGateway(gatewayOptions([{ url: engine.url, kind: 'kvflow' }], { models: [MODEL] }));
    try {
      const done = await call(`${gateway.url}/v1/chat/completions`, { body: chat('агент', { agent_hints: { agent_id: 'агент', workflow_id: 'инстанс' } }) });
      expect(done.status, done.text).toBe(200);
      const fromHeaders = await call(`${engine.url}/v1/chat/completions`, { body: chat('x'), headers: { 'x-kvflow-agent': encodeURIComponent('агент') } });
      expect(fromHeaders.status, fromHeaders.text).toBe(200);
    } finally {
      await gateway.close();
      await engine.close();
    }
  });

  it('a client trickling its request is cut with 408 at the request timeout', async () => {
    const engine = await startEngine({ limits: { requestTimeoutMs: 400, headersTimeoutMs: 400, keepAliveTimeoutMs: 1000, maxConnections: 100 } });
    try {
      const started = performance.now();
      const answer = await new Promise<string>((resolve, reject) => {
        const { port, hostname } = new URL(engine.url);
        const socket = connect(Number(port), hostname, () => {
          socket.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
        });
        let data = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
        setTimeout(() => socket.destroy(new Error('not cut within 10 s')), 10_000);
      });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await engine.close();
    }
  });
});

describe('workflow registry', () => {
  it('refuses to replace a workflow without replace, and says how many instances a replacement drops', async () => {
    const engine = await startEngine();
    const gateway = await startGateway(gatewayOptions([{ url: engine.url, kind: 'kvflow' }], { models: [MODEL] }));
    try {
      const body = { name: 'wf', agents: { planner: { fixed: 64, dynamic: 8, output: 4 } }, edges: [], start: 'planner', instances: 1 };
      expect((await call(`${gateway.url}/v1/workflows`, { body })).status).toBe(201);
      for (const id of ['i1', 'i2']) {
        const run = await call(`${gateway.url}/v1/chat/completions`, { body: chat('planner', { agent_hints: { agent_id: 'planner', workflow_id: id } }) });
        expect(run.status, run.text).toBe(200);
      }
      const again = await call(`${gateway.url}/v1/workflows`, { body });
      expectApiError(again, 409, 'workflow_exists');
      expect(again.json.error.message).toMatch(/2 live instances/);
      const replaced = await call(`${gateway.url}/v1/workflows?replace=true`, { body });
      expect(replaced.status).toBe(200);
      expect(replaced.json).toMatchObject({ replaced: true, droppedInstances: 2 });
    } finally {
      await gateway.close();
      await engine.close();
    }
  });

  it('answers 429 when the workflow or instance limit is reached', async () => {
    const engine = await startEngine();
    const gateway = await startGateway(gatewayOptions([{ url: engine.url, kind: 'kvflow' }], { models: [MODEL], registryLimits: { maxWorkflows: 1, maxInstances: 1 } }));
    try {
      const body = (name: string) => ({ name, agents: { planner: { fixed: 64, dynamic: 8, output: 4 } }, edges: [], start: 'planner', instances: 1 });
      expect((await call(`${gateway.url}/v1/workflows`, { body: body('a') })).status).toBe(201);
      expectApiError(await call(`${gateway.url}/v1/workflows`, { body: body('b') }), 429, 'gateway_full');
      const hinted = (id: string) => chat('planner', { agent_hints: { agent_id: 'planner', workflow_id: id } });
      expect((await call(`${gateway.url}/v1/chat/completions`, { body: hinted('one') })).status).toBe(200);
      expectApiError(await call(`${gateway.url}/v1/chat/completions`, { body: hinted('two') }), 429, 'gateway_full');
      // Requests without a workflow still pass.
      expect((await call(`${gateway.url}/v1/chat/completions`, { body: chat('x') })).status).toBe(200);
    } finally {
      await gateway.close();
      await engine.close();
    }
  });

  it('resolves a key shared by several workflows to the smallest STE, touching only workflows that moved', () => {
    const registry = new WorkflowRegistry({ idleSeconds: 60 });
    registry.register(spec('a', ['planner', 'coder']));
    registry.register(spec('b', ['coder', 'planner']));
    for (let i = 0; i < 200; i++) registry.register(spec(`idle-${i}`, [`x${i}`, `y${i}`]));
    registry.begin({ workflow: 'w1', agent: 'planner', spec: 'a' }, 0);
    const first = registry.takeChanges()!;
    expect(first.get('planner')).toBe(0);
    expect(first.get('coder')).toBe(1);
    registry.begin({ workflow: 'w2', agent: 'coder', spec: 'b' }, 0);
    const second = registry.takeChanges()!;
    expect(second.get('coder')).toBe(0);
    expect(registry.snapshot().get('planner')).toBe(0);
    expect(registry.takeChanges()).toBeUndefined();
  });
});

describe('a stalled upstream', () => {
  it('leaves routing within seconds when stopped (SIGSTOP), times its requests out with 504, and comes back', async () => {
    const healthy = await startEngine();
    const stalled = await spawnEngine();
    const gateway = await startGateway(
      gatewayOptions(
        [
          { url: stalled.url, kind: 'openai' },
          { url: healthy.url, kind: 'openai' },
        ],
        { models: [MODEL], healthCheck: { intervalMs: 200, timeoutMs: 600 }, timeouts: { connectMs: 1000, headersMs: 1500, bodyMs: 1500 } },
      ),
    );
    try {
      stalled.child.kill('SIGSTOP');
      // Requests routed to the stalled engine before the probe notices answer 504 within --timeout.
      const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => call(`${gateway.url}/v1/completions`, { body: { model: MODEL, prompt: `p${i}`, max_tokens: 1 } })));
      for (const answer of answers) expect([200, 504]).toContain(answer.status);
      await until(async () => (await call(`${gateway.url}/v1/gateway/state`)).json.upstreams[0].healthy === false, 5_000, 'the probe to mark it down');
      for (let i = 0; i < 4; i++) expect((await call(`${gateway.url}/v1/completions`, { body: { model: MODEL, prompt: `q${i}`, max_tokens: 1 } })).status).toBe(200);
      const state = (await call(`${gateway.url}/v1/gateway/state`)).json;
      expect(state.upstreams.reduce((sum: number, u: { shadowLockedPages: number }) => sum + u.shadowLockedPages, 0)).toBe(0);
      stalled.child.kill('SIGCONT');
      await until(async () => (await call(`${gateway.url}/v1/gateway/state`)).json.upstreams[0].healthy === true, 5_000, 'the probe to bring it back');
    } finally {
      stalled.child.kill('SIGCONT');
      stalled.child.kill('SIGTERM');
      await gateway.close();
      await healthy.close();
    }
  }, 30_000);
});

describe('STE diffs', () => {
  it('keep the kvflow engine table equal to the gateway snapshot through a workflow', async () => {
    const engine = await startEngine();
    const gateway = await startGateway(gatewayOptions([{ url: engine.url, kind: 'kvflow' }], { models: [MODEL] }));
    try {
      const body = { name: 'wf', agents: { planner: { fixed: 64, dynamic: 8, output: 4 }, coder: { fixed: 64, dynamic: 8, output: 4 }, tester: { fixed: 64, dynamic: 8, output: 4 } }, edges: [{ from: 'planner', to: 'coder' }, { from: 'coder', to: 'tester' }], start: 'planner', rounds: 3, instances: 1, shareAgents: false };
      expect((await call(`${gateway.url}/v1/workflows`, { body })).status).toBe(201);
      for (const instance of ['i1', 'i2']) {
        for (const agent of ['planner', 'coder', 'tester']) {
          const run = await call(`${gateway.url}/v1/chat/completions`, { body: chat(agent, { agent_hints: { agent_id: agent, workflow_id: instance } }) });
          expect(run.status, run.text).toBe(200);
        }
      }
      await gateway.steSettled();
      const expected = (await call(`${gateway.url}/v1/ste`)).json.agent_data;
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      expect((await call(`${engine.url}/v1/engine/state`)).json.ste).toEqual(expected);
    } finally {
      await gateway.close();
      await engine.close();
    }
  });
});

/** Sends raw bytes and returns everything the server answers before closing (bounded to 10 s). */
function rawRequest(url: string, text: string): Promise<string> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(text));
    let data = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
    socket.on('close', () => resolve(data));
    socket.on('error', (error) => (data ? resolve(data) : reject(error)));
    setTimeout(() => socket.destroy(), 10_000);
  });
}

/** `kvflow engine` as its own process (so it can be stopped with SIGSTOP), resolved once it prints its URL. */
async function spawnEngine(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [CLI, 'engine', '--port', '0', '--speed', '500'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`engine did not start: ${out}`)), 20_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /listening on (\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => reject(new Error(`engine exited with ${code}: ${out}`)));
  });
  return { url, child };
}

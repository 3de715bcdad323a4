/**
 * Load shedding on real servers (engine and gateway on free ports): past `maxInFlight` requests wait in
 * a bounded queue, and a request finding the queue full or waiting past `queueTimeoutMs` gets an
 * OpenAI-shaped 503 with Retry-After before its body is read; slots come back when answers end or
 * clients leave. Generations are slowed down (engine speed 1, many output tokens) so that requests overlap.
 */
import { describe, expect, it } from 'vitest';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { startEngineServer, type EngineServer } from '../../src/serve/engine/engine-server.js';
import { GATEWAY_DEFAULTS, startGateway } from '../../src/serve/gateway/gateway-server.js';
import { AdmissionGate, admissionLimits, RETRY_AFTER_SECONDS } from '../../src/serve/http/load-shedding.js';
import { SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../../src/serve/http/server-limits.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { setupByName } from '../../src/sim/setups.js';

const MODEL = 'Llama-3.1-8B';
const hardware = resolveHardware({ gpu: 'A10G', model: MODEL });

/** An engine whose generations of `max_tokens: 60` take about a second of wall-clock time. */
function startSlowEngine(limits?: Partial<ServerLimits>): Promise<EngineServer> {
  return startEngineServer({
    ...engineCoreOptions(hardware, { speed: 1, setup: setupByName('kvflow') }),
    modelName: MODEL,
    ...(limits && { limits: { ...SERVER_LIMIT_DEFAULTS, ...limits } }),
  });
}

const body = (maxTokens: number) => ({ model: MODEL, max_tokens: maxTokens, messages: [{ role: 'user', content: 'count to a hundred' }] });

interface Outcome {
  status: number;
  json: any;
  retryAfter: string | null;
  ms: number;
}

async function complete(url: string, maxTokens = 60, signal?: AbortSignal): Promise<Outcome> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body(maxTokens)),
    signal: signal ?? AbortSignal.timeout(20_000),
  });
  const json = await response.json();
  return { status: response.status, json, retryAfter: response.headers.get('retry-after'), ms: performance.now() - started };
}

function expectShed(outcome: Outcome, code: string) {
  expect(outcome.status, JSON.stringify(outcome.json)).toBe(503);
  expect(Object.keys(outcome.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(outcome.json.error.code).toBe(code);
  expect(outcome.retryAfter).toBe(String(RETRY_AFTER_SECONDS));
}

async function metric(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  const found = text.split('\n').find((each) => each.startsWith(`${line} `));
  if (!found) throw new Error(`no metric line ${line}`);
  return Number(found.slice(line.length + 1));
}

describe('AdmissionGate', () => {
  it('admits up to the limit, queues in arrival order, refuses past the queue, hands slots on as they free', async () => {
    const gate = new AdmissionGate({ maxInFlight: 2, maxQueued: 2, queueTimeoutMs: 60_000 });
    expect(gate.enter().admitted).toBe(true);
    expect(gate.enter().admitted).toBe(true);
    const first = gate.enter();
    const second = gate.enter();
    expect(gate.enter().admitted).toBe(false);
    expect([gate.inFlight, gate.queued, gate.shed.queue_full]).toEqual([2, 2, 1]);
    if (first.admitted !== 'queued' || second.admitted !== 'queued') throw new Error('expected two queued requests');
    const order: string[] = [];
    void first.slot.then((admitted) => order.push(`first ${admitted}`));
    void second.slot.then((admitted) => order.push(`second ${admitted}`));
    gate.leave();
    await Promise.resolve();
    expect(order).toEqual(['first true']);
    expect([gate.inFlight, gate.queued]).toEqual([2, 1]);
    // A cancelled place frees the queue and holds no slot.
    second.cancel();
    await Promise.resolve();
    expect(order).toEqual(['first true', 'second false']);
    gate.leave();
    gate.leave();
    expect([gate.inFlight, gate.queued, gate.admitted]).toEqual([0, 0, 3]);
  });

  it('defaults: the queue holds as many as may run, and waits at most 10 s', () => {
    expect(admissionLimits({}, 512)).toEqual({ maxInFlight: 512, maxQueued: 512, queueTimeoutMs: 10_000 });
    expect(admissionLimits({ maxInFlight: 8, maxQueued: 0, queueTimeoutMs: 5 }, 512)).toEqual({ maxInFlight: 8, maxQueued: 0, queueTimeoutMs: 5 });
    const gate = new AdmissionGate(admissionLimits({ maxInFlight: 1, maxQueued: 0 }, 512));
    expect(gate.enter().admitted).toBe(true);
    expect(gate.enter().admitted).toBe(false);
  });

  it('refuses a queued request when no slot frees within the queue timeout', async () => {
    const gate = new AdmissionGate({ maxInFlight: 1, maxQueued: 1, queueTimeoutMs: 20 });
    gate.enter();
    const waiting = gate.enter();
    if (waiting.admitted !== 'queued') throw new Error('expected a queued request');
    expect(await waiting.slot).toBe(false);
    expect([gate.inFlight, gate.queued, gate.shed.queue_timeout]).toEqual([1, 0, 1]);
  });
});

describe('load shedding on the servers', () => {
  it('the engine answers 503 with Retry-After past its queue and after the queue timeout, and serves what it admitted', async () => {
    const engine = await startSlowEngine({ maxInFlight: 2, maxQueued: 1, queueTimeoutMs: 300 });
    try {
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => complete(engine.url)));
      const ok = outcomes.filter((outcome) => outcome.status === 200);
      const full = outcomes.filter((outcome) => outcome.json.error?.code === 'server_overloaded');
      const late = outcomes.filter((outcome) => outcome.json.error?.code === 'queue_timeout');
      expect([ok.length, full.length, late.length], JSON.stringify(outcomes.map((o) => [o.status, o.json.error?.code]))).toEqual([2, 3, 1]);
      for (const outcome of full) expectShed(outcome, 'server_overloaded');
      expectShed(late[0]!, 'queue_timeout');
      // Refused at once; the queued one after its 300 ms; the admitted ones ran their generation.
      for (const outcome of full) expect(outcome.ms).toBeLessThan(Math.min(...ok.map((each) => each.ms)));
      expect(late[0]!.ms).toBeGreaterThanOrEqual(280);
      for (const outcome of ok) expect(outcome.json.usage.completion_tokens).toBe(60);
      expect(await metric(engine.url, 'kvflow_engine_requests_shed_total{reason="queue_full"}')).toBe(3);
      expect(await metric(engine.url, 'kvflow_engine_requests_shed_total{reason="queue_timeout"}')).toBe(1);
      expect(await metric(engine.url, 'kvflow_engine_admission_in_flight')).toBe(0);
      // Slots came back: the next request is served.
      expect((await complete(engine.url, 2)).status).toBe(200);
    } finally {
      await engine.close();
    }
  });

  it('the gateway sheds before the upstream, keeps /health answering, and a queued request gets the next free slot', async () => {
    const engine = await startSlowEngine();
    const gateway = await startGateway({
      ...GATEWAY_DEFAULTS,
      upstreams: [{ url: engine.url, kind: 'kvflow' }],
      models: [MODEL],
      warn: () => {},
      limits: { ...SERVER_LIMIT_DEFAULTS, maxInFlight: 1, maxQueued: 1, queueTimeoutMs: 15_000 },
    });
    try {
      const first = complete(gateway.url);
      await until(async () => (await state(gateway.url)).admission.inFlight === 1);
      const queued = complete(gateway.url);
      await until(async () => (await state(gateway.url)).admission.queued === 1);
      const refused = await complete(gateway.url);
      expectShed(refused, 'server_overloaded');
      expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
      const [one, two] = await Promise.all([first, queued]);
      expect([one.status, two.status]).toEqual([200, 200]);
      // The queued one waited for the first to end.
      expect(two.ms).toBeGreaterThan(one.ms * 0.9);
      const { admission } = await state(gateway.url);
      expect(admission).toEqual({ inFlight: 0, queued: 0, admitted: 2, shed: { queue_full: 1, queue_timeout: 0 } });
      expect(await metric(gateway.url, 'kvflow_gateway_requests_shed_total{reason="queue_full"}')).toBe(1);
    } finally {
      await gateway.close();
      await engine.close();
    }
  });

  it('a client that leaves while queued gives its place up, and one that leaves while served gives its slot back', async () => {
    const engine = await startSlowEngine({ maxInFlight: 1, maxQueued: 1, queueTimeoutMs: 15_000 });
    try {
      const served = new AbortController();
      const first = complete(engine.url, 60, served.signal).catch((error: Error) => error.name);
      await until(async () => (await engineAdmission(engine.url)).inFlight === 1);
      const waiting = new AbortController();
      const second = complete(engine.url, 60, waiting.signal).catch((error: Error) => error.name);
      await until(async () => (await engineAdmission(engine.url)).queued === 1);
      waiting.abort();
      expect(await second).toBe('AbortError');
      await until(async () => (await engineAdmission(engine.url)).queued === 0);
      served.abort();
      expect(await first).toBe('AbortError');
      await until(async () => (await engineAdmission(engine.url)).inFlight === 0);
      expect((await complete(engine.url, 2)).status).toBe(200);
      expect(await metric(engine.url, 'kvflow_engine_requests_shed_total{reason="queue_timeout"}')).toBe(0);
    } finally {
      await engine.close();
    }
  });
});

async function state(url: string): Promise<any> {
  return (await fetch(`${url}/v1/gateway/state`, { signal: AbortSignal.timeout(5_000) })).json();
}

async function engineAdmission(url: string): Promise<{ inFlight: number; queued: number }> {
  return {
    inFlight: await metric(url, 'kvflow_engine_admission_in_flight'),
    queued: await metric(url, 'kvflow_engine_admission_queued'),
  };
}

/** Polls `check` every 20 ms, for at most 10 s. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('timed out waiting for the servers');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

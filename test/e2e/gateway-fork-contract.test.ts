/**
 * The KVFlow SGLang fork's runtime contract, checked on what the gateway sends a `kvflow-sglang` upstream.
 * The rules and the fork's lines they come from live in helpers/fake-kvflow-fork.ts.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_DEFAULTS, startGateway, type GatewayServer } from '../../src/serve/gateway/gateway-server.js';
import { FakeKvflowFork } from '../helpers/fake-kvflow-fork.js';

const system = (agent: string) => `You are ${agent}. ${'Plan, act, check. '.repeat(60)}`;
const chat = (agent: string, extra: Record<string, unknown> = {}) => ({
  model: 'm',
  max_tokens: 2,
  messages: [{ role: 'system', content: system(agent) }, { role: 'user', content: 'go' }],
  ...extra,
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await response.text();
  return response.status;
}

async function metric(gateway: GatewayServer, outcome: string): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('kvflow_gateway_ste_updates_total{') && l.includes(`outcome="${outcome}"`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('kvflow-sglang upstream: the KVFlow fork contract', () => {
  let fork: FakeKvflowFork;
  let gateway: GatewayServer;
  const logged: string[] = [];

  beforeAll(async () => {
    fork = await new FakeKvflowFork().start();
    gateway = await startGateway({
      ...GATEWAY_DEFAULTS,
      upstreams: [{ url: fork.url, kind: 'kvflow-sglang' }],
      logLine: (line) => logged.push(line),
      steRetry: { backoffMs: 5, maxBackoffMs: 20, maxAttempts: 4 },
    });
    const spec = JSON.parse(await readFile(new URL('../../workloads/sequential-10.json', import.meta.url), 'utf8'));
    expect(await post(`${gateway.url}/v1/workflows`, spec)).toBe(201);
    await gateway.steSettled();
  });
  afterAll(async () => {
    await gateway.close();
    await fork.close();
  });

  it("never forwards a request without agent_id: no agent is '-1', every agent an integer id", async () => {
    const before = fork.requests.length;
    expect(await post(`${gateway.url}/v1/chat/completions`, chat('anonymous'))).toBe(200);
    expect(await post(`${gateway.url}/v1/completions`, { model: 'm', prompt: 'plain text', max_tokens: 2 })).toBe(200);
    expect(await post(`${gateway.url}/v1/chat/completions`, chat('a0'), { 'x-kvflow-workflow': 'w1', 'x-kvflow-agent': 'a0' })).toBe(200);
    expect(await post(`${gateway.url}/v1/chat/completions`, chat('a1', { agent_hints: { workflow_id: 'w1', agent_id: 'a1' } }))).toBe(200);
    expect(await post(`${gateway.url}/v1/chat/completions`, chat('coder', { agent_id: 'run-42/coder' }))).toBe(200);
    const sent = fork.requests.slice(before);
    expect(sent.map((body) => body.agent_id)).toEqual(['-1', '-1', expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/), expect.stringMatching(/^\d+$/)]);
    for (const body of sent) expect(body.agent_hints).toBeUndefined();
    expect(fork.nodeAgents).not.toContain(null);
    expect(fork.violations).toEqual([]);
  });

  it('keeps one integer id per agent key, shared by requests and STE pushes, listed and logged', async () => {
    await post(`${gateway.url}/v1/chat/completions`, chat('a2'), { 'x-kvflow-workflow': 'w2', 'x-kvflow-agent': 'a2' });
    await gateway.steSettled();
    const table = (await (await fetch(`${gateway.url}/v1/gateway/agents`)).json()) as { no_agent_id: string; data: { key: string; id: number }[] };
    expect(table.no_agent_id).toBe('-1');
    const idOf = new Map(table.data.map(({ key, id }) => [key, String(id)]));
    expect(new Set(idOf.values()).size).toBe(idOf.size);
    // The same agent keeps its id on a later request.
    await post(`${gateway.url}/v1/chat/completions`, chat('a2'), { 'x-kvflow-workflow': 'w3', 'x-kvflow-agent': 'a2' });
    expect(fork.requests.at(-1)!.agent_id).toBe(idOf.get('a2'));
    await gateway.steSettled();
    // Every key the fork hears of is an id from the table, and the agent the gateway ranks next (a3) is there.
    const last = fork.updates.at(-1)!;
    const ids = new Set(idOf.values());
    for (const key of Object.keys(last.agent_data)) expect(ids).toContain(key);
    expect(last.agent_data[idOf.get('a3')!]).toBe(1);
    expect(fork.agentData[idOf.get('a3')!]).toBe(1);
    for (const [key, id] of idOf) expect(logged).toContain(`kvflow gateway: agent "${key}" is agent_id ${id} on kvflow-sglang upstreams`);
    expect(fork.violations).toEqual([]);
  });

  it('reads the /v1/update answer: status "error" is a failed push, logged with its message and retried', async () => {
    const errorsBefore = await metric(gateway, 'error');
    const okBefore = await metric(gateway, 'ok');
    const pushesBefore = fork.updates.length;
    fork.updateAnswers = [
      { status: 'error', message: 'TokenizerManager not available' },
      { status: 'error', message: 'Failed to update agent timesteps: boom' },
    ];
    await post(`${gateway.url}/v1/chat/completions`, chat('a5'), { 'x-kvflow-workflow': 'w4', 'x-kvflow-agent': 'a5' });
    await gateway.steSettled();
    expect(await metric(gateway, 'error')).toBe(errorsBefore + 2);
    expect(await metric(gateway, 'ok')).toBeGreaterThan(okBefore);
    expect(logged.some((line) => line.includes('STE push') && line.includes('error') && line.includes('TokenizerManager not available'))).toBe(true);
    // The refused snapshot was sent again (same timestep_cnt) until the fork took it.
    const counts = fork.updates.slice(pushesBefore).map((update) => update.timestep_cnt);
    expect(counts.length).toBeGreaterThanOrEqual(3);
    expect(counts.some((count, i) => counts.indexOf(count) !== i)).toBe(true);
    expect(fork.updateAnswers).toEqual([]);
    expect(fork.violations).toEqual([]);
  });
});

/**
 * The `sglang-hints` upstream kind: every request carries `agent_hints` in the shape of SGLang's
 * `AgentHints` (sgl-project/sglang PR #24993, protocol.py: twelve fields, ids as strings, counts and
 * durations as integers, reuse_hint "keep" | "offload" | "evict"), filled from the workflow the gateway
 * tracks; the client's own fields, known or not, pass through.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_DEFAULTS, startGateway, type GatewayServer } from '../../src/serve/gateway/gateway-server.js';
import { reuseHint } from '../../src/serve/gateway/outgoing-hints.js';

/** The PR's AgentHints fields and the JSON type each must have. */
const PR_FIELDS: Record<string, 'string' | 'integer' | 'string[]'> = {
  workflow_id: 'string',
  agent_id: 'string',
  step_id: 'string',
  step_index: 'integer',
  total_steps: 'integer',
  parent_step_id: 'string',
  children_step_ids: 'string[]',
  tool_name: 'string',
  expected_tool_duration_ms: 'integer',
  cache_ttl_ms: 'integer',
  shared_prefix_hash: 'string',
  reuse_hint: 'string',
};

function typeOk(value: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(value);
  if (type === 'string[]') return Array.isArray(value) && value.every((v) => typeof v === 'string');
  return typeof value === 'string';
}

const chat = (agent: string, extra: Record<string, unknown> = {}) => ({
  model: 'm',
  max_tokens: 2,
  messages: [{ role: 'system', content: `You are ${agent}. ${'Think, then answer briefly. '.repeat(40)}` }, { role: 'user', content: 'next' }],
  ...extra,
});

describe('sglang-hints upstream', () => {
  let server: Server;
  let gateway: GatewayServer;
  const received: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/chat/completions') received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(request.url === '/v1/models' ? '{"data":[{"id":"m"}]}' : '{"choices":[]}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    gateway = await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url, kind: 'sglang-hints' }] });
    const spec = JSON.parse(await readFile(new URL('../../workloads/sequential-10.json', import.meta.url), 'utf8'));
    const registered = await fetch(`${gateway.url}/v1/workflows`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(registered.status).toBe(201);
  });
  afterAll(async () => {
    await gateway.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = async (agent: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(chat(agent, extra)),
    });
    expect(response.status).toBe(200);
    await response.text();
    return received.at(-1)!;
  };

  it('fills the fields of a tracked workflow in the PR types, steps in order', async () => {
    const wf = { 'x-kvflow-workflow': 'run-1' };
    const first = (await send('a0', {}, { ...wf, 'x-kvflow-agent': 'a0' })).agent_hints as Record<string, unknown>;
    const second = (await send('a1', {}, { ...wf, 'x-kvflow-agent': 'a1' })).agent_hints as Record<string, unknown>;
    for (const hints of [first, second]) {
      for (const [field, value] of Object.entries(hints)) if (field in PR_FIELDS) expect(typeOk(value, PR_FIELDS[field]!), field).toBe(true);
    }
    expect(first).toMatchObject({ workflow_id: 'run-1', agent_id: 'a0', step_id: 'a0#0', step_index: 0, total_steps: 100, children_step_ids: ['a1'] });
    expect(second).toMatchObject({ agent_id: 'a1', step_id: 'a1#1', step_index: 1, parent_step_id: 'a0#0', children_step_ids: ['a2'] });
    // a1 comes back after the other nine agents of the round: far away, so its KV may leave the GPU.
    expect(second.reuse_hint).toBe('offload');
    // One step took some time by now, so the TTL is that times the steps until a1's next turn.
    expect(Number.isInteger(second.cache_ttl_ms) && (second.cache_ttl_ms as number) >= 1).toBe(true);
    // The fixed prompt's last block names the shared prefix once the system prompt fills a block.
    expect(second.shared_prefix_hash).toMatch(/^[0-9a-f]{14}$/);
    expect(received.at(-1)!.agent_id).toBeUndefined();
  });

  it("passes the client's fields through, unknown ones included", async () => {
    const body = await send('a2', {
      agent_hints: { workflow_id: 'run-2', agent_id: 'a2', step_id: 's7', tool_name: 'web_search', expected_tool_duration_ms: 5000, vendor_extra: { x: 1 } },
    });
    expect(body.agent_hints).toMatchObject({ workflow_id: 'run-2', agent_id: 'a2', step_id: 's7', tool_name: 'web_search', expected_tool_duration_ms: 5000, vendor_extra: { x: 1 } });
  });

  it('sends no hints for a request that names no workflow or agent', async () => {
    const body = await send('nobody');
    expect(body.agent_hints).toBeUndefined();
    expect(body.messages).toBeDefined();
  });

  it('maps STE once the step ends to the reuse hint', () => {
    expect([0, 1, 2, 9, Infinity].map(reuseHint)).toEqual(['keep', 'keep', 'offload', 'offload', 'evict']);
  });
});

/**
 * Gateway and engine emulator serving Llama-3.1-8B tokenize as the real engine does: `usage.prompt_tokens`
 * of a completion is the Llama 3.1 tokenizer's count with its begin-of-text token, the gateway's shadow
 * blocks are the engine's blocks, and salted requests never share a shadow prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { setupByName } from '../../src/sim/setups.js';
import { startEngineServer, type EngineServer } from '../../src/serve/engine/engine-server.js';
import { GATEWAY_DEFAULTS, startGateway, type GatewayServer } from '../../src/serve/gateway/gateway-server.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { loadPresetTokenizer } from '../../src/workload/model-tokenizer.js';

const MODEL = 'Llama-3.1-8B';

async function post(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  expect(response.status).toBe(200);
  return response.json();
}

describe('Llama-3.1-8B tokens end to end', () => {
  let engine: EngineServer;
  let gateway: GatewayServer;
  beforeAll(async () => {
    const hardware = resolveHardware({ gpu: 'A10G', model: MODEL });
    engine = await startEngineServer({ ...engineCoreOptions(hardware, { speed: 200, setup: setupByName('sglang') }), modelName: MODEL });
    gateway = await startGateway({ ...GATEWAY_DEFAULTS, upstreams: [{ url: engine.url, kind: 'openai' }] });
  }, 120_000);
  afterAll(async () => {
    await gateway.close();
    await engine.close();
  });

  it("the engine's prompt_tokens for a completion is the Llama 3.1 count with begin-of-text", async () => {
    const llama = await loadPresetTokenizer(MODEL);
    const prompt = 'Write a haiku about prefix caching in LLM serving systems, then explain it. '.repeat(6);
    const expected = llama.encodeCompletion(prompt);
    expect(expected[0]).toBe(128_000);
    const answer = await post(`${engine.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 3 });
    expect(answer.usage.prompt_tokens).toBe(expected.length);
    expect(engine.tokenizer.name).toBe(MODEL);
  });

  it("the gateway's shadow blocks for a prompt are the engine's blocks", async () => {
    const prompt = 'Shadow trees must hold the same pages as the engine they stand for. '.repeat(12);
    const answer = await post(`${gateway.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
    const engineBlocks = engine.tokenizer.completion(prompt).blocks;
    expect(answer.usage.prompt_tokens).toBe(engine.tokenizer.completion(prompt).tokens);
    // The engine holds every full page of the prompt (the last, partial one included once written).
    expect(engine.core.cachedPrefixPages(engineBlocks)).toBeGreaterThanOrEqual(engineBlocks.length - 1);
    expect(gateway.upstreams[0]!.shadow.match(engineBlocks)).toBe(engineBlocks.length);
  });

  it('a chat through the gateway lands on the engine under the same blocks', async () => {
    const messages = [
      { role: 'system', content: `You are the reviewer. ${'Check every claim against the source. '.repeat(40)}` },
      { role: 'user', content: 'Review section 2.' },
    ];
    const answer = await post(`${gateway.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 2 });
    const engineBlocks = engine.tokenizer.chat(messages).blocks;
    expect(answer.usage.prompt_tokens).toBe(engine.tokenizer.chat(messages).tokens);
    expect(gateway.upstreams[0]!.shadow.match(engineBlocks)).toBe(engineBlocks.length);
    expect(engine.core.cachedPrefixPages(engineBlocks)).toBeGreaterThanOrEqual(engineBlocks.length - 1);
  });

  it('requests with different cache_salt share no shadow prefix; the same salt does', async () => {
    const prompt = 'Tenant instructions that two tenants happen to share word for word. '.repeat(10);
    await post(`${gateway.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2, cache_salt: 'tenant-a' });
    const shadow = gateway.upstreams[0]!.shadow;
    const salted = (salt: string | undefined) => engine.tokenizer.completion(prompt, salt).blocks;
    expect(shadow.match(salted('tenant-a'))).toBe(salted('tenant-a').length);
    expect(shadow.match(salted('tenant-b'))).toBe(0);
    expect(shadow.match(salted(undefined))).toBe(0);
    // The engine emulator isolates salts too: tenant-b's first request finds nothing cached.
    const second = await post(`${engine.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 2, cache_salt: 'tenant-b' });
    expect(second.usage.prompt_tokens_details?.cached_tokens ?? 0).toBe(0);
  });
});

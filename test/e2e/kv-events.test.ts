/**
 * KV events end to end, as separate processes: `kvflow engine --kv-events` with a KV pool small enough to
 * evict, and `kvflow gateway --kv-events` started after the engine already served requests (so it
 * catches up through the replay socket). On every request the gateway's predicted cached tokens equal
 * the engine's reported `cached_tokens`; at the end its index equals the engine's GPU blocks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CostModel } from '../../src/sim/cost-model.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { CLI } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

const MODEL = 'Llama-3.1-8B';
const POOL_PAGES = 40;

interface Proc {
  child: ChildProcess;
  output: () => string;
}

const started: Proc[] = [];

/** Starts `kvflow ...args` and resolves once its output matches every pattern (bounded). */
function start(args: string[], patterns: RegExp[], timeoutMs = 90_000): Promise<{ proc: Proc; matches: RegExpExecArray[] }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const proc = { child, output: () => output };
  started.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kvflow ${args[0]} not ready in ${timeoutMs} ms: ${output}`)), timeoutMs);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const matches = patterns.map((pattern) => pattern.exec(output));
      if (matches.every((m) => m !== null)) {
        clearTimeout(timer);
        resolve({ proc, matches: matches as RegExpExecArray[] });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kvflow ${args[0]} exited (${code}): ${output}`));
    });
  });
}

async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

const dir = mkdtempSync(join(tmpdir(), 'kvflow-kv-events-'));
afterAll(async () => {
  await Promise.all(started.map(stop));
  rmSync(dir, { recursive: true, force: true });
});

/** Three agents with long system prompts and short questions: shared prefixes, and more than the pool holds. */
function messages(i: number) {
  const agent = i % 3;
  const system = `You are agent ${agent}. ` + Array.from({ length: 12 }, (_, k) => `Rule ${k} of agent ${agent}: answer briefly and cite step ${k * 7}.`).join(' ');
  return [
    { role: 'system', content: system },
    { role: 'user', content: `Question ${i % 4}: what is ${i % 4} times ${agent}?` },
  ];
}

async function chat(url: string, i: number): Promise<{ cached: number; predicted: string | null }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: messages(i), max_tokens: 4 }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { usage: { prompt_tokens_details: { cached_tokens: number } } };
  expect(response.status).toBe(200);
  return { cached: body.usage.prompt_tokens_details.cached_tokens, predicted: response.headers.get('x-kvflow-predicted-cached-tokens') };
}

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

/** Waits until the gateway has applied every batch the engine published (the events travel beside the HTTP answer). */
async function inSync(engine: string, gateway: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { batches } = await json<{ batches: number }>(`${engine}/v1/engine/kv-blocks`);
    const { lastSeq } = await json<{ lastSeq: string | null }>(`${gateway}/v1/gateway/kv-blocks/0`);
    if (batches === 0 || lastSeq === String(batches - 1)) return;
    if (Date.now() > deadline) throw new Error(`gateway at batch ${lastSeq}, engine published ${batches}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('KV events between real engine and gateway processes', () => {
  it('the gateway predicts every cached_tokens exactly and ends with the engine\'s blocks, through evictions', async () => {
    // A KV pool of POOL_PAGES pages: the A10G's pool minus a reserve that takes the rest.
    const base = new CostModel(resolveHardware({ gpu: 'A10G', model: MODEL, overrides: { activationReserveBytes: 0, blockSize: 16 } }));
    const config = join(dir, 'small-pool.json');
    writeFileSync(config, JSON.stringify({ activationReserveBytes: Math.floor(base.gpuPoolBytes - POOL_PAGES * base.pageBytes) }));
    const { matches: engineLines } = await start(
      ['engine', '--port', '0', '--config', config, '--setup', 'sglang', '--speed', '1000', '--kv-events', 'tcp://127.0.0.1:*', '--kv-events-replay', 'tcp://127.0.0.1:*'],
      [/listening on (http:\/\/\S+)/, /publishing KV events on (tcp:\/\/\S+) \(replay (tcp:\/\/[^)\s]+)\)/],
    );
    const engine = engineLines[0]![1]!;
    const [, pub, replay] = engineLines[1]!;

    // The engine serves before any gateway listens: the gateway must learn those blocks from the replay.
    for (let i = 0; i < 4; i++) await chat(engine, i);

    const { matches: gatewayLines } = await start(
      ['gateway', '--port', '0', '--upstream', engine, '--kv-events', `${engine}=${pub}`, '--kv-events-replay', `${engine}=${replay}`, '--health-interval', '0'],
      [/listening on (http:\/\/\S+)/],
    );
    const gateway = gatewayLines[0]![1]!;
    await inSync(engine, gateway);

    const outcomes: { cached: number; predicted: string | null }[] = [];
    for (let i = 4; i < 22; i++) {
      outcomes.push(await chat(gateway, i));
      await inSync(engine, gateway);
    }
    expect(outcomes.map((o) => o.predicted)).toEqual(outcomes.map((o) => String(o.cached)));
    expect(outcomes.some((o) => o.cached > 0)).toBe(true);

    const engineBlocks = await json<{ blocks: number[] }>(`${engine}/v1/engine/kv-blocks`);
    const gatewayBlocks = await json<{ blocks: number[]; exact: boolean }>(`${gateway}/v1/gateway/kv-blocks/0`);
    expect(gatewayBlocks.blocks).toEqual(engineBlocks.blocks);
    expect(gatewayBlocks.exact).toBe(true);
    const state = await json<{ upstreams: { kvEvents: { removed: number; replays: number; lost: number; unresolved: number } }[] }>(`${gateway}/v1/gateway/state`);
    // Evictions happened, and nothing was lost or left out.
    expect(state.upstreams[0]!.kvEvents).toMatchObject({ lost: 0, unresolved: 0 });
    expect(state.upstreams[0]!.kvEvents.removed).toBeGreaterThan(0);
    const metrics = await (await fetch(`${gateway}/metrics`)).text();
    expect(metrics).toMatch(/kvflow_gateway_kv_event_batches_total\{upstream="[^"]+"\} [1-9]/);
  }, 180_000);
});

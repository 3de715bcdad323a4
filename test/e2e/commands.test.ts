/**
 * Smoke tests of what the unit tests never run: the package entry point as a user imports it, and the
 * `demo`, `doctor`, `sweep`, `engine` and `gateway` commands as processes (the servers until a request has
 * gone through them and a SIGTERM has shut them down).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, expectJsonDocument, kvflow } from '../helpers/cli.js';
import { REPO } from '../helpers/sim.js';

const dir = mkdtempSync(join(tmpdir(), 'kvflow-commands-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the package entry point', () => {
  it('imports by its package name and drives a cache and a routing policy from its exports', () => {
    const script = `
      const kvflow = await import('kvflow');
      const cache = new kvflow.RadixCache({ gpuSlots: 2, policy: new kvflow.LruPolicy() });
      const page = cache.insertGpu(0, 7, 0);
      cache.checkInvariants();
      console.log(JSON.stringify({ page, size: cache.size, exports: Object.keys(kvflow).length, routing: new kvflow.CacheAwareRouting().name }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout) as { page: number; size: number; exports: number; routing: string };
    expect(out).toMatchObject({ page: 1, size: 1, routing: 'cache-aware' });
    expect(out.exports).toBeGreaterThan(20);
  });
});

describe('one-shot commands', () => {
  it('demo prints the replay and simulation tables and writes the report', async () => {
    const report = join(dir, 'demo.html');
    const run = await kvflow(['demo', '--report', report], { timeoutMs: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    for (const word of ['lru', 'ste', 'belady', 'sglang', 'hicache', 'kvflow']) expect(run.stdout).toContain(word);
    // It says what the workload is, what "vs sglang" divides, and why ste equals belady (it does, here).
    const text = run.stdout.replace(/\s+/g, ' ');
    expect(text).toContain("the KVFlow paper's sequential workflow, ten agents a0..a9 called in a fixed cycle");
    expect(text).toContain("vs sglang = sglang's mean workflow latency / this setup's");
    expect(text).toContain("that is Belady's choice, so ste equals belady here.");
    const hitRates = [...run.stdout.matchAll(/│ 32k +│ +(ste|belady) │ +([\d.]+%) │/g)].map((m) => m[2]);
    expect(hitRates).toHaveLength(2);
    expect(hitRates[0]).toBe(hitRates[1]);
    expect(run.stdout).toMatch(/^simulate: workload sequential-8192 \(workloads\/paper\/sequential-8192\.json, seed 1, 110 requests\) on 1 x A10G, Llama-3\.1-8B, engine sglang-0\.4, 1 replica$/m);
    expect(run.stdout).toContain(`report: ${report}`);
    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>/i);
  }, 300_000);

  it('doctor --json names the tensor backend and the native addon', async () => {
    const doc = expectJsonDocument(await kvflow(['doctor', '--backend', 'tfjs-cpu', '--json'], { timeoutMs: 120_000 })) as Record<string, unknown>;
    expect(JSON.stringify(doc)).toMatch(/tfjs-cpu/);
    expect(JSON.stringify(doc)).toMatch(/native/i);
  }, 120_000);

  it('sweep runs a replay grid on a worker and prints one JSON document', async () => {
    const trace = join(dir, 'trace.jsonl');
    const line = (id: string, blocks: number[], t: number) => JSON.stringify({ id, t, blocks, block_size: 4, input_length: 4 * blocks.length, output_length: 1 });
    writeFileSync(trace, ['{"kvflow_trace": 1, "block_size": 4}', line('a', [1, 2, 3], 0), line('b', [1, 2, 9], 1), line('c', [1, 2, 3], 2)].join('\n') + '\n');
    const grid = join(dir, 'grid.json');
    writeFileSync(
      grid,
      JSON.stringify({
        name: 'smoke',
        kind: 'replay',
        base: { trace, policy: ['lru', 'belady'] },
        axes: { capacity: [['8'], ['inf']] },
      }),
    );
    type Doc = { runs: { report: { results: { policy: string; hitRate: number }[] } }[] };
    const doc = expectJsonDocument(await kvflow(['sweep', grid, '--workers', '1'], { timeoutMs: 120_000 })) as Doc;
    expect(doc.runs).toHaveLength(2);
    // Unbounded: b hits its first two blocks (8 tokens), c all of a's prompt (12): 20 of 36 tokens.
    expect(doc.runs[1]!.report.results.map((r) => [r.policy, r.hitRate])).toEqual([
      ['lru', 20 / 36],
      ['belady', 20 / 36],
    ]);
  }, 120_000);
});

/** A `kvflow` server process started on a free port; `url` once it says it is listening. */
interface Server {
  url: string;
  stop(): Promise<number | null>;
}

/** Starts `kvflow ...args` and waits (bounded) for its "listening on <url>" line. */
function startServer(args: string[], timeoutMs = 60_000): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kvflow ${args[0]} did not say it was listening within ${timeoutMs} ms; output: ${output}`));
    }, timeoutMs);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ url, stop });
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kvflow ${args[0]} exited (${code}) before listening; output: ${output}`));
    });
  });
}

async function chat(url: string, agent: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'Llama-3.1-8B', messages: [{ role: 'user', content: `hello from ${agent}` }], max_tokens: 4 }),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.json() };
}

describe('server commands', () => {
  it('engine answers a chat completion, the gateway routes one to it, and both stop on SIGTERM', async () => {
    const engine = await startServer(['engine', '--port', '0', '--speed', '1000']);
    let gateway: Server | undefined;
    try {
      const direct = await chat(engine.url, 'planner');
      expect(direct.status).toBe(200);
      expect(direct.body.choices[0].message.content.length).toBeGreaterThan(0);
      gateway = await startServer(['gateway', '--port', '0', '--upstream', engine.url, '--upstream-kind', 'kvflow']);
      const routed = await chat(gateway.url, 'coder');
      expect(routed.status).toBe(200);
      expect(routed.body.usage.completion_tokens).toBe(4);
    } finally {
      const gatewayExit = gateway ? await gateway.stop() : 0;
      const engineExit = await engine.stop();
      expect([gatewayExit, engineExit]).toEqual([0, 0]);
    }
  }, 180_000);
});

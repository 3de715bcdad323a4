/**
 * The learned `reuse` policy by name through every command that takes `--policy`: replay, simulate, engine
 * and gateway (the same ReusePolicy object in each driver).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectJsonDocument, kvflow, startCliServer, type CliServer } from '../helpers/cli.js';
import { writeSpecTrace } from '../helpers/sim.js';

const SPEC = 'workloads/sequential-10.json';
let trace: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvflow-reuse-cli-'));
  trace = join(dir, 'sequential-10.jsonl');
  await writeSpecTrace(SPEC, trace);
});

interface Named {
  results: { policy?: string; setup?: string; hitRate?: number }[];
}

describe('--policy reuse', () => {
  it('replay: results under its name, beside lru, in the JSON contract of every policy', async () => {
    const run = await kvflow(['replay', '--trace', trace, '--capacity', '16k', '--policy', 'lru,reuse', '--json']);
    const document = expectJsonDocument(run) as Named;
    expect(document.results.map((r) => r.policy)).toEqual(['lru', 'reuse']);
    expect(Object.keys(document.results[1]!).sort()).toEqual(Object.keys(document.results[0]!).sort());
    expect(document.results[1]!.hitRate).toBeGreaterThanOrEqual(document.results[0]!.hitRate!);
  });

  it('simulate: a setup named reuse', async () => {
    const run = await kvflow(['simulate', '--workload', SPEC, '--setups', 'sglang', '--policy', 'reuse', '--json']);
    const document = expectJsonDocument(run) as Named;
    expect(document.results.map((r) => r.setup)).toEqual(['sglang', 'reuse']);
  });

  describe('servers', () => {
    let engine: CliServer | undefined;
    let gateway: CliServer | undefined;
    afterAll(async () => {
      await gateway?.stop();
      await engine?.stop();
    });

    it('engine and gateway: --policy reuse orders the engine cache and the shadow trees', async () => {
      engine = await startCliServer(['engine', '--speed', '200', '--policy', 'reuse']);
      const state = (await (await fetch(`${engine.url}/v1/engine/state`)).json()) as { policy: string };
      expect(state.policy).toBe('reuse');
      gateway = await startCliServer(['gateway', '--upstream', engine.url, '--upstream-kind', 'kvflow', '--policy', 'reuse']);
      const gatewayState = (await (await fetch(`${gateway.url}/v1/gateway/state`)).json()) as { shadowPolicy: string };
      expect(gatewayState.shadowPolicy).toBe('reuse');
      for (let i = 0; i < 2; i++) {
        const answer = await fetch(`${gateway.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'Llama-3.1-8B', prompt: 'hello there, a prompt long enough for a page or two of tokens', max_tokens: 4 }),
        });
        expect(answer.status).toBe(200);
      }
      const after = (await (await fetch(`${engine.url}/v1/engine/state`)).json()) as { completed: number };
      expect(after.completed).toBe(2);
    });
  });
});

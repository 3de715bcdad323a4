/**
 * `kvflow emulate` against an in-process engine on loopback: in this thread and on piscina worker threads
 * (which load the built dist/, as `npm test` builds it first), the duration bound, and the comparison of
 * gateway policies through the command itself. Loads are small and bounded; servers are closed after.
 */
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerEmulate } from '../../src/cli/emulate.js';
import { engineCoreOptions } from '../../src/serve/engine/engine-config.js';
import { startEngineServer, type EngineServer } from '../../src/serve/engine/engine-server.js';
import { resolveHardware } from '../../src/sim/hardware.js';
import { generateRequests } from '../../src/workload/generate.js';
import { loadWorkflowSpec, type WorkflowSpec } from '../../src/workload/spec.js';
import { runEmulation } from '../../src/loadgen/emulate.js';

const MODEL = 'Llama-3.1-8B';
const SPEC = new URL('../../workloads/concurrent-shared.json', import.meta.url).pathname;

describe('kvflow emulate', () => {
  let engine: EngineServer;
  let spec: WorkflowSpec;
  beforeAll(async () => {
    engine = await startEngineServer({ ...engineCoreOptions(resolveHardware({ gpu: 'A10G', model: MODEL }), { speed: 200 }), modelName: MODEL });
    spec = { ...(await loadWorkflowSpec(SPEC)), rounds: 2 };
  });
  afterAll(async () => {
    await engine.close();
  });

  it('runs every step of every instance, in this thread and on worker threads', async () => {
    const expected = generateRequests(spec, { seed: 1 }).length; // the same control flow as the generator
    for (const workers of [0, 2]) {
      const result = await runEmulation({ url: engine.url, spec, seed: 1, workflows: 8, concurrency: 8, workers, stream: true, requestTimeoutMs: 20_000 });
      expect(result.errors).toBe(0);
      expect(result.requests).toBe(expected);
      expect(result.workflows).toBe(8);
      expect(result.ttft.p50).toBeGreaterThan(0);
      expect(result.ttft.mean).toBeLessThanOrEqual(result.e2e.mean);
      expect(result.workflowLatency.mean).toBeGreaterThanOrEqual(result.e2e.mean);
      expect(result.gpuHitRate).toBeGreaterThan(0.5); // agents share their fixed prompts
      expect(result.throughput.requestsPerSecond).toBeGreaterThan(0);
    }
  });

  it('runs more instances than lanes closed loop, and stops at the duration bound', async () => {
    const all = await runEmulation({ url: engine.url, spec, seed: 2, workflows: 6, concurrency: 2, workers: 0, stream: false, requestTimeoutMs: 20_000 });
    expect(all.workflows).toBe(6);
    expect(all.requests).toBe(6 * 2 * 4);
    const started = performance.now();
    const cut = await runEmulation({
      url: engine.url,
      spec: { ...spec, rounds: 1000 },
      seed: 3,
      workflows: 4,
      concurrency: 4,
      workers: 0,
      durationSeconds: 1,
      stream: true,
      requestTimeoutMs: 20_000,
    });
    // A thousand rounds would take minutes; the bound stops it. Under a loaded machine a lane can reach the
    // deadline before starting its instance (then it is neither complete nor incomplete), so at least one
    // instance, not exactly four, is cut short, and the wall-clock bound is generous.
    expect(performance.now() - started).toBeLessThan(30_000);
    expect(cut.workflows).toBe(0);
    expect(cut.incompleteWorkflows).toBeGreaterThanOrEqual(1);
    expect(cut.incompleteWorkflows).toBeLessThanOrEqual(4); // at least one instance started and was cut
  });

  it('counts errors instead of failing when the server rejects requests', async () => {
    const result = await runEmulation({ url: engine.url, model: 'no-such-model', spec, seed: 1, workflows: 2, concurrency: 2, workers: 0, stream: true, requestTimeoutMs: 5_000 });
    expect(result.requests).toBe(0);
    expect(result.errorKinds).toEqual({ http_404: 2 });
    expect(result.incompleteWorkflows).toBe(2);
  });
});

describe('kvflow emulate --compare', () => {
  it('runs the same load behind an lru and a kvflow gateway and reports the ratio as JSON', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const program = new Command().exitOverride();
      registerEmulate(program);
      await program.parseAsync(
        ['emulate', '--compare', '--workload', new URL('../../workloads/sequential-10.json', import.meta.url).pathname, '--speed', '400', '--workers', '1', '--json'],
        { from: 'user' },
      );
      const document = JSON.parse(out.mock.calls.map((call) => String(call[0])).join(''));
      expect(document.results.map((r: { policy: string }) => r.policy)).toEqual(['lru', 'kvflow']);
      for (const result of document.results) {
        expect(result.errors).toBe(0);
        expect(result.requests).toBe(100);
      }
      expect(document.ratio.lru.workflowLatency).toBe(1);
      expect(document.ratio.kvflow.workflowLatency).toBeGreaterThan(0);
      expect(document.config).toMatchObject({ engines: 1, setup: 'kvflow', speed: 400 });
    } finally {
      out.mockRestore();
      process.exitCode = undefined;
    }
  });
});

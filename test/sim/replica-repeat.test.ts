/**
 * A replica ends most decode iterations through a shortcut (Replica #repeat: the same batch again, one
 * token more per request) instead of rebuilding the batch. The shortcut must change nothing: every run
 * here is simulated twice, once with `fullPath` (the full scheduling path at every iteration end), and
 * the two runs must agree on every figure, every request's times and every replica's counters.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ROUTER_NAMES } from '../../src/sim/router.js';
import { SETUP_NAMES, setupByName } from '../../src/sim/setups.js';
import { runSimulation, type EngineOptions } from '../../src/sim/simulation.js';
import type { TraceRequest } from '../../src/types.js';
import { generateRequests } from '../../src/workload/generate.js';
import { chainSpec, engineOf, hardwareOf, largestRequestPages, steSourceOf } from '../helpers/sim.js';
import { probe, resetProbe } from '../helpers/sim-probe.js';

// Record the replicas and completed requests (the probe changes nothing).
vi.mock('../../src/sim/replica.js', async (importOriginal) => {
  const { withProbe } = await import('../helpers/sim-probe.js');
  return withProbe(await importOriginal());
});

const size = fc.integer({ min: 16, max: 400 });
// Outputs longer than a block, so that decode batches repeat for many iterations between page reservations.
const agent = fc.record({ fixed: size, dynamic: size, output: fc.integer({ min: 1, max: 200 }) });
const runArb = fc.record({
  spec: fc
    .record({
      agents: fc.array(agent, { minLength: 2, maxLength: 4 }),
      rounds: fc.integer({ min: 1, max: 2 }),
      instances: fc.integer({ min: 1, max: 4 }),
      shareAgents: fc.boolean(),
      blockSize: fc.constantFrom(8, 16, 32),
    })
    .map((options) => chainSpec(options)),
  seed: fc.integer({ min: 0, max: 1000 }),
  setup: fc.constantFrom(...SETUP_NAMES),
  engine: fc.constantFrom('ideal', 'sglang-0.4'),
  gpuFactor: fc.double({ min: 1.05, max: 4, noNaN: true }),
  cpuFactor: fc.double({ min: 0, max: 3, noNaN: true }),
  replicas: fc.integer({ min: 1, max: 3 }),
  router: fc.constantFrom(...ROUTER_NAMES),
  tokenBudget: fc.integer({ min: 16, max: 2048 }),
  maxRunning: fc.integer({ min: 1, max: 8 }),
  schedule: fc.constantFrom('fcfs' as const, 'lpm' as const),
  timeScale: fc.constantFrom(0.5, 1, 4),
});

type Run = typeof runArb extends fc.Arbitrary<infer T> ? T : never;

/** The run's result and timeline, each request's life and each replica's counters, as one string. */
function simulated(requests: readonly TraceRequest[], run: Run, engine: EngineOptions): string {
  resetProbe({ eventLimit: 500_000 });
  const output = runSimulation(requests, {
    setup: setupByName(run.setup),
    engine,
    replicas: run.replicas,
    router: run.router,
    timeScale: run.timeScale,
    ste: steSourceOf(run.spec)(),
  });
  const replicas = probe.replicas.map(({ iterations, preemptions, stallSeconds, cache }) => ({ iterations, preemptions, stallSeconds, gpuUsed: cache.gpuUsed, cpuUsed: cache.cpuUsed }));
  const lives = probe.completed.map(({ request, arrival, admitted, loadStart, firstToken, done, hitTokens, loadedTokens, recomputedTokens, preemptions, replica }) => ({
    id: request.id,
    times: [arrival, admitted, loadStart, firstToken, done],
    tokens: [hitTokens, loadedTokens, recomputedTokens],
    preemptions,
    replica,
  }));
  return JSON.stringify({ output, replicas, lives });
}

describe('replica: the repeated-decode shortcut', () => {
  it('gives the same run as the full path at every iteration end (random workflows, setups, engines)', () => {
    fc.assert(
      fc.property(runArb, (run) => {
        const requests = generateRequests(run.spec, { seed: run.seed });
        const hardware = hardwareOf({ gpu: 'A10G', model: 'Llama-3.1-8B', blockSize: run.spec.blockSize, engine: run.engine });
        const gpuSlots = Math.ceil(run.gpuFactor * largestRequestPages(requests)) + 1;
        const engine = engineOf(
          hardware,
          { gpuSlots, cpuSlots: Math.floor(run.cpuFactor * gpuSlots) },
          { tokenBudget: run.tokenBudget, maxRunning: run.maxRunning, schedule: run.schedule },
        );
        expect(simulated(requests, run, engine)).toBe(simulated(requests, run, { ...engine, fullPath: true }));
      }),
      // A fixed seed keeps the suite reproducible; KVFLOW_FC_RUNS / KVFLOW_FC_SEED explore further.
      { numRuns: Number(process.env.KVFLOW_FC_RUNS ?? 40), seed: Number(process.env.KVFLOW_FC_SEED ?? 1414) },
    );
  });

  // Pages of 128 tokens: a request is 65+ ends from its next page, so a stretch is cut at its 64 ends
  // (STRETCH_ENDS) rather than at a page boundary, which the random runs' 8-32-token pages never reach.
  it.each([
    ['ideal', 'sglang'],
    ['ideal', 'kvflow'],
    ['sglang-0.4', 'hicache'],
  ] as const)('gives the same run as the full path with 128-token pages and 300-token outputs (%s, %s)', (engineName, setup) => {
    const run: Run = {
      spec: chainSpec({ agents: [{ fixed: 300, dynamic: 100, output: 300 }, { fixed: 200, dynamic: 60, output: 250 }], rounds: 1, instances: 1, shareAgents: false, blockSize: 128 }),
      seed: 7,
      setup,
      engine: engineName,
      gpuFactor: 3,
      cpuFactor: 1,
      replicas: 1,
      router: ROUTER_NAMES[0]!,
      tokenBudget: 2048,
      maxRunning: 8,
      schedule: 'fcfs',
      timeScale: 1,
    };
    const requests = generateRequests(run.spec, { seed: run.seed });
    const hardware = hardwareOf({ gpu: 'A10G', model: 'Llama-3.1-8B', blockSize: 128, engine: engineName });
    const gpuSlots = Math.ceil(run.gpuFactor * largestRequestPages(requests)) + 1;
    const engine = engineOf(hardware, { gpuSlots, cpuSlots: gpuSlots }, { tokenBudget: 2048, maxRunning: 8, schedule: 'fcfs' });
    const shortcut = simulated(requests, run, engine);
    // Decode runs longer than a stretch (64 ends) between page boundaries: more than 64 iterations per request.
    const iterations = probe.replicas[0]!.iterations;
    expect(iterations).toBeGreaterThan(64 * requests.length);
    expect(shortcut).toBe(simulated(requests, run, { ...engine, fullPath: true }));
    expect(probe.replicas[0]!.iterations).toBe(iterations);
  });
});

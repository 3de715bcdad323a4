import fc from 'fast-check';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PageState } from '../../src/cache/radix-cache.js';
import { loadWorkload } from '../../src/config/workload-input.js';
import { CostModel } from '../../src/sim/cost-model.js';
import { ENGINE_NAMES, EVICT_GRANULARITIES, WRITE_POLICIES } from '../../src/sim/engine-profile.js';
import { engineRules } from '../../src/sim/engine-rules.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { resolveHardware, type HardwareConfig } from '../../src/sim/hardware.js';
import { hardwareFor } from '../../src/config/hardware-input.js';
import { overlappedEnd } from '../../src/sim/load-path.js';
import { Replica } from '../../src/sim/replica.js';
import { SETUP_NAMES, setupByName } from '../../src/sim/setups.js';
import { SimRequest } from '../../src/sim/sim-request.js';
import { servingOptions, simulate } from '../../src/sim/simulate.js';
import { runSimulation } from '../../src/sim/simulation.js';
import { generateRequests } from '../../src/workload/generate.js';
import { cpuOnlyPrompt } from '../helpers/replica-batches.js';
import { accountingGap, chainSpec, engineOf, hardwareOf, largestRequestPages, REPO, steSourceOf, totalInputTokens } from '../helpers/sim.js';
import { probe, resetProbe } from '../helpers/sim-probe.js';

vi.mock('../../src/sim/replica.js', async (importOriginal) => {
  const { withProbe } = await import('../helpers/sim-probe.js');
  return withProbe(await importOriginal());
});

beforeEach(() => resetProbe());

describe('ideal engine: today\'s results, byte for byte', () => {
  // Recorded with `kvflow simulate --json --setups sglang,hicache,kvflow,kvflow-evict,lfu,belady` before the
  // engine profiles existed; only the fields added since (engine, load path, warm-up, warnings) may differ.
  it.each(['sequential-10', 'fanout-barrier'])('%s', async (name) => {
    const spec = join(REPO, 'workloads', `${name}.json`);
    const workload = await loadWorkload({ workload: spec, seed: 1 });
    const hardware = await hardwareFor({ engine: 'ideal' }, workload.blockSize, 'test');
    const { report } = simulate({
      requests: workload.requests,
      setups: (['sglang', 'hicache', 'kvflow', 'kvflow-evict', 'lfu', 'belady'] as const).map(setupByName),
      hardware,
      serving: servingOptions({ warmupRounds: 0 }, { hardware, workload: 'spec' }),
      ...(workload.steSource && { steSource: workload.steSource }),
      workload: { ...workload.description, spec: `workloads/${name}.json` },
    });
    const now = JSON.parse(JSON.stringify(report)) as Record<string, any>;
    const { engine: _e, loadPath: _l, cudaGraphMaxBs: _c, ...hw } = now.config.hardware;
    const { cudaMemoryBytes: _m, ...gpuPreset } = hw.gpuPreset;
    const { mixedChunk: _x, writePolicy: _w, evictGranularity: _g, warmupRounds: _r, ...serving } = now.config.serving;
    const stripped = {
      config: { ...now.config, hardware: { ...hw, gpuPreset }, serving },
      results: now.results.map(({ warm: _warm, all: _all, ...rest }: Record<string, unknown>) => rest),
    };
    const before = JSON.parse(await readFile(join(REPO, 'test/fixtures', `ideal-baseline-${name}.json`), 'utf8'));
    before.config.workload.spec = `workloads/${name}.json`;
    expect(JSON.stringify(stripped)).toBe(JSON.stringify(before));
  });
});

describe('layer-wise load path', () => {
  it('overlaps a forward pass with the load, layer by layer', () => {
    // Forward of 32 layers at 1 s per layer from t = 0; the load lands one layer per 2 s from t = 0.
    expect(overlappedEnd(0, 32, 32, 0, 2)).toBe(65); // the last layer lands at 64, computes for 1 s
    // A fast load: only the first layer's wait shows.
    expect(overlappedEnd(0, 32, 32, 0, 0.5)).toBe(32.5);
    // No overlap possible before the load starts.
    expect(overlappedEnd(0, 32, 32, 10, 0.5)).toBe(42.5);
  });

  it('costs SGLang v0.4 more than the PR #7313 kernel path, and more on a faster link', () => {
    const h100 = resolveHardware({ gpu: 'H100-SXM' });
    const direct = engineRules(h100).h2d!;
    const kernel = engineRules({ ...h100, loadPath: { ...h100.loadPath, mode: 'kernel' } }).h2d!;
    const gib = 2 ** 30;
    // direct: gather at 12 GB/s + pageable copy at min(64, 12) GB/s, plus 32 synchronisations.
    expect(direct.loadSeconds(gib)).toBeCloseTo(gib / 12e9 + gib / 12e9 + 32 * 7e-6, 12);
    expect(kernel.loadSeconds(gib)).toBeCloseTo(gib / 64e9 + 32 * 7e-6, 12);
  });
});

/** A replica on A10G (engine as named), and a recorder of its host loads and first tokens. */
function replicaOn(engine: 'sglang-0.4' | 'ideal', mixedChunk: boolean) {
  const hardware = resolveHardware({ engine });
  const cost = new CostModel(hardware);
  const events = new EventQueue();
  const loads: { bytes: number; start: number; end: number }[] = [];
  const firstTokens = new Map<string, number>();
  const replica = new Replica(0, events, { onFirstToken: (r) => firstTokens.set(r.request.id, events.now), onComplete: () => {} }, {
    setup: setupByName('hicache'),
    gpuSlots: 400,
    cpuSlots: 400,
    blockSize: 16,
    tokenBudget: 2048,
    maxRunning: 16,
    schedule: 'fcfs',
    h2d: { ...hardware.h2d, observer: { issued: (bytes, start, end) => loads.push({ bytes, start, end }), cancelled: () => {} } },
    d2h: hardware.d2h,
    loadAhead: 2,
    cost,
    rules: engineRules(hardware, { mixedChunk, writePolicy: 'write_through' }),
  });
  const until = (done: () => boolean) => {
    for (let i = 0; i < 100_000 && !done(); i++) events.run(events.fired + 1);
    expect(done()).toBe(true);
  };
  return { replica, events, loads, firstTokens, cost, until };
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const simRequest = (id: string, blocks: number[], index: number, outputLength: number) =>
  new SimRequest({ id, blocks, blockSize: 16, inputLength: blocks.length * 16 - 8, outputLength }, index, undefined);

describe('sglang-0.4: batched load-backs', () => {
  it('starts the host loads of two concurrent workflows in the same pass, merged into one load', () => {
    const { replica, loads, firstTokens, cost, until } = replicaOn('sglang-0.4', false);
    cpuOnlyPrompt(replica.cache, range(1000, 64));
    cpuOnlyPrompt(replica.cache, range(2000, 64));
    // The engine is busy with another request, so both arrivals meet at the next scheduling pass.
    const busy = simRequest('busy', range(9000, 4), 2, 64);
    replica.enqueue(busy);
    const a = simRequest('a', [...range(1000, 64), 5000], 0, 8);
    const b = simRequest('b', [...range(2000, 64), 5001], 1, 8);
    replica.enqueue(a);
    replica.enqueue(b);
    until(() => firstTokens.has('a') && firstTokens.has('b'));
    expect(loads).toHaveLength(1);
    expect(loads[0]!.bytes).toBe(128 * cost.pageBytes);
    expect(firstTokens.get('a')).toBe(firstTokens.get('b')); // one prefill batch waited for both
    expect(a.loadedTokens).toBe(64 * 16);
    expect(b.loadedTokens).toBe(64 * 16);
    replica.cache.checkInvariants();
  });

  it.each([
    ['sglang-0.4', 1, 0],
    ['ideal', 0, 1],
  ] as const)('%s: another request decodes while a third request\'s load is in flight', (engine, tokens, stalls) => {
    const { replica, events, loads, firstTokens, until } = replicaOn(engine, true);
    cpuOnlyPrompt(replica.cache, range(3000, 200));
    const decoding = simRequest('d', range(9000, 4), 0, 2000);
    replica.enqueue(decoding);
    until(() => decoding.phase === 'decode' && decoding.generated > 3);
    const third = simRequest('c', [...range(3000, 200), 5002], 1, 8);
    replica.enqueue(third);
    until(() => loads.length === 1);
    const atLoadStart = decoding.generated;
    const { end } = loads[0]!;
    let atLoadEnd = -1;
    events.at(end, () => (atLoadEnd = decoding.generated));
    until(() => firstTokens.has('c'));
    // sglang-0.4: the decode rides in the batch whose forward overlaps the load, and that batch started
    // before the load landed; the ideal engine holds every iteration until the load is done.
    expect(atLoadEnd - atLoadStart).toBeGreaterThanOrEqual(0);
    expect(decoding.generated - atLoadStart).toBeGreaterThanOrEqual(tokens);
    expect(replica.stallSeconds > 0 ? 1 : 0).toBe(stalls);
    expect(third.loadedTokens).toBe(200 * 16);
    replica.cache.checkInvariants();
  });
});

describe('engine invariants: every setup x profile (fast-check)', () => {
  const size = fc.integer({ min: 16, max: 384 });
  const agent = fc.record({ fixed: size, dynamic: size, output: fc.integer({ min: 1, max: 48 }) });
  const specArb = fc
    .record({
      agents: fc.array(agent, { minLength: 2, maxLength: 4 }),
      rounds: fc.integer({ min: 1, max: 3 }),
      instances: fc.integer({ min: 1, max: 3 }),
      shareAgents: fc.boolean(),
      blockSize: fc.constantFrom(8, 16),
    })
    .map((options) => chainSpec(options));
  const runArb = fc.record({
    spec: specArb,
    seed: fc.integer({ min: 0, max: 1000 }),
    gpuFactor: fc.double({ min: 1.05, max: 3, noNaN: true }),
    cpuFactor: fc.double({ min: 0, max: 3, noNaN: true }),
    tokenBudget: fc.integer({ min: 16, max: 2048 }),
    maxRunning: fc.integer({ min: 1, max: 8 }),
    mixedChunk: fc.boolean(),
    writePolicy: fc.constantFrom(...WRITE_POLICIES),
    evictGranularity: fc.constantFrom(...EVICT_GRANULARITIES),
  });

  it.each(ENGINE_NAMES)('%s: no capacity overrun, locks back to zero, every request finishes', (engine) => {
    fc.assert(
      fc.property(runArb, (run) => {
        const requests = generateRequests(run.spec, { seed: run.seed });
        const input = totalInputTokens(requests);
        const hardware: HardwareConfig = hardwareOf({ engine, gpu: 'A10G', model: 'Llama-3.1-8B', blockSize: run.spec.blockSize });
        const gpuSlots = Math.ceil(run.gpuFactor * largestRequestPages(requests)) + 1;
        const engineOptions = engineOf(
          hardware,
          { gpuSlots, cpuSlots: Math.floor(run.cpuFactor * gpuSlots) },
          {
            tokenBudget: run.tokenBudget,
            maxRunning: run.maxRunning,
            mixedChunk: run.mixedChunk,
            writePolicy: run.writePolicy,
            evictGranularity: run.evictGranularity,
          },
        );
        for (const setup of SETUP_NAMES) {
          resetProbe({ eventLimit: 500_000 });
          const { result } = runSimulation(requests, {
            setup: setupByName(setup),
            engine: engineOptions,
            replicas: 1,
            router: 'cache-aware',
            timeScale: 1,
            ste: steSourceOf(run.spec)(),
          });
          expect(result.requests).toBe(requests.length);
          expect(probe.completions.size, setup).toBe(requests.length);
          expect(Math.abs(accountingGap(result, input)), setup).toBeLessThan(1e-6);
          for (const replica of probe.replicas) {
            const cache = replica.cache;
            cache.checkInvariants();
            expect(replica.idle).toBe(true);
            expect(cache.gpuUsed).toBeLessThanOrEqual(cache.gpuSlots);
            expect(cache.cpuUsed).toBeLessThanOrEqual(cache.cpuSlots);
            expect(cache.gpuReserved).toBe(0);
            for (const page of cache.pageIds()) {
              expect(cache.locksOf(page), `${setup}: page ${page} still locked`).toBe(0);
              expect(cache.stateOf(page) & (PageState.loading | PageState.writing)).toBe(0);
            }
          }
        }
      }),
      { numRuns: Number(process.env.KVFLOW_FC_RUNS ?? 12), seed: Number(process.env.KVFLOW_FC_SEED ?? 10010) },
    );
  });
});

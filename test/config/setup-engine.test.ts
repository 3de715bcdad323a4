/**
 * A setup from parts may run on an engine profile of its own (`engine=ideal`): it then gets that profile's
 * pool, scheduler rules and serving defaults, exactly as if the whole run had `--engine` set to it, while
 * the other setups keep the run's engine.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveSimulation, simulateInputOf } from '../../src/config/simulation-input.js';
import { parseSetupSpec, parseSetupText } from '../../src/config/setup-spec.js';
import type { SimulationSettings } from '../../src/config/simulation-fields.js';
import { simulate } from '../../src/sim/simulate.js';
import { parseSweepGrid } from '../../src/sweep/sweep-grid.js';
import { REPO } from '../helpers/sim.js';

const context = { source: 'test', setupsWhere: '--setup', policyWhere: '--policy' };
const workload = join(REPO, 'workloads/branch-loop.json');

async function run(settings: SimulationSettings) {
  return simulate(simulateInputOf(await resolveSimulation({ workload, ...settings }, context))).report;
}

/** A result without its name, engine and speedups (which name the other setups of its run). */
function figures(result: Record<string, unknown>) {
  const { setup: _setup, engine: _engine, speedup: _speedup, all, ...rest } = result;
  const { speedup: _allSpeedup, ...allRest } = all as Record<string, unknown>;
  return { ...rest, all: allRest };
}

describe('a setup on its own engine profile', () => {
  it('gives exactly what the same preset gives when the whole run uses that profile', async () => {
    const mixed = await run({
      setups: ['hicache'],
      setup: [parseSetupText('name=hicache-ideal,base=hicache,engine=ideal', '--setup')],
    });
    const ideal = await run({ setups: ['hicache'], engine: 'ideal' });
    const sglang = await run({ setups: ['hicache'] });
    const [onRunEngine, onIdeal] = mixed.results;
    expect(onRunEngine!.engine).toBeUndefined();
    expect(onIdeal!.engine).toBe('ideal');
    expect(figures(onIdeal as never)).toEqual(figures(ideal.results[0] as never));
    expect(figures(onRunEngine as never)).toEqual(figures(sglang.results[0] as never));
    // The profiles differ on this workload, so the comparison above is not vacuous.
    expect(onIdeal!.e2e.mean).not.toBe(onRunEngine!.e2e.mean);
    // Speedups compare the two like any two setups: the other's mean workflow latency over this one's.
    expect(onRunEngine!.speedup['hicache-ideal']).toBeCloseTo(onIdeal!.workflowLatency.mean / onRunEngine!.workflowLatency.mean, 12);
  });

  it('keeps serving settings the run gave, and takes the rest from its own profile', async () => {
    const mixed = await run({
      setups: ['hicache'],
      setup: [parseSetupText('name=hicache-ideal,base=hicache,engine=ideal', '--setup')],
      tokenBudget: 2048,
    });
    const ideal = await run({ setups: ['hicache'], engine: 'ideal', tokenBudget: 2048 });
    expect(figures(mixed.results[1] as never)).toEqual(figures(ideal.results[0] as never));
  });

  it('is a key of setup definitions in flags and grids, and a wrong profile is named', () => {
    expect(parseSetupSpec('name=a,base=kvflow,engine=sglang-0.4', '--setup')).toMatchObject({ engine: 'sglang-0.4' });
    expect(() => parseSetupSpec('name=a,engine=vllm', '--setup')).toThrow(/--setup.*engine/);
    const grid = parseSweepGrid({ name: 'g', kind: 'simulate', base: { workload: 'w.json', setups: [{ name: 'mine', base: 'kvflow', engine: 'ideal' }] } }, 'grid.json');
    expect(grid.runs[0]!.config).toMatchObject({ setups: [{ name: 'mine', engine: 'ideal' }] });
  });
});

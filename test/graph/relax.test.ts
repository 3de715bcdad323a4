import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { InstanceProgress } from '../../src/graph/progress.js';
import { compileTopology } from '../../src/graph/topology.js';
import { STE_HORIZON, StepTracker } from '../../src/graph/tracker.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { buildGraph, graphArbitrary } from '../helpers/graphs.js';
import { naiveRelaxSteps } from '../helpers/naive-relax.js';
import { runs } from '../helpers/runs.js';

const SEED = 20261201;

function finite(distance: Float64Array): (number | null)[] {
  return Array.from(distance, (value) => (Number.isFinite(value) ? value : null));
}

describe('STE search from the active agents', () => {
  it('gives the same values as the fixed-point sweeps, without a horizon and cut at one', () => {
    fc.assert(
      fc.property(graphArbitrary, (w) => {
        const topology = compileTopology(buildGraph(w));
        const full = new InstanceProgress(topology);
        const cut = new InstanceProgress(topology, w.horizon);
        for (const event of w.events) {
          const agent = event.agent % w.size;
          for (const progress of [full, cut]) (event.begin ? progress.begin(agent) : progress.end(agent));
          expect(finite(full.steps())).toEqual(finite(naiveRelaxSteps(topology, full)));
          expect(finite(cut.steps())).toEqual(finite(naiveRelaxSteps(topology, cut, w.horizon)));
          expect([...cut.reached()].sort((a, b) => a - b)).toEqual(finite(cut.steps()).flatMap((v, i) => (v === null ? [] : [i])));
        }
      }),
      { numRuns: runs(400), seed: SEED },
    );
  });

  it('keeps the minimum over instances when they move and finish', () => {
    fc.assert(
      fc.property(graphArbitrary, fc.array(fc.record({ instance: fc.integer({ min: 0, max: 2 }), kind: fc.constantFrom('begin', 'end', 'finish'), agent: fc.nat() }), { maxLength: 40 }), (w, events) => {
        const graph = buildGraph(w);
        const tracker = new StepTracker(graph, { horizon: w.horizon });
        const reference = new Map<string, InstanceProgress>();
        const topology = compileTopology(graph);
        // What a consumer of takeChangedAgents sees (one instance keeps no counts until a second comes).
        const mirror = new Map<string, number>();
        for (const event of events) {
          const instance = `i${event.instance}`;
          const agent = event.agent % w.size;
          if (event.kind === 'finish') {
            tracker.finish(instance);
            reference.delete(instance);
          } else {
            if (!reference.has(instance)) reference.set(instance, new InstanceProgress(topology));
            const progress = reference.get(instance)!;
            if (event.kind === 'begin') {
              tracker.begin(instance, `a${agent}`);
              progress.begin(agent);
            } else {
              tracker.end(instance, `a${agent}`);
              progress.end(agent);
            }
          }
          const expected = new Map<string, number>();
          for (let id = 0; id < w.size; id++) {
            let best = Infinity;
            for (const progress of reference.values()) best = Math.min(best, naiveRelaxSteps(topology, progress, w.horizon)[id]!);
            if (Number.isFinite(best)) expected.set(`a${id}`, best);
          }
          expect(tracker.snapshot()).toEqual(expected);
          for (const agent of tracker.takeChangedAgents()) {
            const value = tracker.steOf(agent);
            if (value === undefined) mirror.delete(agent);
            else mirror.set(agent, value);
          }
          expect(mirror).toEqual(expected);
        }
      }),
      { numRuns: runs(200), seed: SEED },
    );
  });
});

/** A chain of n agents repeating forever: every step moves every agent's STE. */
function chain(n: number): AgentStepGraph {
  const graph = new AgentStepGraph();
  for (let i = 0; i + 1 < n; i++) graph.addEdge({ kind: 'chain', from: `a${i}`, to: `a${i + 1}` });
  if (n === 1) graph.addAgent('a0');
  graph.start = 'a0';
  return graph;
}

/** Runs `steps` steps of one instance; returns the most keys one event changed and agents one search visited. */
function stepThrough(graph: AgentStepGraph, steps: number, shareAgents: boolean): { changedKeys: number; visits: number } {
  const ste = new WorkflowSte(graph, { shareAgents, horizon: STE_HORIZON });
  // The search itself is the same in both modes: counted once.
  const probe = shareAgents ? undefined : new StepTracker(graph, { horizon: STE_HORIZON });
  let changedKeys = 0;
  let visits = 0;
  for (let step = 0; step < steps; step++) {
    const agent = `a${step % graph.agents.length}`;
    for (const event of ['begin', 'end'] as const) {
      ste[event]('wf', agent);
      changedKeys = Math.max(changedKeys, ste.takeChanges().size);
      if (!probe) continue;
      probe[event]('wf', agent);
      probe.steOf(agent);
      visits = Math.max(visits, probe.lastSearchVisits);
    }
  }
  return { changedKeys, visits };
}

describe('STE work per event in a long workflow, with the gateway\'s horizon', () => {
  it('is the same in a 100,000-agent chain as in a 10-agent one (counted, not timed)', () => {
    // Under `npm run mutate` a 10,000-agent chain makes the same point (far past the horizon) in a tenth of the time.
    const large = chain(process.env.KVFLOW_MUTATE === '1' ? 10_000 : 100_000);
    const small = chain(10);
    for (const shareAgents of [true, false]) {
      const few = stepThrough(small, 30, shareAgents);
      const many = stepThrough(large, 30, shareAgents);
      // The old sweeps re-read every agent on every event: 100,000 changed keys per step of the large chain.
      expect(many.changedKeys).toBeLessThanOrEqual(STE_HORIZON + 2);
      expect(few.changedKeys).toBe(10);
      if (shareAgents) continue;
      expect(many.visits).toBeLessThanOrEqual(2 * (STE_HORIZON + 2));
      expect(many.visits).toBeLessThanOrEqual(2 * few.visits);
    }
  });

  it('gives agents within the horizon their exact STE and none beyond it', () => {
    const tracker = new StepTracker(chain(100), { horizon: STE_HORIZON });
    tracker.begin('wf', 'a40');
    expect(tracker.steOf('a40')).toBe(0);
    expect(tracker.steOf(`a${40 + STE_HORIZON}`)).toBe(STE_HORIZON);
    expect(tracker.steOf(`a${41 + STE_HORIZON}`)).toBeUndefined();
    expect(new StepTracker(chain(100), { horizon: Infinity }).steOf('a99')).toBeUndefined();
    const unbounded = new StepTracker(chain(100), { horizon: Infinity });
    unbounded.begin('wf', 'a40');
    expect(unbounded.steOf('a99')).toBe(59);
    expect(unbounded.steOf('a39')).toBe(99);
  });
});

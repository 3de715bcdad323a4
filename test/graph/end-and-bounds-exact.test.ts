/**
 * Hand-computed edges of the STE search and of an end applied in place (progress.ts `end`): a running agent
 * that a fan-out also announces ends at 1 (within the horizon), each horizon giving what a search gives; an
 * end that leaves a second run going changes nothing and searches nothing; values of 2^32 steps or more
 * (MAX_STEPS, relax-scratch.ts) are unknown.
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { StepTracker } from '../../src/graph/tracker.js';

describe('an end in place and the bounds of a value, exact', () => {
  it('a running agent announced by a fan-out ends at 1 within the horizon, as a search gives', () => {
    // a fans out to b and c; c -> d. c runs on its own, then a ends and b begins: c is also announced.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'fanout', from: 'a', to: ['b', 'c'] });
    graph.addEdge({ kind: 'chain', from: 'c', to: 'd' });
    const expected: Record<string, Record<string, number>> = {
      Infinity: { b: 0, c: 1, d: 1 },
      1: { b: 0, c: 1, d: 1 },
      0: { b: 0 },
    };
    for (const horizon of [Infinity, 1, 0]) {
      const tracker = new StepTracker(graph, { horizon });
      const reference = new StepTracker(graph, { horizon, inPlaceEnds: false });
      for (const each of [tracker, reference]) {
        each.begin('wf', 'c');
        each.begin('wf', 'a');
        each.end('wf', 'a');
        each.begin('wf', 'b');
        each.snapshot(); // settled: the end below is applied in place
        each.end('wf', 'c');
      }
      const values = Object.fromEntries(tracker.snapshot());
      expect(tracker.lastSearchVisits).toBe(0); // no search: the end was applied in place
      expect(values).toEqual(expected[String(horizon)]);
      expect(values).toEqual(Object.fromEntries(reference.snapshot()));
    }
  });

  it('an end that leaves a second run of a terminal agent going changes nothing and searches nothing', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'b');
    tracker.begin('wf', 'b');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ b: 0 });
    expect(tracker.lastSearchVisits).toBeGreaterThan(0);
    tracker.takeChangedAgents();
    tracker.end('wf', 'b');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ b: 0 });
    expect(tracker.lastSearchVisits).toBe(0);
    expect(tracker.takeChangedAgents()).toEqual([]);
  });

  it('a count loop that makes a value reach 2^32 steps leaves it unknown; 2^32 - 1 is still known', () => {
    for (const [count, after] of [[2 ** 32 - 2, 2 ** 32 - 1], [2 ** 32 - 1, undefined], [2 ** 32, undefined]] as const) {
      // x repeats itself `count` times (a body of one step) before it goes on to y.
      const graph = new AgentStepGraph();
      graph.addEdge({ kind: 'loop', from: 'x', to: 'x', count });
      graph.addEdge({ kind: 'chain', from: 'x', to: 'y' });
      const tracker = new StepTracker(graph);
      tracker.begin('wf', 'x');
      expect([tracker.steOf('x'), tracker.steOf('y')]).toEqual([0, after]);
    }
  });
});

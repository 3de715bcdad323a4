/**
 * StepTracker's settle of a shifted walk (`settleShift`, `takeShifted`) and its minimum over several
 * instances, on hand-built graphs with hand-computed results: how many agents a shift hands out without
 * listing them, a walk whose settled order is not the walk's (settled by a search instead), an instance
 * finished while settled, and the per-value counts that keep the minimum (only agents whose minimum moved
 * are listed as changed).
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { StepTracker } from '../../src/graph/tracker.js';
import type { EdgeSpec } from '../../src/workload/spec.js';

function graphOf(edges: EdgeSpec[]): AgentStepGraph {
  const graph = new AgentStepGraph();
  for (const edge of edges) graph.addEdge(edge);
  return graph;
}

const chain = (...agents: string[]): EdgeSpec[] => agents.slice(1).map((to, i) => ({ kind: 'chain', from: agents[i]!, to }));

describe('StepTracker: shifts and counts, exact', () => {
  it("settles a walk whose order is not the walk's by a search, and a later shift by one move", () => {
    // Z's probabilistic loop leads to A, its exit to Y; A -> B -> C and Y -> C; C -> D -> E. Horizon 2.
    const graph = graphOf([{ kind: 'loop', from: 'Z', to: 'A', probability: 0.5 }, ...chain('Z', 'Y', 'C'), ...chain('A', 'B', 'C', 'D', 'E')]);
    const tracker = new StepTracker(graph, { horizon: 2 });
    const names = (ids: Iterable<number>) => [...ids].map((id) => graph.agents[id]!);
    const step = (kind: 'begin' | 'end', agent: string) => {
      tracker[kind]('wf', agent);
      const shifted = tracker.takeShifted();
      return { shifted, changed: names(tracker.takeChangedIds()), known: names(tracker.knownIds()), values: Object.fromEntries(tracker.snapshot()) };
    };
    // Z offers its exit Y before its loop's A; A (id 1) is launched before Y (id 2).
    expect(step('begin', 'Z')).toEqual({ shifted: 0, changed: ['Z', 'Y', 'A', 'B', 'C'], known: ['Z', 'Y', 'A', 'B', 'C'], values: { Z: 0, A: 1, Y: 1, C: 2, B: 2 } });
    expect(step('end', 'Z')).toEqual({ shifted: 0, changed: ['Z'], known: ['Y', 'A', 'B', 'C'], values: { A: 1, Y: 1, C: 2, B: 2 } });
    // A takes Z's loop: Z and Y leave, A and B move, C keeps its 2 and its place: the order is C A B, the walk A B C.
    expect(step('begin', 'A')).toEqual({ shifted: 0, changed: ['Y', 'A', 'B'], known: ['C', 'A', 'B'], values: { A: 0, C: 2, B: 1 } });
    expect(step('end', 'A')).toEqual({ shifted: 0, changed: ['A'], known: ['C', 'B'], values: { C: 2, B: 1 } });
    // A chain step of the walk (shifted in the instance), but the order C B is not the walk's B C: a search settles it.
    expect(step('begin', 'B')).toEqual({ shifted: 0, changed: ['C', 'B', 'D'], known: ['B', 'C', 'D'], values: { C: 1, B: 0, D: 2 } });
    expect(tracker.shiftedBegins).toBe(1);
    expect(step('end', 'B')).toEqual({ shifted: 0, changed: ['B'], known: ['C', 'D'], values: { C: 1, D: 2 } });
    // Now the order is the walk's: C and D move one step nearer in one move, E enters.
    tracker.begin('wf', 'C');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ C: 0, D: 1, E: 2 });
    expect(tracker.takeShifted()).toBe(2); // still untaken after the snapshot read
    expect(names(tracker.knownIds())).toEqual(['C', 'D', 'E']);
    expect(names(tracker.takeChangedIds())).toEqual(['E']);
    expect(tracker.shiftedBegins).toBe(2);
  });

  it('lists the agents of a shift first when other changes were not taken before it', () => {
    const graph = graphOf(chain('a0', 'a1', 'a2', 'a3', 'a4', 'a5'));
    const tracker = new StepTracker(graph, { horizon: 3 });
    tracker.begin('wf', 'a0');
    tracker.takeChangedIds();
    tracker.end('wf', 'a0');
    expect(tracker.steOf('a1')).toBe(1); // settles: a0's change is listed, not taken
    tracker.begin('wf', 'a1');
    expect(tracker.takeShifted()).toBe(0);
    expect(tracker.takeChangedAgents()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(tracker.shiftedBegins).toBe(1);
  });

  it('finishes an instance that has nothing to settle, and still settles the others', () => {
    const graph = graphOf(chain('a', 'b', 'c'));
    const tracker = new StepTracker(graph);
    tracker.begin('x', 'a');
    tracker.begin('y', 'b');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ a: 0, b: 0, c: 1 });
    tracker.finish('x');
    tracker.end('y', 'b');
    tracker.begin('y', 'c');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ c: 0 });
  });

  it('lists an agent as changed only when its minimum over instances moved', () => {
    const graph = graphOf(chain('a', 'b', 'c'));
    const tracker = new StepTracker(graph);
    tracker.begin('x', 'a');
    expect(tracker.takeChangedAgents()).toEqual(['a', 'b', 'c']);
    // y gives a, b and c the values x gives them.
    tracker.begin('y', 'a');
    expect(tracker.takeChangedAgents()).toEqual([]);
    tracker.finish('y');
    tracker.begin('y', 'b'); // b 0, c 1
    expect(tracker.takeChangedAgents()).toEqual(['b', 'c']);
    // x moves on: a leaves x (and so the minimum); x's b and c drop to y's 0 and 1, which stay the minimum.
    tracker.end('x', 'a');
    tracker.begin('x', 'b');
    expect(tracker.takeChangedAgents()).toEqual(['a']);
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ b: 0, c: 1 });
  });

  it('takes the next minimum from the values left when the smallest one goes', () => {
    const graph = graphOf(chain('a', 'b', 'c', 'd'));
    const tracker = new StepTracker(graph);
    tracker.begin('y', 'b'); // c 1, d 2
    tracker.begin('x', 'a'); // c 2, d 3
    tracker.begin('z', 'c'); // c 0, d 1
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ a: 0, b: 0, c: 0, d: 1 });
    tracker.takeChangedAgents();
    tracker.finish('z');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ a: 0, b: 0, c: 1, d: 2 });
    expect(tracker.takeChangedAgents()).toEqual(['c', 'd']);
  });
});

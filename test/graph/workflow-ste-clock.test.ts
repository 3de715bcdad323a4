/**
 * WorkflowSte with private agents, one event at a time, hand-computed: the absolute changes, the changes
 * relative to the instance's clock and the clock's moves of each take (ste-clock.ts). A begin moves the
 * clock by the STE the begun agent had, so a step of a chain changes the relative value of the agents
 * entering or leaving reach only; an end never moves it. Also the per-instance key table growing with the
 * graph, and the agent lookup of a graph whose revision is still 1.
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import type { ClockedSteChanges } from '../../src/graph/ste-clock.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';

/** One take: absolute changes (null: unknown), relative changes as [key, clock index, value] (null: NaN), the clocks' values and moves. */
function taken(ste: WorkflowSte) {
  const changes = ste.takeChanges() as ClockedSteChanges;
  const nullable = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? null : value);
  return {
    absolute: [...changes].map(([key, value]) => [key, nullable(value)]),
    relative: changes.relative.keys.map((key, i) => [key, changes.relative.clocks[i], nullable(changes.relative.values[i])]),
    clocks: changes.moves.values,
    moved: changes.moves.moved,
  };
}

/** a0 -> a1 -> ... -> a5. */
function chain(): AgentStepGraph {
  const graph = new AgentStepGraph();
  for (let i = 0; i < 5; i++) graph.addEdge({ kind: 'chain', from: `a${i}`, to: `a${i + 1}` });
  return graph;
}

describe('WorkflowSte with private agents: clocked changes, exact', () => {
  it('under horizon 2 a chain step moves the clock by one and logs only the agent entering reach as a relative change', () => {
    const ste = new WorkflowSte(chain(), { shareAgents: false, horizon: 2 });
    ste.begin('i', 'a0');
    expect(taken(ste)).toEqual({ absolute: [['i/a0', 0], ['i/a1', 1], ['i/a2', 2]], relative: [['i/a0', 0, 0], ['i/a1', 0, 1], ['i/a2', 0, 2]], clocks: [0], moved: [false] });
    ste.end('i', 'a0');
    expect(taken(ste)).toEqual({ absolute: [['i/a0', null]], relative: [['i/a0', 0, null]], clocks: [0], moved: [false] });
    // a1 was at 1: the clock moves to 1, a1 and a2 keep their relative values (0 + 1, 1 + 1), a3 enters at 2 + 1.
    ste.begin('i', 'a1');
    expect(taken(ste)).toEqual({ absolute: [['i/a1', 0], ['i/a2', 1], ['i/a3', 2]], relative: [['i/a3', 0, 3]], clocks: [1], moved: [true] });
    ste.end('i', 'a1');
    expect(taken(ste)).toEqual({ absolute: [['i/a1', null]], relative: [['i/a1', 0, null]], clocks: [1], moved: [false] });
    ste.begin('i', 'a2');
    expect(taken(ste)).toEqual({ absolute: [['i/a2', 0], ['i/a3', 1], ['i/a4', 2]], relative: [['i/a4', 0, 4]], clocks: [2], moved: [true] });
    // a4 begins out of turn (a3 has not run): it was at 2, so the clock moves by 2 to 4. a4 keeps its relative 4
    // (0 + 4); a2 (still running) and a3 keep their absolute values, so their relative ones move.
    ste.begin('i', 'a4');
    expect(taken(ste)).toEqual({ absolute: [['i/a4', 0], ['i/a5', 1]], relative: [['i/a5', 0, 5], ['i/a2', 0, 4], ['i/a3', 0, 5]], clocks: [4], moved: [true] });
    ste.end('i', 'a2');
    expect(taken(ste)).toEqual({ absolute: [['i/a2', null]], relative: [['i/a2', 0, null]], clocks: [4], moved: [false] });
    expect([...ste.snapshot()]).toEqual([['i/a3', 1], ['i/a4', 0], ['i/a5', 1]]); // in the order the keys got a value
  });

  it('without a horizon a chain step changes every absolute value and no relative one', () => {
    const ste = new WorkflowSte(chain(), { shareAgents: false });
    ste.begin('i', 'a0');
    expect(taken(ste)).toMatchObject({ absolute: [['i/a0', 0], ['i/a1', 1], ['i/a2', 2], ['i/a3', 3], ['i/a4', 4], ['i/a5', 5]], clocks: [0], moved: [false] });
    ste.end('i', 'a0');
    expect(taken(ste)).toEqual({ absolute: [['i/a0', null]], relative: [['i/a0', 0, null]], clocks: [0], moved: [false] });
    ste.begin('i', 'a1');
    expect(taken(ste)).toEqual({ absolute: [['i/a1', 0], ['i/a2', 1], ['i/a3', 2], ['i/a4', 3], ['i/a5', 4]], relative: [], clocks: [1], moved: [true] });
    ste.end('i', 'a1');
    ste.begin('i', 'a2');
    expect(taken(ste)).toEqual({ absolute: [['i/a1', null], ['i/a2', 0], ['i/a3', 1], ['i/a4', 2], ['i/a5', 3]], relative: [['i/a1', 0, null]], clocks: [2], moved: [true] });
    ste.begin('i', 'a4');
    expect(taken(ste)).toEqual({ absolute: [['i/a4', 0], ['i/a5', 1]], relative: [['i/a2', 0, 4], ['i/a3', 0, 5]], clocks: [4], moved: [true] });
  });

  it('keeps the key of an agent the graph gained after the instance started, however far past its table', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    const ste = new WorkflowSte(graph, { shareAgents: false });
    ste.begin('i', 'a'); // the instance's key table is sized for 2 agents
    expect(taken(ste).absolute).toEqual([['i/a', 0], ['i/b', 1]]);
    for (const agent of ['p', 'q', 'r', 's']) graph.addAgent(agent); // ids 2-5, never reached
    graph.addEdge({ kind: 'chain', from: 'b', to: 'z' }); // id 6: the table grows to 7
    graph.addEdge({ kind: 'chain', from: 'z', to: 'w' }); // id 7, just past it
    ste.end('i', 'a');
    expect(taken(ste).absolute).toEqual([['i/a', null], ['i/z', 2], ['i/w', 3]]);
    expect(ste.tagKey('i', 'z')).toBe('i/z');
    expect([...ste.snapshot()]).toEqual([['i/b', 1], ['i/z', 2], ['i/w', 3]]);
    ste.finish('i');
    expect(taken(ste).absolute).toEqual([['i/b', null], ['i/z', null], ['i/w', null]]);
    expect([...ste.snapshot()]).toEqual([]);
  });

  it('looks up an undeclared agent after a declared one in a graph of revision 1', () => {
    for (const shareAgents of [false, true]) {
      const graph = new AgentStepGraph();
      graph.addAgent('x');
      expect(graph.revision).toBe(1);
      const ste = new WorkflowSte(graph, { shareAgents });
      ste.begin('i', 'x');
      ste.begin('i', 'stranger');
      ste.end('i', 'stranger');
      expect([...ste.snapshot()]).toEqual([[shareAgents ? 'x' : 'i/x', 0]]);
    }
  });
});

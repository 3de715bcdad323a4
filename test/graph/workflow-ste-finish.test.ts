/**
 * WorkflowSte.finish with private agents after the graph grew (src/graph/workflow-ste.ts): every key the
 * instance holds is forgotten, including a value the grown graph took away before the instance's next event
 * (reading the tracker's snapshot settles that change without reporting it, so a finish that walked only
 * the snapshot left such a key behind for good). Found by the session-14 mutation review of workflow-ste.ts.
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { WorkflowSte } from '../../src/graph/workflow-ste.js';
import { AbsolutePrivateSte } from '../helpers/absolute-ste.js';

/** a0 -> a1, start a0: with horizon 1, while a1 runs (STE 0) a0 is due next (STE 1: the start after a terminal). */
function twoAgents(): AgentStepGraph {
  const graph = new AgentStepGraph();
  graph.addEdge({ kind: 'chain', from: 'a0', to: 'a1' });
  graph.start = 'a0';
  return graph;
}

describe('WorkflowSte.finish after the graph grew', () => {
  for (const [name, make] of [
    ['clocked private source', (g: AgentStepGraph) => new WorkflowSte(g, { shareAgents: false, horizon: 1 })],
    ['absolute reference', (g: AgentStepGraph) => new AbsolutePrivateSte(g, { horizon: 1 })],
  ] as const) {
    it(`forgets a key the grown graph took away (${name})`, () => {
      const graph = twoAgents();
      const ste = make(graph);
      ste.begin('i', 'a1');
      expect(Object.fromEntries(ste.snapshot())).toEqual({ 'i/a1': 0, 'i/a0': 1 });
      ste.takeChanges();
      // a1 -> b0: after a1 comes b0, so a0 is two steps away, beyond the horizon of 1.
      graph.addEdge({ kind: 'chain', from: 'a1', to: 'b0' });
      ste.finish('i');
      expect([...ste.snapshot()]).toEqual([]);
      expect(Object.fromEntries(ste.takeChanges())).toEqual({ 'i/a1': undefined, 'i/a0': undefined });
      // The instance name starts over with nothing left from before.
      ste.begin('i', 'a0');
      expect([...ste.snapshot().keys()].every((key) => key.startsWith('i/'))).toBe(true);
      ste.finish('i');
      expect([...ste.snapshot()]).toEqual([]);
    });
  }

  it('forgets every key of an instance, and only its own, when the graph did not change', () => {
    const graph = twoAgents();
    const ste = new WorkflowSte(graph, { shareAgents: false, horizon: 1 });
    ste.begin('i', 'a1');
    ste.begin('j', 'a1');
    ste.finish('i');
    expect(Object.fromEntries(ste.snapshot())).toEqual({ 'j/a1': 0, 'j/a0': 1 });
    ste.finish('j');
    expect([...ste.snapshot()]).toEqual([]);
  });
});

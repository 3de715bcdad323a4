/**
 * StepTracker's own bookkeeping on hand-built graphs, with hand-computed results: which agents a search
 * reports as changed (only those whose value moved), the snapshot's agent-id order, the version count, a
 * read after the graph grew, and knownIds' one-instance rule.
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { StepTracker } from '../../src/graph/tracker.js';

describe('StepTracker, exact', () => {
  it('reports as changed only the agents whose value a search moved', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'x', to: 'y' });
    graph.addEdge({ kind: 'chain', from: 'p', to: 'q' });
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'x');
    expect(tracker.takeChangedAgents()).toEqual(['x', 'y']);
    // p begins with nothing leading to it: it just runs; x and y keep their values.
    tracker.begin('wf', 'p');
    expect(tracker.takeChangedAgents()).toEqual(['p', 'q']);
    expect(tracker.takeChangedAgents()).toEqual([]);
    tracker.end('wf', 'p');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ x: 0, y: 1, q: 1 });
  });

  it('lists the snapshot in agent id order, whatever order the agents got their values in', () => {
    // a0 -> a1 -> a2 -> a0: from a1 the values come in the order a1 a2 a0.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a0', to: 'a1' });
    graph.addEdge({ kind: 'chain', from: 'a1', to: 'a2' });
    graph.addEdge({ kind: 'chain', from: 'a2', to: 'a0' });
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'a1');
    expect([...tracker.knownIds()]).toEqual([1, 2, 0]);
    expect([...tracker.snapshot()]).toEqual([['a0', 2], ['a1', 0], ['a2', 1]]);
  });

  it('moves its version by one per event, and by one when the graph changed', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    const tracker = new StepTracker(graph);
    expect(tracker.version).toBe(0);
    tracker.begin('wf', 'a');
    expect(tracker.version).toBe(1);
    tracker.end('wf', 'a');
    expect(tracker.version).toBe(2);
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    expect(tracker.version).toBe(3);
    expect(tracker.version).toBe(3);
    tracker.finish('wf');
    expect(tracker.version).toBe(4);
  });

  it('reads the grown graph on the first read after it grew, and reports each changed agent of it once', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'a');
    expect(tracker.takeChangedAgents()).toEqual(['a', 'b']);
    // c (id 2) enters, beyond the agents the tracker was built for.
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    expect(tracker.steOf('c')).toBe(2);
    expect(tracker.takeChangedAgents()).toEqual(['c']);
    // c moves twice between two takes: listed once.
    tracker.end('wf', 'a');
    tracker.begin('wf', 'b');
    expect(tracker.steOf('c')).toBe(1);
    tracker.end('wf', 'b');
    tracker.begin('wf', 'c');
    expect(tracker.takeChangedAgents()).toEqual(['a', 'b', 'c']);
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ c: 0 });
  });

  it('gives the known order only for one instance', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    const tracker = new StepTracker(graph);
    tracker.begin('one', 'a');
    expect([...tracker.knownIds()]).toEqual([0, 1]);
    tracker.begin('two', 'b');
    expect(() => tracker.knownIds()).toThrow(new Error('knownIds is for a tracker of one instance'));
  });

  it("a join fires after its latest member, counting the loop rounds a member has left, whichever member launched first", () => {
    // m1 loops on itself twice before it goes on; m1 and m2 join into t.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'loop', from: 'm1', to: 'm1', count: 2 });
    graph.addEdge({ kind: 'join', from: ['m1', 'm2'], to: 't' });
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'm1');
    tracker.begin('wf', 'm2');
    // m1 launches first (at 0) but leaves its loop 2 x 1 steps later: t is 0 + 2 + 1.
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ m1: 0, m2: 0, t: 3 });
  });
});

/**
 * The bookkeeping of one instance's progress (InstanceProgress: running, ended and announced counts,
 * loop counts) on hand-built graphs. relax.test.ts holds the STE search to a naive one given the same
 * counts; these pin the counts themselves where traffic leaves the graph's expected order.
 */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { InstanceProgress } from '../../src/graph/progress.js';
import { compileTopology } from '../../src/graph/topology.js';
import { barrierGraph } from '../helpers/graphs.js';

/** The progress of one instance of `graph`, driven by agent name. */
function progressOf(graph: AgentStepGraph) {
  const topology = compileTopology(graph);
  const progress = new InstanceProgress(topology);
  const id = (agent: string) => graph.idOf(agent) as number;
  return {
    topology,
    progress,
    id,
    begin: (agent: string) => progress.begin(id(agent)),
    end: (agent: string) => progress.end(id(agent)),
    run: (...agents: string[]) => agents.forEach((agent) => (progress.begin(id(agent)), progress.end(id(agent)))),
    ended: (agent: string) => progress.ended[id(agent)],
  };
}

describe('InstanceProgress counts', () => {
  it('an end without a begin leaves no negative running count: a later begin runs the agent', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.start = 'a';
    const p = progressOf(graph);
    p.end('b');
    expect(p.progress.running[p.id('b')]).toBe(0);
    p.begin('b');
    expect(p.progress.running[p.id('b')]).toBe(1);
    expect(p.progress.steps()[p.id('b')]).toBe(0);
  });

  it('a join target beginning early takes only the members that arrived', () => {
    const p = progressOf(barrierGraph());
    p.run('planner', 'w1');
    p.begin('x1');
    expect([p.ended('w1'), p.ended('x2')]).toEqual([1, 0]);
    p.begin('reviewer');
    expect([p.ended('w1'), p.ended('x2')]).toEqual([0, 0]);
    p.end('x1');
    p.run('x2');
    // x2 arrives at a join whose target already ran: it waits (the target may run again).
    expect(p.ended('x2')).toBe(1);
  });

  it('a round starts only at the start agent; another agent beginning leaves the terminals waiting', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.start = 'a';
    graph.rounds = 3;
    const p = progressOf(graph);
    p.run('a', 'b');
    expect(p.ended('b')).toBe(1);
    p.begin('b');
    expect(p.ended('b')).toBe(1);
    p.end('b');
    expect(p.ended('b')).toBe(2);
    p.begin('a');
    // Both waiting runs of the terminal continue into the new round.
    expect(p.ended('b')).toBe(1);
    expect(p.progress.roundsLeft).toBe(true);
  });

  it('a begin continues one way only: a step predecessor that ended is taken, the waiting terminals are not', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'x', to: 't' });
    graph.addEdge({ kind: 'chain', from: 'p', to: 'x' });
    graph.start = 'x';
    const p = progressOf(graph);
    p.run('x', 't', 'p');
    expect([p.ended('t'), p.ended('p')]).toEqual([1, 1]);
    p.begin('x');
    expect([p.ended('t'), p.ended('p')]).toEqual([1, 0]);
  });

  it("leaving a loop by a new round restarts that loop's count, whichever loop it is", () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.addEdge({ kind: 'loop', from: 'b', to: 'a', count: 2 });
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    graph.addEdge({ kind: 'chain', from: 'c', to: 'd' });
    graph.addEdge({ kind: 'loop', from: 'd', to: 'c', count: 2 });
    graph.start = 'a';
    const p = progressOf(graph);
    const secondLoop = p.topology.loopOf[p.id('d')]!;
    expect(secondLoop).toBe(1);
    p.run('a', 'b', 'c', 'd', 'c', 'd');
    expect(p.progress.loopTaken[secondLoop]).toBe(1);
    p.begin('a');
    expect(p.progress.loopTaken[secondLoop]).toBe(0);
    expect(p.ended('d')).toBe(0);
  });

  it('adopting a grown graph grows every count table, old counts kept', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.start = 'a';
    const p = progressOf(graph);
    p.begin('a');
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    graph.addEdge({ kind: 'loop', from: 'c', to: 'b', count: 1 });
    const grown = compileTopology(graph);
    p.progress.adopt(grown);
    for (const counts of [p.progress.running, p.progress.ended, p.progress.announced]) expect(counts.length).toBe(grown.size);
    expect(p.progress.loopTaken.length).toBe(grown.loops.length);
    expect(p.progress.running[p.id('a')]).toBe(1);
    p.progress.end(p.id('a'));
    p.progress.begin(p.id('b'));
    p.progress.end(p.id('b'));
    p.progress.begin(p.id('c'));
    expect(p.progress.running[p.id('c')]).toBe(1);
    expect(p.progress.steps()[p.id('c')]).toBe(0);
  });

  it('a begin continued by a loop edge does not also take the waiting terminals into a new round', () => {
    // s -> t (t terminal), start s, 3 rounds; p loops back to s.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 's', to: 't' });
    graph.addEdge({ kind: 'loop', from: 'p', to: 's', probability: 0.5 });
    graph.start = 's';
    graph.rounds = 3;
    const p = progressOf(graph);
    p.run('s', 't', 'p');
    expect([p.ended('t'), p.ended('p')]).toEqual([1, 1]);
    p.begin('s');
    // The loop edge from p continues s: t still waits, and no round started (two are left).
    expect([p.ended('t'), p.ended('p')]).toEqual([1, 0]);
    expect(p.progress.loopTaken[0]).toBe(1);
    // Now the round: t's waiting run continues into round 2.
    p.end('s');
    p.begin('s');
    expect([p.ended('t'), p.ended('s')]).toEqual([0, 1]);
  });

  it('a begin continued by a join does not also take the waiting terminals into a new round', () => {
    // a and b join into s; s -> t (t terminal), start s, 2 rounds.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'join', from: ['a', 'b'], to: 's' });
    graph.addEdge({ kind: 'chain', from: 's', to: 't' });
    graph.start = 's';
    graph.rounds = 2;
    const p = progressOf(graph);
    p.run('s', 't', 'a', 'b');
    expect([p.ended('t'), p.ended('a'), p.ended('b')]).toEqual([1, 1, 1]);
    p.begin('s');
    // The join continues s: t still waits, and the second round has not started.
    expect([p.ended('t'), p.ended('a'), p.ended('b')]).toEqual([1, 0, 0]);
    expect(p.progress.roundsLeft).toBe(true);
  });
});

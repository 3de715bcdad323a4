/** AgentStepGraph as a structure (loop bounds, one continuation per agent, revisions), SteChangeFeed, RelaxScratch's size limit. */
import { describe, expect, it } from 'vitest';
import { AgentStepGraph } from '../../src/graph/graph.js';
import { AGENT_SLOTS, RelaxScratch } from '../../src/graph/relax-scratch.js';
import { diffSnapshots, SteChangeFeed } from '../../src/graph/ste-feed.js';
import { compileTopology, topologyOf } from '../../src/graph/topology.js';
import { StepTracker } from '../../src/graph/tracker.js';
import type { SteSource } from '../../src/types.js';

const loopError = (from: string, to: string) => `loop ${from} -> ${to} needs exactly one of count (integer >= 1) or probability (in (0, 1))`;

describe('AgentStepGraph', () => {
  it('takes a loop with a whole count >= 1 or a probability strictly between 0 and 1, and only one of them', () => {
    const graph = new AgentStepGraph();
    for (const [i, bound] of [{ count: 1 }, { count: 7 }, { probability: 0.5 }, { probability: 1e-9 }, { probability: 0.999 }].entries()) {
      graph.addEdge({ kind: 'loop', from: `a${i}`, to: `b${i}`, ...bound });
    }
    expect(graph.edges).toHaveLength(5);
    const bad = [{}, { count: 0 }, { count: 1.5 }, { count: -1 }, { count: 2, probability: 0.5 }, { probability: 0 }, { probability: 1 }, { probability: -0.5 }, { probability: 2 }];
    for (const bound of bad) {
      expect(() => graph.addEdge({ kind: 'loop', from: 'x', to: 'y', ...bound })).toThrow(new Error(loopError('x', 'y')));
    }
    expect(graph.edges).toHaveLength(5);
    expect(graph.idOf('x')).toBeUndefined();
  });

  it('gives an agent one non-loop outgoing edge and one loop edge, not two of either', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.addEdge({ kind: 'loop', from: 'a', to: 'a', count: 2 }); // a loop beside the chain: fine
    expect(() => graph.addEdge({ kind: 'loop', from: 'a', to: 'b', count: 3 })).toThrow('agent "a" already has a loop edge');
    expect(() => graph.addEdge({ kind: 'chain', from: 'a', to: 'c' })).toThrow('agent "a" already has a non-loop outgoing edge');
    expect(() => graph.addEdge({ kind: 'join', from: ['b', 'a'], to: 'c' })).toThrow('agent "a" already has a non-loop outgoing edge');
    graph.addEdge({ kind: 'loop', from: 'b', to: 'a', probability: 0.5 }); // b's loop: b has no loop yet
    expect(graph.agents).toEqual(['a', 'b']);
    expect(graph.edges).toHaveLength(3);
  });

  it('counts a revision for every change, none for a known agent, and declares the start agent', () => {
    const graph = new AgentStepGraph();
    expect(graph.revision).toBe(0);
    expect(graph.addAgent('a')).toBe(0);
    expect(graph.revision).toBe(1);
    expect(graph.addAgent('a')).toBe(0);
    expect(graph.revision).toBe(1);
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' }); // declares b, then the edge
    expect(graph.revision).toBe(3);
    graph.start = 'c';
    expect(graph.agents).toEqual(['a', 'b', 'c']);
    expect(graph.start).toBe('c');
    expect(graph.revision).toBe(5);
    graph.start = undefined;
    expect(graph.start).toBeUndefined();
    expect(graph.agents).toEqual(['a', 'b', 'c']);
    expect(graph.revision).toBe(6);
    expect(graph.rounds).toBe(Infinity);
    graph.rounds = 1;
    expect(graph.rounds).toBe(1);
    expect(graph.revision).toBe(7);
  });

  it('refuses fewer than one round', () => {
    const graph = new AgentStepGraph();
    expect(() => (graph.rounds = 0)).toThrow(new RangeError('rounds must be >= 1, got 0'));
    expect(() => (graph.rounds = NaN)).toThrow('rounds must be >= 1, got NaN');
    expect(graph.rounds).toBe(Infinity);
    expect(graph.revision).toBe(0);
  });
});

/** A source whose snapshot and version the test sets. */
function source(version: number, snapshot: Map<string, number>, takeChanges?: () => Map<string, number | undefined>): SteSource & { version: number; table: Map<string, number> } {
  const s = {
    version,
    table: snapshot,
    begin() {},
    end() {},
    finish() {},
    snapshot: () => s.table,
    ...(takeChanges && { takeChanges }),
  };
  return s;
}

describe('SteChangeFeed', () => {
  it('diffs snapshots: new and changed keys, then removed ones as undefined, nothing while the version stands', () => {
    const s = source(1, new Map([['a', 1], ['b', 2]]));
    const feed = new SteChangeFeed(s);
    expect(feed.take()).toEqual(new Map([['a', 1], ['b', 2]]));
    expect(feed.take()).toBeUndefined();
    s.table = new Map([['a', 3], ['c', 0]]);
    expect(feed.take()).toBeUndefined(); // same version: not looked at
    s.version = 2;
    expect(feed.take()).toEqual(new Map<string, number | undefined>([['a', 3], ['c', 0], ['b', undefined]]));
  });

  it("uses the source's own change list when it keeps one", () => {
    const own = new Map<string, number | undefined>([['x', undefined]]);
    const feed = new SteChangeFeed(source(0, new Map([['a', 1]]), () => own));
    expect(feed.take()).toBe(own);
  });

  it('diffSnapshots reports a key with an unchanged value not at all', () => {
    expect(diffSnapshots(new Map([['a', 1], ['b', 2]]), new Map([['a', 1], ['b', 2]]))).toEqual(new Map());
    expect(diffSnapshots(new Map([['a', 1]]), new Map())).toEqual(new Map([['a', undefined]]));
  });
});

describe('RelaxScratch', () => {
  it('takes up to 2^21 agents and refuses more', () => {
    expect(new RelaxScratch(AGENT_SLOTS, 1).launched).toHaveLength(AGENT_SLOTS);
    expect(() => new RelaxScratch(AGENT_SLOTS + 1, 0)).toThrow(new RangeError(`a step graph has at most ${AGENT_SLOTS} agents, got ${AGENT_SLOTS + 1}`));
  });
});

describe('compileTopology', () => {
  it('compiles a graph once per revision', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    const first = topologyOf(graph);
    expect(topologyOf(graph)).toBe(first);
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    const second = topologyOf(graph);
    expect(second).not.toBe(first);
    expect(second.size).toBe(3);
    expect(topologyOf(graph)).toBe(second);
  });

  it('has no start without a start agent: a terminal that ends leads nowhere, even with rounds left', () => {
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 'a', to: 'b' });
    graph.addEdge({ kind: 'chain', from: 'b', to: 'c' });
    expect(graph.rounds).toBe(Infinity);
    expect(compileTopology(graph).start).toBe(-1);
    const tracker = new StepTracker(graph);
    tracker.begin('wf', 'c');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({ c: 0 });
    tracker.end('wf', 'c');
    expect(Object.fromEntries(tracker.snapshot())).toEqual({});
    graph.start = 'b';
    expect(compileTopology(graph).start).toBe(1);
  });

  it("measures a loop's length with the count loops inside it exhausted", () => {
    // a -> b -> c -> d; c loops back to b twice (inner), d back to a once (outer).
    const graph = new AgentStepGraph();
    for (const [from, to] of [['a', 'b'], ['b', 'c'], ['c', 'd']] as const) graph.addEdge({ kind: 'chain', from, to });
    graph.addEdge({ kind: 'loop', from: 'c', to: 'b', count: 2 });
    graph.addEdge({ kind: 'loop', from: 'd', to: 'a', count: 1 });
    // The inner body b c is 2 steps; the outer a b c d is 4 (the inner loop adds no repeats), not 2 + 2 x 2 + 1 + 1.
    expect(compileTopology(graph).loops.map(({ from, to, count, length }) => ({ from, to, count, length }))).toEqual([
      { from: 2, to: 1, count: 2, length: 2 },
      { from: 3, to: 0, count: 1, length: 4 },
    ]);
  });

  it("measures a loop's length without a round repeat", () => {
    // The loop x -> y: y branches to p1 and t; p1 -> p2 -> p3 -> x; t is terminal, and s (the start) -> x. Through
    // p1..p3 x is 4 steps from y, so the body is 5; through the next round (t, s) it would be 3 + 1.
    const graph = new AgentStepGraph();
    graph.addEdge({ kind: 'chain', from: 's', to: 'x' });
    graph.addEdge({ kind: 'loop', from: 'x', to: 'y', probability: 0.5 });
    graph.addEdge({ kind: 'branch', from: 'y', to: { p1: 0.5, t: 0.5 } });
    for (const [from, to] of [['p1', 'p2'], ['p2', 'p3'], ['p3', 'x']] as const) graph.addEdge({ kind: 'chain', from, to });
    graph.start = 's';
    graph.rounds = 3;
    expect(compileTopology(graph).loops.map((loop) => loop.length)).toEqual([5]);
  });
});

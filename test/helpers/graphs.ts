import fc from 'fast-check';
import { AgentStepGraph } from '../../src/graph/graph.js';
import type { EdgeSpec } from '../../src/workload/spec.js';

/**
 * The barrier graph several graph tests walk by hand: planner fans out to w1 and x1; x1 -> x2; reviewer
 * waits for w1 and x2 (a join). One round.
 */
export function barrierGraph(): AgentStepGraph {
  const graph = new AgentStepGraph();
  graph.addEdge({ kind: 'fanout', from: 'planner', to: ['w1', 'x1'] });
  graph.addEdge({ kind: 'chain', from: 'x1', to: 'x2' });
  graph.addEdge({ kind: 'join', from: ['w1', 'x2'], to: 'reviewer' });
  graph.start = 'planner';
  graph.rounds = 1;
  return graph;
}

/** Agents a0..a(n-1), each with at most one continuation (chain, branch, fanout or join) and one loop. */
export const graphArbitrary = fc.integer({ min: 1, max: 9 }).chain((size) =>
  fc.record({
    size: fc.constant(size),
    exits: fc.array(
      fc.record({
        kind: fc.constantFrom('none', 'chain', 'branch', 'fanout', 'join'),
        targets: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      }),
      { minLength: size, maxLength: size },
    ),
    loops: fc.array(fc.option(fc.record({ to: fc.nat(), count: fc.option(fc.integer({ min: 1, max: 3 })) })), { minLength: size, maxLength: size }),
    start: fc.nat(),
    rounds: fc.option(fc.integer({ min: 1, max: 3 })),
    events: fc.array(fc.record({ begin: fc.boolean(), agent: fc.nat() }), { maxLength: 40 }),
    horizon: fc.integer({ min: 0, max: 6 }),
  }),
);

export function buildGraph(w: GraphCase): AgentStepGraph {
  const graph = new AgentStepGraph();
  const name = (i: number) => `a${i % w.size}`;
  for (let i = 0; i < w.size; i++) graph.addAgent(name(i));
  const tryAdd = (edge: EdgeSpec) => {
    try {
      graph.addEdge(edge);
    } catch {
      // an agent that already continues (a join member): the generated edge is dropped
    }
  };
  w.exits.forEach((exit, i) => {
    const targets = [...new Set(exit.targets.map(name))];
    if (exit.kind === 'chain') tryAdd({ kind: 'chain', from: name(i), to: targets[0]! });
    if (exit.kind === 'branch') tryAdd({ kind: 'branch', from: name(i), to: Object.fromEntries(targets.map((t) => [t, 1 / targets.length])) });
    if (exit.kind === 'fanout') tryAdd({ kind: 'fanout', from: name(i), to: targets });
    if (exit.kind === 'join') {
      const members = [...new Set([name(i), ...exit.targets.slice(1).map(name)])];
      tryAdd({ kind: 'join', from: members, to: name(exit.targets[0]!) });
    }
  });
  w.loops.forEach((loop, i) => {
    if (loop === null) return;
    tryAdd({ kind: 'loop', from: name(i), to: name(loop.to), ...(loop.count === null ? { probability: 0.5 } : { count: loop.count }) });
  });
  graph.start = name(w.start);
  if (w.rounds !== null) graph.rounds = w.rounds;
  return graph;
}

export interface GraphCase {
  size: number;
  exits: { kind: string; targets: number[] }[];
  loops: ({ to: number; count: number | null } | null)[];
  start: number;
  rounds: number | null;
  events: { begin: boolean; agent: number }[];
  horizon: number;
}

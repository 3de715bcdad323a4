/**
 * Seeded chain-shaped step graphs for the exact tests of the private-agent STE source and the tracker
 * (test/graph/workflow-ste-keys, test/graph/tracker-counts): a small seeded generator, a chain with a branch,
 * a loop or rounds, and an agent's successors as the tracker walks them.
 */
import { AgentStepGraph } from '../../src/graph/graph.js';

/** mulberry32: a small seeded generator, so a program is the same on every run. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** a0 -> a1 -> ... -> a(n-1), start a0, with a branch (shape 1), a loop (2) or rounds (3). */
export function chain(n: number, shape = 0): AgentStepGraph {
  const graph = new AgentStepGraph();
  for (let i = 0; i + 1 < n; i++) {
    if (shape === 1 && i === 1 && n > 3) graph.addEdge({ kind: 'branch', from: 'a1', to: { a2: 0.5, [`a${n - 1}`]: 0.5 } });
    else graph.addEdge({ kind: 'chain', from: `a${i}`, to: `a${i + 1}` });
  }
  if (shape === 2 && n > 3) graph.addEdge({ kind: 'loop', from: 'a2', to: 'a0', count: 2 });
  if (shape === 3) graph.rounds = 3;
  graph.start = 'a0';
  return graph;
}

/** The successors of `agent` in `graph` (the start after a terminal). */
export function successors(graph: AgentStepGraph, agent: string): string[] {
  const next: string[] = [];
  for (const edge of graph.edges) {
    if (edge.from !== agent) continue;
    if (edge.kind === 'branch') next.push(...Object.keys(edge.to));
    else if (edge.kind === 'loop' || edge.kind === 'chain') next.push(edge.to);
  }
  return next.length > 0 ? next : graph.start === undefined ? [] : [graph.start];
}

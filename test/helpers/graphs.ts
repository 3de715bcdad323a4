import { AgentStepGraph } from '../../src/graph/graph.js';

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

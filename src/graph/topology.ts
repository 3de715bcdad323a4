/**
 * An `AgentStepGraph` compiled to integer-indexed arrays, the form the STE relaxation and the progress
 * bookkeeping read on every update. Rebuilt only when the graph's revision changes.
 */
import type { AgentStepGraph } from './graph.js';
import { relaxSteps } from './relax.js';
import type { LoopInfo, JoinInfo, Topology } from './topology-types.js';

export type { LoopInfo, JoinInfo, Topology } from './topology-types.js';

export function compileTopology(graph: AgentStepGraph): Topology {
  const size = graph.agents.length;
  const id = (agent: string) => graph.idOf(agent) as number;
  const perAgent = <T>(make: () => T) => Array.from({ length: size }, make);
  const topology: Topology = {
    size,
    start: graph.start === undefined ? -1 : id(graph.start),
    rounds: graph.rounds,
    exitTargets: perAgent((): number[] => []),
    fansOut: perAgent(() => false),
    joinOf: new Int32Array(size).fill(-1),
    loopOf: new Int32Array(size).fill(-1),
    joins: [],
    loops: [],
    terminals: [],
    stepPredecessors: perAgent((): number[] => []),
    loopsInto: perAgent((): number[] => []),
    joinsInto: perAgent((): number[] => []),
    sweepOrder: new Int32Array(0),
  };
  for (const edge of graph.edges) {
    switch (edge.kind) {
      case 'loop': {
        const from = id(edge.from);
        const to = id(edge.to);
        topology.loopOf[from] = topology.loops.length;
        topology.loopsInto[to]?.push(topology.loops.length);
        topology.loops.push({ from, to, count: edge.count ?? 0, length: 1 });
        break;
      }
      case 'join': {
        const members = edge.from.map(id);
        const target = id(edge.to);
        for (const member of members) topology.joinOf[member] = topology.joins.length;
        topology.joinsInto[target]?.push(topology.joins.length);
        topology.joins.push({ members, target });
        break;
      }
      default: {
        const from = id(edge.from);
        const targets = (edge.kind === 'branch' ? Object.keys(edge.to) : edge.kind === 'fanout' ? edge.to : [edge.to]).map(id);
        topology.exitTargets[from] = targets;
        topology.fansOut[from] = edge.kind === 'fanout';
        for (const target of targets) topology.stepPredecessors[target]?.push(from);
      }
    }
  }
  for (let agent = 0; agent < size; agent++) {
    if (topology.exitTargets[agent]?.length === 0 && topology.joinOf[agent] === -1) topology.terminals.push(agent);
  }
  topology.sweepOrder = breadthFirstOrder(topology);
  for (const loop of topology.loops) loop.length = loopLength(topology, loop);
  return topology;
}

function breadthFirstOrder(topology: Topology): Int32Array {
  const successors = (agent: number): number[] => {
    const join = topology.joins[topology.joinOf[agent] ?? -1];
    const loop = topology.loops[topology.loopOf[agent] ?? -1];
    return [...(topology.exitTargets[agent] ?? []), ...(join ? [join.target] : []), ...(loop ? [loop.to] : [])];
  };
  const seen = new Uint8Array(topology.size);
  const order: number[] = [];
  const visitFrom = (root: number) => {
    if (seen[root]) return;
    seen[root] = 1;
    order.push(root);
    for (let next = order.length - 1; next < order.length; next++) {
      for (const successor of successors(order[next] as number)) {
        if (!seen[successor]) {
          seen[successor] = 1;
          order.push(successor);
        }
      }
    }
  };
  if (topology.start >= 0) visitFrom(topology.start);
  for (let agent = 0; agent < topology.size; agent++) visitFrom(agent);
  return Int32Array.from(order);
}

/**
 * One pass of the loop body measured by the STE rules themselves: the loop target running, every
 * count loop exhausted (nested loops add no repeats), no round repeat. A body that never leads back
 * counts as a single step.
 */
function loopLength(topology: Topology, loop: LoopInfo): number {
  const running = new Int32Array(topology.size);
  running[loop.to] = 1;
  const progress = {
    running,
    ended: new Int32Array(topology.size),
    announced: new Int32Array(topology.size),
    loopTaken: Int32Array.from(topology.loops, (each) => each.count),
    roundsLeft: false,
  };
  const distance = new Float64Array(topology.size);
  relaxSteps(topology, progress, distance);
  const toSource = distance[loop.from] ?? Infinity;
  return Number.isFinite(toSource) ? toSource + 1 : 1;
}

/**
 * An `AgentStepGraph` compiled to integer-indexed arrays, the form the STE relaxation and the progress
 * bookkeeping read on every update. Rebuilt only when the graph's revision changes.
 */
import type { AgentStepGraph } from './graph.js';
import { RelaxScratch } from './relax-scratch.js';
import { relaxSteps, type ProgressView } from './relax.js';
import type { LoopInfo, JoinInfo, Topology } from './topology-types.js';

export type { LoopInfo, JoinInfo, Topology } from './topology-types.js';

/** One compiled topology per graph and revision: every instance's tracker of a graph shares it (it is read-only but for its scratch). */
const compiled = new WeakMap<AgentStepGraph, { revision: number; topology: Topology }>();

/** The graph's topology as of its current revision, compiled once per revision. */
export function topologyOf(graph: AgentStepGraph): Topology {
  const cached = compiled.get(graph);
  if (cached?.revision === graph.revision) return cached.topology;
  const topology = compileTopology(graph);
  compiled.set(graph, { revision: graph.revision, topology });
  return topology;
}

export function compileTopology(graph: AgentStepGraph): Topology {
  const size = graph.agents.length;
  const id = (agent: string) => graph.idOf(agent) as number;
  // Most agents have no loop or join into them: they share one empty list until they get an entry.
  const none: number[] = [];
  const lists = (): number[][] => new Array<number[]>(size).fill(none);
  const push = (table: number[][], agent: number, value: number) => {
    if (table[agent] === none) table[agent] = [value];
    else table[agent]!.push(value);
  };
  const topology: Topology = {
    size,
    start: graph.start === undefined ? -1 : id(graph.start),
    rounds: graph.rounds,
    exitTargets: lists(),
    onlyExit: new Int32Array(size).fill(-1),
    fansOut: new Array<boolean>(size).fill(false),
    joinOf: new Int32Array(size).fill(-1),
    loopOf: new Int32Array(size).fill(-1),
    joins: [],
    loops: [],
    terminals: [],
    stepPredecessors: lists(),
    onlyStepPredecessor: new Int32Array(size).fill(-1),
    loopsInto: lists(),
    joinsInto: lists(),
    scratch: undefined as unknown as RelaxScratch,
  };
  for (const edge of graph.edges) {
    switch (edge.kind) {
      case 'loop': {
        const from = id(edge.from);
        const to = id(edge.to);
        topology.loopOf[from] = topology.loops.length;
        push(topology.loopsInto, to, topology.loops.length);
        topology.loops.push({ from, to, count: edge.count ?? 0, length: 1 });
        break;
      }
      case 'join': {
        const members = edge.from.map(id);
        const target = id(edge.to);
        for (const member of members) topology.joinOf[member] = topology.joins.length;
        push(topology.joinsInto, target, topology.joins.length);
        topology.joins.push({ members, target });
        break;
      }
      default: {
        const from = id(edge.from);
        const targets = (edge.kind === 'branch' ? Object.keys(edge.to) : edge.kind === 'fanout' ? edge.to : [edge.to]).map(id);
        topology.exitTargets[from] = targets;
        topology.fansOut[from] = edge.kind === 'fanout';
        for (const target of targets) push(topology.stepPredecessors, target, from);
      }
    }
  }
  for (let agent = 0; agent < size; agent++) {
    if (topology.exitTargets[agent]?.length === 0 && topology.joinOf[agent] === -1) topology.terminals.push(agent);
    if (topology.exitTargets[agent]!.length === 1) topology.onlyExit[agent] = topology.exitTargets[agent]![0]!;
    if (topology.stepPredecessors[agent]!.length === 1) topology.onlyStepPredecessor[agent] = topology.stepPredecessors[agent]![0]!;
  }
  topology.scratch = new RelaxScratch(size, topology.joins.length);
  // Every count loop exhausted (nested loops add no repeats), no round repeat; one loop target runs at a time.
  const progress = {
    running: new Int32Array(size),
    ended: new Int32Array(size),
    announced: new Int32Array(size),
    loopTaken: Int32Array.from(topology.loops, (each) => each.count),
    roundsLeft: false,
    active: [] as number[],
  };
  const distance = new Float64Array(size).fill(Infinity);
  for (const loop of topology.loops) loop.length = loopLength(topology, loop, progress, distance);
  return topology;
}

/**
 * One pass of the loop body measured by the STE rules themselves: the loop target running, every
 * count loop exhausted (nested loops add no repeats), no round repeat. A body that never leads back
 * counts as a single step.
 */
function loopLength(topology: Topology, loop: LoopInfo, progress: ProgressView, distance: Float64Array): number {
  progress.running[loop.to] = 1;
  progress.active = [loop.to];
  const reached = relaxSteps(topology, progress, distance);
  const toSource = distance[loop.from] ?? Infinity;
  for (const agent of reached) distance[agent] = Infinity;
  progress.running[loop.to] = 0;
  return Number.isFinite(toSource) ? toSource + 1 : 1;
}

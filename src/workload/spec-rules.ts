/**
 * Control-flow rules of a workflow spec that its JSON shape cannot express: edges name declared agents,
 * each agent continues in one way (plus at most one loop), a join target is entered only through its
 * barrier, every agent is reachable from `start`, and every run of the workflow can end.
 */
import type { EdgeSpec, WorkflowSpec } from './spec-types.js';

/** A problem at a path inside the spec document. */
export interface SpecProblem {
  path: string;
  problem: string;
}

/**
 * The first control-flow problem of a spec whose shape is already valid, or undefined. Linear in agents
 * plus edge ends: names become integer ids once (declaration order), and every rule after the first runs
 * on typed arrays over those ids.
 */
export function findControlFlowProblem(spec: WorkflowSpec): SpecProblem | undefined {
  const graph = indexEdges(spec);
  if ('problem' in graph) return graph;
  return findRepeatedAgent(spec, graph) ?? findSecondOutEdge(spec, graph) ?? findJoinBypass(spec, graph) ?? findUnreachableOrEndless(spec, graph);
}

/** The agents an edge leaves from (several for a join). */
export function edgeSources(edge: EdgeSpec): string[] {
  return edge.kind === 'join' ? edge.from : [edge.from];
}

/** The agents an edge may lead to. */
export function edgeTargets(edge: EdgeSpec): string[] {
  if (edge.kind === 'branch') return Object.keys(edge.to);
  return edge.kind === 'fanout' ? edge.to : [edge.to];
}

/**
 * Edges over integer agent ids: edge `e` leaves from `sources[sourceStart[e] .. sourceStart[e + 1])` and
 * may lead to `targets[targetStart[e] .. targetStart[e + 1])`, in the order the spec lists them.
 */
interface IndexedEdges {
  names: string[];
  start: number;
  sourceStart: Int32Array;
  sources: Int32Array;
  targetStart: Int32Array;
  targets: Int32Array;
}

/** Ids for the agents and the edges over them; the first edge end naming an undeclared agent is the problem. */
function indexEdges(spec: WorkflowSpec): IndexedEdges | SpecProblem {
  const names = Object.keys(spec.agents);
  const ids = new Map<string, number>();
  for (let i = 0; i < names.length; i++) ids.set(names[i]!, i);
  const start = ids.get(spec.start);
  if (start === undefined) return { path: 'start', problem: `unknown agent "${spec.start}"` };
  const edges = spec.edges;
  const sourceStart = new Int32Array(edges.length + 1);
  const targetStart = new Int32Array(edges.length + 1);
  const sources: number[] = [];
  const targets: number[] = [];
  // The first end naming no agent; ends are read without building per-edge lists (this runs once per edge).
  let unknown: SpecProblem | undefined;
  const add = (list: number[], name: string, index: number, end: 'from' | 'to') => {
    const id = ids.get(name);
    if (id === undefined) unknown = { path: `edges.${index}.${end}`, problem: `unknown agent "${name}"` };
    else list.push(id);
    return id !== undefined;
  };
  for (let index = 0; index < edges.length; index++) {
    const edge = edges[index]!;
    if (edge.kind === 'join') {
      for (const name of edge.from) if (!add(sources, name, index, 'from')) return unknown!;
    } else if (!add(sources, edge.from, index, 'from')) return unknown!;
    if (edge.kind === 'branch') {
      for (const name in edge.to) if (!add(targets, name, index, 'to')) return unknown!;
    } else if (edge.kind === 'fanout') {
      for (const name of edge.to) if (!add(targets, name, index, 'to')) return unknown!;
    } else if (!add(targets, edge.to, index, 'to')) return unknown!;
    sourceStart[index + 1] = sources.length;
    targetStart[index + 1] = targets.length;
  }
  return { names, start, sourceStart, sources: Int32Array.from(sources), targetStart, targets: Int32Array.from(targets) };
}

/** A fan-out or join listing one agent twice. */
function findRepeatedAgent(spec: WorkflowSpec, graph: IndexedEdges): SpecProblem | undefined {
  const listedIn = new Int32Array(graph.names.length).fill(-1);
  for (let index = 0; index < spec.edges.length; index++) {
    const kind = spec.edges[index]!.kind;
    if (kind !== 'fanout' && kind !== 'join') continue;
    const [ids, from, to, end] = kind === 'fanout' ? [graph.targets, graph.targetStart[index]!, graph.targetStart[index + 1]!, 'to'] : [graph.sources, graph.sourceStart[index]!, graph.sourceStart[index + 1]!, 'from'];
    for (let k = from; k < to; k++) {
      const id = ids[k]!;
      if (listedIn[id] === index) return { path: `edges.${index}.${end}`, problem: `"${graph.names[id]}" is listed twice` };
      listedIn[id] = index;
    }
  }
  return undefined;
}

/** The one non-loop edge each agent continues through (-1: none), filled by findSecondOutEdge. */
const exitEdges = new WeakMap<IndexedEdges, Int32Array>();

function findSecondOutEdge(spec: WorkflowSpec, graph: IndexedEdges): SpecProblem | undefined {
  const exitEdgeOf = new Int32Array(graph.names.length).fill(-1);
  const loopEdgeOf = new Int32Array(graph.names.length).fill(-1);
  for (let index = 0; index < spec.edges.length; index++) {
    const loop = spec.edges[index]!.kind === 'loop';
    const seen = loop ? loopEdgeOf : exitEdgeOf;
    for (let k = graph.sourceStart[index]!; k < graph.sourceStart[index + 1]!; k++) {
      const agent = graph.sources[k]!;
      const earlier = seen[agent]!;
      if (earlier === -1) {
        seen[agent] = index;
      } else if (loop) {
        return { path: `edges.${index}`, problem: `"${graph.names[agent]}" already has a loop edge (edges.${earlier}); an agent has at most one` };
      } else {
        return {
          path: `edges.${index}`,
          problem: `"${graph.names[agent]}" already continues through edges.${earlier}; an agent has at most one non-loop outgoing edge (use a branch or fanout edge for several targets)`,
        };
      }
    }
  }
  exitEdges.set(graph, exitEdgeOf);
  return undefined;
}

function findJoinBypass(spec: WorkflowSpec, graph: IndexedEdges): SpecProblem | undefined {
  const joinInto = new Int32Array(graph.names.length).fill(-1);
  for (let index = 0; index < spec.edges.length; index++) {
    const target = graph.targets[graph.targetStart[index]!]!;
    if (spec.edges[index]!.kind === 'join' && joinInto[target] === -1) joinInto[target] = index;
  }
  for (let index = 0; index < spec.edges.length; index++) {
    for (let k = graph.targetStart[index]!; k < graph.targetStart[index + 1]!; k++) {
      const target = graph.targets[k]!;
      const join = joinInto[target]!;
      if (join !== -1 && join !== index) {
        return { path: `edges.${index}.to`, problem: `"${graph.names[target]}" is the target of the join edges.${join} and can only be entered through it` };
      }
    }
  }
  return undefined;
}

/**
 * Every agent must be reachable from `start` (over every edge), and every run must be able to end. An
 * agent can end the workflow if it has no non-loop outgoing edge, or its edge leads to agents that can
 * (any branch target, every fan-out target). Loop edges never prevent an end: they are bounded by a
 * count or a probability below 1. Agents outside this least fixed point cycle forever.
 */
function findUnreachableOrEndless(spec: WorkflowSpec, graph: IndexedEdges): SpecProblem | undefined {
  const agents = graph.names.length;
  const order = reachableInOrder(spec, graph);
  const reached = new Uint8Array(agents);
  for (const agent of order) reached[agent] = 1;
  const unreached = reached.indexOf(0);
  if (unreached !== -1) return { path: `agents.${graph.names[unreached]}`, problem: `not reachable from start "${spec.start}"` };

  // Backwards from the agents with no exit edge, in linear time: an agent can end once one target of its
  // exit edge can (all of them for a fan-out, whose branches all run).
  const exitEdgeOf = exitEdges.get(graph)!;
  const needed = new Int32Array(agents);
  const dependentCount = new Int32Array(agents + 1);
  for (let agent = 0; agent < agents; agent++) {
    const edge = exitEdgeOf[agent]!;
    if (edge === -1) continue;
    needed[agent] = spec.edges[edge]!.kind === 'fanout' ? graph.targetStart[edge + 1]! - graph.targetStart[edge]! : 1;
    for (let k = graph.targetStart[edge]!; k < graph.targetStart[edge + 1]!; k++) dependentCount[graph.targets[k]! + 1]!++;
  }
  for (let agent = 0; agent < agents; agent++) dependentCount[agent + 1]! += dependentCount[agent]!;
  const dependents = new Int32Array(dependentCount[agents]!);
  const fill = dependentCount.slice(0, agents);
  for (let agent = 0; agent < agents; agent++) {
    const edge = exitEdgeOf[agent]!;
    if (edge !== -1) for (let k = graph.targetStart[edge]!; k < graph.targetStart[edge + 1]!; k++) dependents[fill[graph.targets[k]!]!++] = agent;
  }
  const canEnd = new Uint8Array(agents);
  const queue = new Int32Array(agents);
  let queued = 0;
  for (let agent = 0; agent < agents; agent++) {
    if (exitEdgeOf[agent] === -1) {
      canEnd[agent] = 1;
      queue[queued++] = agent;
    }
  }
  for (let next = 0; next < queued; next++) {
    const target = queue[next]!;
    for (let k = dependentCount[target]!; k < dependentCount[target + 1]!; k++) {
      const agent = dependents[k]!;
      if (canEnd[agent] || --needed[agent]! > 0) continue;
      canEnd[agent] = 1;
      queue[queued++] = agent;
    }
  }
  const endless = order.find((agent) => !canEnd[agent]);
  if (endless === undefined) return undefined;
  return {
    path: `edges.${exitEdgeOf[endless]}`,
    problem: `the workflow can never end after "${graph.names[endless]}": it cycles without reaching an agent that has no chain, branch, fanout or join edge (bound the cycle with a loop edge)`,
  };
}

/** Agents reachable from `start` over every edge, in breadth-first order (successors in the order the edges list them). */
function reachableInOrder(spec: WorkflowSpec, graph: IndexedEdges): Int32Array {
  const agents = graph.names.length;
  // Successor lists in one array: the targets of every edge leaving each agent, edge by edge.
  const successorStart = new Int32Array(agents + 1);
  for (let index = 0; index < spec.edges.length; index++) {
    const width = graph.targetStart[index + 1]! - graph.targetStart[index]!;
    for (let k = graph.sourceStart[index]!; k < graph.sourceStart[index + 1]!; k++) successorStart[graph.sources[k]! + 1]! += width;
  }
  for (let agent = 0; agent < agents; agent++) successorStart[agent + 1]! += successorStart[agent]!;
  const successors = new Int32Array(successorStart[agents]!);
  const fill = successorStart.slice(0, agents);
  for (let index = 0; index < spec.edges.length; index++) {
    for (let k = graph.sourceStart[index]!; k < graph.sourceStart[index + 1]!; k++) {
      const source = graph.sources[k]!;
      for (let t = graph.targetStart[index]!; t < graph.targetStart[index + 1]!; t++) successors[fill[source]!++] = graph.targets[t]!;
    }
  }
  const order = new Int32Array(agents);
  const seen = new Uint8Array(agents);
  order[0] = graph.start;
  seen[graph.start] = 1;
  let length = 1;
  for (let next = 0; next < length; next++) {
    const agent = order[next]!;
    for (let k = successorStart[agent]!; k < successorStart[agent + 1]!; k++) {
      const successor = successors[k]!;
      if (!seen[successor]) {
        seen[successor] = 1;
        order[length++] = successor;
      }
    }
  }
  return order.subarray(0, length);
}

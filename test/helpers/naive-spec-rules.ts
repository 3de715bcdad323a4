/**
 * The control-flow rules of workflow specs as kvflow checked them before src/workload/spec-rules.ts
 * moved to integer ids and typed arrays (string Maps and Sets, about 1 s for a 100,000-agent chain). Kept
 * as the reference the new rules must agree with, problem for problem.
 */
import type { EdgeSpec, WorkflowSpec } from '../../src/workload/spec-types.js';

/** A problem at a path inside the spec document. */
interface SpecProblem {
  path: string;
  problem: string;
}

/** The first control-flow problem of a spec whose shape is already valid, or undefined. */
export function naiveControlFlowProblem(spec: WorkflowSpec): SpecProblem | undefined {
  return (
    findUnknownAgent(spec) ??
    findRepeatedAgent(spec) ??
    findSecondOutEdge(spec) ??
    findJoinBypass(spec) ??
    findUnreachableAgent(spec) ??
    findEndlessAgent(spec)
  );
}

/** The agents an edge leaves from (several for a join). */
function edgeSources(edge: EdgeSpec): string[] {
  return edge.kind === 'join' ? edge.from : [edge.from];
}

/** The agents an edge may lead to. */
function edgeTargets(edge: EdgeSpec): string[] {
  if (edge.kind === 'branch') return Object.keys(edge.to);
  return edge.kind === 'fanout' ? edge.to : [edge.to];
}

function findUnknownAgent(spec: WorkflowSpec): SpecProblem | undefined {
  const unknown = (name: string) => !Object.hasOwn(spec.agents, name);
  if (unknown(spec.start)) return { path: 'start', problem: `unknown agent "${spec.start}"` };
  for (const [index, edge] of spec.edges.entries()) {
    for (const [end, names] of [['from', edgeSources(edge)], ['to', edgeTargets(edge)]] as const) {
      const name = names.find(unknown);
      if (name !== undefined) return { path: `edges.${index}.${end}`, problem: `unknown agent "${name}"` };
    }
  }
  return undefined;
}

function findRepeatedAgent(spec: WorkflowSpec): SpecProblem | undefined {
  for (const [index, edge] of spec.edges.entries()) {
    const list = edge.kind === 'fanout' ? { end: 'to', names: edge.to } : edge.kind === 'join' ? { end: 'from', names: edge.from } : undefined;
    const seen = new Set<string>();
    const repeated = list?.names.find((name) => seen.size === seen.add(name).size);
    if (list !== undefined && repeated !== undefined) {
      return { path: `edges.${index}.${list.end}`, problem: `"${repeated}" is listed twice` };
    }
  }
  return undefined;
}

function findSecondOutEdge(spec: WorkflowSpec): SpecProblem | undefined {
  const exitEdgeOf = new Map<string, number>();
  const loopEdgeOf = new Map<string, number>();
  for (const [index, edge] of spec.edges.entries()) {
    const seen = edge.kind === 'loop' ? loopEdgeOf : exitEdgeOf;
    for (const agent of edgeSources(edge)) {
      const earlier = seen.get(agent);
      if (earlier === undefined) {
        seen.set(agent, index);
      } else if (edge.kind === 'loop') {
        return { path: `edges.${index}`, problem: `"${agent}" already has a loop edge (edges.${earlier}); an agent has at most one` };
      } else {
        return {
          path: `edges.${index}`,
          problem: `"${agent}" already continues through edges.${earlier}; an agent has at most one non-loop outgoing edge (use a branch or fanout edge for several targets)`,
        };
      }
    }
  }
  return undefined;
}

function findJoinBypass(spec: WorkflowSpec): SpecProblem | undefined {
  const joinInto = new Map<string, number>();
  for (const [index, edge] of spec.edges.entries()) {
    if (edge.kind === 'join' && !joinInto.has(edge.to)) joinInto.set(edge.to, index);
  }
  for (const [index, edge] of spec.edges.entries()) {
    for (const target of edgeTargets(edge)) {
      const join = joinInto.get(target);
      if (join !== undefined && join !== index) {
        return { path: `edges.${index}.to`, problem: `"${target}" is the target of the join edges.${join} and can only be entered through it` };
      }
    }
  }
  return undefined;
}

function findUnreachableAgent(spec: WorkflowSpec): SpecProblem | undefined {
  const reached = new Set(reachableInOrder(spec));
  const unreached = Object.keys(spec.agents).find((agent) => !reached.has(agent));
  return unreached === undefined ? undefined : { path: `agents.${unreached}`, problem: `not reachable from start "${spec.start}"` };
}

/**
 * An agent can end the workflow if it has no non-loop outgoing edge, or its edge leads to agents that
 * can (any branch target, every fan-out target). Loop edges never prevent an end: they are bounded by a
 * count or a probability below 1. Agents outside this least fixed point cycle forever.
 */
function findEndlessAgent(spec: WorkflowSpec): SpecProblem | undefined {
  const exitOf = new Map<string, { edge: EdgeSpec; index: number }>();
  for (const [index, edge] of spec.edges.entries()) {
    if (edge.kind !== 'loop') for (const agent of edgeSources(edge)) exitOf.set(agent, { edge, index });
  }
  // Backwards from the agents with no exit edge, in linear time: an agent can end once one target of its
  // exit edge can (all of them for a fan-out, whose branches all run).
  const needed = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const [agent, { edge }] of exitOf) {
    const targets = edgeTargets(edge);
    needed.set(agent, edge.kind === 'fanout' ? targets.length : 1);
    for (const target of targets) {
      const list = dependents.get(target);
      if (list) list.push(agent);
      else dependents.set(target, [agent]);
    }
  }
  const canEnd = new Set(Object.keys(spec.agents).filter((agent) => !exitOf.has(agent)));
  const queue = [...canEnd];
  for (let next = 0; next < queue.length; next++) {
    for (const agent of dependents.get(queue[next]!) ?? []) {
      if (canEnd.has(agent)) continue;
      const left = needed.get(agent)! - 1;
      needed.set(agent, left);
      if (left === 0) {
        canEnd.add(agent);
        queue.push(agent);
      }
    }
  }
  const endless = reachableInOrder(spec).find((agent) => !canEnd.has(agent));
  const exit = endless === undefined ? undefined : exitOf.get(endless);
  if (exit === undefined) return undefined;
  return {
    path: `edges.${exit.index}`,
    problem: `the workflow can never end after "${endless}": it cycles without reaching an agent that has no chain, branch, fanout or join edge (bound the cycle with a loop edge)`,
  };
}

/** Two rules read the same walk: it is made once per spec. */
const reachableCache = new WeakMap<WorkflowSpec, string[]>();

/** Agents reachable from `start` over every edge, in breadth-first order. */
function reachableInOrder(spec: WorkflowSpec): string[] {
  let order = reachableCache.get(spec);
  if (!order) reachableCache.set(spec, (order = walkFromStart(spec)));
  return order;
}

function walkFromStart(spec: WorkflowSpec): string[] {
  const successors = new Map<string, string[]>();
  for (const edge of spec.edges) {
    for (const agent of edgeSources(edge)) {
      const list = successors.get(agent);
      if (list) list.push(...edgeTargets(edge));
      else successors.set(agent, [...edgeTargets(edge)]);
    }
  }
  const order = [spec.start];
  const seen = new Set(order);
  for (let next = 0; next < order.length; next++) {
    for (const successor of successors.get(order[next] as string) ?? []) {
      if (!seen.has(successor)) {
        seen.add(successor);
        order.push(successor);
      }
    }
  }
  return order;
}

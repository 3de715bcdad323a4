/**
 * What a registered workflow's graph says about an agent's step beyond its STE, for the `agent_hints` the
 * gateway sends SGLang: the agents that follow it, how many steps an instance runs in all (when the graph
 * fixes it), and how far away the agent's own next step is once this one ends.
 */
import { AgentStepGraph } from '../../graph/graph.js';
import { StepTracker } from '../../graph/tracker.js';
import { edgeSources, edgeTargets } from '../../workload/spec-rules.js';
import type { WorkflowSpec } from '../../workload/spec.js';

export class StepOutlook {
  readonly #spec: WorkflowSpec;
  readonly #graph: AgentStepGraph;
  readonly #children = new Map<string, string[]>();
  readonly #returnSteps = new Map<string, number>();
  /** Steps per instance when neither branches nor loops make it vary; undefined otherwise. */
  readonly totalSteps: number | undefined;

  constructor(spec: WorkflowSpec) {
    this.#spec = spec;
    this.#graph = AgentStepGraph.fromSpec(spec);
    for (const edge of spec.edges) {
      for (const from of edgeSources(edge)) {
        const list = this.#children.get(from) ?? [];
        for (const to of edgeTargets(edge)) if (!list.includes(to)) list.push(to);
        this.#children.set(from, list);
      }
    }
    const fixed = spec.edges.every((edge) => edge.kind !== 'branch' && edge.kind !== 'loop') && Number.isFinite(spec.rounds);
    this.totalSteps = fixed ? Object.keys(spec.agents).length * spec.rounds : undefined;
  }

  /** The agents the graph may run right after `agent` (a terminal agent leads back to the start). */
  children(agent: string): string[] {
    const next = this.#children.get(agent);
    if (next && next.length > 0) return next;
    return this.#spec.rounds > 1 ? [this.#spec.start] : [];
  }

  /**
   * Steps until `agent` runs again in the same instance after a step of it ends (Infinity: never), as a
   * fresh instance would see it. Cached per agent.
   */
  returnSteps(agent: string): number {
    let steps = this.#returnSteps.get(agent);
    if (steps === undefined) {
      // No horizon: the distance back to the agent is wanted however long the loop.
      const tracker = new StepTracker(this.#graph, { horizon: Infinity });
      if (this.#graph.idOf(agent) === undefined) steps = Infinity;
      else {
        tracker.begin('outlook', agent);
        tracker.end('outlook', agent);
        steps = tracker.steOf(agent) ?? Infinity;
      }
      this.#returnSteps.set(agent, steps);
    }
    return steps;
  }
}

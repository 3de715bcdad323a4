import type { SteSource } from '../types.js';
import type { AgentStepGraph } from './graph.js';
import { StepTracker } from './tracker.js';

/**
 * Steps-to-execution for the cache, from a declared workflow graph. When agents are shared between
 * workflow instances, a page tagged with an agent takes the minimum STE over the live instances. When
 * each instance has private agents (its own prompts), pages are tagged `instance/agent` and carry that
 * instance's own STE. Agents the graph does not declare have no STE.
 */
export class WorkflowSte implements SteSource {
  readonly #graph: AgentStepGraph;
  readonly #shared: StepTracker | undefined;
  readonly #perInstance = new Map<string, StepTracker>();
  #version = 0;

  constructor(graph: AgentStepGraph, options: { shareAgents: boolean }) {
    this.#graph = graph;
    this.#shared = options.shareAgents ? new StepTracker(graph) : undefined;
  }

  get version(): number {
    return this.#version;
  }

  /** The key pages of this agent's fixed prompt are tagged with. */
  tagKey(instance: string, agent: string): string {
    return this.#shared ? agent : `${instance}/${agent}`;
  }

  begin(instance: string, agent: string): void {
    if (this.#graph.idOf(agent) === undefined) return;
    this.#trackerOf(instance).begin(instance, agent);
    this.#version++;
  }

  end(instance: string, agent: string): void {
    if (this.#graph.idOf(agent) === undefined) return;
    this.#trackerOf(instance).end(instance, agent);
    this.#version++;
  }

  finish(instance: string): void {
    if (this.#shared) this.#shared.finish(instance);
    else this.#perInstance.delete(instance);
    this.#version++;
  }

  snapshot(): ReadonlyMap<string, number> {
    if (this.#shared) return this.#shared.snapshot();
    const values = new Map<string, number>();
    for (const [instance, tracker] of this.#perInstance) {
      for (const [agent, ste] of tracker.snapshot()) values.set(`${instance}/${agent}`, ste);
    }
    return values;
  }

  #trackerOf(instance: string): StepTracker {
    if (this.#shared) return this.#shared;
    let tracker = this.#perInstance.get(instance);
    if (!tracker) {
      tracker = new StepTracker(this.#graph);
      this.#perInstance.set(instance, tracker);
    }
    return tracker;
  }
}

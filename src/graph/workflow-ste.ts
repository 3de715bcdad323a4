import type { SteSource } from '../types.js';
import type { AgentStepGraph } from './graph.js';
import { SteTable } from './ste-table.js';
import { StepTracker, type StepTrackerOptions } from './tracker.js';

/**
 * Steps-to-execution for the cache, from a declared workflow graph. When agents are shared between
 * workflow instances, a page tagged with an agent takes the minimum STE over the live instances. When
 * each instance has private agents (its own prompts), pages are tagged `instance/agent` and carry that
 * instance's own STE. Agents the graph does not declare have no STE.
 *
 * Values are kept up to date incrementally (only the instance that moved is searched, within the
 * tracker's horizon), and the keys whose value changed are handed out by `takeChanges`, so a simulator
 * with many live instances or a long workflow pays for what changed, not for every agent on every event.
 */
export class WorkflowSte implements SteSource {
  readonly #graph: AgentStepGraph;
  readonly #shared: StepTracker | undefined;
  readonly #perInstance = new Map<string, StepTracker>();
  readonly #table = new SteTable();
  readonly #options: StepTrackerOptions;

  /** `horizon`: see `StepTrackerOptions` (default Infinity: exact STE). */
  constructor(graph: AgentStepGraph, options: { shareAgents: boolean } & StepTrackerOptions) {
    this.#graph = graph;
    this.#options = options.horizon === undefined ? {} : { horizon: options.horizon };
    this.#shared = options.shareAgents ? new StepTracker(graph, this.#options) : undefined;
  }

  get version(): number {
    return this.#table.version;
  }

  /** The key pages of this agent's fixed prompt are tagged with. */
  tagKey(instance: string, agent: string): string {
    return this.#shared ? agent : `${instance}/${agent}`;
  }

  begin(instance: string, agent: string): void {
    if (this.#graph.idOf(agent) === undefined) return;
    this.#trackerOf(instance).begin(instance, agent);
    this.#refresh(instance);
  }

  end(instance: string, agent: string): void {
    if (this.#graph.idOf(agent) === undefined) return;
    this.#trackerOf(instance).end(instance, agent);
    this.#refresh(instance);
  }

  finish(instance: string): void {
    if (this.#shared) {
      this.#shared.finish(instance);
      this.#refresh(instance);
    } else {
      const tracker = this.#perInstance.get(instance);
      if (!tracker) return;
      this.#perInstance.delete(instance);
      for (const agent of tracker.snapshot().keys()) this.#table.set(`${instance}/${agent}`, undefined);
    }
  }

  snapshot(): ReadonlyMap<string, number> {
    return this.#table.values;
  }

  takeChanges(): ReadonlyMap<string, number | undefined> {
    return this.#table.takeChanges();
  }

  /** Re-reads the values an event in `instance` changed. */
  #refresh(instance: string): void {
    const tracker = this.#shared ?? this.#perInstance.get(instance);
    if (!tracker) return;
    for (const agent of tracker.takeChangedAgents()) this.#table.set(this.tagKey(instance, agent), tracker.steOf(agent));
  }

  #trackerOf(instance: string): StepTracker {
    if (this.#shared) return this.#shared;
    let tracker = this.#perInstance.get(instance);
    if (!tracker) {
      tracker = new StepTracker(this.#graph, this.#options);
      this.#perInstance.set(instance, tracker);
    }
    return tracker;
  }
}

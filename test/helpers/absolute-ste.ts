import type { AgentStepGraph } from '../../src/graph/graph.js';
import { SteTable } from '../../src/graph/ste-table.js';
import { StepTracker, type StepTrackerOptions } from '../../src/graph/tracker.js';
import type { SteSource } from '../../src/types.js';

/**
 * WorkflowSte with private agents as it was before values were kept relative to per-instance clocks:
 * one tracker per instance, every changed absolute value through an `SteTable`. The differential tests
 * (test/graph/ste-clock.test.ts) hold the clocked source to its changes, snapshots and versions.
 */
export class AbsolutePrivateSte implements SteSource {
  readonly #graph: AgentStepGraph;
  readonly #options: StepTrackerOptions;
  readonly #trackers = new Map<string, StepTracker>();
  readonly #table = new SteTable();
  /** Per instance, every agent it ever gave a value (so `finish` can forget them all). */
  readonly #keys = new Map<string, Set<string>>();

  constructor(graph: AgentStepGraph, options: StepTrackerOptions = {}) {
    this.#graph = graph;
    this.#options = options;
  }

  get version(): number {
    return this.#table.version;
  }

  tagKey(instance: string, agent: string): string {
    return `${instance}/${agent}`;
  }

  begin(instance: string, agent: string): void {
    this.#event(instance, agent, 'begin');
  }

  end(instance: string, agent: string): void {
    this.#event(instance, agent, 'end');
  }

  finish(instance: string): void {
    const tracker = this.#trackers.get(instance);
    if (!tracker) return;
    this.#trackers.delete(instance);
    const keys = this.#keys.get(instance)!;
    this.#keys.delete(instance);
    for (const agent of tracker.snapshot().keys()) {
      this.#table.set(`${instance}/${agent}`, undefined);
      keys.delete(agent);
    }
    // Values a grown graph took away, which the snapshot settled without reporting.
    for (const agent of keys) if (this.#table.values.has(`${instance}/${agent}`)) this.#table.set(`${instance}/${agent}`, undefined);
  }

  snapshot(): ReadonlyMap<string, number> {
    return this.#table.values;
  }

  takeChanges(): ReadonlyMap<string, number | undefined> {
    return this.#table.takeChanges();
  }

  #event(instance: string, agent: string, kind: 'begin' | 'end'): void {
    if (this.#graph.idOf(agent) === undefined) return;
    let tracker = this.#trackers.get(instance);
    if (!tracker) this.#trackers.set(instance, (tracker = new StepTracker(this.#graph, this.#options)));
    tracker[kind](instance, agent);
    let keys = this.#keys.get(instance);
    if (!keys) this.#keys.set(instance, (keys = new Set()));
    for (const changed of tracker.takeChangedAgents()) {
      this.#table.set(`${instance}/${changed}`, tracker.steOf(changed));
      keys.add(changed);
    }
  }
}

import type { SteSource } from '../types.js';
import type { AgentStepGraph } from './graph.js';
import { SteTable } from './ste-table.js';
import { topologyOf, type Topology } from './topology.js';
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
  readonly #perInstance = new Map<string, PrivateInstance>();
  readonly #table = new SteTable();
  readonly #options: StepTrackerOptions;
  /** The agent of the last event (-1: none yet), where the next lookup starts (see `#idOf`). */
  #lastId = -1;
  #topology: Topology | undefined;
  #topologyRevision = -1;

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
    if (this.#shared) return agent;
    // The key string the instance's tables already hold while the agent has a value (a request's agent has
    // just begun): the caches' maps then find it by its stored hash instead of a new string's.
    const id = this.#idOf(agent);
    const key = id === undefined ? undefined : this.#perInstance.get(instance)?.keys[id];
    return key ?? `${instance}/${agent}`;
  }

  begin(instance: string, agent: string): void {
    const id = this.#idOf(agent);
    if (id === undefined) return;
    const own = this.#privateOf(instance);
    (own?.tracker ?? this.#shared!).beginById(instance, id);
    this.#refresh(instance, own);
  }

  end(instance: string, agent: string): void {
    const id = this.#idOf(agent);
    if (id === undefined) return;
    const own = this.#privateOf(instance);
    (own?.tracker ?? this.#shared!).endById(instance, id);
    this.#refresh(instance, own);
  }

  finish(instance: string): void {
    if (this.#shared) {
      this.#shared.finish(instance);
      this.#refresh(instance, undefined);
    } else {
      const own = this.#perInstance.get(instance);
      if (!own) return;
      this.#perInstance.delete(instance);
      for (const agent of own.tracker.snapshot().keys()) this.#table.set(`${instance}/${agent}`, undefined);
    }
  }

  snapshot(): ReadonlyMap<string, number> {
    return this.#table.values;
  }

  takeChanges(): ReadonlyMap<string, number | undefined> {
    return this.#table.takeChanges();
  }

  /** Re-reads the values an event in `instance` changed (`own`: the instance's private tracker, if it has one). */
  #refresh(instance: string, own: PrivateInstance | undefined): void {
    const names = this.#graph.agents;
    if (this.#shared) {
      for (const id of this.#shared.takeChangedIds()) this.#table.set(names[id]!, this.#shared.steOfId(id));
      return;
    }
    if (!own) return;
    const { tracker, keys } = own;
    for (const id of tracker.takeChangedIds()) {
      const value = tracker.steOfId(id);
      // The same key string while the agent has a value: no string built, and its hash computed once, per change.
      const key = keys[id] ?? `${instance}/${names[id]!}`;
      keys[id] = value === undefined ? undefined : key;
      this.#table.set(key, value);
    }
  }

  /**
   * The agent's id in the graph. A request's end follows its begin, and a begin mostly follows the end of a
   * predecessor, so the last event's agent and its successors are tried first (compared by name, so a
   * guess is never wrong): the graph's map of a long workflow is large, and a lookup in it misses the CPU's
   * caches on every event, which made a 100,000-agent chain's events cost more than a 10-agent one's.
   */
  #idOf(agent: string): number | undefined {
    const last = this.#lastId;
    if (last >= 0) {
      const names = this.#graph.agents;
      if (names[last] === agent) return last;
      if (this.#topologyRevision !== this.#graph.revision) {
        this.#topology = topologyOf(this.#graph);
        this.#topologyRevision = this.#graph.revision;
      }
      const topology = this.#topology!;
      const next = last < topology.size ? topology.exitTargets[last]! : [];
      for (let i = 0; i < next.length && i < 4; i++) {
        if (names[next[i]!] === agent) return (this.#lastId = next[i]!);
      }
      if (topology.start >= 0 && names[topology.start] === agent) return (this.#lastId = topology.start);
    }
    const id = this.#graph.idOf(agent);
    if (id !== undefined) this.#lastId = id;
    return id;
  }

  /** The instance's private state, created on its first event (undefined when agents are shared). */
  #privateOf(instance: string): PrivateInstance | undefined {
    if (this.#shared) return undefined;
    let own = this.#perInstance.get(instance);
    if (!own) {
      own = { tracker: new StepTracker(this.#graph, this.#options), keys: new Array<string | undefined>(this.#graph.agents.length) };
      this.#perInstance.set(instance, own);
    }
    return own;
  }
}

/** An instance with private agents: its own tracker, and the keys (`instance/agent`) of its agents that have a value. */
interface PrivateInstance {
  tracker: StepTracker;
  keys: (string | undefined)[];
}

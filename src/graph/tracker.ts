/**
 * Steps-to-execution over live workflow instances: callers report agents beginning and ending per
 * instance, and ask how many steps away each agent is (0 = running, 1 = next, ...). An agent's STE is
 * the minimum over live instances, since its fixed prompt is needed as soon as any of them reaches it.
 *
 * Work per event is bounded by what the event can change: only the instance that moved is searched
 * again, and only within `horizon` steps of where it is (relax.ts); the minimum over instances is kept
 * per agent as a count of each value, so an instance's change costs the agents whose value it changed.
 * `takeChangedAgents` hands those agents out, so callers need not re-read every agent either.
 */
import type { AgentStepGraph } from './graph.js';
import { AgentList } from './agent-list.js';
import { InstanceProgress } from './progress.js';
import { topologyOf, type Topology } from './topology.js';

/**
 * A bound a server may put on the STE search: agents further than this many steps from where an instance
 * is then get no STE from it (unknown future: evicted before any agent with a value), so an event in a
 * long workflow costs what one in a short workflow does. The gateway uses it; replay and the simulator
 * keep the exact values the semantics define (no horizon), so comparisons do not depend on it.
 */
export const STE_HORIZON = 16;

export interface StepTrackerOptions {
  /** Default Infinity: every reachable agent gets its exact value. `STE_HORIZON` bounds the work per event. */
  horizon?: number;
  /**
   * Default true: an end that changes only the ended agent's value (progress.ts `end`) updates that value
   * without a search. False: every event searches again (the reference tests hold the in-place ends to).
   */
  inPlaceEnds?: boolean;
}

interface TrackedInstance {
  progress: InstanceProgress;
  /** Per agent, the value this instance contributes to the minimum as of the last settle (Infinity: none). */
  given: Float64Array;
  /**
   * The agents with a finite `given`, in the order they got their current value: changes are handed out
   * in this order. Typed arrays rather than a Map: in a long chain every step gives values to agents never
   * seen before, and a Map's churn (a deleted and a new key per step) cost more than the search itself.
   */
  order: AgentList;
  /** The one agent an end changed in place since the last settle (-1: none; see `endById`). */
  pending: number;
  /** Listed in the tracker's `stale` (events not yet searched). */
  isStale: boolean;
  /** The one event since the last settle was a begin that shifted a walk (progress.ts `begin`; see `settleShift`). */
  shiftOnly: boolean;
}

export class StepTracker {
  private topology: Topology;
  private compiledRevision: number;
  private readonly horizon: number;
  private readonly inPlaceEnds: boolean;
  private readonly instances = new Map<string, TrackedInstance>();
  /**
   * Instances with events not yet searched, in the order they first moved (the first `staleCount`
   * items; each flags itself `isStale`): a Set's clear reallocated its table after every event.
   */
  private readonly stale: (TrackedInstance | undefined)[] = [];
  private staleCount = 0;
  private changes = 0;
  /** `shiftedBegins` of finished instances. */
  private shiftedFinished = 0;
  /** Per agent, the minimum over instances (Infinity: none), and how many instances give each value. */
  private minimum: Float64Array;
  private readonly counts = new Map<number, Map<number, number>>();
  /**
   * Whether `counts` is kept. A tracker that has only ever seen one instance (every tracker of a workflow
   * with private agents) has its minimum in that instance's values, so it keeps no counts until a
   * second instance comes.
   */
  private counted = false;
  /**
   * Agents whose minimum changed since the last `takeChangedAgents`, in the order they first changed, with
   * a flag per agent (a Set's clear reallocates its table, and this is taken after every event).
   */
  private changed: number[] = [];
  private changedFlag: Uint8Array;
  /**
   * A tracker of one instance stores `given` and `minimum` plus this offset: a walk's shift, which moves
   * every value one step nearer, is one increment (`settleShift`), not a change per agent. 0 once counted.
   */
  private offset = 0;
  /**
   * The agents a shift moved, not yet in `changed`: the first `shiftedCount` of `shiftedOrder`, which
   * come before every agent in `changed` (see `takeShifted`; any other change lists them first).
   */
  private shiftedCount = 0;
  private shiftedOrder: AgentList | undefined;

  constructor(
    private readonly graph: AgentStepGraph,
    options: StepTrackerOptions = {},
  ) {
    this.horizon = options.horizon ?? Infinity;
    this.inPlaceEnds = options.inPlaceEnds ?? true;
    this.topology = topologyOf(graph);
    this.compiledRevision = graph.revision;
    this.minimum = new Float64Array(this.topology.size).fill(Infinity);
    this.changedFlag = new Uint8Array(this.topology.size);
  }

  /** Increases whenever any STE may have changed (an event, or the graph itself changed). */
  get version(): number {
    this.followGraph();
    return this.changes;
  }

  /** Agents the last search of an instance examined: the work an event costs, for tests and benchmarks. */
  get lastSearchVisits(): number {
    return this.topology.scratch.visits;
  }

  /** Begins applied as a chain step of a walk, without a search (progress.ts `begin`): a work count for tests and benchmarks. */
  get shiftedBegins(): number {
    let shifted = this.shiftedFinished;
    for (const tracked of this.instances.values()) shifted += tracked.progress.shifted;
    return shifted;
  }

  /** `agent` starts running in `instance` (creating the instance on its first event). */
  begin(instance: string, agent: string): void {
    this.beginById(instance, this.agentId(agent));
  }

  /** `agent` finished running in `instance`. */
  end(instance: string, agent: string): void {
    this.endById(instance, this.agentId(agent));
  }

  /** `begin` with the agent's id in the graph (`graph.idOf`), for callers that already looked it up. */
  beginById(instance: string, id: number): void {
    const tracked = this.trackedOf(instance);
    const settled = !tracked.isStale && !this.counted;
    const shifts = tracked.progress.shifted;
    tracked.progress.begin(id);
    // The settle compares every known agent (a begin may shift the values without a search: progress.ts),
    // unless the begin shifted values that were settled: then it moves them all at once (`settleShift`).
    tracked.pending = -1;
    tracked.shiftOnly = settled && tracked.progress.shifted === shifts + 1;
    this.markStale(tracked);
    this.changes++;
  }

  /** `end` with the agent's id in the graph. */
  endById(instance: string, id: number): void {
    const tracked = this.trackedOf(instance);
    // No event since the instance's last search: an end that changes only its own agent needs none.
    const searched = !tracked.isStale;
    tracked.shiftOnly = false;
    if (tracked.progress.end(id)) {
      if (searched && this.inPlaceEnds) tracked.pending = id;
      else tracked.progress.invalidate();
    }
    this.markStale(tracked);
    this.changes++;
  }

  /** `instance` is done: it no longer contributes to any STE. */
  finish(instance: string): void {
    const tracked = this.instances.get(instance);
    if (!tracked) return;
    this.instances.delete(instance);
    this.listShifted();
    this.shiftedFinished += tracked.progress.shifted;
    if (tracked.isStale) {
      tracked.isStale = false;
      this.stale.splice(this.stale.indexOf(tracked), 1);
      this.staleCount--;
    }
    for (const agent of tracked.order) this.remove(agent, tracked.given[agent]!);
    this.changes++;
  }

  /** The agent's STE, or undefined when no live instance is known to reach it. */
  steOf(agent: string): number | undefined {
    const id = this.graph.idOf(agent);
    return id === undefined ? undefined : this.steOfId(id);
  }

  /** `steOf` by the agent's id in the graph. */
  steOfId(id: number): number | undefined {
    // Read once per changed agent after `takeChangedIds` settled: skip the call when nothing is pending.
    if (this.staleCount > 0 || this.compiledRevision !== this.graph.revision) this.settle();
    const steps = this.minimum[id] ?? Infinity;
    return Number.isFinite(steps) ? steps - this.offset : undefined;
  }

  /** Every agent with a known STE, in agent id order. */
  snapshot(): Map<string, number> {
    this.settle();
    const known = this.counted ? this.counts.keys() : (this.instances.values().next().value?.order ?? []);
    const ids = [...known].sort((a, b) => a - b);
    return new Map(ids.map((id) => [this.graph.agents[id]!, this.minimum[id]! - this.offset]));
  }

  /**
   * The agents with a known STE in a tracker that has seen one instance (every private tracker of
   * WorkflowSte), in the order they got their value: the tracker's own list, read before the next event.
   */
  knownIds(): AgentList {
    this.settle();
    if (this.instances.size > 1) throw new Error('knownIds is for a tracker of one instance');
    return this.instances.values().next().value?.order ?? new AgentList();
  }

  /** Agents (by name) whose STE changed since the last call. */
  takeChangedAgents(): string[] {
    return this.takeChangedIds().map((id) => this.graph.agents[id]!);
  }

  /** `takeChangedAgents` by id in the graph, in the same order. */
  takeChangedIds(): number[] {
    this.settle();
    this.listShifted();
    const ids = this.changed;
    this.changed = [];
    for (const id of ids) this.changedFlag[id] = 0;
    return ids;
  }

  /**
   * For a caller that reads a shift as one move (WorkflowSte): how many agents the last settle shifted
   * one step nearer without listing them, or 0. They are the first that many of `knownIds()` (until the
   * next event), and come before the agents `takeChangedIds` then lists.
   */
  takeShifted(): number {
    this.settle();
    const count = this.shiftedCount;
    this.shiftedCount = 0;
    this.shiftedOrder = undefined;
    return count;
  }

  /** Puts the agents of an untaken shift at the head of `changed`, where they changed. */
  private listShifted(): void {
    const count = this.shiftedCount;
    if (count === 0) return;
    const items = this.shiftedOrder!.items;
    this.shiftedCount = 0;
    this.shiftedOrder = undefined;
    const later = this.changed;
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      this.changedFlag[items[i]!] = 1;
      ids.push(items[i]!);
    }
    for (const id of later) ids.push(id);
    this.changed = ids;
  }

  /** Searches the instances that moved and folds their new values into the minimum. */
  private settle(): void {
    this.followGraph();
    if (this.staleCount > 0) this.listShifted();
    for (let s = 0; s < this.staleCount; s++) {
      const tracked = this.stale[s]!;
      this.stale[s] = undefined; // a finished instance is not held here
      tracked.isStale = false;
      // Settled in the same order as searched instances, so the minimum over instances moves as it would.
      const pending = tracked.pending;
      tracked.pending = -1;
      if (pending >= 0 && tracked.progress.searched) {
        this.topology.scratch.visits = 0; // this instance's values changed without a search
        this.settleAgent(tracked, pending);
        continue;
      }
      const shiftOnly = tracked.shiftOnly;
      tracked.shiftOnly = false;
      if (shiftOnly && this.settleShift(tracked)) continue;
      const distance = tracked.progress.steps();
      const { given, order } = tracked;
      const offset = this.offset;
      // Agents whose value stayed keep their place; the others leave, and come back at the end if reached.
      const kept = order.items;
      let keptCount = 0;
      for (let i = 0; i < order.length; i++) {
        const agent = kept[i]!;
        const value = given[agent]!;
        if (distance[agent]! + offset === value) {
          kept[keptCount++] = agent;
          continue;
        }
        this.remove(agent, value);
        given[agent] = Infinity;
      }
      order.length = keptCount;
      const reached = tracked.progress.reached();
      for (let i = 0; i < reached.length; i++) {
        const agent = reached.items[i]!;
        if (given[agent] !== Infinity) continue;
        given[agent] = distance[agent]! + offset;
        order.push(agent);
        this.add(agent, given[agent]!);
      }
    }
    this.staleCount = 0;
  }

  /**
   * What `settle` gives after a begin that shifted a walk whose values were settled (progress.ts
   * `#shift`): every agent of the order one step nearer, then the one that entered reach at the end. The
   * search's order is the walk's (known) order, so this holds when the order is that, plus the agent
   * that entered; then the values move by one increment of `offset`, and the agents it moved are listed
   * as changed only when read (`listShifted`, `takeShifted`). False (nothing done) otherwise.
   */
  private settleShift(tracked: TrackedInstance): boolean {
    const { order, given } = tracked;
    const reached = tracked.progress.reached();
    const count = order.length;
    if (reached.length !== count + 1) return false;
    const items = order.items;
    const known = reached.items;
    for (let i = 0; i < count; i++) if (items[i] !== known[i]) return false;
    this.offset++;
    if (this.changed.length > 0) for (let i = 0; i < count; i++) this.markChanged(items[i]!);
    else if (count > 0) {
      this.shiftedCount = count;
      this.shiftedOrder = order;
    }
    const entered = known[count]!;
    given[entered] = tracked.progress.steps()[entered]! + this.offset;
    order.push(entered);
    this.add(entered, given[entered]!);
    return true;
  }

  private markStale(tracked: TrackedInstance): void {
    if (tracked.isStale) return;
    tracked.isStale = true;
    this.stale[this.staleCount++] = tracked;
  }

  /** What `settle` does for an instance in which only `agent`'s value changed, without a search. */
  private settleAgent(tracked: TrackedInstance, agent: number): void {
    const { given, order } = tracked;
    const value = tracked.progress.steps()[agent]! + this.offset;
    const previous = given[agent]!;
    if (value === previous) return;
    // As in `settle`: the agent leaves its place in the order and comes back at the end if it has a value.
    if (previous !== Infinity) {
      const items = order.items;
      let kept = 0;
      for (let i = 0; i < order.length; i++) if (items[i] !== agent) items[kept++] = items[i]!;
      order.length = kept;
      this.remove(agent, previous);
      given[agent] = Infinity;
    }
    if (value !== Infinity) {
      given[agent] = value;
      order.push(agent);
      this.add(agent, value);
    }
  }

  private add(agent: number, value: number): void {
    if (!this.counted) {
      this.minimum[agent] = value;
      this.markChanged(agent);
      return;
    }
    let counts = this.counts.get(agent);
    if (!counts) this.counts.set(agent, (counts = new Map()));
    counts.set(value, (counts.get(value) ?? 0) + 1);
    if (value < this.minimum[agent]!) {
      this.minimum[agent] = value;
      this.markChanged(agent);
    }
  }

  private remove(agent: number, value: number): void {
    if (!this.counted) {
      this.minimum[agent] = Infinity;
      this.markChanged(agent);
      return;
    }
    const counts = this.counts.get(agent)!;
    const left = counts.get(value)! - 1;
    if (left > 0) {
      counts.set(value, left);
      return;
    }
    counts.delete(value);
    if (value !== this.minimum[agent]) return;
    // At most horizon + 1 distinct values remain to choose the new minimum from.
    let next = Infinity;
    for (const each of counts.keys()) if (each < next) next = each;
    if (counts.size === 0) this.counts.delete(agent);
    this.minimum[agent] = next;
    this.markChanged(agent);
  }

  private markChanged(agent: number): void {
    if (this.changedFlag[agent]) return;
    this.changedFlag[agent] = 1;
    this.changed.push(agent);
  }

  private trackedOf(instance: string): TrackedInstance {
    this.followGraph();
    let tracked = this.instances.get(instance);
    if (tracked === undefined) {
      if (!this.counted && this.instances.size > 0) this.startCounting();
      tracked = { progress: new InstanceProgress(this.topology, this.horizon), given: new Float64Array(this.topology.size).fill(Infinity), order: new AgentList(), pending: -1, isStale: false, shiftOnly: false };
      this.instances.set(instance, tracked);
    }
    return tracked;
  }

  /** A second instance: from now on the minimum is kept as counts of each value (see `counted`). */
  private startCounting(): void {
    this.settle();
    this.counted = true;
    // Counts hold absolute values: the one instance's values lose their offset.
    const offset = this.offset;
    this.offset = 0;
    for (const { given, order } of this.instances.values()) {
      for (const agent of order) {
        given[agent] = given[agent]! - offset;
        this.minimum[agent] = this.minimum[agent]! - offset;
        let counts = this.counts.get(agent);
        if (!counts) this.counts.set(agent, (counts = new Map()));
        counts.set(given[agent]!, (counts.get(given[agent]!) ?? 0) + 1);
      }
    }
  }

  private agentId(agent: string): number {
    const id = this.graph.idOf(agent);
    if (id === undefined) throw new Error(`unknown agent "${agent}": add it to the graph first`);
    return id;
  }

  /** Recompiles after the graph changed (e.g. a learner added an edge); live progress carries over. */
  private followGraph(): void {
    if (this.compiledRevision === this.graph.revision) return;
    this.topology = topologyOf(this.graph);
    this.compiledRevision = this.graph.revision;
    for (const tracked of this.instances.values()) {
      tracked.progress.adopt(this.topology);
      tracked.shiftOnly = false;
      if (tracked.given.length < this.topology.size) {
        const given = new Float64Array(this.topology.size).fill(Infinity);
        given.set(tracked.given);
        tracked.given = given;
      }
      this.markStale(tracked);
    }
    const minimum = new Float64Array(this.topology.size).fill(Infinity);
    minimum.set(this.minimum.subarray(0, Math.min(this.minimum.length, minimum.length)));
    this.minimum = minimum;
    if (this.changedFlag.length < this.topology.size) {
      const flags = new Uint8Array(this.topology.size);
      flags.set(this.changedFlag);
      this.changedFlag = flags;
    }
    this.changes++;
  }
}

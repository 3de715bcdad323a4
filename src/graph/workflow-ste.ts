import type { SteSource } from '../types.js';
import type { AgentStepGraph } from './graph.js';
import { ClockedSteLog, SteClock, type ClockedSteChanges } from './ste-clock.js';
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
 * Private agents' values are kept relative to a clock per instance (ste-clock.ts): a begin that moves
 * the instance on by the begun agent's STE moves the clock, so a step of a chain changes the relative
 * values of the agents entering or leaving reach only, whatever the horizon.
 */
export class WorkflowSte implements SteSource {
  readonly #graph: AgentStepGraph;
  readonly #shared: StepTracker | undefined;
  readonly #perInstance = new Map<string, PrivateInstance>();
  /** Shared agents: the minimum over instances, absolute. */
  readonly #table = new SteTable();
  /**
   * Private agents: each key with a value (its relative value and instance), by key, built on the first
   * read of `snapshot()` and kept from then on (`#keyedMap`). A long chain adds a key and drops one per step,
   * and a Map insert of a new key string cost more than the rest of a step; replay and the simulator read
   * only the changes.
   */
  #keyed: Map<string, KeyedValue> | undefined;
  readonly #values: ReadonlyMap<string, number> = new KeyedValues(() => this.#keyedMap());
  /** Keys given a value so far: each key's `order`, which `#keyed` lists them by. */
  #created = 0;
  readonly #log = new ClockedSteLog();
  #version = 0;
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
    return this.#shared ? this.#table.version : this.#version;
  }

  /** The key pages of this agent's fixed prompt are tagged with. */
  tagKey(instance: string, agent: string): string {
    if (this.#shared) return agent;
    // The key string the instance's tables already hold while the agent has a value (a request's agent has
    // just begun): the caches' maps then find it by its stored hash instead of a new string's.
    const id = this.#idOf(agent);
    const key = id === undefined ? undefined : this.#perInstance.get(instance)?.keys.get(id)?.key;
    return key ?? `${instance}/${agent}`;
  }

  begin(instance: string, agent: string): void {
    const id = this.#idOf(agent);
    if (id === undefined) return;
    const own = this.#privateOf(instance);
    if (!own) {
      this.#shared!.beginById(instance, id);
      this.#refreshShared();
      return;
    }
    // The instance moves on by the begun agent's STE: the clock takes that step (see `#refresh`).
    const before = own.keys.get(id);
    own.tracker.beginById(instance, id);
    this.#refresh(instance, own, before === undefined ? 0 : before.relative - own.clock.value);
  }

  end(instance: string, agent: string): void {
    const id = this.#idOf(agent);
    if (id === undefined) return;
    const own = this.#privateOf(instance);
    if (!own) {
      this.#shared!.endById(instance, id);
      this.#refreshShared();
      return;
    }
    own.tracker.endById(instance, id);
    this.#refresh(instance, own, 0);
  }

  finish(instance: string): void {
    if (this.#shared) {
      this.#shared.finish(instance);
      this.#refreshShared();
    } else {
      const own = this.#perInstance.get(instance);
      if (!own) return;
      this.#perInstance.delete(instance);
      for (const agent of own.tracker.snapshot().keys()) {
        const id = this.#graph.idOf(agent)!;
        const keyed = own.keys.get(id);
        if (keyed) {
          this.#forget(keyed, own);
          own.keys.delete(id);
        }
      }
      // A graph that grew since the instance's last event can take values away: the snapshot above settles
      // that change without logging it, so keys it no longer lists are forgotten here.
      for (const keyed of own.keys.values()) this.#forget(keyed, own);
    }
  }

  snapshot(): ReadonlyMap<string, number> {
    return this.#shared ? this.#table.values : this.#values;
  }

  /** With private agents a `ClockedSteChanges` (ste-clock.ts): a Map to any reader, clock moves to the ste policy. */
  takeChanges(): ReadonlyMap<string, number | undefined> | ClockedSteChanges {
    return this.#shared ? this.#table.takeChanges() : this.#log.take();
  }

  #refreshShared(): void {
    const names = this.#graph.agents;
    const shared = this.#shared!;
    for (const id of shared.takeChangedIds()) this.#table.set(names[id]!, shared.steOfId(id));
  }

  /**
   * Logs the values an event in a private instance changed, absolute (in the order the tracker changed
   * them, as `SteTable` would) and relative to the instance's clock, which moves by `step` (the STE the
   * begun agent had: in a chain every value drops by that much, so only agents entering or leaving reach
   * change relative values).
   */
  #refresh(instance: string, own: PrivateInstance, step: number): void {
    const { tracker, keys, clock } = own;
    const before = clock.value;
    // A clock that grew large starts again from 0 (every relative value changes once): values stay exact integers.
    const after = step > 0 ? (before + step > MAX_CLOCK ? 0 : before + step) : before;
    // A walk's shift (tracker.ts `settleShift`): the first `shifted` known agents, each one step nearer, come
    // first. Against a clock that moved by one step their relative values stay: only the absolute log lists them.
    const shifted = tracker.takeShifted();
    const known = tracker.knownIds();
    for (let i = 0; i < shifted; i++) this.#change(instance, own, known.items[i]!, tracker.steOfId(known.items[i]!), before, after);
    for (const id of tracker.takeChangedIds()) this.#change(instance, own, id, tracker.steOfId(id), before, after);
    if (after === before) return;
    clock.value = after;
    this.#log.noteMove(clock);
    // After a shift every known agent was shifted or changed.
    if (shifted > 0 && known.length === shifted + 1) return;
    // Agents whose absolute value stayed now sit differently against the moved clock.
    for (let i = 0; i < known.length; i++) {
      const keyed = keys.get(known.items[i]!);
      if (keyed === undefined) continue;
      const relative = tracker.steOfId(known.items[i]!)! + after;
      if (relative === keyed.relative) continue;
      keyed.relative = relative;
      this.#log.noteRelative(keyed.key, clock, relative);
    }
  }

  /** Logs that agent `id`'s absolute STE is now `value` (undefined: unknown), if it changed, with the clock moving from `before` to `after`. */
  #change(instance: string, own: PrivateInstance, id: number, value: number | undefined, before: number, after: number): void {
    const { keys, clock } = own;
    const keyed = keys.get(id);
    if (keyed === undefined) {
      if (value === undefined) return;
      const key = `${instance}/${this.#graph.agents[id]!}`;
      const added: KeyedValue = { key, relative: value + after, clock, order: this.#created++ };
      keys.set(id, added);
      this.#keyed?.set(key, added);
      this.#log.noteValue(key, value);
      this.#log.noteRelative(key, clock, added.relative);
      this.#version++;
      return;
    }
    if (value === keyed.relative - before) return;
    this.#log.noteValue(keyed.key, value);
    this.#version++;
    if (value === undefined) {
      keys.delete(id);
      this.#keyed?.delete(keyed.key);
      this.#log.noteRelative(keyed.key, clock, NaN);
    } else if (value + after !== keyed.relative) {
      keyed.relative = value + after;
      this.#log.noteRelative(keyed.key, clock, keyed.relative);
    }
  }

  /** The private keys with a value by key, in the order they got it (a Map's insertion order), built on the first call. */
  #keyedMap(): ReadonlyMap<string, KeyedValue> {
    if (this.#keyed) return this.#keyed;
    const all: KeyedValue[] = [];
    for (const own of this.#perInstance.values()) all.push(...own.keys.values());
    all.sort((a, b) => a.order - b.order);
    return (this.#keyed = new Map(all.map((keyed) => [keyed.key, keyed])));
  }

  /** A finished instance's key: no longer known. */
  #forget(keyed: KeyedValue, own: PrivateInstance): void {
    this.#keyed?.delete(keyed.key);
    this.#log.noteValue(keyed.key, undefined);
    this.#log.noteRelative(keyed.key, own.clock, NaN);
    this.#version++;
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
      const only = last < topology.size ? topology.onlyExit[last]! : -1;
      if (only >= 0) {
        if (names[only] === agent) return (this.#lastId = only);
      } else {
        const next = last < topology.size ? topology.exitTargets[last]! : [];
        for (let i = 0; i < next.length && i < 4; i++) {
          if (names[next[i]!] === agent) return (this.#lastId = next[i]!);
        }
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
      own = { tracker: new StepTracker(this.#graph, this.#options), keys: new KeyTable(this.#graph.agents.length), clock: new SteClock() };
      this.#perInstance.set(instance, own);
    }
    return own;
  }
}

/** An instance with private agents: its own tracker, its clock, and per agent id its key (`instance/agent`) while it has a value. */
interface PrivateInstance {
  tracker: StepTracker;
  keys: KeyTable;
  clock: SteClock;
}

/**
 * Per agent id, its `KeyedValue` while it has one: a slot index per agent (an `Int32Array`, 0: none) into a
 * pool of the keys with a value, whose slots are reused. A `new Array(agents)` per instance (a holey array
 * of pointers the size of the graph) was a third of a new instance's cost at 100,000 agents; a zeroed
 * typed array costs next to nothing until its pages are touched, and the pool holds only the agents within
 * reach.
 */
class KeyTable {
  #slotOf: Int32Array;
  readonly #pool: (KeyedValue | undefined)[] = [];
  readonly #free: number[] = [];

  constructor(agents: number) {
    this.#slotOf = new Int32Array(agents);
  }

  get(id: number): KeyedValue | undefined {
    const slot = this.#slotOf[id];
    return slot ? this.#pool[slot - 1] : undefined;
  }

  set(id: number, keyed: KeyedValue): void {
    // The graph may have grown since the instance started (ids are stable, new agents come last).
    if (id >= this.#slotOf.length) {
      const grown = new Int32Array(Math.max(id + 1, 2 * this.#slotOf.length));
      grown.set(this.#slotOf);
      this.#slotOf = grown;
    }
    const slot = this.#slotOf[id]!;
    if (slot > 0) {
      this.#pool[slot - 1] = keyed;
      return;
    }
    const free = this.#free.pop();
    if (free === undefined) {
      this.#pool.push(keyed);
      this.#slotOf[id] = this.#pool.length;
    } else {
      this.#pool[free] = keyed;
      this.#slotOf[id] = free + 1;
    }
  }

  delete(id: number): void {
    const slot = this.#slotOf[id];
    if (!slot) return;
    this.#slotOf[id] = 0;
    this.#pool[slot - 1] = undefined;
    this.#free.push(slot - 1);
  }

  /** The keys with a value, in no particular order. */
  *values(): IterableIterator<KeyedValue> {
    for (const keyed of this.#pool) if (keyed !== undefined) yield keyed;
  }
}

/** A private agent's key with a value: its STE is `relative - clock.value`. */
interface KeyedValue {
  readonly key: string;
  relative: number;
  readonly clock: SteClock;
  /** When the key got its value, among all keys of this source (`#keyedMap` lists keys in this order). */
  readonly order: number;
}

/** Clock values stay below this (2^48), so a relative value (clock plus an STE below 2^32) is an exact integer. */
const MAX_CLOCK = 2 ** 48;

/** The private keys' absolute values, read through their clocks (a snapshot that a clock move does not rewrite). */
class KeyedValues implements ReadonlyMap<string, number> {
  constructor(private readonly keyedMap: () => ReadonlyMap<string, KeyedValue>) {}

  private get keyed(): ReadonlyMap<string, KeyedValue> {
    return this.keyedMap();
  }

  get size(): number {
    return this.keyed.size;
  }

  get(key: string): number | undefined {
    const keyed = this.keyed.get(key);
    return keyed === undefined ? undefined : keyed.relative - keyed.clock.value;
  }

  has(key: string): boolean {
    return this.keyed.has(key);
  }

  forEach(callback: (value: number, key: string, map: ReadonlyMap<string, number>) => void, thisArg?: unknown): void {
    for (const [key, value] of this) callback.call(thisArg, value, key, this);
  }

  *entries(): MapIterator<[string, number]> {
    for (const [key, keyed] of this.keyed) yield [key, keyed.relative - keyed.clock.value];
  }

  keys(): MapIterator<string> {
    return this.keyed.keys();
  }

  *values(): MapIterator<number> {
    for (const keyed of this.keyed.values()) yield keyed.relative - keyed.clock.value;
  }

  [Symbol.iterator](): MapIterator<[string, number]> {
    return this.entries();
  }
}

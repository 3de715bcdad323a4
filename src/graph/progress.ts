/**
 * Where one workflow instance is in its graph, kept from begin/end events alone: which agents run,
 * which ended and still wait for a successor to begin, how often each count loop went round, and how
 * many rounds started. A begin is matched to the ended agent it continues from, so the bookkeeping
 * follows the control flow without being told which edge was taken.
 */
import { AgentList } from './agent-list.js';
import { loopContinues, relaxSteps, type ProgressView } from './relax.js';
import { RunnerShadows } from './relax-scratch.js';
import type { Topology } from './topology.js';

export class InstanceProgress implements ProgressView {
  running: Int32Array;
  ended: Int32Array;
  announced: Int32Array;
  loopTaken: Int32Array;
  /** Agents whose running, ended or announced count may be nonzero: where the STE search starts. */
  readonly active = new Set<number>();
  private roundsStarted = 1;
  private distance: Float64Array;
  /** Agents with a finite value in `distance`. */
  private readonly known = new AgentList();
  /** What each running agent turned down in the last search: its value once it ends (see `end`). */
  private readonly shadows = new RunnerShadows();
  private stale = true;
  /**
   * The last values are a walk (see `#walkHolds`): the agents within reach form one path, each agent but
   * the last with one way on, so a chain step can shift them instead of searching (see `begin`).
   */
  private walk = false;
  /** Begins applied as a shift of the walk (a work count for tests and benchmarks). */
  shifted = 0;

  /** `horizon`: agents further away than this many steps get no value (see relax.ts). */
  constructor(
    private topology: Topology,
    private readonly horizon = Infinity,
  ) {
    this.running = new Int32Array(topology.size);
    this.ended = new Int32Array(topology.size);
    this.announced = new Int32Array(topology.size);
    this.loopTaken = new Int32Array(topology.loops.length);
    this.distance = new Float64Array(topology.size).fill(Infinity);
  }

  get roundsLeft(): boolean {
    return this.roundsStarted < this.topology.rounds;
  }

  /** Switches to a rebuilt topology of the same, possibly grown, graph (ids and indices are stable). */
  adopt(topology: Topology): void {
    this.topology = topology;
    this.running = grow(this.running, topology.size);
    this.ended = grow(this.ended, topology.size);
    this.announced = grow(this.announced, topology.size);
    this.loopTaken = grow(this.loopTaken, topology.loops.length);
    this.distance = new Float64Array(topology.size).fill(Infinity);
    this.known.clear();
    this.stale = true;
    this.walk = false;
  }

  /** `agent` starts running; it consumes the first pending transition that leads to it. */
  begin(agent: number): void {
    // A chain step from a walk: the one active agent ended, and the walk it leads to starts with the begun
    // agent; after the bookkeeping below it must have been consumed by a step (not a new round).
    const from = this.walk && !this.stale && this.active.size === 1 ? this.active.values().next().value! : -1;
    const step = from >= 0 && this.known.length > 0 && this.known.items[0] === agent && this.ended[from] === 1 && this.running[from] === 0 && this.announced[from] === 0;
    const rounds = this.roundsStarted;
    this.walk = false;
    this.running[agent]!++;
    this.active.add(agent);
    this.stale = true;
    if (this.announced[agent]! > 0) {
      this.announced[agent]!--;
    } else {
      // A begin nothing leads to (the first one, or traffic the graph does not know) just runs.
      this.continueByStep(agent) || this.continueByLoop(agent) || this.continueByJoin(agent) || this.continueByRound(agent);
    }
    if (step && this.ended[from] === 0 && this.roundsStarted === rounds && this.active.size === 1 && this.running[agent] === 1) this.#shift();
  }

  /**
   * The values after a chain step from a walk, without a search. Before the begin, the one active agent
   * had ended and launched only the begun agent (its one exit, no loop, no join), so every value came from
   * the begun agent's launch at 1 along the walk, up to the horizon. Now the begun agent runs at 0, the
   * ended agent is no longer active, and nothing else changed (no loop or round count): the search would
   * give every agent of the walk one step less, in the same order, and go one step further, from the walk's
   * last agent to its one way on (the agent that enters reach, at the horizon; it offers nothing within
   * it). Nothing offers the running agent a value within the horizon (the walk does not come back to it),
   * so it turns nothing down. Any other case (the walk's last agent with no single way on, or a way back
   * into the walk) searches.
   */
  #shift(): void {
    const { known, distance } = this;
    const last = known.items[known.length - 1]!;
    const next = this.#onlyWay(last);
    if (next < 0 || distance[next] !== Infinity) return; // stale: the next steps() searches
    for (let i = 0; i < known.length; i++) distance[known.items[i]!]!--;
    distance[next] = this.horizon;
    known.push(next);
    this.shadows.clear();
    this.topology.scratch.visits = 0;
    this.stale = false;
    this.walk = true;
    this.shifted++;
  }

  /**
   * Whether the values just searched are a walk: one running agent and nothing else active, and the agents
   * reached are a path from it at 0, 1, ... up to the horizon, each but the last with one way on (its one
   * exit, or the start after a terminal while rounds are left; no loop edge, not a join member), which is the
   * next agent of the path. Checked only when the last agent reached sits at the horizon.
   */
  #walkHolds(): boolean {
    const { known, distance, horizon } = this;
    if (!(horizon >= 1 && horizon < MAX_WALK) || known.length !== horizon + 1 || this.active.size !== 1) return false;
    const first = known.items[0]!;
    if (!this.active.has(first) || this.running[first] !== 1 || this.ended[first] !== 0 || this.announced[first] !== 0) return false;
    for (let i = 0; i < horizon; i++) {
      const agent = known.items[i]!;
      if (distance[agent] !== i || this.#onlyWay(agent) !== known.items[i + 1]) return false;
    }
    return distance[known.items[horizon]!] === horizon;
  }

  /** The one agent `agent`'s launch offers a value (its one exit, or the start after a terminal with rounds left), or -1. */
  #onlyWay(agent: number): number {
    const { onlyExit, loopOf, joinOf, start } = this.topology;
    if (loopOf[agent] !== -1 || joinOf[agent] !== -1) return -1;
    const only = onlyExit[agent]!;
    if (only >= 0) return only;
    return this.topology.exitTargets[agent]!.length === 0 && start !== -1 && this.roundsLeft ? start : -1;
  }

  /**
   * `agent` finished a run; it waits for a successor unless nothing can follow it. Returns true when the
   * values were updated in place and only `agent`'s may have changed (no search needed): a running agent
   * that ends and still waits for a successor keeps launching its successors at 0, so every launch, and
   * with them every other agent's value, stays; its own value becomes what it turned down while it read 0
   * (or 1 if a fan-out still announces it). Otherwise the next `steps()` searches again.
   */
  end(agent: number): boolean {
    // A walk stays one when its running agent ends in place and leaves it (checked below).
    const walk = this.walk && this.known.length > 0 && this.known.items[0] === agent;
    this.walk = false;
    const wasRunning = this.running[agent]! > 0;
    if (wasRunning) this.running[agent]!--;
    if (this.hasSuccessor(agent)) this.ended[agent]!++;
    this.settleActive(agent);
    if (this.stale || !wasRunning || (this.running[agent] === 0 && this.ended[agent] === 0)) {
      this.stale = true;
      return false;
    }
    if (this.running[agent]! > 0) return true;
    const announced = this.announced[agent]! > 0 && 1 <= this.horizon ? 1 : Infinity;
    const value = Math.min(announced, this.shadows.valueOf(agent));
    this.distance[agent] = value;
    if (value === Infinity) {
      this.forgetKnown(agent);
      // The ended agent left the walk: the rest is a walk from its one way on, at 1 (see `begin`).
      this.walk = walk && this.ended[agent] === 1 && this.active.size === 1;
    }
    return true;
  }

  /** False when the next `steps()` searches again. */
  get searched(): boolean {
    return !this.stale;
  }

  /** The next `steps()` searches again (an in-place `end` whose caller wants a search anyway). */
  invalidate(): void {
    this.stale = true;
    this.walk = false;
  }

  /** Each agent's STE in this instance, Infinity when unknown; recomputed only after a change. */
  steps(): Float64Array {
    if (this.stale) {
      const known = this.known;
      for (let i = 0; i < known.length; i++) this.distance[known.items[i]!] = Infinity;
      known.clear();
      relaxSteps(this.topology, this, this.distance, this.horizon, this.known, this.shadows);
      this.stale = false;
      this.walk = this.#walkHolds();
    }
    return this.distance;
  }

  /** The agents `steps()` gives a finite value. */
  reached(): AgentList {
    this.steps();
    return this.known;
  }

  /** Takes `agent` out of the known list, keeping the others' order. */
  private forgetKnown(agent: number): void {
    const { items } = this.known;
    let kept = 0;
    for (let i = 0; i < this.known.length; i++) if (items[i] !== agent) items[kept++] = items[i]!;
    this.known.length = kept;
  }

  /** Drops agents whose counts all went back to zero from `active`, so searches start only where the instance is. */
  private settleActive(agent: number): void {
    if (this.running[agent] === 0 && this.ended[agent] === 0 && this.announced[agent] === 0) this.active.delete(agent);
    else this.active.add(agent);
  }

  private continueByStep(agent: number): boolean {
    const { exitTargets, fansOut } = this.topology;
    // Most agents have one step predecessor (every agent of a chain): read from a typed array, not its list.
    const only = this.topology.onlyStepPredecessor[agent]!;
    const from = only >= 0 ? (this.ended[only]! > 0 ? only : undefined) : this.topology.stepPredecessors[agent]!.find((predecessor) => this.ended[predecessor]! > 0);
    if (from === undefined) return false;
    this.ended[from]!--;
    this.settleActive(from);
    this.leaveLoop(from);
    if (fansOut[from]) {
      for (const sibling of exitTargets[from]!) {
        if (sibling === agent) continue;
        this.announced[sibling]!++;
        this.active.add(sibling);
      }
    }
    return true;
  }

  private continueByLoop(agent: number): boolean {
    const index = this.topology.loopsInto[agent]!.find(
      (each) => this.ended[this.topology.loops[each]!.from]! > 0 && this.loopContinues(each),
    );
    if (index === undefined) return false;
    this.ended[this.topology.loops[index]!.from]!--;
    this.settleActive(this.topology.loops[index]!.from);
    this.loopTaken[index]!++;
    return true;
  }

  private continueByJoin(agent: number): boolean {
    const arrived = (member: number) => this.ended[member]! > 0;
    const join = this.topology.joinsInto[agent]!.map((index) => this.topology.joins[index]!).find((each) => each.members.some(arrived));
    if (join === undefined) return false;
    for (const member of join.members.filter(arrived)) {
      this.ended[member]!--;
      this.settleActive(member);
      this.leaveLoop(member);
    }
    return true;
  }

  /** The start after terminal agents ended: a new round, which all of them were waiting for. */
  private continueByRound(agent: number): boolean {
    if (agent !== this.topology.start || !this.roundsLeft) return false;
    const waiting = this.topology.terminals.filter((terminal) => this.ended[terminal]! > 0);
    if (waiting.length === 0) return false;
    for (const terminal of waiting) {
      this.ended[terminal]!--;
      this.settleActive(terminal);
      this.leaveLoop(terminal);
    }
    this.roundsStarted++;
    return true;
  }

  private hasSuccessor(agent: number): boolean {
    const { exitTargets, joinOf, loopOf, start } = this.topology;
    if (exitTargets[agent]!.length > 0 || joinOf[agent] !== -1) return true;
    if (loopOf[agent] !== -1 && this.loopContinues(loopOf[agent]!)) return true;
    return start !== -1 && this.roundsLeft;
  }

  private loopContinues(index: number): boolean {
    return loopContinues(this.topology.loops[index]!, this.loopTaken[index]!);
  }

  /** Taking the other edge exits the agent's loop, so the next entry counts from zero again. */
  private leaveLoop(agent: number): void {
    const index = this.topology.loopOf[agent]!;
    if (index !== -1) this.loopTaken[index] = 0;
  }
}

/** Horizons up to this long are walked (far below MAX_STEPS, so a shifted value is what a search gives). */
const MAX_WALK = 2 ** 20;

function grow(counts: Int32Array, size: number): Int32Array {
  if (counts.length >= size) return counts;
  const grown = new Int32Array(size);
  grown.set(counts);
  return grown;
}

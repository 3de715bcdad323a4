/**
 * Steps-to-execution of the agents of one workflow instance (KVFlow, arXiv 2507.07400, section 4.1):
 * - a running agent is 0; an agent announced by a partly started fan-out is at most 1;
 * - an agent that ended and whose successors have not begun yet passes 0 on to them (so they are 1);
 * - through a chain, branch, fan-out or loop edge: predecessor + 1, minimum over predecessors;
 * - through a join (barrier): the maximum over its members + 1, an arrived member counting as 0;
 * - leaving a count loop with r back edges still to take costs r * loop length extra steps;
 * - terminal agents lead back to `start` while the instance has rounds left.
 *
 * Every rule adds at least one step to what it reads, so the values settle in increasing order from the
 * instance's active agents (running, ended, announced), as in Dijkstra's algorithm with Knuth's
 * superior functions (a join fires once all its members are settled). The search stops at `horizon`:
 * an agent further away has no value, and the agents beyond are never visited, so the cost is the
 * number of agents within the horizon of where the instance is, not the size of the graph.
 * test/graph/relax.test.ts checks this against the fixed-point sweeps it replaced.
 */
import { AgentList } from './agent-list.js';
import { AGENT_SLOTS, MAX_STEPS, type RelaxScratch, type RunnerShadows } from './relax-scratch.js';
import type { LoopInfo, Topology } from './topology-types.js';

/** What the rules need to know about one instance's progress; counts are per agent or per loop. */
export interface ProgressView {
  /** Runs in progress per agent. */
  running: Int32Array;
  /** Ended runs whose successor has not begun yet, per agent. */
  ended: Int32Array;
  /** Fan-out targets still to begin after a sibling began, per agent. */
  announced: Int32Array;
  /** Back edges taken since the loop was entered, per loop. */
  loopTaken: Int32Array;
  roundsLeft: boolean;
  /** Every agent with a nonzero `running`, `ended` or `announced` count (others may be listed too). */
  active: Iterable<number>;
}

/**
 * Writes each agent's STE into `distance`, which must hold Infinity for every agent on entry; returns
 * the agents given a finite value (at most `horizon`), so that the caller can reset just those. They are
 * appended to `reached` when given (a caller's reused list), else to a new list. With `shadows`, each
 * running agent's best turned-down offer is noted there (emptied first).
 */
export function relaxSteps(
  topology: Topology,
  progress: ProgressView,
  distance: Float64Array,
  horizon = Infinity,
  reached = new AgentList(),
  shadows?: RunnerShadows,
): AgentList {
  const { running, ended, announced } = progress;
  const scratch = topology.scratch;
  // offer/launch read the search through `search` (one search runs at a time): no closures per search.
  search.topology = topology;
  search.scratch = scratch;
  search.progress = progress;
  search.distance = distance;
  search.horizon = horizon;
  search.reached = reached;
  search.shadows = shadows;
  shadows?.clear();
  scratch.visits = 0;
  const { queue, launched, joinArrived, joinLatest, touchedJoins, launchedList } = scratch;

  for (const agent of progress.active) {
    if (running[agent]! > 0) offer(agent, 0);
    else if (announced[agent]! > 0) offer(agent, 1);
  }
  for (const agent of progress.active) if (running[agent]! > 0 || ended[agent]! > 0) launch(agent, 0);
  while (queue.size() > 0) {
    const entry = queue.pop()!;
    // Division by a power of two and floor are exact here (entries stay below 2^53), and cheaper than a
    // floating-point `%`, which was the search's costliest line.
    const value = Math.floor(entry / AGENT_SLOTS);
    const agent = entry - value * AGENT_SLOTS;
    scratch.visits++;
    // An agent offered a smaller value later is already launched from it.
    if (value === distance[agent]) launch(agent, value);
  }

  for (let i = 0; i < launchedList.length; i++) launched[launchedList.items[i]!] = 0;
  launchedList.clear();
  for (const index of touchedJoins) {
    joinArrived[index] = 0;
    joinLatest[index] = 0;
  }
  touchedJoins.length = 0;
  search.topology = search.scratch = search.progress = search.distance = search.reached = search.shadows = undefined;
  return reached;
}

/** The search in progress: what offer and launch read and where they write; unset between searches. */
const search: {
  topology: Topology | undefined;
  scratch: RelaxScratch | undefined;
  progress: ProgressView | undefined;
  distance: Float64Array | undefined;
  horizon: number;
  reached: AgentList | undefined;
  shadows: RunnerShadows | undefined;
} = { topology: undefined, scratch: undefined, progress: undefined, distance: undefined, horizon: Infinity, reached: undefined, shadows: undefined };

function offer(agent: number, value: number): void {
  const distance = search.distance!;
  if (value > search.horizon || value >= MAX_STEPS) return;
  const current = distance[agent]!;
  if (!(value < current)) {
    // Only a running agent reads 0 (every rule adds a step): what it turns down is its value once it ends.
    if (current === 0) search.shadows?.note(agent, value);
    return;
  }
  if (current === Infinity) search.reached!.push(agent);
  distance[agent] = value;
  search.scratch!.queue.push(value * AGENT_SLOTS + agent);
}

function extraRounds(topology: Topology, progress: ProgressView, agent: number): number {
  const index = topology.loopOf[agent]!;
  if (index === -1) return 0;
  const loop = topology.loops[index]!;
  return loop.count === 0 ? 0 : Math.max(0, loop.count - progress.loopTaken[index]!) * loop.length;
}

/** Gives the agent's successors what they build on: `value` (0 while it runs or has just ended). */
function launch(agent: number, value: number): void {
  const scratch = search.scratch!;
  const { launched, joinArrived, joinLatest } = scratch;
  const topology = search.topology!;
  const progress = search.progress!;
  if (launched[agent]) return;
  launched[agent] = 1;
  scratch.launchedList.push(agent);
  scratch.visits++;
  const exit = value + extraRounds(topology, progress, agent);
  const targets = topology.exitTargets[agent]!;
  for (let i = 0; i < targets.length; i++) offer(targets[i]!, exit + 1);
  const loopIndex = topology.loopOf[agent]!;
  if (loopIndex !== -1 && loopContinues(topology.loops[loopIndex]!, progress.loopTaken[loopIndex]!)) offer(topology.loops[loopIndex]!.to, value + 1);
  const joinIndex = topology.joinOf[agent]!;
  if (joinIndex !== -1) {
    const join = topology.joins[joinIndex]!;
    if (joinArrived[joinIndex] === 0) scratch.touchedJoins.push(joinIndex);
    joinArrived[joinIndex]!++;
    if (exit > joinLatest[joinIndex]!) joinLatest[joinIndex] = exit;
    if (joinArrived[joinIndex] === join.members.length) offer(join.target, joinLatest[joinIndex]! + 1);
  }
  // A terminal agent (no exit, no join) leads to the next round.
  if (topology.start !== -1 && progress.roundsLeft && targets.length === 0 && joinIndex === -1) offer(topology.start, exit + 1);
}

/** Whether the loop's back edge is taken again after `taken` times: always possible for a probabilistic loop. */
export function loopContinues(loop: LoopInfo, taken: number): boolean {
  return loop.count === 0 || taken < loop.count;
}

/**
 * Steps-to-execution of every agent for one workflow instance, by relaxation to a fixed point (KVFlow,
 * arXiv 2507.07400, section 4.1):
 * - a running agent is 0; an agent announced by a partly started fan-out is at most 1;
 * - an agent that ended and whose successors have not begun yet passes 0 on to them (so they are 1);
 * - through a chain, branch, fan-out or loop edge: predecessor + 1, minimum over predecessors;
 * - through a join (barrier): the maximum over its members + 1, an arrived member counting as 0;
 * - leaving a count loop with r back edges still to take costs r * loop length extra steps;
 * - terminal agents lead back to `start` while the instance has rounds left.
 * Every rule is monotone and adds at least one step, so sweeping from "unknown" (Infinity) settles at
 * least one more agent per sweep: at most `size` sweeps, usually two or three.
 */
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
}

/** Fills `distance` (length `topology.size`) with each agent's STE; Infinity means unknown. */
export function relaxSteps(topology: Topology, progress: ProgressView, distance: Float64Array): void {
  const { running, ended, announced, loopTaken } = progress;
  const { loops, joins, loopOf } = topology;
  distance.fill(Infinity);

  /** The step count its successors build on: 0 while it runs or has just ended. */
  const launch = (agent: number): number => (running[agent]! > 0 || ended[agent]! > 0 ? 0 : distance[agent]!);
  /** Like `launch`, plus the loop iterations still to run before the agent takes its other edge. */
  const exitLaunch = (agent: number): number => {
    const index = loopOf[agent]!;
    const loop = loops[index];
    if (loop === undefined || loop.count === 0) return launch(agent);
    return launch(agent) + Math.max(0, loop.count - loopTaken[index]!) * loop.length;
  };

  const estimate = (agent: number): number => {
    if (running[agent]! > 0) return 0;
    let best = announced[agent]! > 0 ? 1 : Infinity;
    for (const predecessor of topology.stepPredecessors[agent]!) best = Math.min(best, exitLaunch(predecessor) + 1);
    for (const index of topology.loopsInto[agent]!) {
      if (loopContinues(loops[index]!, loopTaken[index]!)) best = Math.min(best, launch(loops[index]!.from) + 1);
    }
    for (const index of topology.joinsInto[agent]!) {
      let lastMember = 0;
      for (const member of joins[index]!.members) lastMember = Math.max(lastMember, exitLaunch(member));
      best = Math.min(best, lastMember + 1);
    }
    if (agent === topology.start && progress.roundsLeft) {
      for (const terminal of topology.terminals) best = Math.min(best, exitLaunch(terminal) + 1);
    }
    return best;
  };

  for (let sweep = 0; sweep <= topology.size; sweep++) {
    let changed = false;
    for (const agent of topology.sweepOrder) {
      const value = estimate(agent);
      if (value < distance[agent]!) {
        distance[agent] = value;
        changed = true;
      }
    }
    if (!changed) return;
  }
}

/** Whether the loop's back edge is taken again after `taken` times: always possible for a probabilistic loop. */
export function loopContinues(loop: LoopInfo, taken: number): boolean {
  return loop.count === 0 || taken < loop.count;
}

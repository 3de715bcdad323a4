/** The integer-indexed form of an agent step graph (built by topology.ts, read by relax.ts and progress.ts). */
import type { RelaxScratch } from './relax-scratch.js';

export interface LoopInfo {
  from: number;
  to: number;
  /** Times the back edge is taken before the loop exits; 0 for a probabilistic loop. */
  count: number;
  /** Steps around the loop once: from `to` through the body back to `from`, plus the back edge. */
  length: number;
}

export interface JoinInfo {
  members: number[];
  target: number;
}

export interface Topology {
  size: number;
  /** -1 when the graph has no start. */
  start: number;
  rounds: number;
  /** Per agent, the targets of its chain, branch or fanout edge (empty for join members and terminals). */
  exitTargets: number[][];
  /**
   * Per agent, the one target of its exit when it has exactly one, else -1: what a chain step reads. A typed
   * array, because each `exitTargets` list is a heap object of its own, and a long chain reads one that no
   * event touched for as many steps as it has agents (a cache miss) on every step.
   */
  onlyExit: Int32Array;
  /** Per agent, whether its exit is a fanout (all targets run) rather than a choice of one. */
  fansOut: boolean[];
  /** Per agent, the index of the join it is a member of, or -1. */
  joinOf: Int32Array;
  /** Per agent, the index of its loop edge, or -1. */
  loopOf: Int32Array;
  joins: JoinInfo[];
  loops: LoopInfo[];
  /** Agents with no non-loop outgoing edge: a round ends with them. */
  terminals: number[];
  /** Per agent, the agents whose chain, branch or fanout edge leads to it. */
  stepPredecessors: number[][];
  /** Per agent, its one step predecessor when it has exactly one, else -1 (`onlyExit`'s reverse, for the same reason). */
  onlyStepPredecessor: Int32Array;
  /** Per agent, the loops whose back edge leads to it. */
  loopsInto: number[][];
  /** Per agent, the joins it is the target of. */
  joinsInto: number[][];
  /** Working space of the STE search over this topology. */
  scratch: RelaxScratch;
}

/** The shape of a validated workflow spec (parsed by spec.ts, checked by spec-rules.ts). */

/** Token counts of one agent's requests. */
export interface AgentSpec {
  /** The agent's fixed prompt (system prompt, tools), identical on every call. */
  fixed: number;
  /** Fresh tokens appended on every call (the step's own input). */
  dynamic: number;
  /** Tokens generated per call. */
  output: number;
}

/** `from` runs, then `to`. */
export interface ChainEdge {
  kind: 'chain';
  from: string;
  to: string;
}

/** Conditional: exactly one target runs, chosen with the given probabilities (summing to 1). */
export interface BranchEdge {
  kind: 'branch';
  from: string;
  to: Record<string, number>;
}

/** All targets run, in parallel. */
export interface FanoutEdge {
  kind: 'fanout';
  from: string;
  to: string[];
}

/** Barrier: `to` runs once every agent in `from` has completed. */
export interface JoinEdge {
  kind: 'join';
  from: string[];
  to: string;
}

/**
 * Back edge from `from` to `to`, taken exactly `count` times in a row (the body runs `count + 1` times)
 * or each time with `probability`. Exactly one of the two is set. When the loop is not taken, `from`
 * continues along its other outgoing edge, or ends the round if it has none.
 */
export interface LoopEdge {
  kind: 'loop';
  from: string;
  to: string;
  count?: number;
  probability?: number;
}

export type EdgeSpec = ChainEdge | BranchEdge | FanoutEdge | JoinEdge | LoopEdge;
export type EdgeKind = EdgeSpec['kind'];

/** How workflow instances start: a fixed number at a time, or open-loop Poisson arrivals. */
export type ArrivalSpec = { kind: 'closed'; concurrency: number } | { kind: 'poisson'; rate: number };

/** A validated workflow spec with every default filled in. */
export interface WorkflowSpec {
  name: string;
  description?: string;
  /** Tokens per KV block. */
  blockSize: number;
  /** Agents in declaration order. */
  agents: Record<string, AgentSpec>;
  edges: EdgeSpec[];
  /** The agent each round starts at. */
  start: string;
  /** Times each instance runs the workflow from `start` to its end. */
  rounds: number;
  /** True: every instance uses the same fixed prompt per agent; false: each instance has its own. */
  shareAgents: boolean;
  instances: number;
  arrival: ArrivalSpec;
  /** Seconds between a step's predecessors completing and its request being sent. */
  think: number;
}

/** The working space of the STE search in relax.ts, kept per topology so that a search allocates nothing. */
import { AgentList } from './agent-list.js';
import { NumberHeap } from './number-heap.js';

/** Queue entries pack `value * AGENT_SLOTS + agent`. */
export const AGENT_SLOTS = 2 ** 21;
/** Values this large (loops of a million rounds of a long body) count as unknown: they must fit a queue entry. */
export const MAX_STEPS = 2 ** 32;

/** Reusable scratch space of one topology's searches (searches run one at a time). */
export class RelaxScratch {
  /** Offered values as `value * 2^21 + agent` (agents < 2^21 with values < 2^32 stay exact); stale entries are skipped. */
  readonly queue = new NumberHeap();
  /** Per agent: its successors have been given its launch value. */
  readonly launched: Uint8Array;
  /** Per join: members settled so far, and the largest exit value among them. */
  readonly joinArrived: Int32Array;
  readonly joinLatest: Float64Array;
  readonly touchedJoins: number[] = [];
  /** Agents launched by the current search, to clear `launched` after it. */
  readonly launchedList = new AgentList();
  /** Agents examined by the last search (a work count for tests and benchmarks). */
  visits = 0;

  constructor(agents: number, joins: number) {
    if (agents > AGENT_SLOTS) throw new RangeError(`a step graph has at most ${AGENT_SLOTS} agents, got ${agents}`);
    this.launched = new Uint8Array(agents);
    this.joinArrived = new Int32Array(joins);
    this.joinLatest = new Float64Array(joins);
  }
}


/**
 * Per running agent, the smallest offer the last search gave it and it turned down (a running agent reads
 * 0): the value it has once it ends, since an end leaves every launch as it was (progress.ts `end`).
 * Running agents are few, so two short lists.
 */
export class RunnerShadows {
  readonly #agents: number[] = [];
  readonly #values: number[] = [];

  clear(): void {
    this.#agents.length = 0;
    this.#values.length = 0;
  }

  note(agent: number, value: number): void {
    const at = this.#agents.indexOf(agent);
    if (at < 0) {
      this.#agents.push(agent);
      this.#values.push(value);
    } else if (value < this.#values[at]!) this.#values[at] = value;
  }

  /** The smallest offer `agent` turned down in the last search (Infinity: none within the horizon). */
  valueOf(agent: number): number {
    const at = this.#agents.indexOf(agent);
    return at < 0 ? Infinity : this.#values[at]!;
  }
}

/**
 * The online graph learner as it was before src/graph/learner.ts stopped re-reading every session on
 * every request: the reference its session bookkeeping is checked against (test/graph/learner-sessions.test.ts).
 */
import type { LearnerOptions } from '../../src/graph/learner.js';
import { SteTable } from '../../src/graph/ste-table.js';

export class NaiveGraphLearner {
  readonly #options: Required<Pick<LearnerOptions, 'minTransitions' | 'minProbability' | 'liveQuantile' | 'liveSlack'>>;
  readonly #agentIds = new Map<string, number>();
  readonly #agentNames: string[] = [];
  /** transitions[a] = Map(b -> count). */
  readonly #transitions: Map<number, number>[] = [];
  readonly #departures: number[] = [];
  readonly #sessions = new Map<string, { agent: number; running: boolean; lastSeen: number }>();
  /** Recent same-session gaps (a ring), and the live window computed from them. */
  readonly #gaps = new Float64Array(1024);
  #gapCount = 0;
  #window = Infinity;
  #sessionsSeen = 0;
  #clock = 0;
  readonly #table = new SteTable();

  constructor(options: LearnerOptions = {}) {
    this.#options = {
      minTransitions: options.minTransitions ?? 1,
      minProbability: options.minProbability ?? 0.05,
      liveQuantile: options.liveQuantile ?? 0.95,
      liveSlack: options.liveSlack ?? 2,
    };
  }

  get version(): number {
    return this.#table.version;
  }

  tagKey(session: string, agent: string): string {
    return `${session}/${agent}`;
  }

  begin(session: string, agentName: string): void {
    const agent = this.#intern(agentName);
    this.#clock++;
    const state = this.#sessions.get(session);
    if (state) {
      this.#gaps[this.#gapCount++ % this.#gaps.length] = this.#clock - state.lastSeen;
      if (this.#gapCount % 64 === 8) this.#window = this.#liveWindow();
      this.#countTransition(state.agent, agent);
      state.agent = agent;
      state.running = true;
      state.lastSeen = this.#clock;
    } else {
      this.#sessions.set(session, { agent, running: true, lastSeen: this.#clock });
      this.#sessionsSeen++;
    }
    this.#expireSilentSessions();
    this.#refreshAll();
  }

  end(session: string, agentName: string): void {
    const state = this.#sessions.get(session);
    if (!state || this.#agentIds.get(agentName) !== state.agent) return;
    state.running = false;
    this.#refreshSession(session);
  }

  /** A learner never knows a session has ended; it infers it from silence. */
  finish(): void {}

  snapshot(): ReadonlyMap<string, number> {
    return this.#table.values;
  }

  takeChanges(): ReadonlyMap<string, number | undefined> {
    return this.#table.takeChanges();
  }

  #intern(name: string): number {
    let id = this.#agentIds.get(name);
    if (id === undefined) {
      id = this.#agentNames.length;
      this.#agentIds.set(name, id);
      this.#agentNames.push(name);
      this.#transitions.push(new Map());
      this.#departures.push(0);
    }
    return id;
  }

  #countTransition(from: number, to: number): void {
    const targets = this.#transitions[from]!;
    targets.set(to, (targets.get(to) ?? 0) + 1);
    this.#departures[from]!++;
  }

  /** Silence, in requests, after which a session counts as ended. */
  #liveWindow(): number {
    const sorted = this.#gaps.slice(0, Math.min(this.#gapCount, this.#gaps.length)).sort();
    const quantile = sorted[Math.min(sorted.length - 1, Math.floor(this.#options.liveQuantile * sorted.length))]!;
    return Math.max(16, quantile * this.#options.liveSlack);
  }

  #expireSilentSessions(): void {
    const window = this.#window;
    for (const [session, state] of this.#sessions) {
      if (!state.running && this.#clock - state.lastSeen > window) {
        this.#sessions.delete(session);
        for (const agent of this.#agentNames) this.#table.set(this.tagKey(session, agent), undefined);
      }
    }
  }

  #refreshAll(): void {
    for (const session of this.#sessions.keys()) this.#refreshSession(session);
  }

  /** STE of every agent for one session: breadth-first hops over supported transitions. */
  #refreshSession(session: string): void {
    const state = this.#sessions.get(session)!;
    const distance = new Map<number, number>();
    // A running agent is 0; once it ended, its successors are one step away and it is reached again
    // only through the graph.
    if (state.running) distance.set(state.agent, 0);
    let frontier = [state.agent];
    for (let hops = 1; frontier.length > 0; hops++) {
      const next: number[] = [];
      for (const from of frontier) {
        for (const to of this.#successors(from)) {
          if (distance.has(to)) continue;
          distance.set(to, hops);
          next.push(to);
        }
      }
      frontier = next;
    }
    this.#agentNames.forEach((agent, id) => this.#table.set(this.tagKey(session, agent), distance.get(id)));
  }

  #successors(from: number): number[] {
    const total = this.#departures[from]!;
    const result: number[] = [];
    for (const [to, count] of this.#transitions[from]!) {
      if (count >= this.#options.minTransitions && count / total >= this.#options.minProbability) result.push(to);
    }
    return result;
  }

}

import { GLOBAL_SESSION, type SteSource, type TraceRequest } from '../types.js';
import { PrefixSignatures } from './prefix-signatures.js';
import { SteTable } from './ste-table.js';

export interface LearnerOptions {
  /** Transitions seen fewer times than this are not followed (default 1). */
  minTransitions?: number;
  /** A transition must have at least this share of its source's departures (default 0.05). */
  minProbability?: number;
  /**
   * A session is live while fewer than `liveQuantile`-th quantile of past same-session gaps (in requests)
   * have passed since its last request, times `liveSlack` (defaults 0.95 and 2; at least 16 requests).
   */
  liveQuantile?: number;
  liveSlack?: number;
  /**
   * The silence (in requests) after which a session ends while too few sessions have come back for the
   * quantile to say (default 4096): without it, traffic whose every session is new never forgets one.
   */
  defaultSilence?: number;
  /** Most sessions kept; past it the longest-silent idle ones end first (default 100,000). */
  maxSessions?: number;
}

interface SessionState {
  agent: number;
  running: boolean;
  lastSeen: number;
  /** This session's STE per agent id (shared by sessions at the same place in the same graph). */
  distance: ReadonlyMap<number, number>;
}

/** A request with the agent identity and fixed-prompt length the learner gave it. */
export interface LearnedRequest extends TraceRequest {
  /** Set by the learner when the trace declared no agent. */
  learnedAgent?: boolean;
}

/** The learned graph, for `kvflow trace graph`. */
export interface LearnedGraph {
  agents: { name: string; signaturePages: number; requests: number; growing: boolean }[];
  transitions: { from: string; to: string; count: number; probability: number }[];
  sessions: number;
}

/**
 * Gives requests an agent identity and a fixed-prompt length, causally: request r's annotation uses only
 * requests before it. A declared `agent` wins; otherwise the agent is the deepest prompt prefix earlier
 * requests branched from (`PrefixSignatures`). The fixed prompt is that prefix, or the whole prompt for
 * agents whose successive calls in a session re-send the previous prompt and append to it (a growing
 * conversation), since the next call needs all of it.
 */
export class AgentAnnotator {
  readonly #signatures: PrefixSignatures;
  readonly #agents = new Map<string, { signaturePages: number; requests: number; extends: number; pairs: number }>();
  /** Per session, its last request's agent and blocks. */
  readonly #lastCall = new Map<string, { agent: string | undefined; blocks: readonly number[] }>();

  constructor(options: { minSignaturePages?: number } = {}) {
    this.#signatures = new PrefixSignatures({ minDepth: options.minSignaturePages ?? 2 });
  }

  /** Call in trace order, before the request runs. Requests without `workflow` join one global session. */
  annotate(request: TraceRequest): LearnedRequest {
    const session = request.workflow ?? GLOBAL_SESSION;
    let agent = request.agent;
    let signaturePages = request.fixedBlocks ?? 0;
    if (agent === undefined) {
      const signature = this.#signatures.identify(request.blocks);
      signaturePages = signature?.depth ?? 0;
      agent = signature ? `sig${signature.node}` : undefined;
    }
    const previous = this.#lastCall.get(session);
    this.#signatures.record(request.blocks);
    this.#lastCall.set(session, { agent, blocks: request.blocks });
    if (agent === undefined) return { ...request };

    let info = this.#agents.get(agent);
    if (!info) {
      info = { signaturePages, requests: 0, extends: 0, pairs: 0 };
      this.#agents.set(agent, info);
    }
    info.requests++;
    if (previous?.agent === agent) {
      info.pairs++;
      const resent = sharedPrefix(previous.blocks, request.blocks) >= previous.blocks.length - 1;
      if (previous.blocks.length > signaturePages && resent) info.extends++;
    }
    const growing = info.extends * 2 >= info.pairs && info.pairs > 0;
    return {
      ...request,
      agent,
      fixedBlocks: growing ? request.blocks.length : Math.min(signaturePages, request.blocks.length),
      ...(request.agent === undefined && { learnedAgent: true }),
    };
  }

  /** Annotates a whole trace in order. */
  annotateAll(requests: readonly TraceRequest[]): LearnedRequest[] {
    return requests.map((request) => this.annotate(request));
  }

  /** Agents identified so far. */
  agents(): LearnedGraph['agents'] {
    return [...this.#agents].map(([name, a]) => ({
      name,
      signaturePages: a.signaturePages,
      requests: a.requests,
      growing: a.pairs > 0 && a.extends * 2 >= a.pairs,
    }));
  }

  get sessions(): number {
    return this.#lastCall.size;
  }
}

/**
 * Learns the transitions between agents online and serves steps-to-execution from them (an Agent Step
 * Graph for traffic that declares nothing), causally: it knows only the requests that began so far.
 *
 * As requests begin, transitions between consecutive agents of a session are counted. The STE of agent
 * X for a live session is the number of hops from the session's current agent to X over transitions
 * with enough support (KVFlow's min rule over branches); a running agent is 0. Pages are tagged per
 * session (`session/agent`), so a prefix shared by sessions takes the most urgent of them. A session
 * silent far longer than usual is taken as ended, and its pages lose their STE.
 *
 * A request costs its own session, not every session: sessions are kept in the order they were last
 * heard from, so ending the silent ones reads only those (and the few still running); a session's STE
 * depends only on its current agent and whether it runs, so it is computed once per such place and
 * learned graph; only a change of the graph itself (an agent's followed successors), rare once
 * traffic is learned, re-reads every session.
 */
export class OnlineGraphLearner implements SteSource {
  readonly #options: Required<LearnerOptions>;
  readonly #agentIds = new Map<string, number>();
  readonly #agentNames: string[] = [];
  /** transitions[a] = Map(b -> count). */
  readonly #transitions: Map<number, number>[] = [];
  readonly #departures: number[] = [];
  /** Live sessions, least recently heard from first (a begin moves its session to the end). */
  readonly #sessions = new Map<string, SessionState>();
  /** STE per agent id from each place (agent id * 2 + running) in the current learned graph. */
  #placeDistances = new Map<number, ReadonlyMap<number, number>>();
  /** Sessions and places read by the last `begin` or `end` (a work count for tests and benchmarks). */
  lastWork = 0;
  /** Recent same-session gaps (a ring), and the live window computed from them. */
  readonly #gaps = new Float64Array(1024);
  #gapCount = 0;
  #window: number;
  #sessionsSeen = 0;
  #clock = 0;
  readonly #table = new SteTable();

  constructor(options: LearnerOptions = {}) {
    this.#options = {
      minTransitions: options.minTransitions ?? 1,
      minProbability: options.minProbability ?? 0.05,
      liveQuantile: options.liveQuantile ?? 0.95,
      liveSlack: options.liveSlack ?? 2,
      defaultSilence: options.defaultSilence ?? 4096,
      maxSessions: options.maxSessions ?? 100_000,
    };
    this.#window = this.#options.defaultSilence;
  }

  get version(): number {
    return this.#table.version;
  }

  tagKey(session: string, agent: string): string {
    return `${session}/${agent}`;
  }

  begin(session: string, agentName: string): void {
    this.lastWork = 0;
    const agent = this.#intern(agentName);
    this.#clock++;
    let state = this.#sessions.get(session);
    let graphChanged = false;
    if (state) {
      this.#gaps[this.#gapCount++ % this.#gaps.length] = this.#clock - state.lastSeen;
      if (this.#gapCount % 64 === 8) this.#window = this.#liveWindow();
      graphChanged = this.#countTransition(state.agent, agent);
      state.agent = agent;
      state.running = true;
      state.lastSeen = this.#clock;
      this.#sessions.delete(session);
    } else {
      state = { agent, running: true, lastSeen: this.#clock, distance: NO_DISTANCE };
      this.#sessionsSeen++;
    }
    this.#sessions.set(session, state);
    this.#expireSilentSessions();
    if (graphChanged) {
      this.#placeDistances = new Map();
      for (const [name, each] of this.#sessions) this.#refreshSession(name, each);
    } else if (this.#sessions.has(session)) {
      this.#refreshSession(session, state);
    }
  }

  end(session: string, agentName: string): void {
    this.lastWork = 0;
    const state = this.#sessions.get(session);
    if (!state || this.#agentIds.get(agentName) !== state.agent) return;
    state.running = false;
    this.#refreshSession(session, state);
  }

  /** Sessions kept now (live, or silent for less than the live window). */
  get liveSessions(): number {
    return this.#sessions.size;
  }

  /** A learner never knows a session has ended; it infers it from silence. */
  finish(): void {}

  snapshot(): ReadonlyMap<string, number> {
    return this.#table.values;
  }

  takeChanges(): ReadonlyMap<string, number | undefined> {
    return this.#table.takeChanges();
  }

  /** Transitions learned so far, most frequent first. */
  transitions(): LearnedGraph['transitions'] {
    const transitions: LearnedGraph['transitions'] = [];
    this.#transitions.forEach((targets, from) => {
      const total = this.#departures[from]!;
      for (const [to, count] of targets) {
        transitions.push({ from: this.#agentNames[from]!, to: this.#agentNames[to]!, count, probability: count / total });
      }
    });
    transitions.sort((a, b) => b.count - a.count || compare(a.from, b.from) || compare(a.to, b.to));
    return transitions;
  }

  /** Sessions seen so far. */
  get sessions(): number {
    return this.#sessionsSeen;
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

  /** Counts a transition; returns whether the agent's followed successors changed (the graph did). */
  #countTransition(from: number, to: number): boolean {
    const before = this.#successors(from);
    const targets = this.#transitions[from]!;
    targets.set(to, (targets.get(to) ?? 0) + 1);
    this.#departures[from]!++;
    const after = this.#successors(from);
    return after.length !== before.length || after.some((agent, i) => agent !== before[i]);
  }

  /** Silence, in requests, after which a session counts as ended. */
  #liveWindow(): number {
    const sorted = this.#gaps.slice(0, Math.min(this.#gapCount, this.#gaps.length)).sort();
    const quantile = sorted[Math.min(sorted.length - 1, Math.floor(this.#options.liveQuantile * sorted.length))]!;
    return Math.max(16, quantile * this.#options.liveSlack);
  }

  /**
   * Ends idle sessions silent for longer than the live window, and the longest-silent idle ones past
   * `maxSessions`. Sessions are in last-heard order, so this reads only those past the window and
   * the running ones among them, which wait for their end.
   */
  #expireSilentSessions(): void {
    let excess = this.#sessions.size - this.#options.maxSessions;
    for (const [session, state] of this.#sessions) {
      const silent = this.#clock - state.lastSeen > this.#window;
      if (!silent && excess <= 0) break;
      this.lastWork++;
      if (state.running) continue;
      this.#sessions.delete(session);
      excess--;
      for (const agent of state.distance.keys()) this.#table.set(this.tagKey(session, this.#agentNames[agent]!), undefined);
    }
  }

  /** Sets the session's STE from its place in the learned graph, touching only keys that had or get a value. */
  #refreshSession(session: string, state: SessionState): void {
    this.lastWork++;
    const distance = this.#distancesFrom(state.agent, state.running);
    if (distance === state.distance) return;
    for (const agent of state.distance.keys()) {
      if (!distance.has(agent)) this.#table.set(this.tagKey(session, this.#agentNames[agent]!), undefined);
    }
    for (const [agent, steps] of distance) this.#table.set(this.tagKey(session, this.#agentNames[agent]!), steps);
    state.distance = distance;
  }

  /** STE of every agent from a place: breadth-first hops over supported transitions, cached per graph. */
  #distancesFrom(start: number, running: boolean): ReadonlyMap<number, number> {
    const place = start * 2 + (running ? 1 : 0);
    const cached = this.#placeDistances.get(place);
    if (cached) return cached;
    this.lastWork++;
    const distance = new Map<number, number>();
    // A running agent is 0; once it ended, its successors are one step away and it is reached again
    // only through the graph.
    if (running) distance.set(start, 0);
    let frontier = [start];
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
    this.#placeDistances.set(place, distance);
    return distance;
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

const NO_DISTANCE: ReadonlyMap<number, number> = new Map();

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sharedPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The graph a learner builds from a whole trace, replayed in order (each request begins, then ends):
 * what `kvflow trace graph` prints.
 */
export function learnGraph(requests: readonly TraceRequest[], options: LearnerOptions & { minSignaturePages?: number } = {}): LearnedGraph {
  const annotator = new AgentAnnotator(options);
  const learner = new OnlineGraphLearner(options);
  for (const request of requests) {
    const annotated = annotator.annotate(request);
    if (annotated.agent === undefined) continue;
    const session = annotated.workflow ?? GLOBAL_SESSION;
    learner.begin(session, annotated.agent);
    learner.end(session, annotated.agent);
  }
  return { agents: annotator.agents(), transitions: learner.transitions(), sessions: annotator.sessions };
}

import type { EvictionPolicy } from '../cache/policy.js';
import { PageState, type RadixCache } from '../cache/radix-cache.js';
import { IdSet } from './id-set.js';
import type { Link, Transfer } from './link.js';

/** What the prefetcher needs of a link: submit a transfer, and cancel one not yet issued. */
export type TransferQueue = Pick<Link, 'submit' | 'cancel'>;

/** Counters the prefetcher keeps for the metrics. */
export interface PrefetchStats {
  /** Pages moved CPU -> GPU ahead of their request. */
  prefetchedPages: number;
  /** Prefetched pages evicted from the GPU before any request used them. */
  wastedPages: number;
  /** Planned prefetches cancelled before they were issued, because their agent moved out of the window. */
  cancelled: number;
}

interface PlannedLoad {
  pages: number[];
  transfer: Transfer;
}

/**
 * What the prefetcher knows of one agent, found by its key once per STE change: scanning the due agents
 * then reads fields instead of looking each one up by name twice (most due agents wait for their prompt:
 * ~140k due entries scanned per c1024 run, 4.5k of them with a prompt).
 */
interface AgentState {
  readonly name: string;
  /** The fixed prompt's blocks, as the agent's latest request declared them. */
  prompt: readonly number[] | undefined;
  /** The load issued for its prompt and not landed yet. */
  planned: PlannedLoad | undefined;
  /** Its STE while it is due (within the load-ahead window, not planned since), else NaN. */
  due: number;
  /**
   * The last page of `prompt` when a plan last found all of it on the GPU (-1: not known to be), and that
   * page's GPU evictions then: while the count stands, the prompt is still resident (see #plan).
   */
  residentPage: number;
  residentEvictions: number;
}

/**
 * KVFlow's overlapped prefetch (DESIGN.md section 1): when the step graph moves, load the fixed prompts of
 * agents due within `loadAhead` steps that sit only in CPU memory, most urgent first, while the GPU keeps
 * computing. A load only displaces pages that are less urgent (larger STE or none), so prefetching never
 * evicts what it is about to need. A planned load whose agent left the window is cancelled.
 */
export class Prefetcher {
  readonly stats: PrefetchStats = { prefetchedPages: 0, wastedPages: 0, cancelled: 0 };
  readonly #cache: RadixCache;
  readonly #link: TransferQueue;
  readonly #pageBytes: number;
  readonly #loadAhead: number;
  readonly #policy: EvictionPolicy;
  /** Agents with a prompt, a planned load or a place in the due list, by key. */
  readonly #agents = new Map<string, AgentState>();
  /**
   * Due agents (within the load-ahead window) whose prompt has not been planned since their STE changed,
   * kept in planning order (smallest STE first, then by name) as parallel lists. Only agents with a known
   * prompt are listed: one without waits outside (its `due` set) until `notePrompt` puts it in its place,
   * so an update does not scan agents it could not plan (most due agents in a workflow's first round).
   */
  readonly #dueAgents: AgentState[] = [];
  readonly #dueStes: number[] = [];
  /** Prefetched pages no request has used yet. */
  readonly #unused = new IdSet();
  #path = new Int32Array(64);
  /** GPU evictions per page id, counted when the owner reports every one (`evictionNotices`). */
  #evictions: Int32Array | undefined;

  /**
   * `policy` is the cache's: a load displaces only pages it ranks below `policy.stePriority(ste)`. With
   * `evictionNotices` the owner calls `noteEvicted` for every page the cache evicts from the GPU, and a
   * plan trusts a prompt it found resident to stay so until its last page is evicted.
   */
  constructor(cache: RadixCache, link: TransferQueue, options: { policy: EvictionPolicy; pageBytes: number; loadAhead: number; evictionNotices?: boolean }) {
    this.#cache = cache;
    this.#policy = options.policy;
    this.#link = link;
    this.#pageBytes = options.pageBytes;
    this.#loadAhead = options.loadAhead;
    if (options.evictionNotices) this.#evictions = new Int32Array(1024);
  }

  /**
   * Remembers an agent's fixed prompt: the first `length` of `blocks` (default all). A prompt equal to the
   * one remembered keeps it (and what plans found of it) without a copy.
   */
  notePrompt(agent: string, blocks: readonly number[], length = blocks.length): void {
    if (length === 0) return;
    const state = this.#state(agent);
    const known = state.prompt;
    if (known !== undefined && samePrefix(known, blocks, length)) return;
    state.prompt = length === blocks.length ? blocks : blocks.slice(0, length);
    state.residentPage = -1;
    if (known === undefined && !Number.isNaN(state.due)) this.#insertDue(state, state.due);
  }

  /** A request used these pages: they were worth prefetching. */
  noteUsed(page: number): void {
    this.#unused.delete(page);
  }

  /** The cache evicted a page from the GPU. */
  noteEvicted(page: number): void {
    if (this.#unused.delete(page)) this.stats.wastedPages++;
    const evictions = this.#evictions;
    if (evictions === undefined) return;
    if (page >= evictions.length) {
      const grown = new Int32Array(Math.max(page + 1, 2 * evictions.length));
      grown.set(evictions);
      this.#evictions = grown;
    }
    this.#evictions![page]! += 1;
  }

  /**
   * Re-plans after STE values changed (undefined: unknown): cancels planned loads whose agent left the
   * window, then plans loads for due agents, most urgent first.
   */
  update(changes: ReadonlyMap<string, number | undefined>): void {
    for (const [agent, ste] of changes) {
      if (ste !== undefined && ste <= this.#loadAhead) this.#setDue(this.#state(agent), ste);
      else {
        const state = this.#agents.get(agent);
        if (state === undefined) continue;
        this.#unsetDue(state);
        this.#cancel(state);
      }
    }
    const agents = this.#dueAgents;
    const stes = this.#dueStes;
    const count = agents.length;
    if (count === 0) return;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const agent = agents[i]!;
      const ste = stes[i]!;
      // Agents whose load found no room are tried again on the next change.
      if (agent.planned !== undefined || this.#plan(agent, ste) !== 'no-room') {
        agent.due = NaN;
        this.#forgetIfIdle(agent);
        continue;
      }
      agents[kept] = agent;
      stes[kept++] = ste;
    }
    agents.length = kept;
    stes.length = kept;
  }

  #state(agent: string): AgentState {
    let state = this.#agents.get(agent);
    if (state === undefined) {
      state = { name: agent, prompt: undefined, planned: undefined, due: NaN, residentPage: -1, residentEvictions: 0 };
      this.#agents.set(agent, state);
    }
    return state;
  }

  /** Puts `agent` in the due list at its place for `ste` (binary search; the list stays in order). */
  #setDue(agent: AgentState, ste: number): void {
    const previous = agent.due;
    if (previous === ste) return;
    if (!Number.isNaN(previous) && agent.prompt !== undefined) this.#removeDue(agent, previous);
    agent.due = ste;
    if (agent.prompt !== undefined) this.#insertDue(agent, ste);
  }

  #insertDue(agent: AgentState, ste: number): void {
    const at = this.#duePosition(agent.name, ste);
    // Shifted by hand: `splice` allocates the array of what it removes (none here) on every call.
    const agents = this.#dueAgents;
    const stes = this.#dueStes;
    for (let i = agents.length; i > at; i--) {
      agents[i] = agents[i - 1]!;
      stes[i] = stes[i - 1]!;
    }
    agents[at] = agent;
    stes[at] = ste;
  }

  #unsetDue(agent: AgentState): void {
    const previous = agent.due;
    if (Number.isNaN(previous)) return;
    if (agent.prompt !== undefined) this.#removeDue(agent, previous);
    agent.due = NaN;
    this.#forgetIfIdle(agent);
  }

  /** Drops an agent the prefetcher holds nothing of (a long-lived engine meets ever new agent keys). */
  #forgetIfIdle(agent: AgentState): void {
    if (agent.prompt === undefined && agent.planned === undefined && Number.isNaN(agent.due)) this.#agents.delete(agent.name);
  }

  #removeDue(agent: AgentState, ste: number): void {
    const at = this.#duePosition(agent.name, ste);
    const agents = this.#dueAgents;
    const stes = this.#dueStes;
    const last = agents.length - 1;
    for (let i = at; i < last; i++) {
      agents[i] = agents[i + 1]!;
      stes[i] = stes[i + 1]!;
    }
    agents.length = last;
    stes.length = last;
  }

  /** The first position whose entry does not come before (ste, agent) in planning order. */
  #duePosition(agent: string, ste: number): number {
    let low = 0;
    let high = this.#dueAgents.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const other = this.#dueStes[mid]!;
      const name = this.#dueAgents[mid]!.name;
      if (other < ste || (other === ste && name < agent)) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Cancels a planned load that has not been issued yet; an issued one runs to completion. */
  #cancel(agent: AgentState): void {
    const load = agent.planned;
    if (!load || !this.#link.cancel(load.transfer)) return;
    for (let i = load.pages.length - 1; i >= 0; i--) this.#cache.cancelLoad(load.pages[i]!);
    agent.planned = undefined;
    this.#forgetIfIdle(agent);
    this.stats.cancelled++;
  }

  /** Issues the load of `agent`'s CPU-only prompt pages; says whether it did, had nothing to do, or had no room. */
  #plan(agent: AgentState, ste: number): 'loading' | 'resident' | 'no-room' {
    const blocks = agent.prompt!;
    // A GPU page's ancestors are on the GPU or loading, which the match below answers 'resident' too; and
    // a GPU page leaves the GPU only by eviction, which the owner reports (noteEvicted).
    const evictions = this.#evictions;
    if (evictions !== undefined && agent.residentPage >= 0 && evictions[agent.residentPage] === agent.residentEvictions) return 'resident';
    if (this.#path.length < blocks.length) this.#path = new Int32Array(blocks.length * 2);
    const { gpu, other } = this.#cache.matchTiers(blocks, this.#path);
    if (evictions !== undefined && gpu === blocks.length) {
      const last = this.#path[gpu - 1]!;
      agent.residentPage = last;
      agent.residentEvictions = last < evictions.length ? evictions[last]! : 0;
      return 'resident';
    }
    const pages: number[] = [];
    const threshold = this.#policy.stePriority ? this.#policy.stePriority(ste) : -Infinity;
    let room = true;
    for (let i = gpu; i < gpu + other; i++) {
      const page = this.#path[i]!;
      if (this.#cache.stateOf(page) & PageState.loading) break; // someone else is already loading the rest
      // Displace only pages the policy ranks below this agent (StePolicy: larger STE or none).
      if (!this.#cache.startLoad(page, threshold)) {
        room = false;
        break;
      }
      pages.push(page);
    }
    if (pages.length === 0) return room ? 'resident' : 'no-room';
    const transfer: Transfer = {
      bytes: pages.length * this.#pageBytes,
      onDone: () => {
        agent.planned = undefined;
        this.#forgetIfIdle(agent);
        for (const page of pages) {
          this.#cache.finishLoad(page);
          this.#unused.add(page);
        }
        this.stats.prefetchedPages += pages.length;
        this.onLanded?.(agent.name);
      },
    };
    agent.planned = { pages, transfer };
    this.#link.submit(transfer);
    return 'loading';
  }

  /**
   * How many agents the prefetcher keeps a record of (a known prompt, a planned load or a due STE). Read-only,
   * for tests: an agent that holds none of these is dropped, so a long-lived engine meeting ever new agent
   * keys does not keep one record per key it has seen.
   */
  get heldAgents(): number {
    return this.#agents.size;
  }

  /** Called after a prefetch of `agent`'s prompt landed (the engine re-schedules requests that waited on it). */
  onLanded: ((agent: string) => void) | undefined;
}

/** Whether `a` is exactly the first `length` entries of `b`. */
function samePrefix(a: readonly number[], b: readonly number[], length: number): boolean {
  if (a.length !== length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

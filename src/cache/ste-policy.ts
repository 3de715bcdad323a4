import { AgentList } from '../graph/agent-list.js';
import { ClockedSteChanges, type SteClock } from '../graph/ste-clock.js';
import { hashString, StringIds } from './string-ids.js';
import type { EvictionPolicy, PageStats, PolicyPrompt, PriorityOwner, SteChanges } from './policy.js';

/**
 * KVFlow's workflow-aware eviction (DESIGN.md section 1). Pages of an agent's fixed prompt carry that
 * agent's steps-to-execution (STE); a page in several agents' fixed prompts carries the smallest. Pages
 * with no STE (dynamic suffixes, agents with unknown future) go first, then the largest STE; ties by LRU.
 *
 * Without any STE values every page has the same priority and this is exactly LRU.
 *
 * Drivers tag pages through `notePrompt` (the fixed-prompt pages of a request that names an agent) and feed
 * STE through `applySte`; the prefetcher compares `stePriority` with the priorities of pages it displaces.
 * Changes that come relative to per-instance clocks (src/graph/ste-clock.ts) are kept that way: a clock
 * move re-keys the pages of that instance's agents with a value, with no lookup per agent.
 */
export class StePolicy implements EvictionPolicy {
  readonly name: string = 'ste';
  #owner: PriorityOwner | undefined;
  /**
   * Agents with a known STE or tagged pages, by key. An agent with neither is dropped and its id reused, so
   * a long workflow, whose agents each matter for a few steps, keeps as many as are in play, not every
   * agent it ever ran. A typed-array table rather than a Map (string-ids.ts): a long chain interns and drops
   * one key per request among thousands in play, which in a Map missed the CPU caches each time.
   */
  readonly #agentIds = new StringIds();
  #freeIds: number[] = [];
  /** STE per interned agent, relative to its group's clock when it is in one; NaN = unknown. */
  #ste: number[] = [];
  /**
   * Agents whose values come relative to a clock form a group per clock: its value, and its agents with
   * a value (each knows its place in that list, to leave it in O(1)).
   */
  #groupOf: number[] = [];
  #memberAt: number[] = [];
  #groups = new Map<SteClock, number>();
  #clockOfGroup: (SteClock | undefined)[] = [];
  #groupClock: number[] = [];
  #members: AgentList[] = [];
  #freeGroups: number[] = [];
  /** Agents whose pages an `applySte` of clocked changes re-keys (each once, after every value is in). */
  #rekeyStamp: number[] = [];
  #stamp = 0;
  readonly #rekeys = new AgentList();
  #groupsOfTake: number[] = [];
  /**
   * Per page, four int32 fields side by side (`page * 4 + P_*`): its first tag, its neighbours in that
   * agent's page list, and whether it is on the idle list. One record per page, so tagging or forgetting a
   * page touches one cache line, not four arrays (a long chain tags and forgets four pages per request,
   * each a page the cache just allocated or is evicting: cold).
   */
  #pages = newPageRecords(1024);
  /** Pages `#pages` has records for. */
  #pageCapacity = 1024;
  /** Further agents of pages in several agents' fixed prompts (shared system prompts). */
  #moreTags = new Map<number, number[]>();
  /**
   * Pages tagged by each agent, to re-read their priority when the agent's STE changes: the pages it is the
   * first tag of as lists linked through the pages (no allocation per tag; a long chain tags and forgets
   * four pages per request), the pages it is a further tag of in a set.
   *
   * The first-tag pages are in two lists. A re-read the cache answers with false (the page is no eviction
   * candidate: locked, or a prompt page with children, as all but the last page of a cached prompt are)
   * moves the page to its agent's idle list, which re-keys skip; the cache reads the priority of a page
   * that becomes a candidate (`priority`), and that moves it back. A concurrent-1024 kvflow run re-keyed
   * 983k pages to find 7.6k candidates.
   */
  #firstPageOf: number[] = [];
  #firstIdlePageOf: number[] = [];
  #morePagesOf = new Map<number, Set<number>>();
  /** Pages each agent tags, first or further. */
  #pageCount: number[] = [];

  /** Agents the policy holds: those with a known STE or a tagged page. */
  get agentsInPlay(): number {
    return this.#agentIds.size;
  }

  bind(owner: PriorityOwner): void {
    this.#owner = owner;
  }

  priority(page: number, _pages: PageStats): number {
    // Read as the page becomes a candidate: re-keys must reach it again.
    if (page < this.#pageCapacity && this.#pages[page * 4 + P_IDLE] === 1) this.#wake(page);
    const ste = this.steOfPage(page);
    return ste === undefined ? -Infinity : -ste;
  }

  /** The page's STE: the minimum over the agents that tag it, or undefined. */
  steOfPage(page: number): number | undefined {
    const first = page < this.#pageCapacity ? this.#pages[page * 4 + P_FIRST]! : -1;
    if (first < 0) return undefined;
    let best = this.#steOf(first);
    // Most workloads never tag a page twice: no lookup per priority read then.
    if (this.#moreTags.size === 0) return valueOrUndefined(best);
    const more = this.#moreTags.get(page);
    if (more) {
      for (const agent of more) {
        const ste = this.#steOf(agent);
        if (!Number.isNaN(ste) && !(ste >= best)) best = ste;
      }
    }
    return valueOrUndefined(best);
  }

  /** Tags the fixed-prompt pages among `pages[from..to)` with the request's agent key. */
  notePrompt(prompt: PolicyPrompt, agentKey: string | undefined, pages: ArrayLike<number>, from: number, to: number): void {
    if (agentKey === undefined || !prompt.fixedBlocks) return;
    const end = Math.min(prompt.fixedBlocks, to);
    if (from >= end) return;
    const id = this.#intern(agentKey);
    for (let i = from; i < end; i++) this.#tagWith(pages[i]!, id);
  }

  /** Pages of an agent due in `ste` steps have priority `-ste`. */
  stePriority(ste: number): number {
    return -ste;
  }

  /** Marks `page` as part of `agent`'s fixed prompt. */
  tag(page: number, agent: string): void {
    this.#tagWith(page, this.#intern(agent));
  }

  #tagWith(page: number, id: number): void {
    if (page >= this.#pageCapacity) this.#growTags(page + 1);
    const first = this.#pages[page * 4 + P_FIRST]!;
    if (first === id) return;
    if (first < 0) {
      this.#pages[page * 4 + P_FIRST] = id;
      this.#link(page, id);
    } else {
      const more = this.#moreTags.get(page);
      if (!more) this.#moreTags.set(page, [id]);
      else if (more.includes(id)) return;
      else more.push(id);
      let pages = this.#morePagesOf.get(id);
      if (!pages) this.#morePagesOf.set(id, (pages = new Set()));
      pages.add(page);
    }
    this.#pageCount[id]!++;
    this.#owner?.reprioritize(page);
  }

  /** Sets an agent's STE (undefined: unknown future) and re-orders its pages if it changed. */
  setSte(agent: string, ste: number | undefined): void {
    // Unknown and not interned: nothing to change (no pages, no value).
    if (ste === undefined && this.#agentIds.get(agent) < 0) return;
    const id = this.#intern(agent);
    const next = ste ?? NaN;
    const previous = this.#steOf(id);
    // An absolute value takes the agent out of its clock's group.
    if (this.#groupOf[id]! >= 0) {
      const group = this.#leaveGroup(id);
      this.#ste[id] = previous;
      this.#freeIfEmpty(group);
    }
    if (next === previous || (Number.isNaN(next) && Number.isNaN(previous))) return;
    this.#ste[id] = next;
    this.#rekey(id);
    this.#dropIfIdle(id);
  }

  /** Applies changed STE values (undefined: unknown). */
  applySte(changes: SteChanges): void {
    if (changes instanceof ClockedSteChanges) this.#applyClocked(changes);
    else for (const [agent, ste] of changes) this.setSte(agent, ste);
  }

  /**
   * Changes relative to clocks: the clocks' new values, then the relative values that changed, then one
   * re-key of every page whose agent's value or clock moved. The pages end with the priorities the same
   * changes as absolute values give them (eviction orders by priority, last access and page: a total order).
   */
  #applyClocked(changes: ClockedSteChanges): void {
    const { moves, relative } = changes;
    const stamp = ++this.#stamp;
    const groupsOfTake = this.#groupsOfTake;
    for (let c = 0; c < moves.clocks.length; c++) {
      const group = this.#groups.get(moves.clocks[c]!) ?? -1;
      if (group >= 0) this.#groupClock[group] = moves.values[c]!;
      groupsOfTake[c] = group;
    }
    for (let i = 0; i < relative.keys.length; i++) {
      const key = relative.keys[i]!;
      const value = relative.values[i]!;
      if (Number.isNaN(value)) {
        const id = this.#agentIds.get(key);
        if (id < 0 || Number.isNaN(this.#ste[id]!)) continue;
        if (this.#groupOf[id]! >= 0) this.#leaveGroup(id);
        this.#ste[id] = NaN;
        this.#noteRekey(id, stamp);
        this.#dropIfIdle(id);
        continue;
      }
      const id = this.#intern(key);
      const c = relative.clocks[i]!;
      let group = groupsOfTake[c]!;
      if (group < 0) group = groupsOfTake[c] = this.#newGroup(moves.clocks[c]!, moves.values[c]!);
      if (this.#groupOf[id] !== group) {
        if (this.#groupOf[id]! >= 0) this.#leaveGroup(id);
        this.#joinGroup(id, group);
      }
      this.#ste[id] = value;
      this.#noteRekey(id, stamp);
    }
    for (let c = 0; c < moves.clocks.length; c++) {
      const group = groupsOfTake[c]!;
      if (group < 0) continue;
      if (moves.moved[c]) {
        const members = this.#members[group]!;
        // Agents with no tagged page have nothing to re-key (in a long chain, the agents ahead that never ran).
        for (let m = 0; m < members.length; m++) if (this.#pageCount[members.items[m]!]! > 0) this.#noteRekey(members.items[m]!, stamp);
      }
      this.#freeIfEmpty(group);
    }
    const rekeys = this.#rekeys;
    for (let i = 0; i < rekeys.length; i++) this.#rekey(rekeys.items[i]!);
    rekeys.clear();
  }

  /** The agent's absolute STE (NaN: unknown). */
  #steOf(id: number): number {
    const group = this.#groupOf[id]!;
    return group < 0 ? this.#ste[id]! : this.#ste[id]! - this.#groupClock[group]!;
  }

  /** Re-reads the priority of every page the agent tags that may be an eviction candidate. */
  #rekey(id: number): void {
    const owner = this.#owner;
    if (!owner) return;
    for (let page = this.#firstPageOf[id]!; page >= 0; ) {
      const next = this.#pages[page * 4 + P_NEXT]!;
      if (owner.reprioritize(page) === false) this.#sleep(page, id);
      page = next;
    }
    const more = this.#morePagesOf.get(id);
    if (more) for (const page of more) owner.reprioritize(page);
  }

  #noteRekey(id: number, stamp: number): void {
    if (this.#rekeyStamp[id] === stamp) return;
    this.#rekeyStamp[id] = stamp;
    this.#rekeys.push(id);
  }

  #newGroup(clock: SteClock, value: number): number {
    let group = this.#freeGroups.pop();
    if (group === undefined) {
      group = this.#members.length;
      this.#members.push(new AgentList());
      this.#groupClock.push(value);
      this.#clockOfGroup.push(clock);
    } else {
      this.#groupClock[group] = value;
      this.#clockOfGroup[group] = clock;
    }
    this.#groups.set(clock, group);
    return group;
  }

  #joinGroup(id: number, group: number): void {
    const members = this.#members[group]!;
    this.#groupOf[id] = group;
    this.#memberAt[id] = members.length;
    members.push(id);
  }

  /** Takes the agent out of its group (its value stays relative until the caller sets it); returns the group. */
  #leaveGroup(id: number): number {
    const group = this.#groupOf[id]!;
    const members = this.#members[group]!;
    const at = this.#memberAt[id]!;
    const last = members.items[--members.length]!;
    members.items[at] = last;
    this.#memberAt[last] = at;
    this.#groupOf[id] = -1;
    return group;
  }

  /** A group with no agent left is forgotten (its clock may come back with a later change). */
  #freeIfEmpty(group: number): void {
    if (this.#members[group]!.length > 0) return;
    this.#groups.delete(this.#clockOfGroup[group]!);
    this.#clockOfGroup[group] = undefined;
    this.#freeGroups.push(group);
  }

  /** Replaces all STE values: agents absent from `values` become unknown. */
  setAll(values: ReadonlyMap<string, number>): void {
    for (const [agent, id] of this.#agentIds.entries()) {
      if (!values.has(agent) && !Number.isNaN(this.#ste[id]!)) this.setSte(agent, undefined);
    }
    for (const [agent, ste] of values) this.setSte(agent, ste);
  }

  forget(page: number): void {
    const first = page < this.#pageCapacity ? this.#pages[page * 4 + P_FIRST]! : -1;
    if (first < 0) return;
    this.#pages[page * 4 + P_FIRST] = -1;
    this.#unlink(page, first);
    this.#pages[page * 4 + P_IDLE] = 0;
    this.#pageCount[first]!--;
    this.#dropIfIdle(first);
    // Most workloads never tag a page twice: no lookup per forgotten page then.
    if (this.#moreTags.size === 0) return;
    const more = this.#moreTags.get(page);
    if (more) {
      this.#moreTags.delete(page);
      for (const agent of more) {
        const pages = this.#morePagesOf.get(agent)!;
        pages.delete(page);
        if (pages.size === 0) this.#morePagesOf.delete(agent);
        this.#pageCount[agent]!--;
        this.#dropIfIdle(agent);
      }
    }
  }

  /** Forgets an agent with no known STE and no tagged page; its id is reused. */
  #dropIfIdle(id: number): void {
    if (!Number.isNaN(this.#ste[id]!) || this.#pageCount[id]! > 0) return;
    this.#agentIds.deleteId(id);
    this.#freeIds.push(id);
  }

  /** Puts `page` at the head of `heads[id]`'s list: `id`'s active (`#firstPageOf`) or idle (`#firstIdlePageOf`) first-tag pages. */
  #link(page: number, id: number, heads = this.#firstPageOf): void {
    const pages = this.#pages;
    const head = heads[id]!;
    pages[page * 4 + P_NEXT] = head;
    pages[page * 4 + P_PREVIOUS] = -1;
    if (head >= 0) pages[head * 4 + P_PREVIOUS] = page;
    heads[id] = page;
  }

  /** Takes `page` out of whichever of `id`'s two lists holds it. */
  #unlink(page: number, id: number): void {
    const pages = this.#pages;
    const previous = pages[page * 4 + P_PREVIOUS]!;
    const next = pages[page * 4 + P_NEXT]!;
    if (previous >= 0) pages[previous * 4 + P_NEXT] = next;
    else if (pages[page * 4 + P_IDLE] === 1) this.#firstIdlePageOf[id] = next;
    else this.#firstPageOf[id] = next;
    if (next >= 0) pages[next * 4 + P_PREVIOUS] = previous;
  }

  /** Moves a page that is no eviction candidate to its agent's idle list. */
  #sleep(page: number, id: number): void {
    this.#unlink(page, id);
    this.#link(page, id, this.#firstIdlePageOf);
    this.#pages[page * 4 + P_IDLE] = 1;
  }

  /** Moves an idle page back to its first tag's active list. */
  #wake(page: number): void {
    const id = this.#pages[page * 4 + P_FIRST]!;
    this.#unlink(page, id);
    this.#pages[page * 4 + P_IDLE] = 0;
    this.#link(page, id);
  }

  #growTags(minLength: number): void {
    let length = this.#pageCapacity;
    while (length < minLength) length *= 2;
    const pages = newPageRecords(length);
    pages.set(this.#pages);
    this.#pages = pages;
    this.#pageCapacity = length;
  }

  #intern(agent: string): number {
    const hash = hashString(agent);
    let id: number | undefined = this.#agentIds.getHashed(agent, hash);
    if (id < 0) {
      id = this.#freeIds.pop();
      if (id === undefined) {
        id = this.#ste.length;
        this.#ste.push(NaN);
        this.#groupOf.push(-1);
        this.#memberAt.push(-1);
        this.#rekeyStamp.push(0);
        this.#firstPageOf.push(-1);
        this.#firstIdlePageOf.push(-1);
        this.#pageCount.push(0);
      }
      this.#agentIds.setHashed(agent, id, hash);
    }
    return id;
  }
}

// A page record's fields (see StePolicy's `#pages`).
const P_FIRST = 0;
const P_NEXT = 1;
const P_PREVIOUS = 2;
/** 1: the page is on its first tag's idle list. */
const P_IDLE = 3;

/** Records for `pages` pages: no tag, no neighbours, not idle. */
function newPageRecords(pages: number): Int32Array<ArrayBuffer> {
  const records = new Int32Array(pages * 4).fill(-1);
  for (let page = 0; page < pages; page++) records[page * 4 + P_IDLE] = 0;
  return records;
}

function valueOrUndefined(ste: number): number | undefined {
  return Number.isNaN(ste) ? undefined : ste;
}

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
 */
export class StePolicy implements EvictionPolicy {
  readonly name: string = 'ste';
  #owner: PriorityOwner | undefined;
  /**
   * Agents with a known STE or tagged pages, by key. An agent with neither is dropped and its id reused, so
   * a long workflow, whose agents each matter for a few steps, keeps as many as are in play, not every
   * agent it ever ran.
   */
  #agentIds = new Map<string, number>();
  #keyOfId: string[] = [];
  #freeIds: number[] = [];
  /** STE per interned agent; NaN = unknown. */
  #ste: number[] = [];
  /** The first agent tagging each page (-1: none); most pages have exactly one. */
  #firstTag = new Int32Array(1024).fill(-1);
  /** Further agents of pages in several agents' fixed prompts (shared system prompts). */
  #moreTags = new Map<number, number[]>();
  /**
   * Pages tagged by each agent, to re-read their priority when the agent's STE changes: the pages it is the
   * first tag of as a list linked through the pages (no allocation per tag; a long chain tags and forgets
   * four pages per request), the pages it is a further tag of in a set.
   */
  #firstPageOf: number[] = [];
  #nextPage = new Int32Array(1024).fill(-1);
  #previousPage = new Int32Array(1024).fill(-1);
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
    const ste = this.steOfPage(page);
    return ste === undefined ? -Infinity : -ste;
  }

  /** The page's STE: the minimum over the agents that tag it, or undefined. */
  steOfPage(page: number): number | undefined {
    const first = page < this.#firstTag.length ? this.#firstTag[page]! : -1;
    if (first < 0) return undefined;
    let best = this.#ste[first]!;
    // Most workloads never tag a page twice: no lookup per priority read then.
    if (this.#moreTags.size === 0) return valueOrUndefined(best);
    const more = this.#moreTags.get(page);
    if (more) {
      for (const agent of more) {
        const ste = this.#ste[agent]!;
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
    if (page >= this.#firstTag.length) this.#growTags(page + 1);
    const first = this.#firstTag[page]!;
    if (first === id) return;
    if (first < 0) {
      this.#firstTag[page] = id;
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
    if (ste === undefined && !this.#agentIds.has(agent)) return;
    const id = this.#intern(agent);
    const next = ste ?? NaN;
    const previous = this.#ste[id]!;
    if (next === previous || (Number.isNaN(next) && Number.isNaN(previous))) return;
    this.#ste[id] = next;
    const owner = this.#owner;
    if (owner) {
      for (let page = this.#firstPageOf[id]!; page >= 0; page = this.#nextPage[page]!) owner.reprioritize(page);
      const more = this.#morePagesOf.get(id);
      if (more) for (const page of more) owner.reprioritize(page);
    }
    this.#dropIfIdle(id);
  }

  /** Applies changed STE values (undefined: unknown). */
  applySte(changes: SteChanges): void {
    for (const [agent, ste] of changes) this.setSte(agent, ste);
  }

  /** Replaces all STE values: agents absent from `values` become unknown. */
  setAll(values: ReadonlyMap<string, number>): void {
    for (const [agent, id] of this.#agentIds) {
      if (!values.has(agent) && !Number.isNaN(this.#ste[id]!)) this.setSte(agent, undefined);
    }
    for (const [agent, ste] of values) this.setSte(agent, ste);
  }

  forget(page: number): void {
    const first = page < this.#firstTag.length ? this.#firstTag[page]! : -1;
    if (first < 0) return;
    this.#firstTag[page] = -1;
    this.#unlink(page, first);
    this.#pageCount[first]!--;
    this.#dropIfIdle(first);
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
    this.#agentIds.delete(this.#keyOfId[id]!);
    this.#freeIds.push(id);
  }

  /** Puts `page` at the head of the list of pages `id` is the first tag of. */
  #link(page: number, id: number): void {
    const head = this.#firstPageOf[id]!;
    this.#nextPage[page] = head;
    this.#previousPage[page] = -1;
    if (head >= 0) this.#previousPage[head] = page;
    this.#firstPageOf[id] = page;
  }

  #unlink(page: number, id: number): void {
    const previous = this.#previousPage[page]!;
    const next = this.#nextPage[page]!;
    if (previous >= 0) this.#nextPage[previous] = next;
    else this.#firstPageOf[id] = next;
    if (next >= 0) this.#previousPage[next] = previous;
  }

  #growTags(minLength: number): void {
    let length = this.#firstTag.length;
    while (length < minLength) length *= 2;
    this.#firstTag = grown(this.#firstTag, length);
    this.#nextPage = grown(this.#nextPage, length);
    this.#previousPage = grown(this.#previousPage, length);
  }

  #intern(agent: string): number {
    let id = this.#agentIds.get(agent);
    if (id === undefined) {
      id = this.#freeIds.pop();
      if (id === undefined) {
        id = this.#ste.length;
        this.#ste.push(NaN);
        this.#firstPageOf.push(-1);
        this.#pageCount.push(0);
        this.#keyOfId.push(agent);
      } else this.#keyOfId[id] = agent;
      this.#agentIds.set(agent, id);
    }
    return id;
  }
}

/** `array` copied into a longer one, the new slots -1. */
function grown(array: Int32Array, length: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(length).fill(-1);
  next.set(array);
  return next;
}

function valueOrUndefined(ste: number): number | undefined {
  return Number.isNaN(ste) ? undefined : ste;
}

import { OnlineGraphLearner } from '../../graph/learner.js';
import { GLOBAL_SESSION } from '../../types.js';

/** What the forecast needs to know of a request: whose call it is. */
export interface CallIdentity {
  workflow?: string | undefined;
  agent?: string | undefined;
}

/** A forecast no page of a live session reaches: the page will not be used again. */
export const NEVER_AGAIN = Infinity;

/**
 * When will each cached page be used next? A causal estimate for concurrent agent sessions, in request
 * ticks, from signals learned online (docs/learned-policy.md):
 * - **the caller's own rhythm**: a page belongs to the call that last used it (session, agent); once that
 *   (session, agent) has called twice, its next call is due `gap` ticks after its last (a moving average
 *   of its own gaps). A caller past its due date is less likely to come back than one on schedule: its
 *   pages are forecast at `now + (now - last)`, after every page still due, oldest first (LRU among them);
 * - **the step graph**, for a caller seen once: its agent runs again in `STE` steps of its session (the
 *   online learner's hops; at least 1, 3 when unknown), and the session's steps come `gap` ticks apart
 *   (its own moving average, else the global one), so the forecast is `last + STE * gap`;
 * - **staleness**: once the same (session, agent) has called again without re-using a page, the page
 *   is dead (its prompt was rebuilt, not extended), and a session silent for more than `3 * gap + 8`
 *   ticks has ended: both are never used again.
 * Causal: it only reads calls already made (`call` at the start of request r, `touch` as r runs).
 */
export class ReuseForecast {
  readonly #learner = new OnlineGraphLearner();
  readonly #sessions = new Map<string, number>();
  #sessionLast: number[] = [];
  #sessionGap: number[] = [];
  #sessionCalls: number[] = [];
  readonly #sessionNames: string[] = [];
  /** Pages each session owns, to re-read their forecast when the session moves. */
  readonly #sessionPages: Set<number>[] = [];
  /** Sessions taken as ended (their pages are never used again) until they call again. */
  readonly #sessionEnded: boolean[] = [];
  readonly #owners = new Map<string, number>();
  #ownerSession: number[] = [];
  #ownerAgent: (string | undefined)[] = [];
  #ownerCalls: number[] = [];
  #ownerLast: number[] = [];
  #ownerGap: number[] = [];
  /** Per page: its owner (-1: none) and the owner's call count when the page was last used. */
  #pageOwner = new Int32Array(1024).fill(-1);
  #pageCall = new Float64Array(1024);
  #globalGap = 8;
  #now = 0;

  /**
   * Request `tick` of `identity` begins: advances the session's pace and the step graph. Returns the
   * call's owner (for `touch`) and the pages whose forecast moved: the session's, and those of sessions
   * that have just fallen silent for good.
   */
  call(identity: CallIdentity, tick: number): { owner: number; changed: Iterable<number> } {
    const sessionName = identity.workflow ?? GLOBAL_SESSION;
    let session = this.#sessions.get(sessionName);
    if (session === undefined) {
      session = this.#sessionNames.length;
      this.#sessions.set(sessionName, session);
      this.#sessionNames.push(sessionName);
      this.#sessionLast.push(tick);
      this.#sessionGap.push(0);
      this.#sessionCalls.push(0);
      this.#sessionPages.push(new Set());
      this.#sessionEnded.push(false);
    } else {
      const gap = tick - this.#sessionLast[session]!;
      const calls = this.#sessionCalls[session]!;
      this.#sessionGap[session] = calls === 1 ? gap : GAP_WEIGHT * gap + (1 - GAP_WEIGHT) * this.#sessionGap[session]!;
      this.#globalGap = GLOBAL_GAP_WEIGHT * gap + (1 - GLOBAL_GAP_WEIGHT) * this.#globalGap;
      this.#sessionLast[session] = tick;
    }
    this.#sessionCalls[session]!++;
    this.#now = tick;
    if (identity.agent !== undefined) this.#learner.begin(sessionName, identity.agent);
    const ownerKey = `${sessionName}\u0000${identity.agent ?? ''}`;
    let owner = this.#owners.get(ownerKey);
    if (owner === undefined) {
      owner = this.#ownerCalls.length;
      this.#owners.set(ownerKey, owner);
      this.#ownerSession.push(session);
      this.#ownerAgent.push(identity.agent);
      this.#ownerCalls.push(0);
      this.#ownerLast.push(tick);
      this.#ownerGap.push(0);
    } else {
      const gap = tick - this.#ownerLast[owner]!;
      this.#ownerGap[owner] = this.#ownerCalls[owner] === 1 ? gap : OWNER_GAP_WEIGHT * gap + (1 - OWNER_GAP_WEIGHT) * this.#ownerGap[owner]!;
      this.#ownerLast[owner] = tick;
    }
    this.#ownerCalls[owner]!++;
    this.#sessionEnded[session] = false;
    const changed = [this.#sessionPages[session]!];
    for (let other = 0; other < this.#sessionNames.length; other++) {
      if (!this.#sessionEnded[other] && this.#hasEnded(other)) {
        this.#sessionEnded[other] = true;
        changed.push(this.#sessionPages[other]!);
      }
    }
    return { owner, changed: changed.length === 1 ? changed[0]! : changed.flatMap((pages) => [...pages]) };
  }

  /** Every page with a forecast. */
  *pages(): IterableIterator<number> {
    for (const pages of this.#sessionPages) yield* pages;
  }

  /** Request `identity` has finished (its agent is no longer running). */
  finished(identity: CallIdentity): void {
    if (identity.agent !== undefined) this.#learner.end(identity.workflow ?? GLOBAL_SESSION, identity.agent);
  }

  /** `page` was used by the current call of `owner` (as returned by `call`). */
  touch(page: number, owner: number): void {
    if (page >= this.#pageOwner.length) this.#grow(page + 1);
    const previous = this.#pageOwner[page]!;
    if (previous >= 0) this.#sessionPages[this.#ownerSession[previous]!]!.delete(page);
    this.#sessionPages[this.#ownerSession[owner]!]!.add(page);
    this.#pageOwner[page] = owner;
    this.#pageCall[page] = this.#ownerCalls[owner]!;
  }

  /** The page left the cache. */
  forget(page: number): void {
    const owner = page < this.#pageOwner.length ? this.#pageOwner[page]! : -1;
    if (owner < 0) return;
    this.#sessionPages[this.#ownerSession[owner]!]!.delete(page);
    this.#pageOwner[page] = -1;
  }

  /** The tick at which `page` is expected to be used next (NEVER_AGAIN: not at all; now: unknown). */
  nextUse(page: number): number {
    const owner = page < this.#pageOwner.length ? this.#pageOwner[page]! : -1;
    if (owner < 0) return this.#now;
    if (this.#pageCall[page]! < this.#ownerCalls[owner]!) return NEVER_AGAIN;
    const session = this.#ownerSession[owner]!;
    if (this.#sessionEnded[session]) return NEVER_AGAIN;
    if (this.#ownerCalls[owner]! >= 2) {
      const last = this.#ownerLast[owner]!;
      const due = last + this.#ownerGap[owner]!;
      return due >= this.#now ? due : this.#now + (this.#now - last);
    }
    const gap = this.#gapOf(session);
    const last = this.#sessionLast[session]!;
    const agent = this.#ownerAgent[owner];
    const ste = agent === undefined ? undefined : this.#learner.snapshot().get(this.#learner.tagKey(this.#sessionNames[session]!, agent));
    const steps = ste === undefined ? UNKNOWN_STEPS : Math.max(1, ste);
    return last + steps * gap;
  }

  #gapOf(session: number): number {
    return this.#sessionCalls[session]! >= 2 ? this.#sessionGap[session]! : this.#globalGap;
  }

  #hasEnded(session: number): boolean {
    return this.#now - this.#sessionLast[session]! > ENDED_GAPS * this.#gapOf(session) + ENDED_SLACK;
  }

  #grow(minLength: number): void {
    let length = this.#pageOwner.length;
    while (length < minLength) length *= 2;
    const owner = new Int32Array(length).fill(-1);
    owner.set(this.#pageOwner);
    const call = new Float64Array(length);
    call.set(this.#pageCall);
    this.#pageOwner = owner;
    this.#pageCall = call;
  }
}

/** Weight of the newest gap in a session's moving average, in the global one, and in a caller's. */
const GAP_WEIGHT = 0.3;
const GLOBAL_GAP_WEIGHT = 0.1;
const OWNER_GAP_WEIGHT = 0.5;
/** A session silent for more than ENDED_GAPS of its gaps (plus ENDED_SLACK ticks) has ended. */
const ENDED_GAPS = 3;
const ENDED_SLACK = 8;
/** Steps assumed until an agent the step graph cannot reach runs again. */
const UNKNOWN_STEPS = 3;

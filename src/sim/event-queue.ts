/**
 * What engine models need from time: the current time and a way to run code later. The simulator's
 * `EventQueue` is one; a wall-clock implementation lets the same engine serve real requests.
 */
export interface Clock {
  readonly now: number;
  /** Runs `fire` at absolute time `time` (never in the past). */
  at(time: number, fire: () => void): void;
  /** Runs `fire` after `delay` seconds. */
  after(delay: number, fire: () => void): void;
  /** Calls `target.onTime(tag)` at absolute time `time`: what hot paths schedule, with no closure to allocate. */
  wake(time: number, target: Timed, tag: number): void;
}

/** An object an event wakes; `tag` tells its events apart. */
export interface Timed {
  onTime(tag: number): void;
}

/**
 * The simulator's single logical clock: events fire in time order, and events at the same time in the
 * order they were scheduled (a sequence number), so a run is deterministic whatever the heap does.
 *
 * The heap holds slot numbers; each slot's time, sequence number, target and tag live in parallel arrays
 * and slots are reused, so scheduling allocates nothing once the arrays have grown to the run's peak.
 *
 * Events scheduled before the first `run` (a trace's open-loop arrivals: thousands) are sorted once and
 * merged with the heap instead of sitting in it, so the heap holds only what running schedules (a few
 * events per replica) and each event costs a few levels of it, not log2 of the whole trace.
 */
export class EventQueue implements Clock {
  #heap = new Int32Array(64);
  #size = 0;
  #time = new Float64Array(64);
  #order = new Float64Array(64);
  #target: (Timed | (() => void) | undefined)[] = new Array<undefined>(64).fill(undefined);
  #tag = new Int32Array(64);
  #free: number[] = [];
  /** Slots scheduled before the first `run`, in firing order once it starts; `#next` is the first unfired. */
  #backlog: number[] = [];
  #next = 0;
  #started = false;
  #slots = 0;
  #seq = 0;
  #now = 0;
  #fired = 0;
  /**
   * The heap's root while it fires (-1 otherwise): it stays in the heap until its target returns, and a
   * wake of that same target reuses it (#reuseRoot), so an object that schedules its own next event, as a
   * replica does every iteration, costs one sift down instead of a pop and a push.
   */
  #firing = -1;
  #firingTarget: Timed | undefined = undefined;

  get now(): number {
    return this.#now;
  }
  get fired(): number {
    return this.#fired;
  }
  get pending(): number {
    return this.#size - (this.#firing >= 0 ? 1 : 0) + this.#backlog.length - this.#next;
  }

  /** Schedules `fire` at absolute time `time` (never in the past). */
  at(time: number, fire: () => void): void {
    this.#push(time, fire, 0);
  }

  /** Schedules `fire` after `delay` seconds. */
  after(delay: number, fire: () => void): void {
    this.#push(this.#now + delay, fire, 0);
  }

  wake(time: number, target: Timed, tag: number): void {
    if (target !== this.#firingTarget) return this.#push(time, target, tag);
    // Small enough to inline into the caller: the time goes straight into its slot, never boxed as an argument.
    if (!(time >= this.#now)) throw new Error(`event at ${time} is before now (${this.#now})`);
    this.#time[this.#firing] = time;
    this.#reuseRoot(tag);
  }

  /** Fires events until none is left or `limit` events fired; returns whether the queue drained. */
  run(limit = Infinity): boolean {
    if (!this.#started) this.#start();
    if (this.#firing >= 0) this.#dropRoot(); // a target threw out of the last run
    const backlog = this.#backlog;
    while ((this.#size > 0 || this.#next < backlog.length) && this.#fired < limit) {
      const fromBacklog = this.#next < backlog.length && (this.#size === 0 || this.#before(backlog[this.#next]!, this.#heap[0]!));
      const slot = fromBacklog ? backlog[this.#next++]! : this.#heap[0]!;
      const target = this.#target[slot]!;
      const tag = this.#tag[slot]!;
      this.#now = this.#time[slot]!;
      this.#fired++;
      if (typeof target === 'function') {
        if (!fromBacklog) this.#pop();
        this.#release(slot);
        target();
      } else if (fromBacklog) {
        this.#release(slot);
        target.onTime(tag);
      } else {
        // Still the root: nothing scheduled while it fires can sort before it (its time is now, its
        // sequence number older than theirs), so it stays on top until the target returns.
        this.#firing = slot;
        this.#firingTarget = target;
        target.onTime(tag);
        if (this.#firing >= 0) this.#dropRoot();
      }
    }
    if (this.#next === backlog.length && this.#next > 0) {
      backlog.length = 0;
      this.#next = 0;
    }
    return this.pending === 0;
  }

  #release(slot: number): void {
    this.#target[slot] = undefined;
    this.#free.push(slot);
  }

  /** The fired root's target did not schedule itself again: the root leaves the heap. */
  #dropRoot(): void {
    const slot = this.#firing;
    this.#firing = -1;
    this.#firingTarget = undefined;
    this.#pop();
    this.#release(slot);
  }

  /**
   * The fired root's target schedules itself again (its time already written): the root's slot becomes
   * that event (a new sequence number, as a push would give it) and sinks to its place.
   */
  #reuseRoot(tag: number): void {
    const slot = this.#firing;
    this.#firing = -1;
    this.#firingTarget = undefined;
    this.#order[slot] = this.#seq++;
    this.#tag[slot] = tag;
    this.#siftDown(slot);
  }

  /** Puts what was scheduled before the first run in firing order: by time, then by scheduling order. */
  #start(): void {
    this.#started = true;
    this.#backlog.sort((a, b) => this.#time[a]! - this.#time[b]! || this.#order[a]! - this.#order[b]!);
  }

  #push(time: number, target: Timed | (() => void), tag: number): void {
    if (!(time >= this.#now)) throw new Error(`event at ${time} is before now (${this.#now})`);
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#newSlot();
    this.#time[slot] = time;
    this.#order[slot] = this.#seq++;
    this.#target[slot] = target;
    this.#tag[slot] = tag;
    if (!this.#started) {
      this.#backlog.push(slot);
      return;
    }
    if (this.#size === this.#heap.length) this.#heap = grow(this.#heap, new Int32Array(this.#heap.length * 2));
    let i = this.#size++;
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent]!;
      if (!this.#before(slot, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = slot;
  }

  /** Removes the root. */
  #pop(): void {
    const last = this.#heap[--this.#size]!;
    if (this.#size > 0) this.#siftDown(last);
  }

  /** Puts `slot` at the root's place (the root is gone) and sinks it to where it belongs. */
  #siftDown(slot: number): void {
    const heap = this.#heap;
    const size = this.#size;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && this.#before(heap[child + 1]!, heap[child]!)) child++;
      if (!this.#before(heap[child]!, slot)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = slot;
  }

  #before(a: number, b: number): boolean {
    const ta = this.#time[a]!;
    const tb = this.#time[b]!;
    return ta < tb || (ta === tb && this.#order[a]! < this.#order[b]!);
  }

  #newSlot(): number {
    const slot = this.#slots++;
    if (slot === this.#time.length) {
      const length = slot * 2;
      this.#time = grow(this.#time, new Float64Array(length));
      this.#order = grow(this.#order, new Float64Array(length));
      this.#tag = grow(this.#tag, new Int32Array(length));
      for (let i = slot; i < length; i++) this.#target.push(undefined);
    }
    return slot;
  }
}

function grow<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

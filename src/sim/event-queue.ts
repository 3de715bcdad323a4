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
  /**
   * A run of self-wakes known ahead (optional: the simulator's queue has it). `target` would wake at
   * `times[0]`, and each of those wakes would only wake it again at the next time, up to `times[count - 1]`.
   * The first `k` of them are elided (they never fire) and the target wakes once, at `times[k]`, with
   * `onTime(k)`; `k` is returned. `times` must rise strictly from after now and stay unchanged until that wake.
   */
  stretch?(target: Timed, times: Float64Array, count: number): number;
  /**
   * Something reached `target` during its stretch: its wake moves to the first elided time after now
   * (still `onTime(k)`, k its index). Returns how many elided wakes have passed (0 without a stretch).
   */
  settle?(target: Timed): number;
}

/** An object an event wakes; `tag` tells its events apart. */
export interface Timed {
  onTime(tag: number): void;
}

/** A stretch whose wake has not fired: elided wakes at times[0, elided), the wake at times[elided]. */
interface Stretch {
  target: Timed;
  times: Float64Array;
  elided: number;
  /** Time and sequence number of the firing that started it (it scheduled the wake at times[0]). */
  t0: number;
  s0: number;
  /** The heap slot of its wake. */
  slot: number;
}

/** Marks a cut stretch's old wake, left in the heap until it reaches the top. */
const DEAD: Timed = { onTime() {} };

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
 *
 * Stretches (`stretch`: a replica's repeated decode iterations) put only their last wake in the heap. The
 * order stays exactly the one the elided wakes would have given: an event's sequence number is the order
 * of its scheduling, and scheduling happens while some event fires, so events are ordered by (time, time
 * of the firing that scheduled them, sequence number); a stretch's wake was scheduled by its previous,
 * elided, wake. Two keys can only meet on an elided time if another event has that exact time, so an
 * event scheduled at an elided time cuts the stretch there (the wake moves to that time), a stretch
 * ends before the first time a pending event has, and two stretches whose elided times meet are ordered
 * by walking their times back (#stretchBefore).
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
  /** Per slot: the time of the firing that scheduled it (a stretch's wake: its last elided time). */
  #pushTime = new Float64Array(64);
  /** Per slot: the stretch whose wake it is (undefined for every other event). */
  #stretchOf: (Stretch | undefined)[] = new Array<undefined>(64).fill(undefined);
  /** Stretches whose wake has not fired yet. */
  readonly #stretches: Stretch[] = [];
  readonly #spareStretches: Stretch[] = [];
  /** Slots left in the heap by cut stretches: skipped when they reach the top. */
  #dead = 0;

  get now(): number {
    return this.#now;
  }
  get fired(): number {
    return this.#fired;
  }
  get pending(): number {
    return this.#size - this.#dead - (this.#firing >= 0 ? 1 : 0) + this.#backlog.length - this.#next;
  }

  /** Schedules `fire` at absolute time `time` (never in the past). */
  at(time: number, fire: () => void): void {
    this.#schedule(time, fire, 0);
  }

  /** Schedules `fire` after `delay` seconds. */
  after(delay: number, fire: () => void): void {
    this.#schedule(this.#now + delay, fire, 0);
  }

  wake(time: number, target: Timed, tag: number): void {
    if (target !== this.#firingTarget) return this.#schedule(time, target, tag);
    // Small enough to inline into the caller: the time goes straight into its slot, never boxed as an argument.
    if (!(time >= this.#now)) throw new Error(`event at ${time} is before now (${this.#now})`);
    this.#time[this.#firing] = time;
    this.#pushTime[this.#firing] = this.#now;
    this.#reuseRoot(tag);
    if (this.#stretches.length !== 0) this.#cutStretchesAt(time, undefined);
  }

  stretch(target: Timed, times: Float64Array, count: number): number {
    const last = this.#tieFree(times, count - 1);
    if (last === 0) {
      this.wake(times[0]!, target, 0);
      return 0;
    }
    const stretch = this.#spareStretches.pop() ?? { target, times, elided: 0, t0: 0, s0: 0, slot: -1 };
    stretch.target = target;
    stretch.times = times;
    stretch.elided = last;
    stretch.t0 = this.#now;
    this.#stretches.push(stretch);
    if (target === this.#firingTarget) {
      const slot = this.#firing;
      this.#time[slot] = times[last]!;
      this.#pushTime[slot] = times[last - 1]!;
      this.#stretchOf[slot] = stretch;
      stretch.slot = slot;
      stretch.s0 = this.#seq; // the sequence number #reuseRoot gives it (sifting down compares it)
      this.#reuseRoot(last);
    } else {
      stretch.s0 = this.#seq++;
      stretch.slot = this.#push(times[last]!, target, last, times[last - 1]!, stretch.s0, stretch);
    }
    this.#cutStretchesAt(times[last]!, stretch);
    return last;
  }

  settle(target: Timed): number {
    let stretch: Stretch | undefined;
    for (const pending of this.#stretches) if (pending.target === target) stretch = pending;
    if (!stretch) return 0;
    // Elided wakes before now have passed; none is at now (an event at an elided time cuts the stretch).
    const passed = firstAfter(stretch.times, stretch.elided, this.#now);
    if (passed < stretch.elided) this.#cut(stretch, passed);
    return passed;
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
      if (target === DEAD) {
        this.#pop();
        this.#release(slot);
        this.#dead--;
        continue;
      }
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
        const stretch = this.#stretchOf[slot];
        if (stretch !== undefined) this.#endStretch(stretch, slot);
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

  /** Schedules an event now (its scheduling time is now, its sequence number the next). */
  #schedule(time: number, target: Timed | (() => void), tag: number): void {
    if (!(time >= this.#now)) throw new Error(`event at ${time} is before now (${this.#now})`);
    this.#push(time, target, tag, this.#now, this.#seq++, undefined);
    if (this.#stretches.length !== 0) this.#cutStretchesAt(time, undefined);
  }

  /** Puts an event in the heap (in the backlog before the first run); returns its slot. */
  #push(time: number, target: Timed | (() => void), tag: number, pushTime: number, order: number, stretch: Stretch | undefined): number {
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#newSlot();
    this.#time[slot] = time;
    this.#pushTime[slot] = pushTime;
    this.#order[slot] = order;
    this.#target[slot] = target;
    this.#tag[slot] = tag;
    if (stretch !== undefined) this.#stretchOf[slot] = stretch;
    if (!this.#started) {
      this.#backlog.push(slot);
      return slot;
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
    return slot;
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
    return ta < tb || (ta === tb && this.#tieBefore(a, b));
  }

  /** Order of two events at the same time: by the time they were scheduled, then by sequence number. */
  #tieBefore(a: number, b: number): boolean {
    const pa = this.#pushTime[a]!;
    const pb = this.#pushTime[b]!;
    if (pa !== pb) return pa < pb;
    const sa = this.#stretchOf[a];
    const sb = this.#stretchOf[b];
    // Both scheduled by elided wakes at the same time: those wakes' own order decides.
    if (sa !== undefined && sb !== undefined && sa.elided > 0 && sb.elided > 0) return stretchBefore(sa, sb);
    return this.#order[a]! < this.#order[b]!;
  }

  /**
   * How many of `times[0, max)` a stretch may elide: they rise strictly from after now and stop before
   * the first time a pending event has (that event's order against an elided wake would be unknown).
   */
  #tieFree(times: Float64Array, max: number): number {
    let last = 0;
    let previous = this.#now;
    while (last < max && times[last]! > previous) previous = times[last++]!;
    for (let i = 0; i < this.#size && last > 0; i++) {
      const slot = this.#heap[i]!;
      const time = this.#time[slot]!;
      if (time < times[0]! || time > times[last - 1]! || this.#target[slot] === DEAD) continue;
      const at = indexOfTime(times, last, time);
      if (at >= 0) last = at;
    }
    const backlog = this.#backlog;
    if (last > 0 && this.#next < backlog.length) {
      // The backlog is in time order: only the part within the elided times needs looking at.
      let low = this.#next;
      let high = backlog.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (this.#time[backlog[mid]!]! < times[0]!) low = mid + 1;
        else high = mid;
      }
      for (let i = low; i < backlog.length && last > 0; i++) {
        const time = this.#time[backlog[i]!]!;
        if (time > times[last - 1]!) break;
        const at = indexOfTime(times, last, time);
        if (at >= 0) last = at;
      }
    }
    return last;
  }

  /** An event was scheduled at `time`: a stretch (but `except`) with an elided wake at that time wakes there instead. */
  #cutStretchesAt(time: number, except: Stretch | undefined): void {
    const stretches = this.#stretches;
    for (let i = 0; i < stretches.length; i++) {
      const stretch = stretches[i]!;
      const elided = stretch.elided;
      if (stretch === except || elided === 0 || time < stretch.times[0]! || time > stretch.times[elided - 1]!) continue;
      const at = indexOfTime(stretch.times, elided, time);
      if (at >= 0) this.#cut(stretch, at);
    }
  }

  /** Moves a stretch's wake to its elided time `at` (after now): the old wake stays in the heap, dead. */
  #cut(stretch: Stretch, at: number): void {
    const old = stretch.slot;
    this.#target[old] = DEAD;
    this.#stretchOf[old] = undefined;
    this.#dead++;
    const times = stretch.times;
    stretch.elided = at;
    stretch.slot = this.#push(times[at]!, stretch.target, at, at > 0 ? times[at - 1]! : stretch.t0, stretch.s0, stretch);
    this.#cutStretchesAt(times[at]!, stretch);
  }

  /** A stretch's wake fires: the stretch is over (its target may start another with the same times array). */
  #endStretch(stretch: Stretch, slot: number): void {
    this.#stretchOf[slot] = undefined;
    const stretches = this.#stretches;
    const at = stretches.indexOf(stretch);
    stretches[at] = stretches[stretches.length - 1]!;
    stretches.pop();
    this.#spareStretches.push(stretch);
  }

  #newSlot(): number {
    const slot = this.#slots++;
    if (slot === this.#time.length) {
      const length = slot * 2;
      this.#time = grow(this.#time, new Float64Array(length));
      this.#order = grow(this.#order, new Float64Array(length));
      this.#pushTime = grow(this.#pushTime, new Float64Array(length));
      for (let i = slot; i < length; i++) this.#stretchOf.push(undefined);
      this.#tag = grow(this.#tag, new Int32Array(length));
      for (let i = slot; i < length; i++) this.#target.push(undefined);
    }
    return slot;
  }
}

/**
 * Whether stretch `a`'s wake comes before `b`'s when both have the same time and were scheduled by elided
 * wakes at the same time: the order of those two wakes, found the same way one step back.
 */
function stretchBefore(a: Stretch, b: Stretch): boolean {
  let i = a.elided - 1;
  let j = b.elided - 1;
  for (;;) {
    const pa = i > 0 ? a.times[i - 1]! : a.t0;
    const pb = j > 0 ? b.times[j - 1]! : b.t0;
    if (pa !== pb) return pa < pb;
    // Both wakes scheduled by real firings at the same time: by sequence number. (A real firing never
    // has an elided time, so one scheduled by a real firing and one by an elided wake differ in time.)
    if (i === 0 || j === 0) return i === 0 && j === 0 ? a.s0 < b.s0 : i === 0;
    i--;
    j--;
  }
}

/** The index of `time` in the rising `times[0, count)`, or -1. */
function indexOfTime(times: Float64Array, count: number, time: number): number {
  const at = firstAfter(times, count, time);
  return at < count && times[at] === time ? at : -1;
}

/** How many of the rising `times[0, count)` are before `time`. */
function firstAfter(times: Float64Array, count: number, time: number): number {
  let low = 0;
  let high = count;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (times[mid]! < time) low = mid + 1;
    else high = mid;
  }
  return low;
}

function grow<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

import { Heap } from 'heap-js';
import type { Clock, Timed } from './event-queue.js';

interface TimedEvent {
  time: number;
  seq: number;
  fire: () => void;
}

export interface RealTimeClockOptions {
  /** Model seconds per wall-clock second (10: the engine runs ten times faster than real time). */
  speed: number;
  /** Called after every batch of fired events (the engine flushes streamed tokens there). */
  onAdvance?: () => void;
  /** Told of an exception thrown by an event, which would otherwise be lost in a timer callback. */
  onError?: (error: unknown) => void;
  /** Wall-clock source in milliseconds (tests inject one). */
  wallMs?: () => number;
}

/**
 * The simulator's `Clock` on the wall clock, so the same engine model (`Replica`) serves real requests.
 * Model time is wall time since start times `speed`.
 *
 * Events wait in a heap and one timer is armed for the earliest. When it fires, every event due by now
 * runs in (time, sequence) order, each seeing `now` = its own time, exactly as in `EventQueue`: timer
 * granularity (about 1 ms) never stretches a 40 us model iteration, it only batches due events. Code
 * outside events (an HTTP request arriving) must enter through `run`, which first fires everything due,
 * so model time never goes backwards.
 */
export class RealTimeClock implements Clock {
  readonly speed: number;
  readonly #heap = new Heap<TimedEvent>((a, b) => a.time - b.time || a.seq - b.seq);
  readonly #wallMs: () => number;
  readonly #startMs: number;
  readonly #onAdvance: (() => void) | undefined;
  readonly #onError: (error: unknown) => void;
  #seq = 0;
  #now = 0;
  /** Cancels the armed timer; undefined when none is armed. */
  #disarm: (() => void) | undefined;
  #armedFor = Infinity;
  #stopped = false;

  constructor(options: RealTimeClockOptions) {
    if (!(options.speed > 0) || !Number.isFinite(options.speed)) throw new RangeError(`speed must be a finite number > 0, got ${options.speed}`);
    this.speed = options.speed;
    this.#wallMs = options.wallMs ?? (() => performance.now());
    this.#startMs = this.#wallMs();
    this.#onAdvance = options.onAdvance;
    this.#onError = options.onError ?? ((error) => queueMicrotask(() => { throw error; }));
  }

  get now(): number {
    return this.#now;
  }

  /** Events waiting to fire. */
  get pending(): number {
    return this.#heap.length;
  }

  at(time: number, fire: () => void): void {
    // A transfer computed from a slightly stale `now` may land a hair in the past: run it next.
    this.#heap.push({ time: Math.max(time, this.#now), seq: this.#seq++, fire });
    this.#arm();
  }

  after(delay: number, fire: () => void): void {
    this.at(this.#now + delay, fire);
  }

  wake(time: number, target: Timed, tag: number): void {
    this.at(time, () => target.onTime(tag));
  }

  /** Brings model time up to the wall clock (firing what is due), then runs `body` at that time. */
  run<T>(body: () => T): T {
    this.#advance();
    this.#now = Math.max(this.#now, this.#wallModelTime());
    try {
      return body();
    } finally {
      this.#arm();
    }
  }

  /** Cancels the timer and drops pending events; the clock cannot be used afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#cancelTimer();
    this.#heap.clear();
  }

  #wallModelTime(): number {
    return ((this.#wallMs() - this.#startMs) / 1000) * this.speed;
  }

  /** Fires every event due by the wall clock, in order; events they schedule in the past fire too. */
  #advance(): void {
    const due = this.#wallModelTime();
    let fired = false;
    while (this.#heap.length > 0 && this.#heap.peek()!.time <= due) {
      const event = this.#heap.pop()!;
      this.#now = Math.max(this.#now, event.time);
      fired = true;
      try {
        event.fire();
      } catch (error) {
        this.#onError(error);
      }
    }
    if (fired) this.#onAdvance?.();
  }

  /** Keeps one timer armed for the earliest pending event. */
  #arm(): void {
    if (this.#stopped) return;
    const next = this.#heap.peek();
    if (!next) return;
    if (this.#disarm && next.time >= this.#armedFor) return;
    this.#cancelTimer();
    const delayMs = ((next.time - this.#wallModelTime()) / this.speed) * 1000;
    this.#armedFor = next.time;
    const fire = () => {
      this.#disarm = undefined;
      this.#armedFor = Infinity;
      this.#advance();
      this.#arm();
    };
    // setTimeout waits at least 1 ms: an event due (all but) now runs on the next loop turn instead. Events
    // due within the millisecond wait for the timer and then fire at their own model time, so lateness
    // never stretches model time; it only batches events.
    if (delayMs <= 0.1) {
      const immediate = setImmediate(fire);
      this.#disarm = () => clearImmediate(immediate);
    } else {
      const timeout = setTimeout(fire, delayMs);
      this.#disarm = () => clearTimeout(timeout);
    }
  }

  #cancelTimer(): void {
    this.#disarm?.();
    this.#disarm = undefined;
  }
}

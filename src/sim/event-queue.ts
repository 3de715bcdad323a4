import { Heap } from 'heap-js';

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
}

interface ScheduledEvent {
  time: number;
  seq: number;
  fire: () => void;
}

/**
 * The simulator's single logical clock: events fire in time order, and events at the same time in the
 * order they were scheduled (a sequence number), so a run is deterministic whatever the heap does.
 */
export class EventQueue implements Clock {
  #heap = new Heap<ScheduledEvent>((a, b) => a.time - b.time || a.seq - b.seq);
  #seq = 0;
  #now = 0;
  #fired = 0;

  get now(): number {
    return this.#now;
  }
  get fired(): number {
    return this.#fired;
  }
  get pending(): number {
    return this.#heap.length;
  }

  /** Schedules `fire` at absolute time `time` (never in the past). */
  at(time: number, fire: () => void): void {
    if (!(time >= this.#now)) throw new Error(`event at ${time} is before now (${this.#now})`);
    this.#heap.push({ time, seq: this.#seq++, fire });
  }

  /** Schedules `fire` after `delay` seconds. */
  after(delay: number, fire: () => void): void {
    this.at(this.#now + delay, fire);
  }

  /** Fires events until none is left or `limit` events fired; returns whether the queue drained. */
  run(limit = Infinity): boolean {
    while (this.#heap.length > 0 && this.#fired < limit) {
      const event = this.#heap.pop()!;
      this.#now = event.time;
      this.#fired++;
      event.fire();
    }
    return this.#heap.length === 0;
  }
}

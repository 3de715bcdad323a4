import { copyRow, FEATURE_COUNT } from './features.js';

/**
 * Delayed labelling, as LRB does: a sampled page reference waits, features frozen, until the trace says
 * what happened. Its prefix asked for again within `horizon` requests: label 1; the horizon passes first:
 * label 0. Labels therefore only ever use requests that have already been replayed.
 *
 * Waiting samples sit in a FIFO ring (they are created in request order, so the oldest expires first); a
 * labelled one moves to a ring of the most recent labelled samples that training draws from.
 */
export class SampleStore {
  /** May change between requests (an adaptive horizon); expiry stays in creation order. */
  horizon: number;
  // Waiting samples.
  #features: Float32Array;
  #createdAt: Float64Array;
  #state: Uint8Array; // 0 free, 1 waiting, 2 labelled (or dropped)
  #head = 0; // next write
  #tail = 0; // oldest waiting
  #size = 0;
  readonly #capacity: number;
  // Labelled samples, most recent `#trainCapacity`.
  readonly #trainCapacity: number;
  /** Features per sample. */
  readonly width: number;
  readonly trainFeatures: Float32Array;
  readonly trainLabels: Float32Array;
  #trainCount = 0;
  #trainNext = 0;
  #labelled = 0;

  constructor(horizon: number, capacity: number, trainCapacity: number, width: number = FEATURE_COUNT) {
    this.horizon = horizon;
    this.width = width;
    this.#capacity = capacity;
    this.#features = new Float32Array(capacity * width);
    this.#createdAt = new Float64Array(capacity);
    this.#state = new Uint8Array(capacity);
    this.#trainCapacity = trainCapacity;
    this.trainFeatures = new Float32Array(trainCapacity * width);
    this.trainLabels = new Float32Array(trainCapacity);
  }

  /** Labelled samples available to training (at most the training capacity). */
  get trainCount(): number {
    return this.#trainCount;
  }
  /** Labelled samples so far, all told. */
  get labelled(): number {
    return this.#labelled;
  }

  /**
   * A new waiting sample created by request `r`; write its features into `features` at
   * `id * width`. When the ring is full the oldest waiting sample is dropped unlabelled (never
   * mislabelled).
   */
  add(r: number): number {
    if (this.#size === this.#capacity) {
      this.#state[this.#tail] = 0;
      this.#tail = (this.#tail + 1) % this.#capacity;
      this.#size--;
    }
    const id = this.#head;
    this.#size++;
    this.#state[id] = 1;
    this.#createdAt[id] = r;
    this.#head = (this.#head + 1) % this.#capacity;
    return id;
  }

  get features(): Float32Array {
    return this.#features;
  }

  /** The prefix of waiting sample `id`, created by request `createdAt`, was asked for again by request `r`. */
  reused(id: number, createdAt: number, r: number): void {
    if (id < 0 || this.#state[id] !== 1 || this.#createdAt[id] !== createdAt) return;
    if (r - createdAt <= this.horizon) this.#label(id, 1);
  }

  /** Request of the waiting sample `id` (to check it is still the one a prefix points to). */
  createdAt(id: number): number {
    return this.#createdAt[id]!;
  }

  /** Labels 0 every waiting sample whose horizon has passed by request `r`. */
  expire(r: number): void {
    while (this.#size > 0) {
      const state = this.#state[this.#tail]!;
      if (state === 1) {
        if (r - this.#createdAt[this.#tail]! <= this.horizon) return;
        this.#label(this.#tail, 0);
      }
      this.#state[this.#tail] = 0;
      this.#tail = (this.#tail + 1) % this.#capacity;
      this.#size--;
    }
  }

  #label(id: number, label: number): void {
    this.#state[id] = 2;
    const at = this.#trainNext;
    copyRow(this.#features, id, this.trainFeatures, at, this.width);
    this.trainLabels[at] = label;
    this.#trainNext = (at + 1) % this.#trainCapacity;
    this.#trainCount = Math.min(this.#trainCount + 1, this.#trainCapacity);
    this.#labelled++;
  }
}

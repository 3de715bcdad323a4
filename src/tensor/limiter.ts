/**
 * At most `concurrency` tasks at once, the rest waiting in FIFO order, like the link model's copy
 * streams. A waiting task whose signal aborts leaves the queue without running.
 */
export class Limiter {
  readonly concurrency: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Runs `task` when a place is free; resolves to undefined, without running it, if `signal` aborts first. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    if (!(await this.#acquire(signal))) return undefined;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  #acquire(signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.#running < this.concurrency) {
      this.#running++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const start = () => {
        signal?.removeEventListener('abort', abandon);
        this.#running++;
        resolve(true);
      };
      const abandon = () => {
        const at = this.#waiting.indexOf(start);
        if (at >= 0) this.#waiting.splice(at, 1);
        resolve(false);
      };
      this.#waiting.push(start);
      signal?.addEventListener('abort', abandon, { once: true });
    });
  }
}

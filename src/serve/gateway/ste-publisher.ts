import type { SteUpdateBody } from '../http/kvflow-update.js';
import type { Upstream } from './upstream.js';

export type PublishOutcome = 'ok' | 'rejected' | 'failed';

/**
 * Pushes STE snapshots to one upstream's `/v1/update` (KVFlow's format), at most one in flight: while a
 * push is under way, later snapshots collapse into the newest, which goes next. Snapshots are complete,
 * so skipping the intermediate ones loses nothing. Failures are counted, never retried: the next change
 * sends a fresh snapshot anyway.
 */
export class StePublisher {
  readonly #upstream: Upstream;
  readonly #onOutcome: (outcome: PublishOutcome) => void;
  readonly #timeoutMs: number;
  #sending: Promise<void> | undefined;
  #next: SteUpdateBody | undefined;

  constructor(upstream: Upstream, options: { timeoutMs: number; onOutcome: (outcome: PublishOutcome) => void }) {
    this.#upstream = upstream;
    this.#timeoutMs = options.timeoutMs;
    this.#onOutcome = options.onOutcome;
  }

  publish(body: SteUpdateBody): void {
    this.#next = body;
    if (!this.#sending) this.#sending = this.#drain();
  }

  /** Resolves when nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  async #drain(): Promise<void> {
    while (this.#next) {
      const body = this.#next;
      this.#next = undefined;
      this.#onOutcome(await this.#send(body));
    }
    this.#sending = undefined;
  }

  async #send(body: SteUpdateBody): Promise<PublishOutcome> {
    try {
      const response = await this.#upstream.pool.request({
        method: 'POST',
        path: `${this.#upstream.basePath}/v1/update`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 300 ? 'ok' : 'rejected';
    } catch {
      return 'failed';
    }
  }
}

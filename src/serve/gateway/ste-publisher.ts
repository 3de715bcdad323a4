import type { SteUpdateBody } from '../http/kvflow-update.js';
import type { Upstream } from './upstream.js';

/**
 * - `ok`: 2xx and the body does not say otherwise.
 * - `error`: 2xx with `{"status": "error"}` (or `success: false`): the KVFlow fork answers failures so
 *   (http_server.py, `v1_update`).
 * - `rejected`: any other HTTP status. `failed`: no answer (connect error, timeout).
 */
export type PublishOutcome = 'ok' | 'error' | 'rejected' | 'failed';

export interface StePublisherOptions {
  timeoutMs: number;
  onOutcome: (outcome: PublishOutcome) => void;
  /** Told of each failed push, with the upstream's message when it gave one. */
  onFailure?: (outcome: Exclude<PublishOutcome, 'ok'>, message: string, attempt: number) => void;
  /** First retry delay in ms, doubled per attempt up to `maxBackoffMs` (default 100). */
  backoffMs?: number;
  /** Default 5000. */
  maxBackoffMs?: number;
  /** Attempts for one snapshot before waiting for the next change (default 6). */
  maxAttempts?: number;
}

/**
 * Pushes STE snapshots to one upstream's `/v1/update` (KVFlow's format), at most one in flight: while a
 * push is under way, later snapshots collapse into the newest, which goes next. Snapshots are complete,
 * so skipping the intermediate ones loses nothing. A failed push is retried after a growing delay, unless
 * a newer snapshot replaces it first; after `maxAttempts` it waits for the next change.
 */
export class StePublisher {
  readonly #upstream: Upstream;
  readonly #options: Required<Omit<StePublisherOptions, 'onFailure'>> & Pick<StePublisherOptions, 'onFailure'>;
  #sending: Promise<void> | undefined;
  #next: SteUpdateBody | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(upstream: Upstream, options: StePublisherOptions) {
    this.#upstream = upstream;
    this.#options = { backoffMs: 100, maxBackoffMs: 5_000, maxAttempts: 6, ...options };
  }

  publish(body: SteUpdateBody): void {
    if (this.#closed) return;
    this.#next = body;
    this.#wake?.();
    if (!this.#sending) this.#sending = this.#drain();
  }

  /** Resolves when nothing is queued, in flight or waiting to be retried. */
  async idle(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  /** Stops retrying; pushes in flight finish. */
  close(): void {
    this.#closed = true;
    this.#next = undefined;
    this.#wake?.();
  }

  async #drain(): Promise<void> {
    while (this.#next && !this.#closed) {
      const body = this.#next;
      this.#next = undefined;
      for (let attempt = 1; ; attempt++) {
        const { outcome, message } = await this.#send(body);
        this.#options.onOutcome(outcome);
        if (outcome === 'ok') break;
        this.#options.onFailure?.(outcome, message, attempt);
        if (attempt >= this.#options.maxAttempts || this.#closed) break;
        await this.#pause(Math.min(this.#options.maxBackoffMs, this.#options.backoffMs * 2 ** (attempt - 1)));
        if (this.#next || this.#closed) break; // a newer snapshot supersedes this one
      }
    }
    this.#sending = undefined;
  }

  /** Waits `ms`, or less if a newer snapshot arrives or the publisher closes. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = undefined;
        resolve();
      }
      this.#wake = done;
    });
  }

  async #send(body: SteUpdateBody): Promise<{ outcome: PublishOutcome; message: string }> {
    try {
      const response = await this.#upstream.pool.request({
        method: 'POST',
        path: `${this.#upstream.basePath}/v1/update`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
      });
      const text = (await response.body.text()).slice(0, 4096);
      if (response.statusCode < 200 || response.statusCode >= 300) return { outcome: 'rejected', message: `HTTP ${response.statusCode}: ${text.slice(0, 300)}` };
      const refusal = refusalOf(text);
      return refusal === undefined ? { outcome: 'ok', message: '' } : { outcome: 'error', message: refusal };
    } catch (error) {
      return { outcome: 'failed', message: (error as Error).message };
    }
  }
}

/** The message of a 2xx body that reports a failure (`status: "error"` or `success: false`), else undefined. */
export function refusalOf(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined; // not JSON: nothing says it failed
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { status, success, message } = body as { status?: unknown; success?: unknown; message?: unknown };
  if (status !== 'error' && success !== false) return undefined;
  return typeof message === 'string' && message !== '' ? message.slice(0, 300) : 'the upstream reported an error without a message';
}

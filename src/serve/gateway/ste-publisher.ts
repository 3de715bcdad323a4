import { steDiffBody, steUpdateBody, type SteUpdateBody } from '../http/kvflow-update.js';
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
  /** Attempts for one push before waiting for the next change (default 6). */
  maxAttempts?: number;
  /**
   * `diff`: send only the keys that changed (`partial: true`; `kvflow engine` merges them), a full
   * snapshot first and after any failed push. `snapshot`: every push is the whole table, as KVFlow's
   * SGLang fork expects (its `AgentManager.update_agent_timestep` replaces what it had).
   */
  mode: 'diff' | 'snapshot';
  /** Least milliseconds between two full snapshots, whose cost grows with the gateway's state (default 100). */
  snapshotIntervalMs?: number;
  /** The current table (keys as this upstream names agents), read when a full snapshot is sent. */
  snapshot: () => ReadonlyMap<string, number>;
}

/**
 * Pushes STE to one upstream's `/v1/update` (KVFlow's format), at most one push in flight: changes that
 * arrive meanwhile collapse into the next push. A request so costs the keys it changed, never a copy of
 * the whole table; only full snapshots (the first push, resyncs after a failure, every push to the fork)
 * cost the table, and those are spaced by `snapshotIntervalMs`. A failed push is retried after a growing
 * delay with everything known by then; after `maxAttempts` it waits for the next change.
 */
export class StePublisher {
  readonly #upstream: Upstream;
  readonly #options: Required<Omit<StePublisherOptions, 'onFailure'>> & Pick<StePublisherOptions, 'onFailure'>;
  #sending: Promise<void> | undefined;
  /** Keys changed since the last push was built (undefined value: no longer known). */
  readonly #pending = new Map<string, number | undefined>();
  #needsSnapshot = true;
  #lastSnapshotAt = -Infinity;
  #count = 0;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(upstream: Upstream, options: StePublisherOptions) {
    this.#upstream = upstream;
    this.#options = { backoffMs: 100, maxBackoffMs: 5_000, maxAttempts: 6, snapshotIntervalMs: 100, ...options };
  }

  /** Schedules `changes` (keys as the gateway names them) for the next push. */
  publish(changes: ReadonlyMap<string, number | undefined>): void {
    if (this.#closed) return;
    if (this.#options.mode === 'snapshot') this.#needsSnapshot = true;
    else if (!this.#needsSnapshot) for (const [key, value] of changes) this.#pending.set(key, value);
    this.#wake?.();
    if (!this.#sending) this.#sending = this.#drain();
  }

  /** Schedules a full snapshot: the upstream may hold a table this publisher did not send. */
  resync(): void {
    if (this.#closed) return;
    this.#needsSnapshot = true;
    this.#pending.clear();
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
    this.#pending.clear();
    this.#wake?.();
  }

  async #drain(): Promise<void> {
    drain: while ((this.#needsSnapshot || this.#pending.size > 0) && !this.#closed) {
      let count: number | undefined;
      for (let attempt = 1; ; attempt++) {
        // A retry keeps the failed push's timestep_cnt: it is the same update, re-read as of now.
        const body = await this.#nextBody(count);
        count = body.timestep_cnt;
        const { outcome, message } = await this.#send(body);
        this.#options.onOutcome(outcome);
        if (outcome === 'ok') break;
        // The upstream may have missed what this push carried: the retry sends the whole table.
        this.#needsSnapshot = true;
        this.#pending.clear();
        this.#options.onFailure?.(outcome, message, attempt);
        if (attempt >= this.#options.maxAttempts || this.#closed) break drain; // the next change retries
        await this.#pause(Math.min(this.#options.maxBackoffMs, this.#options.backoffMs * 2 ** (attempt - 1)));
        if (this.#closed) break drain;
      }
    }
    this.#sending = undefined;
  }

  /** A full snapshot when one is due (waiting out the spacing), else the pending changes. */
  async #nextBody(count = this.#count++): Promise<SteUpdateBody> {
    if (!this.#needsSnapshot) {
      const body = steDiffBody(this.#pending, count);
      this.#pending.clear();
      return body;
    }
    const wait = this.#lastSnapshotAt + this.#options.snapshotIntervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.#needsSnapshot = false;
    this.#pending.clear();
    this.#lastSnapshotAt = performance.now();
    return steUpdateBody(this.#options.snapshot(), count);
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
        headers: {
          'content-type': 'application/json',
          ...(this.#upstream.apiKey !== undefined && { authorization: `Bearer ${this.#upstream.apiKey}` }),
        },
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

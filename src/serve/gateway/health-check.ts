/**
 * Active health checks: every `intervalMs` each upstream's `/health` is asked on a connection of its
 * own (so a saturated pool does not look like a dead engine), and an upstream that does not answer
 * (or answers 5xx) within `timeoutMs` twice in a row leaves routing until a later probe succeeds. A stopped process (SIGSTOP) still
 * accepts TCP connections, so only an answer counts; connect failures during forwarding still take an
 * upstream out on their own (`Upstream.downUntil`).
 */
import { Client } from 'undici';
import type { Upstream } from './upstream.js';

export interface HealthCheckOptions {
  /** Milliseconds between probes of one upstream; 0 disables checking. */
  intervalMs: number;
  /** Milliseconds a probe may take. */
  timeoutMs: number;
  /** Sent as a bearer token (the upstream's API key). */
  apiKey?: string | undefined;
  onChange?: (upstream: Upstream, healthy: boolean) => void;
}

export const HEALTH_CHECK_DEFAULTS = { intervalMs: 1_000, timeoutMs: 2_000 };

/** Probes in a row that must fail before an upstream leaves routing: one slow answer is not a dead engine. */
const FAILURES_TO_MARK_DOWN = 2;

export class HealthChecker {
  readonly #upstreams: readonly Upstream[];
  readonly #options: HealthCheckOptions;
  readonly #clients: Client[];
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #probing = new Set<number>();
  readonly #failures: number[];
  #closed = false;

  constructor(upstreams: readonly Upstream[], options: HealthCheckOptions) {
    this.#upstreams = upstreams;
    this.#options = options;
    this.#failures = upstreams.map(() => 0);
    this.#clients = upstreams.map((u) => new Client(new URL(u.url).origin, { connect: { timeout: options.timeoutMs }, pipelining: 0 }));
    if (options.intervalMs > 0) {
      this.#timer = setInterval(() => this.probeAll(), options.intervalMs);
      this.#timer.unref();
    }
  }

  /** Probes every upstream not already being probed; resolves when these probes end. */
  async probeAll(): Promise<void> {
    await Promise.all(this.#upstreams.map((upstream) => this.#probe(upstream)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all(this.#clients.map((client) => client.destroy()));
  }

  async #probe(upstream: Upstream): Promise<void> {
    if (this.#probing.has(upstream.index) || this.#closed) return;
    this.#probing.add(upstream.index);
    let healthy = false;
    try {
      const response = await this.#clients[upstream.index]!.request({
        method: 'GET',
        path: `${upstream.basePath}/health`,
        headers: this.#options.apiKey ? { authorization: `Bearer ${this.#options.apiKey}` } : {},
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      await response.body.dump();
      // Any answer below 500 means the server is alive (an OpenAI-compatible API without /health says 404).
      healthy = response.statusCode < 500;
    } catch {
      healthy = false;
    } finally {
      this.#probing.delete(upstream.index);
    }
    if (this.#closed) return;
    this.#failures[upstream.index] = healthy ? 0 : this.#failures[upstream.index]! + 1;
    const verdict = healthy || this.#failures[upstream.index]! < FAILURES_TO_MARK_DOWN ? upstream.healthy || healthy : false;
    if (upstream.healthy !== verdict) {
      upstream.healthy = verdict;
      this.#options.onChange?.(upstream, verdict);
    }
  }
}

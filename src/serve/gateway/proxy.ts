/**
 * Forwards one completion request: route, send, relay the response byte for byte (streams included), and
 * clean up whatever happens. A connect failure marks the upstream down for a while and sends the request
 * to the next best one; a timeout becomes a 504, any other failure before a response a 502; a failure
 * mid-response ends the client's stream (an SSE error event, or a cut connection for JSON). A client that
 * leaves aborts the upstream request. Every path releases the shadow-tree lease and the load count.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import { bodyFor, headersFor, relayHeaders, type ForwardInput } from './forward-body.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { ApiError, errorBody } from '../http/openai-errors.js';
import type { PromptBlocks } from '../http/prompt-tokens.js';
import type { RouteQuery, RoutingPolicy } from '../../sim/cache-aware-routing.js';
import type { PrefixIndex } from './prefix-index.js';
import type { ShadowLease } from './shadow-cache.js';
import { classifyUpstreamError, droppedBeforeAnswer } from './upstream-errors.js';
import { reportedCachedTokens } from '../http/cached-tokens.js';
import type { Upstream, UpstreamKind } from './upstream.js';

/** Response header naming the upstream that answered. */
export const UPSTREAM_HEADER = 'x-kvflow-upstream';
/**
 * Response header with the prompt tokens the gateway expected the upstream to find cached, counted as
 * vLLM reports `cached_tokens` (whole blocks, never the whole prompt): exact for upstreams with KV events.
 */
export const PREDICTED_CACHED_HEADER = 'x-kvflow-predicted-cached-tokens';

/** A validated, tokenized request ready to route. */
export interface PreparedRequest extends ForwardInput {
  /** Request path, e.g. `/v1/chat/completions`. */
  endpoint: string;
  model: string;
  prompt: PromptBlocks;
  fixedBlocks: number;
  clientHeaders: IncomingHttpHeaders;
  /** `performance.now()` when the request arrived. */
  receivedAt: number;
  /** The request's id in the gateway's state store (what `admit` locks shadow pages under). */
  stateId?: string;
}

export interface RequestForwarderOptions {
  upstreams: readonly Upstream[];
  routing: RoutingPolicy;
  metrics: GatewayMetrics;
  /** How long a connect failure keeps an upstream out of routing. */
  retryCooldownMs: number;
  blockSize: number;
  /** All upstreams' shadow pages by block id (absent beyond 31 upstreams). */
  prefixIndex?: PrefixIndex;
  /** Pass the client's `Authorization` on (false when it carried the gateway's own key). */
  forwardClientAuthorization: boolean;
  /** Locks the request's prompt into the chosen upstream's shadow tree (default: the tree itself, directly). */
  admit?: (request: PreparedRequest, upstream: Upstream) => ShadowLease;
}

/**
 * The gateway's request path after parsing: routes a prepared request to an upstream, locks its prompt in
 * that upstream's shadow tree, forwards it and relays the answer, retrying another upstream on a failure
 * before the first byte. (Named so it does not shadow the built-in `Proxy`.)
 */
export class RequestForwarder {
  readonly #options: RequestForwarderOptions;

  constructor(options: RequestForwarderOptions) {
    this.#options = options;
  }

  /** Answers `request` on `response` (taken over from fastify); resolves when the response is over. */
  async forward(request: PreparedRequest, response: ServerResponse): Promise<void> {
    const client = new ClientState(response, this.#options.metrics);
    response.on('close', client.onClose);
    try {
      await this.#attempts(request, response, client);
    } catch (error) {
      // A bug, not an upstream failure: answer (or cut) this response rather than leave the client hanging.
      process.emitWarning(`kvflow gateway: ${(error as Error).stack ?? String(error)}`);
      if (response.headersSent) response.destroy();
      else this.#fail(request, response, new ApiError(500, 'internal gateway error', 'server_error', 'internal_error'), 'none');
    } finally {
      response.off('close', client.onClose);
      this.#options.metrics.duration.observe({ endpoint: request.endpoint }, (performance.now() - request.receivedAt) / 1000);
    }
  }

  async #attempts(request: PreparedRequest, response: ServerResponse, client: ClientState): Promise<void> {
    const { upstreams, metrics } = this.#options;
    // Positions already tried, and the bodies built so far by kind (a retry never rebuilds one).
    const tried: number[] = [];
    const bodies: Partial<Record<UpstreamKind, Buffer | string>> = {};
    let lastError: ApiError | undefined;
    // One request may go again to an upstream whose connection dropped it before any answer.
    let resent = false;
    for (;;) {
      if (client.gone) return;
      const now = Date.now();
      const candidates = upstreams.filter((u) => !tried.includes(u.index) && u.isUp(now) && u.serves(request.model));
      if (candidates.length === 0) {
        return this.#fail(request, response, lastError ?? ApiError.badGateway('no upstream is available', 'no_upstream'), 'none');
      }
      const { upstream, predictedCached } = this.#route(request, candidates);
      tried.push(upstream.index);
      const lease = this.#options.admit ? this.#options.admit(request, upstream) : upstream.admit(request.prompt.blocks, request.fixedBlocks, request.tagKey);
      upstream.load++;
      try {
        const body = (bodies[upstream.kind] ??= bodyFor(upstream.kind, request));
        const error = await new Promise<Error | undefined>((resolve, reject) => {
          upstream.pool.dispatch(
            {
              method: 'POST',
              path: upstream.basePath === '' ? request.endpoint : `${upstream.basePath}${request.endpoint}`,
              headers: headersFor(upstream.kind, request.clientHeaders, request, {
                apiKey: upstream.apiKey,
                forwardClientAuthorization: this.#options.forwardClientAuthorization,
              }),
              body,
            },
            new Relay(request, response, upstream, client, predictedCached, metrics, resolve, reject),
          );
        });
        if (error !== undefined) {
          const failure = classifyUpstreamError(error);
          if (failure === 'aborted') return;
          metrics.upstreamErrors.inc({ upstream: upstream.url, kind: failure });
          if (failure === 'connect') {
            upstream.downUntil = Date.now() + this.#options.retryCooldownMs;
            lastError = ApiError.badGateway(`upstream ${upstream.url} is unreachable: ${error.message}`, 'upstream_unreachable');
            if (upstreams.some((u) => !tried.includes(u.index))) metrics.retries.inc();
            continue;
          }
          if (failure === 'reset' && !resent && droppedBeforeAnswer(error)) {
            resent = true;
            tried.pop(); // the upstream stays a candidate: a fresh connection is likely to work
            metrics.retries.inc();
            continue;
          }
          const apiError =
            failure === 'timeout'
              ? ApiError.gatewayTimeout(`upstream ${upstream.url} did not answer in time`)
              : ApiError.badGateway(`upstream ${upstream.url} failed: ${error.message}`);
          return this.#fail(request, response, apiError, upstream.url);
        }
        return;
      } finally {
        lease.release();
        upstream.load--;
      }
    }
  }

  #route(request: PreparedRequest, candidates: readonly Upstream[]): { upstream: Upstream; predictedCached: number } {
    const { routing, metrics, upstreams, blockSize } = this.#options;
    const started = performance.now();
    const decision = routing.choose(candidates, shadowQuery(candidates, request.prompt.blocks, this.#options.prefixIndex));
    metrics.decisionSeconds.observe((performance.now() - started) / 1000);
    const upstream = upstreams[decision.index]!;
    metrics.decisions.inc({ upstream: upstream.url, reason: decision.reason });
    metrics.promptTokens.inc(request.prompt.tokens);
    metrics.predictedHitTokens.inc({ upstream: upstream.url }, Math.min(request.prompt.tokens, decision.matchedBlocks * blockSize));
    return { upstream, predictedCached: reportedCachedTokens(decision.matchedBlocks * blockSize, request.prompt.tokens, blockSize) };
  }

  #fail(request: PreparedRequest, response: ServerResponse, error: ApiError, upstream: string): void {
    this.#options.metrics.requests.inc({ endpoint: request.endpoint, status: String(error.status), upstream });
    if (response.headersSent || response.destroyed) return;
    response.writeHead(error.status, { 'content-type': 'application/json' });
    response.end(errorBody(error));
  }
}

/**
 * A routing query over the candidates' shadow trees, matched only if the policy asks: through the shared
 * prefix index when there is one (one walk for all upstreams), else tree by tree.
 */
export function shadowQuery(candidates: readonly Upstream[], blocks: readonly number[], index: PrefixIndex | undefined): RouteQuery {
  let matched: Int32Array | undefined;
  const match = (): Int32Array => {
    const out = new Int32Array(candidates.length);
    if (index) return index.match(candidates.map((candidate) => candidate.index), blocks, out);
    candidates.forEach((candidate, i) => (out[i] = candidate.match(blocks)));
    return out;
  };
  return { pages: blocks.length, matches: () => (matched ??= match()) };
}

/** The client's side of one forwarded request: whether it left, and the upstream exchange to abort when it does. */
class ClientState {
  gone = false;
  upstream: Dispatcher.DispatchController | undefined = undefined;
  readonly #response: ServerResponse;
  readonly #metrics: GatewayMetrics;

  constructor(response: ServerResponse, metrics: GatewayMetrics) {
    this.#response = response;
    this.#metrics = metrics;
  }

  /** The response's `close` listener: before the response finished, the client went away. */
  readonly onClose = (): void => {
    if (this.#response.writableFinished) return;
    this.#metrics.clientDisconnects.inc();
    this.gone = true;
    this.upstream?.abort(new undiciErrors.RequestAbortedError('the client went away'));
  };
}

/**
 * One exchange with an upstream as undici's dispatch handler: status, headers and body go to the client
 * unchanged (plus the upstream headers) as they arrive, with no response stream, iterator or AbortSignal
 * per request, and one object instead of a closure per callback (both showed in the gateway's CPU and
 * allocation profiles). Settles with the error when the upstream failed before answering (the caller
 * retries or answers 502/504), else with undefined once the response is over, however it ended. A throw
 * of ours inside a callback is a bug: the exchange is aborted and the promise rejects (forward() answers 500).
 */
class Relay implements Dispatcher.DispatchHandler {
  #status = 0;
  #streaming = false;
  #firstByte = true;
  #controller: Dispatcher.DispatchController | undefined;
  readonly #onDrain = (): void => this.#controller?.resume();

  constructor(
    readonly request: PreparedRequest,
    readonly response: ServerResponse,
    readonly upstream: Upstream,
    readonly client: ClientState,
    readonly predictedCached: number,
    readonly metrics: GatewayMetrics,
    readonly resolve: (error: Error | undefined) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  onRequestStart(control: Dispatcher.DispatchController): void {
    try {
      this.#controller = control;
      this.client.upstream = control;
      if (this.client.gone) control.abort(new undiciErrors.RequestAbortedError('the client went away'));
    } catch (error) {
      this.#bug(control, error);
    }
  }

  onResponseStart(control: Dispatcher.DispatchController, statusCode: number, upstreamHeaders: IncomingHttpHeaders): void {
    try {
      if (statusCode < 200) return; // informational: the final status follows
      this.#status = statusCode;
      const headers = relayHeaders(upstreamHeaders);
      headers[UPSTREAM_HEADER] = this.upstream.url;
      headers[PREDICTED_CACHED_HEADER] = String(this.predictedCached);
      this.response.writeHead(statusCode, headers);
      this.#streaming = String(upstreamHeaders['content-type'] ?? '').startsWith('text/event-stream');
      this.response.on('drain', this.#onDrain);
    } catch (error) {
      this.#bug(control, error);
    }
  }

  onResponseData(control: Dispatcher.DispatchController, chunk: Buffer): void {
    try {
      if (this.#firstByte) {
        this.#firstByte = false;
        this.metrics.firstByte.observe({ endpoint: this.request.endpoint }, (performance.now() - this.request.receivedAt) / 1000);
      }
      if (!this.response.destroyed && !this.response.write(chunk)) control.pause();
    } catch (error) {
      this.#bug(control, error);
    }
  }

  onResponseEnd(control: Dispatcher.DispatchController): void {
    try {
      if (!this.response.destroyed) {
        this.response.end();
        this.metrics.requests.inc({ endpoint: this.request.endpoint, status: String(this.#status), upstream: this.upstream.url });
      }
      this.#settle(undefined);
    } catch (error) {
      this.#bug(control, error);
    }
  }

  onResponseError(_control: Dispatcher.DispatchController, error: Error): void {
    if (this.#status === 0) return this.#settle(error);
    // Mid-response: the status is sent, so end the client's stream (an SSE error event) or cut it.
    const failure = classifyUpstreamError(error);
    if (failure !== 'aborted' && !this.response.destroyed) {
      const { metrics, upstream } = this;
      metrics.upstreamErrors.inc({ upstream: upstream.url, kind: failure === 'timeout' ? 'timeout' : 'stream' });
      metrics.requests.inc({ endpoint: this.request.endpoint, status: 'terminated', upstream: upstream.url });
      if (this.#streaming) {
        const apiError = ApiError.badGateway(`upstream ${upstream.url} ended the stream: ${error.message}`, 'upstream_stream_error');
        this.response.end(`data: ${errorBody(apiError)}\n\n`);
      } else {
        this.response.destroy();
      }
    }
    this.#settle(undefined);
  }

  #settle(result: Error | undefined): void {
    this.response.off('drain', this.#onDrain);
    this.client.upstream = undefined;
    this.resolve(result);
  }

  #bug(control: Dispatcher.DispatchController, error: unknown): void {
    this.response.off('drain', this.#onDrain);
    this.client.upstream = undefined;
    control.abort(error as Error);
    this.reject(error);
  }
}

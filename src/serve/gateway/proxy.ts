/**
 * Forwards one completion request: route, send, relay the response byte for byte (streams included), and
 * clean up whatever happens. A connect failure marks the upstream down for a while and sends the request
 * to the next best one; a timeout becomes a 504, any other failure before a response a 502; a failure
 * mid-response ends the client's stream (an SSE error event, or a cut connection for JSON). A client that
 * leaves aborts the upstream request. Every path releases the shadow-tree lease and the load count.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { bodyFor, headersFor, relayHeaders, type ForwardInput } from './forward-body.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import { ApiError, errorBody } from '../http/openai-errors.js';
import type { PromptBlocks } from '../http/prompt-tokens.js';
import type { RouteQuery, RoutingPolicy } from '../../sim/cache-aware-routing.js';
import type { PrefixIndex } from './prefix-index.js';
import type { ShadowLease } from './shadow-cache.js';
import { classifyUpstreamError } from './upstream-errors.js';
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
    const abort = new AbortController();
    const onClose = () => {
      if (!response.writableFinished) {
        this.#options.metrics.clientDisconnects.inc();
        abort.abort();
      }
    };
    response.on('close', onClose);
    try {
      await this.#attempts(request, response, abort.signal);
    } catch (error) {
      // A bug, not an upstream failure: answer (or cut) this response rather than leave the client hanging.
      process.emitWarning(`kvflow gateway: ${(error as Error).stack ?? String(error)}`);
      if (response.headersSent) response.destroy();
      else this.#fail(request, response, new ApiError(500, 'internal gateway error', 'server_error', 'internal_error'), 'none');
    } finally {
      response.off('close', onClose);
      this.#options.metrics.duration.observe({ endpoint: request.endpoint }, (performance.now() - request.receivedAt) / 1000);
    }
  }

  async #attempts(request: PreparedRequest, response: ServerResponse, signal: AbortSignal): Promise<void> {
    const { upstreams, metrics } = this.#options;
    const tried = new Set<number>();
    const bodies = new Map<UpstreamKind, Buffer | string>();
    let lastError: ApiError | undefined;
    for (;;) {
      if (signal.aborted) return;
      const candidates = upstreams.filter((u) => !tried.has(u.index) && u.isUp(Date.now()) && u.serves(request.model));
      if (candidates.length === 0) {
        return this.#fail(request, response, lastError ?? ApiError.badGateway('no upstream is available', 'no_upstream'), 'none');
      }
      const { upstream, predictedCached } = this.#route(request, candidates);
      tried.add(upstream.index);
      const lease = this.#options.admit ? this.#options.admit(request, upstream) : upstream.admit(request.prompt.blocks, request.fixedBlocks, request.tagKey);
      upstream.load++;
      try {
        let body = bodies.get(upstream.kind);
        if (body === undefined) bodies.set(upstream.kind, (body = bodyFor(upstream.kind, request)));
        let answer: Dispatcher.ResponseData;
        try {
          answer = await upstream.pool.request({
            method: 'POST',
            path: `${upstream.basePath}${request.endpoint}`,
            headers: headersFor(upstream.kind, request.clientHeaders, request, {
              apiKey: upstream.apiKey,
              forwardClientAuthorization: this.#options.forwardClientAuthorization,
            }),
            body,
            signal,
          });
        } catch (error) {
          const failure = classifyUpstreamError(error);
          if (failure === 'aborted') return;
          metrics.upstreamErrors.inc({ upstream: upstream.url, kind: failure });
          if (failure === 'connect') {
            upstream.downUntil = Date.now() + this.#options.retryCooldownMs;
            lastError = ApiError.badGateway(`upstream ${upstream.url} is unreachable: ${(error as Error).message}`, 'upstream_unreachable');
            if (upstreams.some((u) => !tried.has(u.index))) metrics.retries.inc();
            continue;
          }
          const apiError =
            failure === 'timeout'
              ? ApiError.gatewayTimeout(`upstream ${upstream.url} did not answer in time`)
              : ApiError.badGateway(`upstream ${upstream.url} failed: ${(error as Error).message}`);
          return this.#fail(request, response, apiError, upstream.url);
        }
        return await this.#relay(request, response, upstream, answer, predictedCached);
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

  /** Relays status, headers and body unchanged (plus the upstream header). */
  async #relay(request: PreparedRequest, response: ServerResponse, upstream: Upstream, answer: Dispatcher.ResponseData, predictedCached: number): Promise<void> {
    const { metrics } = this.#options;
    const headers = relayHeaders(answer.headers);
    headers[UPSTREAM_HEADER] = upstream.url;
    headers[PREDICTED_CACHED_HEADER] = String(predictedCached);
    response.writeHead(answer.statusCode, headers);
    const streaming = String(answer.headers['content-type'] ?? '').startsWith('text/event-stream');
    let first = true;
    try {
      for await (const chunk of answer.body) {
        if (first) {
          first = false;
          metrics.firstByte.observe({ endpoint: request.endpoint }, (performance.now() - request.receivedAt) / 1000);
        }
        if (!response.write(chunk)) await drained(response);
        if (response.destroyed) return;
      }
      response.end();
      metrics.requests.inc({ endpoint: request.endpoint, status: String(answer.statusCode), upstream: upstream.url });
    } catch (error) {
      const failure = classifyUpstreamError(error);
      if (failure === 'aborted' || response.destroyed) return;
      metrics.upstreamErrors.inc({ upstream: upstream.url, kind: failure === 'timeout' ? 'timeout' : 'stream' });
      metrics.requests.inc({ endpoint: request.endpoint, status: 'terminated', upstream: upstream.url });
      if (streaming) {
        const apiError = ApiError.badGateway(`upstream ${upstream.url} ended the stream: ${(error as Error).message}`, 'upstream_stream_error');
        response.end(`data: ${errorBody(apiError)}\n\n`);
      } else {
        response.destroy();
      }
    }
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

/** Resolves when the client can take more, or has gone. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

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
    const client: ClientState = { gone: false, upstream: undefined };
    const onClose = () => {
      if (!response.writableFinished) {
        this.#options.metrics.clientDisconnects.inc();
        client.gone = true;
        client.upstream?.abort(new undiciErrors.RequestAbortedError('the client went away'));
      }
    };
    response.on('close', onClose);
    try {
      await this.#attempts(request, response, client);
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

  async #attempts(request: PreparedRequest, response: ServerResponse, client: ClientState): Promise<void> {
    const { upstreams, metrics } = this.#options;
    const tried = new Set<number>();
    const bodies = new Map<UpstreamKind, Buffer | string>();
    let lastError: ApiError | undefined;
    for (;;) {
      if (client.gone) return;
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
        const error = await this.#exchange(request, response, upstream, client, predictedCached, {
          method: 'POST',
          path: `${upstream.basePath}${request.endpoint}`,
          headers: headersFor(upstream.kind, request.clientHeaders, request, {
            apiKey: upstream.apiKey,
            forwardClientAuthorization: this.#options.forwardClientAuthorization,
          }),
          body,
        });
        if (error !== undefined) {
          const failure = classifyUpstreamError(error);
          if (failure === 'aborted') return;
          metrics.upstreamErrors.inc({ upstream: upstream.url, kind: failure });
          if (failure === 'connect') {
            upstream.downUntil = Date.now() + this.#options.retryCooldownMs;
            lastError = ApiError.badGateway(`upstream ${upstream.url} is unreachable: ${error.message}`, 'upstream_unreachable');
            if (upstreams.some((u) => !tried.has(u.index))) metrics.retries.inc();
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

  /**
   * Sends the request to `upstream` and relays status, headers and body to the client unchanged (plus the
   * upstream headers) as they arrive, through undici's dispatch handler: no response stream, iterator or
   * AbortSignal per request (they were about a tenth of the gateway's CPU per request). Resolves with the
   * error when the upstream failed before answering (the caller retries or answers 502/504), else undefined
   * once the response is over, however it ended.
   */
  #exchange(
    request: PreparedRequest,
    response: ServerResponse,
    upstream: Upstream,
    client: ClientState,
    predictedCached: number,
    options: Dispatcher.DispatchOptions,
  ): Promise<Error | undefined> {
    const { metrics } = this.#options;
    const aborted = () => new undiciErrors.RequestAbortedError('the client went away');
    return new Promise((resolve, reject) => {
      let status = 0;
      let streaming = false;
      let firstByte = true;
      let controller: Dispatcher.DispatchController | undefined;
      const onDrain = () => controller?.resume();
      const settle = (result: Error | undefined) => {
        response.off('drain', onDrain);
        client.upstream = undefined;
        resolve(result);
      };
      // A throw of ours inside a callback is a bug: abort the exchange and let forward() answer 500.
      const guarded =
        <A extends unknown[]>(body: (control: Dispatcher.DispatchController, ...args: A) => void) =>
        (control: Dispatcher.DispatchController, ...args: A) => {
          try {
            body(control, ...args);
          } catch (error) {
            response.off('drain', onDrain);
            client.upstream = undefined;
            control.abort(error as Error);
            reject(error);
          }
        };
      upstream.pool.dispatch(options, {
        onRequestStart: guarded((control) => {
          controller = control;
          client.upstream = control;
          if (client.gone) control.abort(aborted());
        }),
        onResponseStart: guarded((_control, statusCode: number, upstreamHeaders: IncomingHttpHeaders) => {
          if (statusCode < 200) return; // informational: the final status follows
          status = statusCode;
          const headers = relayHeaders(upstreamHeaders);
          headers[UPSTREAM_HEADER] = upstream.url;
          headers[PREDICTED_CACHED_HEADER] = String(predictedCached);
          response.writeHead(statusCode, headers);
          streaming = String(upstreamHeaders['content-type'] ?? '').startsWith('text/event-stream');
          response.on('drain', onDrain);
        }),
        onResponseData: guarded((control, chunk: Buffer) => {
          if (firstByte) {
            firstByte = false;
            metrics.firstByte.observe({ endpoint: request.endpoint }, (performance.now() - request.receivedAt) / 1000);
          }
          if (!response.destroyed && !response.write(chunk)) control.pause();
        }),
        onResponseEnd: guarded(() => {
          if (!response.destroyed) {
            response.end();
            metrics.requests.inc({ endpoint: request.endpoint, status: String(status), upstream: upstream.url });
          }
          settle(undefined);
        }),
        onResponseError: (_control, error) => {
          if (status === 0) return settle(error);
          // Mid-response: the status is sent, so end the client's stream (an SSE error event) or cut it.
          if (classifyUpstreamError(error) !== 'aborted' && !response.destroyed) {
            metrics.upstreamErrors.inc({ upstream: upstream.url, kind: classifyUpstreamError(error) === 'timeout' ? 'timeout' : 'stream' });
            metrics.requests.inc({ endpoint: request.endpoint, status: 'terminated', upstream: upstream.url });
            if (streaming) {
              const apiError = ApiError.badGateway(`upstream ${upstream.url} ended the stream: ${error.message}`, 'upstream_stream_error');
              response.end(`data: ${errorBody(apiError)}\n\n`);
            } else {
              response.destroy();
            }
          }
          settle(undefined);
        },
      });
    });
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
interface ClientState {
  gone: boolean;
  upstream: Dispatcher.DispatchController | undefined;
}

/**
 * Limits both servers put on their clients, so slow or numerous clients cannot hold them: a whole request
 * (headers and body) must arrive within `requestTimeoutMs` (then 408), its headers within
 * `headersTimeoutMs`, an idle keep-alive connection closes after `keepAliveTimeoutMs`, and at most
 * `maxConnections` sockets are open at once (further ones are closed on accept). Responses are not
 * bounded here: a streamed generation may take as long as the upstream timeouts allow.
 */
import type { FastifyServerOptions } from 'fastify';
import { createServer, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { AdmissionLimits } from './load-shedding.js';
import { ApiError, errorBody } from './openai-errors.js';

/** The admission limits (load-shedding.ts) are optional: each server fills in its defaults (`admissionLimits`). */
export interface ServerLimits extends Partial<AdmissionLimits> {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export const SERVER_LIMIT_DEFAULTS: ServerLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 4_096,
};

/** fastify options applying `limits`, with OpenAI-shaped bodies for errors node raises before routing. */
export function serverOptions(limits: ServerLimits): Pick<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout' | 'clientErrorHandler' | 'serverFactory'> {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // node checks request timeouts every 30 s by default: far too coarse for a timeout of seconds.
    serverFactory: (handler) =>
      createServer(
        {
          connectionsCheckingInterval: Math.max(100, Math.min(1_000, limits.requestTimeoutMs / 4)),
          requestTimeout: limits.requestTimeoutMs,
          headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
          keepAliveTimeout: limits.keepAliveTimeoutMs,
        },
        handler,
      ),
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable) return void socket.destroy();
      const [status, message, code] = clientErrorOf(error.code);
      const body = errorBody(new ApiError(status, message, 'invalid_request_error', code));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  };
}

/** Settings only the node server takes: header timeout and connection cap. */
export function applyServerLimits(server: { headersTimeout: number; maxConnections: number; requestTimeout: number }, limits: ServerLimits): void {
  // node requires headersTimeout <= requestTimeout.
  server.headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || limits.headersTimeoutMs);
  server.maxConnections = limits.maxConnections;
}

function clientErrorOf(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'request headers are too large', 'headers_too_large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'the request did not arrive in time', 'request_timeout'];
    default:
      return [400, 'malformed HTTP request', 'bad_request'];
  }
}

import type { FastifyInstance } from 'fastify';
import { ApiError } from './openai-errors.js';

/** A parsed JSON request body with the bytes it came from, so a proxy can forward them untouched. */
export interface JsonBody {
  raw: Buffer;
  value: unknown;
}

/**
 * Replaces fastify's JSON parser with one that keeps the raw bytes next to the parsed value: the gateway
 * forwards the client's bytes when it changes nothing, instead of paying for a second serialization.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  // JSON only: any other content type (text/plain included) is a 415, the same as a missing one.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    const raw = body as Buffer;
    try {
      done(null, { raw, value: JSON.parse(raw.toString('utf8')) } satisfies JsonBody);
    } catch (error) {
      done(ApiError.invalid(`the request body is not valid JSON: ${(error as Error).message}`, null, 'invalid_json'), undefined);
    }
  });
}

/** The body fastify handed to a route, which this module's parser produced (or nothing at all). */
export function jsonBodyOf(body: unknown): JsonBody {
  if (typeof body === 'object' && body !== null && 'raw' in body && 'value' in body) return body as JsonBody;
  throw ApiError.invalid('expected a JSON request body (Content-Type: application/json)', null, 'invalid_json');
}

/**
 * Bearer-key access control for the engine and the gateway, as vLLM's and SGLang's `--api-key`:
 * `Authorization: Bearer KEY` on every `/v1` route. State-changing routes (registering or deleting
 * workflows, STE pushes, cache resets) take a separate admin key; `/health` stays open and `/metrics`
 * is open unless a metrics key is set. Keys are compared in constant time (digests of equal length)
 * and never logged: a failed check says which key was missing, never what was sent.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './openai-errors.js';

export interface AccessKeys {
  /** Needed on every `/v1` route (the admin key is accepted too). */
  api?: string | undefined;
  /** Needed on routes that change state; without it they take the API key. */
  admin?: string | undefined;
  /** Needed on `/metrics`; without it `/metrics` is open. */
  metrics?: string | undefined;
}

/** Who may call a route: anyone, a metrics scraper, an API client, or an operator. */
export type RouteAccess = 'open' | 'metrics' | 'api' | 'admin';

/** Which access a request needs, from its method and path (query string removed). */
export type AccessRule = (method: string, path: string) => RouteAccess;

/** The environment variables the CLI reads keys from when no flag gives them. */
export const KEY_ENV = { api: 'KVFLOW_API_KEY', admin: 'KVFLOW_ADMIN_KEY', metrics: 'KVFLOW_METRICS_KEY' } as const;

/** Checks every request against `rule` before its body is read; rejects with an OpenAI-shaped 401/403. */
export function installAuth(app: FastifyInstance, keys: AccessKeys, rule: AccessRule): void {
  const api = digestOf(keys.api);
  const admin = digestOf(keys.admin);
  const metrics = digestOf(keys.metrics);
  if (!api && !admin && !metrics) return;
  app.addHook('onRequest', async (request) => {
    const access = rule(request.method, pathOf(request.url));
    if (access === 'open') return;
    const given = bearerOf(request);
    const presented = given === undefined ? undefined : digestOf(given);
    const matches = (key: Buffer | undefined) => key !== undefined && presented !== undefined && timingSafeEqual(key, presented);
    switch (access) {
      case 'metrics':
        if (!metrics || matches(metrics) || matches(admin)) return;
        throw denied(presented, 'this route needs the metrics key');
      case 'api':
        if (!api || matches(api) || matches(admin)) return;
        throw denied(presented, 'this route needs the API key');
      case 'admin': {
        const needed = admin ?? api;
        if (!needed || matches(needed)) return;
        if (admin && matches(api)) throw new ApiError(403, 'this route changes state and needs the admin key', 'invalid_request_error', 'admin_key_required');
        throw denied(presented, admin ? 'this route changes state and needs the admin key' : 'this route needs the API key');
      }
    }
  });
}

/** A non-loopback address: reachable from other machines. */
export function isExposed(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return !(bare === 'localhost' || bare === '::1' || bare.startsWith('127.'));
}

/** The warning a server prints when it listens beyond loopback without an API key. */
export function exposureWarning(server: string, host: string, keys: AccessKeys): string | undefined {
  if (!isExposed(host) || keys.api) return undefined;
  return `kvflow ${server}: warning: listening on ${host} without an API key: anyone who can reach it can use it` +
    `${keys.admin ? '' : ' and change its state'}; set --api-key (or ${KEY_ENV.api}) and --admin-key`;
}

function denied(presented: Buffer | undefined, message: string): ApiError {
  return presented === undefined
    ? new ApiError(401, `missing API key: send Authorization: Bearer <key> (${message})`, 'invalid_request_error', 'invalid_api_key')
    : new ApiError(401, `incorrect API key (${message})`, 'invalid_request_error', 'invalid_api_key');
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1];
}

function digestOf(key: string | undefined): Buffer | undefined {
  return key === undefined || key === '' ? undefined : createHash('sha256').update(key).digest();
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

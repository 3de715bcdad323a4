/**
 * Access keys and client limits of either server from its flags (config/server-fields.ts). Keys may come
 * from the environment instead, so they stay out of shell history and `ps`.
 */
import type { FlagValues } from '../config/field.js';
import type { ACCESS_FIELDS } from '../config/server-fields.js';
import { KEY_ENV, type AccessKeys } from '../serve/http/auth.js';
import type { ServerLimits } from '../serve/http/server-limits.js';

/** The access and limit flags of either server (config/server-fields.ts). */
export type ServerFlags = FlagValues<typeof ACCESS_FIELDS>;

/** Keys from the flags, else the environment; empty strings count as unset. */
export function keysFrom(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): AccessKeys {
  const pick = (flag: string | undefined, name: string) => (flag || env[name] || undefined);
  return { api: pick(flags.apiKey, KEY_ENV.api), admin: pick(flags.adminKey, KEY_ENV.admin), metrics: pick(flags.metricsKey, KEY_ENV.metrics) };
}

export function limitsFrom(flags: ServerFlags): ServerLimits {
  return {
    requestTimeoutMs: flags.requestTimeout,
    headersTimeoutMs: flags.headersTimeout,
    keepAliveTimeoutMs: flags.keepAliveTimeout,
    maxConnections: flags.maxConnections,
    ...(flags.maxInFlight !== undefined && { maxInFlight: flags.maxInFlight }),
    ...(flags.maxQueued !== undefined && { maxQueued: flags.maxQueued }),
    queueTimeoutMs: flags.queueTimeout,
  };
}

/**
 * Flags both servers (`engine`, `gateway`) share: access keys and client limits. Keys may come from the
 * environment instead, so they stay out of shell history and `ps`.
 */
import type { Command } from 'commander';
import { KEY_ENV, type AccessKeys } from '../serve/http/auth.js';
import { SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../serve/http/server-limits.js';
import { parseInteger } from './flags.js';

export interface ServerFlags {
  apiKey?: string;
  adminKey?: string;
  metricsKey?: string;
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  maxConnections: number;
}

export function addServerFlags(command: Command): Command {
  return command
    .option('--api-key <key>', `require Authorization: Bearer <key> on every /v1 route (or ${KEY_ENV.api})`)
    .option('--admin-key <key>', `key for routes that change state (workflows, STE updates, cache resets; or ${KEY_ENV.admin}); default: the API key`)
    .option('--metrics-key <key>', `key for /metrics (or ${KEY_ENV.metrics}); default: /metrics is open`)
    .option('--request-timeout <ms>', 'time for a client to send a whole request (headers and body); then 408', (v) => parseInteger(v, 1), SERVER_LIMIT_DEFAULTS.requestTimeoutMs)
    .option('--headers-timeout <ms>', 'time for a client to send its request headers', (v) => parseInteger(v, 1), SERVER_LIMIT_DEFAULTS.headersTimeoutMs)
    .option('--keep-alive-timeout <ms>', 'idle keep-alive connections close after this', (v) => parseInteger(v, 1), SERVER_LIMIT_DEFAULTS.keepAliveTimeoutMs)
    .option('--max-connections <n>', 'most client connections open at once; more are closed on accept', (v) => parseInteger(v, 1), SERVER_LIMIT_DEFAULTS.maxConnections);
}

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
  };
}

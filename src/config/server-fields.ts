/**
 * The fields both servers (`kvflow engine`, `kvflow gateway`) share: where they listen, access keys, client
 * limits and the tokenizer of the models they serve. Each server's own table (config/engine-fields.ts,
 * config/gateway-fields.ts) spreads these in, so a limit added here is a flag of both.
 */
import { KEY_ENV } from '../serve/http/auth.js';
import { ADMISSION_DEFAULTS } from '../serve/http/load-shedding.js';
import { SERVER_LIMIT_DEFAULTS } from '../serve/http/server-limits.js';
import { TOKENIZER_PRESETS } from '../workload/tokenizer-presets.js';
import { boolean, byteCount, integer, path, text, type ConfigField } from './field.js';

/** A TCP port; 0 asks the system for a free one. */
const port = integer(0, 65_535, '"%s" is not a port (0 to 65535; 0 picks a free one)');

/** Where a server listens and what it accepts, with its own port and body limit as defaults. */
export function listenFields(defaults: { port: number; bodyLimit: number }) {
  return {
    host: { flag: '--host <address>', description: 'address to listen on', ...text, default: '127.0.0.1' },
    port: { flag: '--port <n>', description: 'port to listen on; 0 picks a free one', ...port, default: defaults.port },
    maxBodyBytes: { flag: '--max-body-bytes <n>', description: 'largest request body accepted (bytes; 8M, 8MiB)', ...byteCount, default: defaults.bodyLimit },
    log: { flag: '--log', description: 'log every request on stderr (fastify JSON log)', ...boolean },
  } as const satisfies Record<string, ConfigField>;
}

/** Access keys (the environment may hold them instead, out of shell history and `ps`) and client limits. */
export const ACCESS_FIELDS = {
  apiKey: { flag: '--api-key <key>', description: `require Authorization: Bearer <key> on every /v1 route (or ${KEY_ENV.api})`, ...text },
  adminKey: {
    flag: '--admin-key <key>',
    description: `key for routes that change state (workflows, STE updates, cache resets; or ${KEY_ENV.admin}); default: the API key`,
    ...text,
  },
  metricsKey: { flag: '--metrics-key <key>', description: `key for /metrics (or ${KEY_ENV.metrics}); default: /metrics is open`, ...text },
  requestTimeout: {
    flag: '--request-timeout <ms>',
    description: 'time for a client to send a whole request (headers and body); then 408',
    ...integer(1),
    default: SERVER_LIMIT_DEFAULTS.requestTimeoutMs,
  },
  headersTimeout: { flag: '--headers-timeout <ms>', description: 'time for a client to send its request headers', ...integer(1), default: SERVER_LIMIT_DEFAULTS.headersTimeoutMs },
  keepAliveTimeout: {
    flag: '--keep-alive-timeout <ms>',
    description: 'idle keep-alive connections close after this',
    ...integer(1),
    default: SERVER_LIMIT_DEFAULTS.keepAliveTimeoutMs,
  },
  maxConnections: {
    flag: '--max-connections <n>',
    description: 'most client connections open at once; more are closed on accept',
    ...integer(1),
    default: SERVER_LIMIT_DEFAULTS.maxConnections,
  },
  // Load shedding (serve/http/load-shedding.ts): defaults depend on the server (2 x --max-running, 256 per upstream).
  maxInFlight: {
    flag: '--max-in-flight <n>',
    description: 'most completion requests worked on at once, more wait in a queue (default: engine 2 x --max-running, gateway 256 per upstream)',
    ...integer(1),
  },
  maxQueued: {
    flag: '--max-queued <n>',
    description: 'most completion requests waiting for a slot; more get 503 with Retry-After at once (0: no queue; default: --max-in-flight)',
    ...integer(0),
  },
  queueTimeout: {
    flag: '--queue-timeout <ms>',
    description: 'longest wait for a slot; then 503 with Retry-After',
    ...integer(1, 2 ** 31 - 1),
    default: ADMISSION_DEFAULTS.queueTimeoutMs,
  },
} as const satisfies Record<string, ConfigField>;

/** The tokenizer of the served models (prompt tokens for routing and the engine's cache). */
export const TOKENIZER_FIELDS = {
  tokenizer: {
    flag: '--tokenizer <name>',
    description: `tokenizer for every model: a preset (${Object.keys(TOKENIZER_PRESETS).join(', ')}) or a Hugging Face tokenizer.json (default: the preset of the served model id, else cl100k_base with a warning)`,
    ...text,
  },
  chatTemplate: { flag: '--chat-template <file>', description: 'with --tokenizer FILE: a chat template (Jinja text, or a tokenizer_config.json) instead of its own', ...path },
} as const satisfies Record<string, ConfigField>;

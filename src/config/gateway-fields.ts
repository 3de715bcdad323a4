/**
 * The fields of `kvflow gateway` (cli/gateway.ts gets its flags from these tables). Defaults are the
 * library's (`GATEWAY_DEFAULTS` and the limits beside it), so a gateway started from code and one started
 * from the command line behave alike.
 */
import { GATEWAY_MODE_NAMES } from '../serve/gateway/gateway-mode.js';
import { GATEWAY_DEFAULTS } from '../serve/gateway/gateway-server.js';
import { HEALTH_CHECK_DEFAULTS } from '../serve/gateway/health-check.js';
import { REDIS_STATE_DEFAULTS } from '../serve/gateway/redis-errors.js';
import { UPSTREAM_KINDS } from '../serve/gateway/upstream.js';
import { REGISTRY_LIMIT_DEFAULTS } from '../serve/gateway/workflow-registry.js';
import { CACHE_AWARE_DEFAULTS } from '../sim/cache-aware-routing.js';
import { integer, number, oneOf, path, text, tokens, type ConfigField } from './field.js';
import { ACCESS_FIELDS, listenFields, TOKENIZER_FIELDS } from './server-fields.js';

/** An http(s) URL, kept as written. */
export function parseHttpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL (e.g. http://127.0.0.1:30000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${text}" is not an http(s) URL`);
  return text;
}

/** A list field given by repeating the flag; each value is parsed as `element` parses it. */
function repeated<T>(element: Pick<ConfigField<T>, 'parse' | 'schema'>): Pick<ConfigField<T[]>, 'schema' | 'repeatable'> & { parse: (text: string) => T } {
  return { parse: element.parse!, schema: (z) => z.array(element.schema(z)), repeatable: true };
}

const httpUrl: Pick<ConfigField<string>, 'parse' | 'schema'> = {
  parse: parseHttpUrl,
  schema: (z) => z.string().refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), { error: 'must be an http(s) URL' }),
};

/** The engines behind the gateway and how it talks to them. */
export const UPSTREAM_FIELDS = {
  upstream: { flag: '--upstream <url>', description: 'upstream server base URL, e.g. http://127.0.0.1:30000 (repeatable)', ...repeated(httpUrl) },
  upstreamKind: {
    flag: '--upstream-kind <kind>',
    description: `${UPSTREAM_KINDS.join(' | ')}; once for all upstreams, or once per --upstream in the same order (default openai)`,
    ...repeated(oneOf(UPSTREAM_KINDS)),
  },
  upstreamApiKey: { flag: '--upstream-api-key <key>', description: 'sent to every upstream as Authorization: Bearer (or KVFLOW_UPSTREAM_API_KEY)', ...text },
  connectTimeout: {
    flag: '--connect-timeout <ms>',
    description: 'connect timeout; a connect failure retries on another upstream',
    ...integer(1),
    default: GATEWAY_DEFAULTS.timeouts.connectMs,
  },
  timeout: {
    flag: '--timeout <ms>',
    description: "time to the upstream's response headers (whole generation when not streaming); then 504",
    ...integer(1),
    default: GATEWAY_DEFAULTS.timeouts.headersMs,
  },
  idleTimeout: {
    flag: '--idle-timeout <ms>',
    description: 'longest silence between response chunks; then the response is cut',
    ...integer(1),
    default: GATEWAY_DEFAULTS.timeouts.bodyMs,
  },
  connections: { flag: '--connections <n>', description: 'connections per upstream', ...integer(1), default: GATEWAY_DEFAULTS.connections },
  retryCooldown: {
    flag: '--retry-cooldown <ms>',
    description: 'how long an unreachable upstream stays out of routing',
    ...integer(0),
    default: GATEWAY_DEFAULTS.retryCooldownMs,
  },
  healthInterval: {
    flag: '--health-interval <ms>',
    description: "probe each upstream's /health this often; 0: no active checks",
    ...integer(0),
    default: HEALTH_CHECK_DEFAULTS.intervalMs,
  },
  healthTimeout: {
    flag: '--health-timeout <ms>',
    description: 'an upstream that does not answer its probe in this time leaves routing',
    ...integer(1),
    default: HEALTH_CHECK_DEFAULTS.timeoutMs,
  },
  servedModelName: {
    flag: '--served-model-name <id>',
    description: 'model id to accept (repeatable; default: whatever the upstreams list at /v1/models); the name vLLM and `kvflow engine` use',
    ...repeated(text),
  },
  servedModel: { flag: '--served-model <id>', description: 'same as --served-model-name', ...repeated(text) },
} as const satisfies Record<string, ConfigField>;

/** Shadow trees, routing and the step graph. */
export const ROUTING_FIELDS = {
  mode: {
    flag: '--mode <name>',
    description: `${GATEWAY_MODE_NAMES.join(' | ')}: kvflow orders shadow trees by STE and pushes STE upstream; lru does neither (default: ${GATEWAY_DEFAULTS.mode})`,
    ...oneOf(GATEWAY_MODE_NAMES),
  },
  policy: {
    flag: '--policy <name>',
    description:
      "the shadow trees' eviction policy: a registered name (lru, lfu, ste, reuse, ...) or a policy file (./my-policy.js); default the mode's (the old values lru and kvflow still select a mode)",
    ...text,
  },
  blockSize: {
    flag: '--block-size <n>',
    description: "tokens per page of the shadow trees (the upstreams' page size)",
    ...integer(1),
    default: GATEWAY_DEFAULTS.blockSize,
  },
  shadowCapacity: {
    flag: '--shadow-capacity <tokens>',
    description: "tokens each upstream's shadow tree holds (its KV pool size: 686,320 or 512k)",
    ...tokens(1),
    default: GATEWAY_DEFAULTS.shadowCapacityTokens,
  },
  balanceAbs: { flag: '--balance-abs <n>', description: 'loads are imbalanced when max - min exceeds this', ...integer(0), default: CACHE_AWARE_DEFAULTS.balanceAbs },
  balanceRel: { flag: '--balance-rel <x>', description: '... and max exceeds min times this', ...number(1), default: CACHE_AWARE_DEFAULTS.balanceRel },
  cacheThreshold: {
    flag: '--cache-threshold <x>',
    description: 'least share of the prompt an upstream must hold to be chosen for it',
    ...number(0),
    default: CACHE_AWARE_DEFAULTS.cacheThreshold,
  },
  workflow: { flag: '--workflow <spec>', description: 'workflow spec to register at start (repeatable; also POST /v1/workflows)', ...repeated(path) },
  graph: {
    flag: '--graph <source>',
    description: 'declared: STE for registered workflows only; learned: also learn the step graph from requests naming an agent and an instance',
    ...oneOf(['declared', 'learned'] as const),
    default: 'declared',
  },
  instanceIdle: {
    flag: '--instance-idle <s>',
    description: 'seconds without traffic after which a workflow instance is over',
    ...number(0),
    default: GATEWAY_DEFAULTS.idleSeconds,
  },
  maxWorkflows: { flag: '--max-workflows <n>', description: 'most registered workflows; then 429', ...integer(1), default: REGISTRY_LIMIT_DEFAULTS.maxWorkflows },
  maxInstances: { flag: '--max-instances <n>', description: 'most live workflow instances tracked; then 429', ...integer(1), default: REGISTRY_LIMIT_DEFAULTS.maxInstances },
} as const satisfies Record<string, ConfigField>;

/** The upstreams' KV event publishers (routing on their exact blocks). */
export const KV_EVENT_FEED_FIELDS = {
  kvEvents: {
    flag: '--kv-events <[upstream=]endpoint>',
    description:
      "an upstream's vLLM KV event publisher, e.g. http://e1:8000=tcp://e1:5557 (repeatable; without upstream=, one per --upstream in order): route it on its exact blocks",
    ...repeated(text),
  },
  kvEventsReplay: {
    flag: '--kv-events-replay <[upstream=]endpoint>',
    description: "that publisher's replay endpoint (vLLM's replay_endpoint), e.g. http://e1:8000=tcp://e1:5558 (repeatable)",
    ...repeated(text),
  },
  kvEventsTopic: { flag: '--kv-events-topic <prefix>', description: 'subscribe to KV event topics starting with this (default: all)', ...text },
} as const satisfies Record<string, ConfigField>;

/** State shared by several gateways through Redis. */
export const SHARED_STATE_FIELDS = {
  redis: {
    flag: '--redis <url>',
    description: 'share workflow state, STE and shadow trees with every gateway given the same Redis: redis://HOST:PORT[/DB] (or KVFLOW_REDIS; docs/distributed.md)',
    ...text,
  },
  redisCheckpoint: {
    flag: '--redis-checkpoint <ms>',
    description: 'with --redis: how often the leading replica checkpoints the live state and trims the log (finished and expired instances leave Redis then)',
    ...integer(10),
    default: REDIS_STATE_DEFAULTS.checkpointMs,
  },
  redisHeartbeat: {
    flag: '--redis-heartbeat <ms>',
    description: 'with --redis: heartbeat period; a replica silent for three is gone and its requests are ended',
    ...integer(10),
    default: REDIS_STATE_DEFAULTS.heartbeatMs,
  },
  redisAdmissions: {
    flag: '--redis-admissions <n>',
    description: 'with --redis: past prompts a checkpoint keeps to re-grow the shadow trees of a replica that joins',
    ...integer(1),
    default: REDIS_STATE_DEFAULTS.admissions,
  },
} as const satisfies Record<string, ConfigField>;

/** What clients reach. */
export const GATEWAY_SERVER_FIELDS = {
  ...listenFields({ port: 8080, bodyLimit: GATEWAY_DEFAULTS.bodyLimit }),
  ...TOKENIZER_FIELDS,
  ...ACCESS_FIELDS,
} as const satisfies Record<string, ConfigField>;

/** Every field of `kvflow gateway`, per concern (each a heading in `--help`). */
export const GATEWAY_FIELD_GROUPS = {
  Upstreams: UPSTREAM_FIELDS,
  'Routing and step graph': ROUTING_FIELDS,
  Server: GATEWAY_SERVER_FIELDS,
  'KV event feeds': KV_EVENT_FEED_FIELDS,
  'Shared state (Redis)': SHARED_STATE_FIELDS,
} as const;

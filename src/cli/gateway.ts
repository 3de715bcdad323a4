import { InvalidArgumentError, type Command } from 'commander';
import { InputError } from '../errors.js';
import { GATEWAY_MODE_NAMES, type GatewayModeName } from '../serve/gateway/gateway-mode.js';
import { resolvePolicy } from '../config/policy-spec.js';
import { GATEWAY_DEFAULTS, startGateway, type GatewayServer } from '../serve/gateway/gateway-server.js';
import { REDIS_STATE_DEFAULTS, RedisUnreachable } from '../serve/gateway/redis-errors.js';
import { isDeepStrictEqual } from 'node:util';
import { CACHE_AWARE_DEFAULTS } from '../sim/cache-aware-routing.js';
import { closeOnSignal } from '../serve/http/shutdown.js';
import { UPSTREAM_KINDS, type UpstreamKind } from '../serve/gateway/upstream.js';
import { loadWorkflowSpec, type WorkflowSpec } from '../workload/spec.js';
import { parseByteCount, parseInteger, parseName, parseNumber, parsePort, parseTokenCount } from './flags.js';
import { TOKENIZER_OPTIONS, tokenizerSource } from './tokenizer-flags.js';
import { emit, runCommand } from './run.js';
import { addServerFlags, keysFrom, limitsFrom, type ServerFlags } from './server-flags.js';
import { REGISTRY_LIMIT_DEFAULTS, RegistryRefusal } from '../serve/gateway/workflow-registry.js';
import { HEALTH_CHECK_DEFAULTS } from '../serve/gateway/health-check.js';
import type { KvEventFeedSpec } from '../serve/gateway/kv-event-feeds.js';
import { parseZmqEndpoint } from '../serve/kv-events/kv-events-config.js';

interface GatewayFlags extends ServerFlags {
  upstreamApiKey?: string;
  maxWorkflows: number;
  maxInstances: number;
  healthInterval: number;
  healthTimeout: number;
  upstream?: string[];
  upstreamKind?: UpstreamKind[];
  mode?: GatewayModeName;
  policy?: string;
  host: string;
  port: number;
  blockSize: number;
  shadowCapacity: number;
  balanceAbs: number;
  balanceRel: number;
  cacheThreshold: number;
  connectTimeout: number;
  timeout: number;
  idleTimeout: number;
  connections: number;
  retryCooldown: number;
  maxBodyBytes: number;
  servedModel?: string[];
  servedModelName?: string[];
  workflow?: string[];
  instanceIdle: number;
  graph: 'declared' | 'learned';
  log?: boolean;
  tokenizer?: string;
  chatTemplate?: string;
  kvEvents?: string[];
  kvEventsReplay?: string[];
  kvEventsTopic?: string;
  redis?: string;
  redisCheckpoint: number;
  redisHeartbeat: number;
  redisAdmissions: number;
}

/**
 * `kvflow gateway`: an OpenAI-compatible, workflow-aware proxy in front of one or more engines. Prints its
 * URL, serves until SIGINT/SIGTERM.
 */
export function registerGateway(program: Command): void {
  const collect = <T>(parse: (text: string) => T) => (text: string, previous: T[] | undefined) => [...(previous ?? []), parse(text)];
  const command = program
    .command('gateway')
    .description('OpenAI-compatible workflow-aware gateway: prefix-aware routing over shadow radix trees, STE pushed to upstreams')
    .option('--upstream <url>', 'upstream server base URL, e.g. http://127.0.0.1:30000 (repeatable)', collect(parseUrl))
    .option(
      '--upstream-kind <kind>',
      `${UPSTREAM_KINDS.join(' | ')}; once for all upstreams, or once per --upstream in the same order (default openai)`,
      collect((v) => parseName(v, UPSTREAM_KINDS)),
    )
    .option('--mode <name>', `${GATEWAY_MODE_NAMES.join(' | ')}: kvflow orders shadow trees by STE and pushes STE upstream; lru does neither (default: ${GATEWAY_DEFAULTS.mode})`, (v) => parseName(v, GATEWAY_MODE_NAMES))
    .option('--policy <name>', "the shadow trees' eviction policy: a registered name (lru, lfu, ste, reuse, ...) or a policy file (./my-policy.js); default the mode's (the old values lru and kvflow still select a mode)")
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on; 0 picks a free one', parsePort, 8080)
    .option('--block-size <n>', 'tokens per page of the shadow trees (the upstreams\' page size)', (v) => parseInteger(v, 1), GATEWAY_DEFAULTS.blockSize)
    .option('--shadow-capacity <tokens>', 'tokens each upstream\'s shadow tree holds (its KV pool size: 686,320 or 512k)', parseCapacity, GATEWAY_DEFAULTS.shadowCapacityTokens)
    .option('--balance-abs <n>', 'loads are imbalanced when max - min exceeds this', (v) => parseInteger(v, 0), CACHE_AWARE_DEFAULTS.balanceAbs)
    .option('--balance-rel <x>', '... and max exceeds min times this', (v) => parseNumber(v, 1), CACHE_AWARE_DEFAULTS.balanceRel)
    .option('--cache-threshold <x>', 'least share of the prompt an upstream must hold to be chosen for it', (v) => parseNumber(v, 0), CACHE_AWARE_DEFAULTS.cacheThreshold)
    .option('--connect-timeout <ms>', 'connect timeout; a connect failure retries on another upstream', (v) => parseInteger(v, 1), GATEWAY_DEFAULTS.timeouts.connectMs)
    .option('--timeout <ms>', 'time to the upstream\'s response headers (whole generation when not streaming); then 504', (v) => parseInteger(v, 1), GATEWAY_DEFAULTS.timeouts.headersMs)
    .option('--idle-timeout <ms>', 'longest silence between response chunks; then the response is cut', (v) => parseInteger(v, 1), GATEWAY_DEFAULTS.timeouts.bodyMs)
    .option('--connections <n>', 'connections per upstream', (v) => parseInteger(v, 1), GATEWAY_DEFAULTS.connections)
    .option('--retry-cooldown <ms>', 'how long an unreachable upstream stays out of routing', (v) => parseInteger(v, 0), GATEWAY_DEFAULTS.retryCooldownMs)
    .option('--max-body-bytes <n>', 'largest request body accepted (bytes; 8M, 8MiB)', (v) => parseByteCount(v, 1), GATEWAY_DEFAULTS.bodyLimit)
    .option('--served-model-name <id>', 'model id to accept (repeatable; default: whatever the upstreams list at /v1/models); the name vLLM and `kvflow engine` use', collect(String))
    .option('--served-model <id>', 'same as --served-model-name', collect(String))
    .option('--workflow <spec>', 'workflow spec to register at start (repeatable; also POST /v1/workflows)', collect(String))
    .option(
      '--graph <source>',
      'declared: STE for registered workflows only; learned: also learn the step graph from requests naming an agent and an instance',
      (v) => parseName(v, ['declared', 'learned'] as const),
      'declared',
    )
    .option('--instance-idle <s>', 'seconds without traffic after which a workflow instance is over', (v) => parseNumber(v, 0), GATEWAY_DEFAULTS.idleSeconds)
    .option('--log', 'log every request on stderr (fastify JSON log)')
    .option(...TOKENIZER_OPTIONS.tokenizer)
    .option(...TOKENIZER_OPTIONS.chatTemplate)
    .option('--upstream-api-key <key>', 'sent to every upstream as Authorization: Bearer (or KVFLOW_UPSTREAM_API_KEY)')
    .option('--max-workflows <n>', 'most registered workflows; then 429', (v) => parseInteger(v, 1), REGISTRY_LIMIT_DEFAULTS.maxWorkflows)
    .option('--max-instances <n>', 'most live workflow instances tracked; then 429', (v) => parseInteger(v, 1), REGISTRY_LIMIT_DEFAULTS.maxInstances)
    .option('--health-interval <ms>', 'probe each upstream\'s /health this often; 0: no active checks', (v) => parseInteger(v, 0), HEALTH_CHECK_DEFAULTS.intervalMs)
    .option('--health-timeout <ms>', 'an upstream that does not answer its probe in this time leaves routing', (v) => parseInteger(v, 1), HEALTH_CHECK_DEFAULTS.timeoutMs)
    .option(
      '--kv-events <[upstream=]endpoint>',
      "an upstream's vLLM KV event publisher, e.g. http://e1:8000=tcp://e1:5557 (repeatable; without upstream=, one per --upstream in order): route it on its exact blocks",
      collect(String),
    )
    .option('--kv-events-replay <[upstream=]endpoint>', "that publisher's replay endpoint (vLLM's replay_endpoint), e.g. http://e1:8000=tcp://e1:5558 (repeatable)", collect(String))
    .option('--kv-events-topic <prefix>', 'subscribe to KV event topics starting with this (default: all)')
    .option('--redis <url>', 'share workflow state, STE and shadow trees with every gateway given the same Redis: redis://HOST:PORT[/DB] (or KVFLOW_REDIS; docs/distributed.md)')
    .option('--redis-checkpoint <ms>', 'with --redis: how often the leading replica checkpoints the live state and trims the log (finished and expired instances leave Redis then)', (v) => parseInteger(v, 10), REDIS_STATE_DEFAULTS.checkpointMs)
    .option('--redis-heartbeat <ms>', 'with --redis: heartbeat period; a replica silent for three is gone and its requests are ended', (v) => parseInteger(v, 10), REDIS_STATE_DEFAULTS.heartbeatMs)
    .option('--redis-admissions <n>', 'with --redis: past prompts a checkpoint keeps to re-grow the shadow trees of a replica that joins', (v) => parseInteger(v, 1), REDIS_STATE_DEFAULTS.admissions);
  addServerFlags(command).action((flags: GatewayFlags) => runCommand(() => gatewayCommand(flags)));
}

async function gatewayCommand(flags: GatewayFlags): Promise<void> {
  const upstreams = pairKinds(flags.upstream ?? [], flags.upstreamKind ?? []);
  const kvEvents = pairKvEventFeeds(upstreams.map((u) => u.url), flags.kvEvents ?? [], flags.kvEventsReplay ?? []);
  const specs = await Promise.all((flags.workflow ?? []).map((path) => loadWorkflowSpec(path)));
  const { mode, shadowPolicy } = await modeAndPolicy(flags);
  const upstreamApiKey = flags.upstreamApiKey || process.env.KVFLOW_UPSTREAM_API_KEY || undefined;
  const redisUrl = flags.redis || process.env.KVFLOW_REDIS || undefined;
  if (redisUrl !== undefined) (await import('../sweep/sweep-queue.js')).parseRedisUrl(redisUrl, '--redis');
  const gateway = await startGateway({
    upstreams,
    mode,
    ...(shadowPolicy && { shadowPolicy: shadowPolicy.create }),
    host: flags.host,
    port: flags.port,
    blockSize: flags.blockSize,
    shadowCapacityTokens: flags.shadowCapacity,
    routing: { balanceAbs: flags.balanceAbs, balanceRel: flags.balanceRel, cacheThreshold: flags.cacheThreshold },
    timeouts: { connectMs: flags.connectTimeout, headersMs: flags.timeout, bodyMs: flags.idleTimeout },
    connections: flags.connections,
    retryCooldownMs: flags.retryCooldown,
    bodyLimit: flags.maxBodyBytes,
    ...((flags.servedModelName || flags.servedModel) && { models: [...(flags.servedModelName ?? []), ...(flags.servedModel ?? [])] }),
    idleSeconds: flags.instanceIdle,
    graph: flags.graph,
    log: flags.log ?? false,
    logLine: (line) => process.stderr.write(`${line}\n`),
    keys: keysFrom(flags),
    ...(upstreamApiKey && { upstreamApiKey }),
    limits: limitsFrom(flags),
    registryLimits: { maxWorkflows: flags.maxWorkflows, maxInstances: flags.maxInstances },
    healthCheck: { intervalMs: flags.healthInterval, timeoutMs: flags.healthTimeout },
    tokenizer: tokenizerSource(flags, (line) => process.stderr.write(`kvflow gateway: ${line}\n`)),
    ...(kvEvents.length > 0 && { kvEvents }),
    ...(flags.kvEventsTopic !== undefined && { kvEventsTopic: flags.kvEventsTopic }),
    ...(redisUrl !== undefined && {
      redis: { url: redisUrl, checkpointMs: flags.redisCheckpoint, heartbeatMs: flags.redisHeartbeat, admissions: flags.redisAdmissions },
    }),
  }).catch((error: unknown) => {
    if (error instanceof RedisUnreachable) throw InputError.flag('--redis', error.message);
    throw error;
  });
  try {
    for (const spec of specs) await registerAtStart(gateway, spec);
  } catch (error) {
    await gateway.close();
    if (error instanceof RegistryRefusal) throw InputError.flag('--workflow', error.message);
    throw error;
  }
  const list = upstreams.map((u) => `${u.url} (${u.kind})`).join(', ');
  const policyNote = shadowPolicy ? `, shadow policy ${shadowPolicy.name}` : '';
  emit(`kvflow gateway listening on ${gateway.url} (mode ${mode}${policyNote}; upstreams ${list})`);
  await closeOnSignal(() => gateway.close());
}

/**
 * A `--workflow` spec. With shared state another replica may have registered the same spec already,
 * which is fine; a different spec under the name is refused as before.
 */
async function registerAtStart(gateway: GatewayServer, spec: WorkflowSpec): Promise<void> {
  try {
    await gateway.register(spec);
  } catch (error) {
    const registered = gateway.registry.list().find((other) => other.name === spec.name);
    if (error instanceof RegistryRefusal && error.reason === 'exists' && registered && isDeepStrictEqual(registered, spec)) return;
    throw error;
  }
}

/**
 * `--mode` and the shadow trees' `--policy`. Before modes had their own flag, `--policy lru|kvflow` chose
 * the mode: `--policy kvflow` still does, and `--policy lru` alone means mode lru (LRU trees, no STE).
 */
async function modeAndPolicy(flags: GatewayFlags): Promise<{ mode: GatewayModeName; shadowPolicy?: Awaited<ReturnType<typeof resolvePolicy>> }> {
  if (flags.policy === 'kvflow') {
    if (flags.mode !== undefined && flags.mode !== 'kvflow') throw InputError.flag('--policy', 'kvflow is a mode; it contradicts --mode');
    return { mode: 'kvflow' };
  }
  if (flags.policy === 'lru' && flags.mode === undefined) return { mode: 'lru' };
  const mode = flags.mode ?? GATEWAY_DEFAULTS.mode;
  if (flags.policy === undefined) return { mode };
  return { mode, shadowPolicy: await resolvePolicy(flags.policy, { where: '--policy', online: true }) };
}

/** One kind for all upstreams, or one per upstream in order. */
export function pairKinds(urls: readonly string[], kinds: readonly UpstreamKind[]): { url: string; kind: UpstreamKind }[] {
  if (urls.length === 0) throw InputError.flag('--upstream', 'give at least one upstream URL');
  if (kinds.length > 1 && kinds.length !== urls.length) {
    throw InputError.flag('--upstream-kind', `give one kind for all upstreams or one per --upstream (${urls.length}), got ${kinds.length}`);
  }
  return urls.map((url, i) => ({ url, kind: kinds.length === 0 ? 'openai' : kinds.length === 1 ? kinds[0]! : kinds[i]! }));
}

/**
 * `--kv-events` and `--kv-events-replay` values to feeds: `UPSTREAM=ENDPOINT` names the upstream by its
 * URL (as given to --upstream); bare endpoints go to the upstreams in order, one each.
 */
export function pairKvEventFeeds(urls: readonly string[], events: readonly string[], replays: readonly string[]): KvEventFeedSpec[] {
  const assign = (values: readonly string[], flag: string): Map<number, string> => {
    const byUpstream = new Map<number, string>();
    const bare = values.filter((value) => !value.includes('='));
    if (bare.length > 0 && (bare.length !== values.length || bare.length !== urls.length)) {
      throw InputError.flag(flag, `without upstream=, give one endpoint per --upstream (${urls.length}) in order; else write UPSTREAM_URL=ENDPOINT`);
    }
    values.forEach((value, i) => {
      const at = value.lastIndexOf('=');
      const upstream = at < 0 ? i : urls.findIndex((url) => sameUrl(url, value.slice(0, at)));
      if (upstream < 0) throw InputError.flag(flag, `"${value.slice(0, at)}" is not one of the --upstream URLs`);
      if (byUpstream.has(upstream)) throw InputError.flag(flag, `two endpoints for upstream ${urls[upstream]}`);
      byUpstream.set(upstream, parseZmqEndpoint(value.slice(at + 1), flag));
    });
    return byUpstream;
  };
  const pubs = assign(events, '--kv-events');
  const replay = assign(replays, '--kv-events-replay');
  for (const upstream of replay.keys()) {
    if (!pubs.has(upstream)) throw InputError.flag('--kv-events-replay', `upstream ${urls[upstream]} has a replay endpoint but no --kv-events endpoint`);
  }
  return [...pubs].sort(([a], [b]) => a - b).map(([upstream, endpoint]) => ({ upstream, endpoint, ...(replay.has(upstream) && { replayEndpoint: replay.get(upstream)! }) }));
}

function sameUrl(a: string, b: string): boolean {
  try {
    return new URL(a).href.replace(/\/+$/, '') === new URL(b).href.replace(/\/+$/, '');
  } catch {
    return false;
  }
}

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(`"${text}" is not a URL (e.g. http://127.0.0.1:30000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError(`"${text}" is not an http(s) URL`);
  return text;
}

function parseCapacity(text: string): number {
  const tokens = parseTokenCount(text);
  if (tokens === null || tokens < 1) throw new InvalidArgumentError(`"${text}" is not a token count >= 1`);
  return tokens;
}

import type { Command } from 'commander';
import { InputError } from '../errors.js';
import type { GatewayModeName } from '../serve/gateway/gateway-mode.js';
import { resolvePolicy } from '../config/policy-spec.js';
import type { FlagValues } from '../config/field.js';
import {
  GATEWAY_FIELD_GROUPS,
  type GATEWAY_SERVER_FIELDS,
  type KV_EVENT_FEED_FIELDS,
  type ROUTING_FIELDS,
  type SHARED_STATE_FIELDS,
  type UPSTREAM_FIELDS,
} from '../config/gateway-fields.js';
import { GATEWAY_DEFAULTS, startGateway, type GatewayServer } from '../serve/gateway/gateway-server.js';
import { RedisUnreachable } from '../serve/gateway/redis-errors.js';
import { isDeepStrictEqual } from 'node:util';
import { closeOnSignal } from '../serve/http/shutdown.js';
import type { UpstreamKind } from '../serve/gateway/upstream.js';
import { loadWorkflowSpec, type WorkflowSpec } from '../workload/spec.js';
import { tokenizerSource } from './tokenizer-flags.js';
import { addFieldGroups } from './config-flags.js';
import { emit, runCommand } from './run.js';
import { keysFrom, limitsFrom } from './server-flags.js';
import { RegistryRefusal } from '../serve/gateway/workflow-registry.js';
import type { KvEventFeedSpec } from '../serve/gateway/kv-event-feeds.js';
import { parseZmqEndpoint } from '../serve/kv-events/kv-events-config.js';

/** Every flag of the command (config/gateway-fields.ts), as commander parses them. */
type GatewayFlags = FlagValues<
  typeof UPSTREAM_FIELDS & typeof ROUTING_FIELDS & typeof GATEWAY_SERVER_FIELDS & typeof KV_EVENT_FEED_FIELDS & typeof SHARED_STATE_FIELDS
>;

/**
 * `kvflow gateway`: an OpenAI-compatible, workflow-aware proxy in front of one or more engines. Prints its
 * URL, serves until SIGINT/SIGTERM.
 */
export function registerGateway(program: Command): void {
  const command = program
    .command('gateway')
    .description('OpenAI-compatible workflow-aware gateway: prefix-aware routing over shadow radix trees, STE pushed to upstreams');
  addFieldGroups(command, GATEWAY_FIELD_GROUPS).action((flags: GatewayFlags) => runCommand(() => gatewayCommand(flags)));
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

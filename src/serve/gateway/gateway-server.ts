/**
 * `kvflow gateway`: an OpenAI-compatible proxy in front of one or more upstream engines that routes each
 * request to the upstream expected to hold the longest prefix of its prompt (a shadow radix tree per
 * upstream, under a load bound) and, for workflows registered with it, computes steps-to-execution from
 * the declared step graph and pushes it to KVFlow-aware upstreams in KVFlow's `/v1/update` format.
 */
import { DEFAULT_BLOCK_SIZE } from '../../types.js';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { request as undiciRequest } from 'undici';
import { InputError } from '../../errors.js';
import { parseWorkflowSpec } from '../../workload/spec.js';
import { gatewayMode, type GatewayModeName } from './gateway-mode.js';
import type { PolicyFactory } from '../../cache/policy.js';
import { GatewayMetrics } from './gateway-metrics.js';
import { readHints } from '../http/hints.js';
import { installJsonBodyParser, jsonBodyOf } from '../http/json-body.js';
import { steUpdateBody } from '../http/kvflow-update.js';
import { ApiError, installErrorHandlers } from '../http/openai-errors.js';
import { fastChatRequest, fastCompletionRequest } from '../http/request-fast-path.js';
import { chatRequestSchema, completionRequestSchema, parseRequest, type ChatRequest, type CompletionRequest } from '../http/openai-schema.js';
import { MAX_INDEXED_UPSTREAMS, PrefixIndex } from './prefix-index.js';
import { saltOf, type TokenizerSource } from '../http/prompt-tokens.js';
import { ModelTokenizers } from './model-tokenizers.js';
import { RequestForwarder } from './proxy.js';
import { CacheAwareRouting, type CacheAwareOptions } from '../../sim/cache-aware-routing.js';
import { StePublisher, type StePublisherOptions } from './ste-publisher.js';
import { NO_AGENT_ID, type AgentIdTable } from './agent-ids.js';
import { outgoingHints } from './outgoing-hints.js';
import { Upstream, type UpstreamKind, type UpstreamTimeouts } from './upstream.js';
import { RegistryRefusal, type Registration, type RegistryLimits, type WorkflowRegistry } from './workflow-registry.js';
import { LocalStateStore, type GatewayStateStore, type SteSink } from './state-store.js';
import type { WorkflowSpec } from '../../workload/spec.js';
import { exposureWarning, installAuth, type AccessKeys, type RouteAccess } from '../http/auth.js';
import { applyServerLimits, serverOptions, SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../http/server-limits.js';
import { admissionLimits, IN_FLIGHT_PER_UPSTREAM, installLoadShedding, isCompletionRoute, registerAdmissionMetrics } from '../http/load-shedding.js';
import { HEALTH_CHECK_DEFAULTS, HealthChecker } from './health-check.js';
import { startKvEventFeeds, type KvEventFeedSpec } from './kv-event-feeds.js';

export interface GatewayOptions {
  upstreams: { url: string; kind: UpstreamKind }[];
  /** `kvflow`: STE-ordered shadow trees and STE pushed upstream; `lru`: neither. */
  mode: GatewayModeName;
  /** The shadow trees' eviction policy (one object per upstream); default the mode's. */
  shadowPolicy?: PolicyFactory;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Tokens per page of the shadow trees (the upstreams' page size, ideally). */
  blockSize: number;
  /** Tokens each upstream's shadow tree may hold (its KV pool, ideally). */
  shadowCapacityTokens: number;
  routing?: Partial<CacheAwareOptions>;
  timeouts: UpstreamTimeouts;
  /** Connections per upstream. */
  connections: number;
  retryCooldownMs: number;
  /** Largest request body in bytes. */
  bodyLimit: number;
  /** Model ids served; undefined asks each upstream's `/v1/models` at start (and accepts any if none answers). */
  models?: string[];
  /** Seconds without traffic after which a workflow instance counts as finished. */
  idleSeconds: number;
  /**
   * `declared`: STE only for registered workflows; `learned`: also learn the step graph online from
   * requests that name an agent and an instance of no registered workflow.
   */
  graph?: 'declared' | 'learned';
  /** fastify's request log on stderr. */
  log?: boolean;
  /** Operational lines (agent ids assigned, failed STE pushes); default: none. The CLI writes them to stderr. */
  logLine?: (line: string) => void;
  /** Where each model's tokenizer comes from (default: its preset, else cl100k_base with a warning). */
  tokenizer?: TokenizerSource;
  /** Retry schedule of failed STE pushes (tests shorten it). */
  steRetry?: Pick<StePublisherOptions, 'backoffMs' | 'maxBackoffMs' | 'maxAttempts'>;
  /** Bearer keys for `/v1` routes, state-changing routes and `/metrics` (none: open). */
  keys?: AccessKeys;
  /** Sent to every upstream as `Authorization: Bearer` (their `--api-key`). */
  upstreamApiKey?: string;
  /** Client timeouts and the connection cap. */
  limits?: ServerLimits;
  /** Most registered workflows and live instances (then 429). */
  registryLimits?: Partial<RegistryLimits>;
  /** Active `/health` probes of the upstreams; intervalMs 0 turns them off. */
  healthCheck?: { intervalMs: number; timeoutMs: number };
  /** Least milliseconds between two full STE snapshots pushed to one upstream. */
  steSnapshotIntervalMs?: number;
  /** Where warnings go (default stderr). */
  warn?: (message: string) => void;
  /** Upstreams publishing vLLM KV events: routed on an exact index of their blocks instead of a shadow tree. */
  kvEvents?: readonly KvEventFeedSpec[];
  /** ZMQ subscription prefix for the KV event feeds (default: every topic). */
  kvEventsTopic?: string;
  /**
   * Keep the state in Redis, shared with every gateway given the same URL (redis-state-store.ts);
   * default: in this process only.
   */
  redis?: RedisStateOptions;
}

/** `--redis` and its tuning. */
export interface RedisStateOptions {
  url: string;
  /** Milliseconds between checkpoints (the log is trimmed to what follows one). */
  checkpointMs?: number;
  /** Milliseconds between heartbeats; a replica silent for three is gone. */
  heartbeatMs?: number;
  /** Past admissions a checkpoint keeps to re-grow the shadow trees. */
  admissions?: number;
}

export const GATEWAY_DEFAULTS = {
  mode: 'kvflow' as GatewayModeName,
  blockSize: DEFAULT_BLOCK_SIZE,
  shadowCapacityTokens: 2 ** 20,
  timeouts: { connectMs: 2_000, headersMs: 600_000, bodyMs: 300_000 } satisfies UpstreamTimeouts,
  connections: 256,
  retryCooldownMs: 2_000,
  bodyLimit: 8 * 2 ** 20,
  idleSeconds: 300,
  steSnapshotIntervalMs: 100,
};

export interface GatewayServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly upstreams: readonly Upstream[];
  readonly registry: WorkflowRegistry;
  /** Integer ids of agent keys, as KVFlow fork upstreams see them. */
  readonly agentIds: AgentIdTable;
  /** Registers a spec through the state store (shared with the other replicas under `--redis`). */
  register(spec: WorkflowSpec, options?: { replace?: boolean }): Promise<Registration>;
  /** Resolves when no STE push is queued or in flight (for tests). */
  steSettled(): Promise<void>;
  close(): Promise<void>;
}

const DISCOVERY_TIMEOUT_MS = 2_000;
const STE_PUSH_TIMEOUT_MS = 2_000;

export async function startGateway(options: GatewayOptions): Promise<GatewayServer> {
  if (options.upstreams.length === 0) throw new InputError('--upstream: give at least one upstream URL');
  const mode = gatewayMode(options.mode);
  const shadowPolicy = options.shadowPolicy ?? mode.shadowPolicy;
  const slots = Math.max(1, Math.floor(options.shadowCapacityTokens / options.blockSize));
  const prefixIndex = options.upstreams.length <= MAX_INDEXED_UPSTREAMS ? new PrefixIndex() : undefined;
  const fed = new Set((options.kvEvents ?? []).map((spec) => spec.upstream));
  const upstreams = options.upstreams.map(
    ({ url, kind }, index) =>
      new Upstream({
        index,
        url,
        kind,
        timeouts: options.timeouts,
        connections: options.connections,
        apiKey: options.upstreamApiKey,
        shadow: {
          slots,
          policy: shadowPolicy({ gpuSlots: slots }),
          blockSize: options.blockSize,
          ...(prefixIndex && !fed.has(index) && { onPage: (block: number, present: boolean) => prefixIndex.update(index, block, present) }),
        },
        newShadowPolicy: () => shadowPolicy({ gpuSlots: slots }),
      }),
  );
  const metrics = new GatewayMetrics(upstreams);
  const feeds = await startKvEventFeeds(options.kvEvents ?? [], {
    blockSize: options.blockSize,
    topic: options.kvEventsTopic,
    urls: upstreams.map((upstream) => upstream.url),
    ...(prefixIndex && { onPage: (upstream: number, block: number, present: boolean) => prefixIndex.update(upstream, block, present) }),
    registry: metrics.registry,
    logLine: options.logLine ?? (() => {}),
  });
  for (const [index, feed] of feeds) upstreams[index]!.kvIndex = feed.index;
  const hasFork = upstreams.some((upstream) => upstream.kind === 'kvflow-sglang');
  const hasHintsKind = upstreams.some((upstream) => upstream.kind === 'sglang-hints');
  const proxy = new RequestForwarder({
    upstreams,
    routing: new CacheAwareRouting(options.routing),
    metrics,
    retryCooldownMs: options.retryCooldownMs,
    blockSize: options.blockSize,
    ...(prefixIndex && { prefixIndex }),
    admit: (request, upstream) => store.admit(request.stateId!, upstream.index),
    // With keys of its own, the client's Authorization is the gateway's key and stays here.
    forwardClientAuthorization: !(options.keys?.api || options.keys?.admin),
  });
  const logLine = options.logLine ?? (() => {});
  const publishers = upstreams
    .filter((upstream) => upstream.receivesSte && mode.forwardsSte)
    .map((upstream) => ({
      upstream,
      publisher: new StePublisher(upstream, {
        ...options.steRetry,
        timeoutMs: STE_PUSH_TIMEOUT_MS,
        onOutcome: (outcome) => metrics.steUpdates.inc({ upstream: upstream.url, outcome }),
        onFailure: (outcome, message, attempt) => logLine(`kvflow gateway: STE push to ${upstream.url} ${outcome} (attempt ${attempt}): ${message}`),
        // The fork replaces its table on every update: it gets whole snapshots, spaced; kvflow engines merge diffs.
        mode: upstream.kind === 'kvflow' ? 'diff' : 'snapshot',
        snapshotIntervalMs: options.steSnapshotIntervalMs ?? GATEWAY_DEFAULTS.steSnapshotIntervalMs,
        snapshot: () => {
          const { registry, agentIds } = store.state;
          return upstream.kind === 'kvflow-sglang' ? agentIds.translate(registry.snapshot()) : registry.snapshot();
        },
      }),
    }));
  /** After workflow progress (the shadow trees re-ranked already): push what changed (whole tables, spaced, to a KVFlow fork). */
  const sink: SteSink = {
    publish: (changes) => {
      for (const { publisher } of publishers) publisher.publish(changes);
    },
    resync: () => {
      for (const { publisher } of publishers) publisher.resync();
    },
  };
  const stateOptions = {
    upstreams,
    blockSize: options.blockSize,
    idleSeconds: options.idleSeconds,
    learned: options.graph === 'learned',
    ...(options.registryLimits && { registryLimits: options.registryLimits }),
    onAgentId: ({ key, id }: { key: string; id: number }) => logLine(`kvflow gateway: agent "${key}" is agent_id ${id} on kvflow-sglang upstreams`),
  };
  const store: GatewayStateStore = options.redis
    ? await (await import('./redis-state-store.js')).RedisStateStore.connect(stateOptions, sink, {
        ...options.redis,
        log: (line: string) => (options.warn ?? defaultWarn)(`kvflow gateway: ${line}`),
        metrics: metrics.registry,
        prefixIndex,
      })
    : new LocalStateStore(stateOptions, sink);
  const health = new HealthChecker(upstreams, {
    ...(options.healthCheck ?? HEALTH_CHECK_DEFAULTS),
    apiKey: options.upstreamApiKey,
    onChange: (upstream, healthy) =>
      (options.warn ?? defaultWarn)(`kvflow gateway: upstream ${upstream.url} ${healthy ? 'answers its health check again' : 'failed its health check; out of routing'}`),
  });

  const models = options.models ? new Set(options.models) : await discoverModels(upstreams);
  const tokenizers = new ModelTokenizers(options.tokenizer ?? { warn: (message) => logLine(`kvflow gateway: ${message}`) }, options.blockSize);
  await Promise.all([...models].map((model) => tokenizers.forModel(model)));

  const limits = options.limits ?? SERVER_LIMIT_DEFAULTS;
  const app = Fastify({
    logger: options.log ? { redact: ['req.headers.authorization'] } : false,
    bodyLimit: options.bodyLimit,
    forceCloseConnections: true,
    ...serverOptions(limits),
  });
  applyServerLimits(app.server, limits);
  installAuth(app, options.keys ?? {}, gatewayAccess);
  const admission = installLoadShedding(app, admissionLimits(limits, IN_FLIGHT_PER_UPSTREAM * upstreams.length), isCompletionRoute);
  registerAdmissionMetrics(metrics.registry, 'kvflow_gateway', admission);
  installJsonBodyParser(app);
  installErrorHandlers(app);

  app.get('/health', async () => ({ status: 'ok', upstreams: upstreams.filter((u) => u.isUp(Date.now())).length }));
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [...models].sort().map((id) => ({ id, object: 'model', created: 0, owned_by: 'kvflow-gateway' })),
  }));
  app.post('/v1/workflows', async (request, reply) => {
    let spec;
    try {
      spec = parseWorkflowSpec(jsonBodyOf(request.body).value, 'workflow');
    } catch (error) {
      if (error instanceof InputError) throw ApiError.invalid(error.message, null, 'invalid_workflow');
      throw error;
    }
    const replace = (request.query as { replace?: string }).replace;
    let outcome;
    try {
      outcome = await store.register(spec, replace === 'true' || replace === '1');
    } catch (error) {
      throw refusalToApiError(error);
    }
    return reply.status(outcome.replaced ? 200 : 201).send({
      name: spec.name,
      agents: Object.keys(spec.agents),
      shareAgents: spec.shareAgents,
      registered: true,
      replaced: outcome.replaced,
      droppedInstances: outcome.droppedInstances,
    });
  });
  app.get('/v1/workflows', async () => ({
    data: store.state.registry.list().map((spec) => ({ name: spec.name, agents: Object.keys(spec.agents), edges: spec.edges.length, shareAgents: spec.shareAgents })),
  }));
  app.delete('/v1/workflows/instances/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!(await store.finish(id))) throw new ApiError(404, `no live workflow instance "${id}"`, 'invalid_request_error', 'not_found');
    return reply.status(204).send();
  });
  // The table is serialized once per change, not once per GET: polling costs nothing while STE stands still.
  let steText: { registry: unknown; version: number; text: string } | undefined;
  app.get('/v1/ste', async (_request, reply) => {
    const { registry } = store.state;
    if (steText?.registry !== registry || steText.version !== registry.snapshotVersion) {
      steText = { registry, version: registry.snapshotVersion, text: JSON.stringify(steUpdateBody(registry.snapshot(), 0)) };
    }
    return reply.type('application/json; charset=utf-8').send(steText.text);
  });
  app.get('/v1/gateway/agents', async () => ({ no_agent_id: NO_AGENT_ID, data: store.state.agentIds.entries() }));
  app.get('/v1/gateway/state', async () => ({
    mode: mode.name,
    /** The mode under its old name, kept for clients written before `mode` existed. */
    policy: mode.name,
    shadowPolicy: upstreams[0]!.shadow.policyName,
    graph: options.graph ?? 'declared',
    instances: store.state.registry.instanceCount,
    workflows: store.state.registry.workflowCount,
    admission: { inFlight: admission.inFlight, queued: admission.queued, admitted: admission.admitted, shed: { ...admission.shed } },
    upstreams: upstreams.map((u) => ({
      url: u.url,
      kind: u.kind,
      up: u.isUp(Date.now()),
      healthy: u.healthy,
      load: u.load,
      models: u.models ? [...u.models] : null,
      shadowPages: u.shadow.pages,
      shadowLockedPages: u.shadow.lockedPages,
      ...(feeds.has(u.index) && { kvEvents: { ...feeds.get(u.index)!.subscriber.state(), ...feeds.get(u.index)!.index.stats() } }),
    })),
    ...store.describe(),
  }));
  // The exact block index of an upstream with KV events, in the gateway's block ids (for checks and tests).
  app.get('/v1/gateway/kv-blocks/:upstream', async (request) => {
    const position = Number((request.params as { upstream: string }).upstream);
    const feed = Number.isInteger(position) ? feeds.get(position) : undefined;
    if (!feed) throw new ApiError(404, `upstream ${(request.params as { upstream: string }).upstream} has no KV event feed (positions start at 0)`, 'invalid_request_error', 'not_found');
    const state = feed.subscriber.state();
    return { upstream: upstreams[position]!.url, lastSeq: state.lastSeq, exact: state.exact, blocks: feed.index.blockIds() };
  });

  const completion = (kind: 'chat' | 'completion', endpoint: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    const receivedAt = performance.now();
    const { raw, value } = jsonBodyOf(request.body);
    const body =
      kind === 'chat'
        ? (fastChatRequest(value) ?? parseRequest(chatRequestSchema, value))
        : (fastCompletionRequest(value) ?? parseRequest(completionRequestSchema, value));
    if (models.size > 0 && !models.has(body.model)) throw ApiError.unknownModel(body.model, [...models]);
    const tokenizer = tokenizers.loaded(body.model) ?? (await tokenizers.forModel(body.model));
    const salt = saltOf(body);
    const prompt =
      kind === 'chat' ? tokenizer.chat((body as ChatRequest).messages, salt) : tokenizer.completion((body as CompletionRequest).prompt, salt);
    const hints = readHints(request.headers, body);
    const started = await store.begin({ hints, blocks: prompt.blocks, systemTokens: prompt.systemTokens, fork: hasFork, context: hasHintsKind });
    if (started.refusal) throw refusalToApiError(started.refusal);
    const { ticket, tagKey, fixedBlocks, forkAgentId } = started;
    const hinted = hasHintsKind
      ? outgoingHints({
          given: (value as { agent_hints?: Record<string, unknown> | null }).agent_hints ?? undefined,
          hints,
          tagKey,
          ticket,
          context: started.context,
          fixedPrefixBlock: fixedBlocks > 0 ? prompt.blocks[fixedBlocks - 1] : undefined,
        })
      : undefined;
    reply.hijack();
    try {
      await proxy.forward(
        {
          endpoint,
          model: body.model,
          prompt,
          fixedBlocks,
          tagKey,
          hints,
          forkAgentId,
          outgoingHints: hinted,
          raw,
          value: value as Record<string, unknown>,
          clientHeaders: request.headers,
          receivedAt,
          stateId: started.id,
        },
        reply.raw,
      );
    } finally {
      store.end(started.id);
    }
  };
  app.post('/v1/chat/completions', completion('chat', '/v1/chat/completions'));
  app.post('/v1/completions', completion('completion', '/v1/completions'));

  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (error) {
    await health.close();
    await Promise.all([...feeds.values()].map((feed) => feed.subscriber.close()));
    await store.close();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
    throw error;
  }
  const warning = exposureWarning('gateway', options.host ?? '127.0.0.1', options.keys ?? {});
  if (warning) (options.warn ?? defaultWarn)(warning);
  const address = app.server.address() as AddressInfo;
  return {
    url: `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    app,
    upstreams,
    get registry() {
      return store.state.registry;
    },
    get agentIds() {
      return store.state.agentIds;
    },
    register: (spec, { replace = false } = {}) => store.register(spec, replace),
    steSettled: async () => {
      await Promise.all(publishers.map(({ publisher }) => publisher.idle()));
    },
    close: async () => {
      for (const { publisher } of publishers) publisher.close();
      await health.close();
      await app.close();
      await Promise.all([...feeds.values()].map((feed) => feed.subscriber.close()));
      await store.close();
      await Promise.all(upstreams.map((upstream) => upstream.close()));
    },
  };
}

/** Asks every upstream for `/v1/models` (bounded in time); the union is what the gateway serves. */
async function discoverModels(upstreams: readonly Upstream[]): Promise<Set<string>> {
  const all = new Set<string>();
  await Promise.all(
    upstreams.map(async (upstream) => {
      try {
        const response = await undiciRequest(`${upstream.url}/v1/models`, {
          dispatcher: upstream.pool,
          headersTimeout: DISCOVERY_TIMEOUT_MS,
          bodyTimeout: DISCOVERY_TIMEOUT_MS,
          signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
        });
        const body = (await response.body.json()) as { data?: { id?: unknown }[] };
        if (response.statusCode !== 200 || !Array.isArray(body.data)) return;
        upstream.models = new Set(body.data.map((model) => String(model.id)));
        for (const id of upstream.models) all.add(id);
      } catch {
        // Down or not OpenAI-compatible at start: it stays a candidate for any model.
      }
    }),
  );
  return all;
}

function defaultWarn(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The registry's refusals as HTTP answers: a limit is 429 (retry later), a taken name 409. */
function refusalToApiError(error: unknown): unknown {
  if (!(error instanceof RegistryRefusal)) return error;
  return error.reason === 'full'
    ? new ApiError(429, error.message, 'rate_limit_error', 'gateway_full')
    : new ApiError(409, error.message, 'invalid_request_error', 'workflow_exists');
}

/** The gateway's routes by who may call them: registering or deleting workflows needs the admin key. */
export function gatewayAccess(method: string, path: string): RouteAccess {
  if (path === '/health') return 'open';
  if (path === '/metrics') return 'metrics';
  if ((method === 'POST' || method === 'DELETE' || method === 'PUT') && path.startsWith('/v1/workflows')) return 'admin';
  if (method === 'POST' && path === '/v1/update') return 'admin';
  return 'api';
}

/**
 * `kvflow engine`: an OpenAI-compatible server whose timing comes from the simulator's engine model and
 * whose KV cache runs the real policy (engine-core.ts). Prompts are tokenized for real and hashed into
 * blocks, outputs are deterministic filler text of exactly `max_tokens` tokens. It accepts the workflow
 * hints the field uses (SGLang's `agent_hints`, KVFlow's `agent_id`, `x-kvflow-*` headers) and KVFlow's
 * `POST /v1/update` STE snapshots, which drive StePolicy eviction and the prefetcher.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { engineMetrics } from './engine-metrics.js';
import { EngineCore, type EngineCoreOptions, type GenerationOutcome } from './engine-core.js';
import { EngineTensorRecorder, type EngineTensorOptions } from './engine-tensors.js';
import { FixedPrefixTracker } from '../http/fixed-prefix.js';
import { readHints } from '../http/hints.js';
import { installJsonBodyParser, jsonBodyOf } from '../http/json-body.js';
import { changesOfUpdate, snapshotOfUpdate } from '../http/kvflow-update.js';
import { ApiError, installErrorHandlers } from '../http/openai-errors.js';
import { installAuth, type AccessKeys, type RouteAccess } from '../http/auth.js';
import { admissionLimits, installLoadShedding, isCompletionRoute, registerAdmissionMetrics } from '../http/load-shedding.js';
import { applyServerLimits, serverOptions, SERVER_LIMIT_DEFAULTS, type ServerLimits } from '../http/server-limits.js';
import { fastChatRequest, fastCompletionRequest } from '../http/request-fast-path.js';
import {
  chatRequestSchema,
  completionRequestSchema,
  maxTokensOf,
  parseRequest,
  steUpdateSchema,
  type ChatRequest,
  type CompletionRequest,
} from '../http/openai-schema.js';
import { PromptTokenizer, saltOf, type PromptBlocks, type TokenizerSource } from '../http/prompt-tokens.js';
import { presetForModel } from '../../workload/tokenizer-presets.js';
import { SseWriter } from '../http/sse.js';
import { KvEventPublisher, type KvEventPublisherOptions } from '../kv-events/publisher.js';
import { syntheticText } from '../http/synthetic-text.js';

export interface EngineServerOptions extends Omit<EngineCoreOptions, 'kvEvents'> {
  /** The model id clients must ask for (also listed by `/v1/models`). */
  modelName: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  /** Output tokens when a request gives no `max_tokens` (default 16, as OpenAI's completions). */
  defaultMaxTokens?: number;
  /** fastify's request log on stderr. */
  log?: boolean;
  /** Bearer keys for `/v1` routes, state-changing routes and `/metrics` (none: open). */
  keys?: AccessKeys;
  /** Client timeouts and the connection cap. */
  limits?: ServerLimits;
  /** Record the KV transfer plan and serve `GET /v1/engine/tensors` (real tfjs blocks). */
  tensors?: EngineTensorOptions;
  /**
   * Where the served model's tokenizer comes from; default: the preset of `modelName`, else of the
   * hardware model (e.g. Llama-3.1-8B), else cl100k_base with a warning.
   */
  tokenizer?: TokenizerSource;
  /** Publish the cache's changes as vLLM KV events (ZMQ PUB, msgpack), with a replay socket if given. */
  kvEventPublisher?: KvEventPublisherOptions;
}

export interface EngineServer {
  readonly url: string;
  readonly core: EngineCore;
  /** How it turns prompts into tokens and blocks (the served model's tokenizer and chat template). */
  readonly tokenizer: PromptTokenizer;
  readonly app: FastifyInstance;
  /** The KV event publisher, when enabled. */
  readonly kvEvents: KvEventPublisher | undefined;
  close(): Promise<void>;
}

type Kind = 'chat' | 'completion';

/** Starts an engine and resolves once it listens; `url` is the bound address (port 0 resolved). */
export async function startEngineServer(options: EngineServerOptions): Promise<EngineServer> {
  const tensors = options.tensors ? new EngineTensorRecorder(options.setup.name, options.hardware, options.tensors) : undefined;
  const kvEvents = options.kvEventPublisher && (await KvEventPublisher.open(options.kvEventPublisher));
  const core = new EngineCore({ ...options, ...(tensors && { transfers: tensors }), ...(kvEvents && { kvEvents }) });
  const tokenizerModel = presetForModel(options.modelName) !== undefined ? options.modelName : options.hardware.model.name;
  const tokenizer = await PromptTokenizer.forModel(tokenizerModel, options.tokenizer ?? { warn: (message) => process.emitWarning(`kvflow engine: ${message}`) }, {
    blockSize: core.blockSize,
  });
  const fixedPrefixes = new FixedPrefixTracker();
  const limits = options.limits ?? SERVER_LIMIT_DEFAULTS;
  const app = Fastify({
    logger: options.log ? { redact: ['req.headers.authorization'] } : false,
    bodyLimit: options.bodyLimit ?? 8 * 2 ** 20,
    forceCloseConnections: true,
    ...serverOptions(limits),
  });
  applyServerLimits(app.server, limits);
  installAuth(app, options.keys ?? {}, engineAccess);
  const admission = installLoadShedding(app, admissionLimits(limits, 2 * options.maxRunning), isCompletionRoute);
  installJsonBodyParser(app);
  installErrorHandlers(app);
  const created = () => Math.floor(Date.now() / 1000);
  const metrics = engineMetrics(core, options.modelName, options.hardware, (registry) => registerAdmissionMetrics(registry, 'kvflow_engine', admission));

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: options.modelName, object: 'model', created: 0, owned_by: 'kvflow' }],
  }));
  app.get('/v1/engine/state', async () =>
    kvEvents ? { ...core.state(), kvEvents: { endpoint: kvEvents.endpoint, replayEndpoint: kvEvents.replayEndpoint ?? null, batches: Number(kvEvents.nextSeq) } } : core.state(),
  );
  // The full blocks on the GPU now: what a consumer of the KV events should hold (404 without --kv-events).
  app.get('/v1/engine/kv-blocks', async () => {
    const blocks = core.kvEventBlocks();
    if (!kvEvents || !blocks) throw new ApiError(404, 'start the engine with --kv-events to publish and list its KV blocks', 'invalid_request_error', 'not_enabled');
    return { batches: Number(kvEvents.nextSeq), blocks };
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.scrape()));
  // vLLM's POST /reset_prefix_cache and SGLang's POST /flush_cache: empty the prefix cache, refused while
  // requests run (vLLM and SGLang refuse too).
  const resetPrefixCache = (engine: 'vllm' | 'sglang') => async (_request: FastifyRequest, reply: FastifyReply) => {
    if (!core.resetPrefixCache()) {
      const { running } = core.state();
      throw new ApiError(409, `cannot reset the prefix cache while ${running} request(s) are queued or running`, 'invalid_request_error', 'requests_running');
    }
    return engine === 'vllm' ? reply.send({ status: 'ok' }) : reply.type('text/plain').send('Cache flushed.\n');
  };
  app.post('/reset_prefix_cache', resetPrefixCache('vllm'));
  app.post('/flush_cache', resetPrefixCache('sglang'));
  app.get('/v1/engine/tensors', async () => {
    if (!tensors) throw new ApiError(404, 'start the engine with --tensors to record and run its transfer plan', 'invalid_request_error', 'not_enabled');
    return tensors.execute();
  });
  app.post('/v1/update', async (request) => {
    const update = parseRequest(steUpdateSchema, jsonBodyOf(request.body).value);
    if (update.partial) {
      const agents = core.applySteChanges(changesOfUpdate(update));
      return { success: true, timestep_cnt: update.timestep_cnt ?? null, agents };
    }
    const snapshot = snapshotOfUpdate(update);
    core.updateSte(snapshot);
    return { success: true, timestep_cnt: update.timestep_cnt ?? null, agents: snapshot.size };
  });

  const generate = (kind: Kind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const value = jsonBodyOf(request.body).value;
    const body =
      kind === 'chat'
        ? (fastChatRequest(value) ?? parseRequest(chatRequestSchema, value))
        : (fastCompletionRequest(value) ?? parseRequest(completionRequestSchema, value));
    if (body.model !== options.modelName) throw ApiError.unknownModel(body.model, [options.modelName]);
    const salt = saltOf(body);
    const prompt: PromptBlocks =
      kind === 'chat' ? tokenizer.chat((body as ChatRequest).messages, salt) : tokenizer.completion((body as CompletionRequest).prompt, salt);
    const hints = readHints(request.headers, body);
    const outputTokens = maxTokensOf(body as ChatRequest, options.defaultMaxTokens ?? 16);
    const fixedBlocks =
      hints.agent === undefined ? 0 : fixedPrefixes.observe(hints.agent, prompt.blocks, prompt.systemTokens, core.blockSize);
    const generation = {
      blocks: prompt.blocks,
      inputTokens: prompt.tokens,
      ...(kvEvents && { tokenIds: prompt.ids, ...(salt !== undefined && { salt }) }),
      outputTokens,
      fixedBlocks,
      ...(hints.agent !== undefined && { agentKey: hints.agent }),
      ...(hints.workflow !== undefined && { workflow: hints.workflow }),
    };
    const meta: ResponseMeta = {
      kind,
      // Unique across engines and restarts, so ids never collide behind a gateway (vLLM uses random ids too).
      id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replaceAll('-', '')}`,
      created: created(),
      model: options.modelName,
      seed: prompt.blocks[prompt.blocks.length - 1]!,
      promptTokens: prompt.tokens,
      outputTokens,
    };
    if (body.stream) {
      streamGeneration(core, generation, meta, reply, body.stream_options?.include_usage ?? false);
      return reply;
    }
    const outcome = await new Promise<GenerationOutcome | undefined>((resolve) => {
      const handle = core.submit(generation, { onDone: resolve });
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) {
          handle.cancel();
          resolve(undefined);
        }
      });
    });
    if (outcome === undefined) return reply; // the client left; nothing to send
    return completionJson(meta, outcome);
  };
  app.post('/v1/chat/completions', generate('chat'));
  app.post('/v1/completions', generate('completion'));

  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (error) {
    kvEvents?.close();
    core.close();
    throw error;
  }
  const address = app.server.address() as AddressInfo;
  return {
    url: `http://${formatHost(address.address)}:${address.port}`,
    core,
    tokenizer,
    app,
    kvEvents,
    close: async () => {
      core.close();
      await app.close();
      kvEvents?.close();
    },
  };
}

interface ResponseMeta {
  kind: Kind;
  id: string;
  created: number;
  model: string;
  /** Seeds the filler text: the prompt's last block id. */
  seed: number;
  promptTokens: number;
  outputTokens: number;
}

function usage(meta: ResponseMeta, outcome: GenerationOutcome) {
  return {
    prompt_tokens: meta.promptTokens,
    completion_tokens: meta.outputTokens,
    total_tokens: meta.promptTokens + meta.outputTokens,
    prompt_tokens_details: { cached_tokens: outcome.cachedTokens },
  };
}

function completionJson(meta: ResponseMeta, outcome: GenerationOutcome) {
  const text = syntheticText(meta.seed, 0, meta.outputTokens);
  const choice =
    meta.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'length' }
      : { index: 0, text, logprobs: null, finish_reason: 'length' };
  return {
    id: meta.id,
    object: meta.kind === 'chat' ? 'chat.completion' : 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [choice],
    usage: usage(meta, outcome),
  };
}

/** Streams tokens as the model produces them; a client that goes away stops the stream, not the model. */
function streamGeneration(
  core: EngineCore,
  generation: Parameters<EngineCore['submit']>[0],
  meta: ResponseMeta,
  reply: FastifyReply,
  includeUsage: boolean,
): void {
  const object = meta.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id: meta.id,
    object,
    created: meta.created,
    model: meta.model,
    choices,
    ...extra,
  });
  const delta = (text: string, first: boolean, finish: string | null) =>
    meta.kind === 'chat'
      ? { index: 0, delta: first ? { role: 'assistant', content: text } : text === '' ? {} : { content: text }, logprobs: null, finish_reason: finish }
      : { index: 0, text, logprobs: null, finish_reason: finish };
  let sent = 0;
  // Observers never fire during submit, so the stream can open after it (submit may still reject with a 400).
  let sse: SseWriter | undefined;
  const handle = core.submit(generation, {
    onTokens: (generated) => {
      const upTo = Math.min(generated, meta.outputTokens);
      if (upTo <= sent || !sse) return;
      sse.event(chunk([delta(syntheticText(meta.seed, sent, upTo), sent === 0, null)]));
      sent = upTo;
    },
    onDone: (outcome) => {
      if (!sse) return;
      sse.event(chunk([delta('', false, 'length')]));
      if (includeUsage) sse.event(chunk([], { usage: usage(meta, outcome) }));
      sse.done();
    },
  });
  reply.hijack();
  sse = new SseWriter(reply.raw);
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) handle.cancel();
  });
}

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** The engine's routes by who may call them: state changes need the admin key. */
export function engineAccess(method: string, path: string): RouteAccess {
  if (path === '/health') return 'open';
  if (path === '/metrics') return 'metrics';
  if (method === 'POST' && (path === '/v1/update' || path === '/reset_prefix_cache' || path === '/flush_cache')) return 'admin';
  return 'api';
}

import { InvalidArgumentError, type Command } from 'commander';
import { ENGINE_DEFAULTS, ENGINE_SETUPS, engineCoreOptions, resolveEngineHardware } from '../serve/engine/engine-config.js';
import type { SetupSpec } from '../config/setup-spec.js';
import { engineSetup, parseEngineSetup } from './engine-setup.js';
import { startEngineServer } from '../serve/engine/engine-server.js';
import { closeOnSignal } from '../serve/http/shutdown.js';
import { gpuHelp, modelHelp } from '../sim/presets.js';
import { parseBackendChoice } from '../tensor/backend.js';
import { parseByteCount, parseInteger, parseName, parseNumber, parseTokens, parsePort } from './flags.js';
import { emit, runCommand } from './run.js';
import { addServerFlags, keysFrom, limitsFrom, type ServerFlags } from './server-flags.js';
import { exposureWarning } from '../serve/http/auth.js';
import { TOKENIZER_OPTIONS, tokenizerSource } from './tokenizer-flags.js';
import { InputError } from '../errors.js';
import { KV_EVENT_FORMATS, type KvEventFormat } from '../serve/kv-events/wire.js';
import type { KvEventPublisherOptions } from '../serve/kv-events/publisher.js';
import { parseVllmKvEventsConfig, parseZmqEndpoint } from '../serve/kv-events/kv-events-config.js';

interface EngineFlags extends ServerFlags {
  gpu?: string;
  model?: string;
  config?: string;
  setup: SetupSpec;
  policy?: string;
  speed: number;
  host: string;
  port: number;
  servedModelName?: string;
  blockSize: number;
  tokenBudget: number;
  maxRunning: number;
  schedule: 'fcfs' | 'lpm';
  loadAhead: number;
  cpuPoolBytes?: number;
  maxBodyBytes: number;
  defaultMaxTokens: number;
  log?: boolean;
  tensors?: boolean;
  tensorScale?: number;
  backend: string;
  tokenizer?: string;
  chatTemplate?: string;
  kvEvents?: string;
  kvEventsReplay?: string;
  kvEventsTopic?: string;
  kvEventsFormat: KvEventFormat;
  kvEventsConfig?: string;
}

/**
 * `kvflow engine`: an OpenAI-compatible server timed by the simulator's engine model, with the real cache
 * and policy inside. Prints its URL, serves until SIGINT/SIGTERM.
 */
export function registerEngine(program: Command): void {
  const command = program
    .command('engine')
    .description('OpenAI-compatible engine emulator: simulator timing in real time, real cache and policy inside')
    .option('--gpu <name>', `${gpuHelp()} (default A10G)`)
    .option('--model <name>', `${modelHelp()} (default Llama-3.1-8B); a Hugging Face id is also the served model id, as vLLM serves it`)
    .option('--config <file>', 'hardware/cost-model JSON (see workloads/configs/); flags win over it')
    .option('--setup <setup>', `cache setup: ${ENGINE_SETUPS.join(', ')}, or name=...,policy=...,cpu=on,prefetch=ste`, parseEngineSetup, ENGINE_DEFAULTS.setup)
    .option('--policy <name>', "eviction policy replacing the setup's: a registered name or a policy file (./my-policy.js)")
    .option('--speed <x>', 'model seconds per wall-clock second (10 = ten times faster than the modelled GPU)', parsePositive, ENGINE_DEFAULTS.speed)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on; 0 picks a free one', parsePort, 8000)
    .option('--served-model-name <name>', 'model id clients ask for (default: --model when it is a Hugging Face id, else the preset name)')
    .option('--block-size <n>', 'tokens per KV page', (v) => parseInteger(v, 1), ENGINE_DEFAULTS.blockSize)
    .option('--token-budget <n>', 'most prompt tokens prefilled per iteration', (v) => parseTokens(v, 1), ENGINE_DEFAULTS.tokenBudget)
    .option('--max-running <n>', 'most requests running at once', (v) => parseInteger(v, 1), ENGINE_DEFAULTS.maxRunning)
    .option('--schedule <name>', 'admission order: fcfs | lpm', (v) => parseName(v, ['fcfs', 'lpm'] as const), ENGINE_DEFAULTS.schedule)
    .option('--load-ahead <n>', 'kvflow prefetches agents at most this many steps away', (v) => parseInteger(v, 0), ENGINE_DEFAULTS.loadAhead)
    .option('--cpu-pool-bytes <bytes>', 'CPU KV tier size (default 2x the GPU KV pool; 64G, 64GiB)', (v) => parseByteCount(v, 0))
    .option('--max-body-bytes <n>', 'largest request body accepted (bytes)', (v) => parseByteCount(v, 1), 8 * 2 ** 20)
    .option('--default-max-tokens <n>', 'output tokens when a request gives no max_tokens', (v) => parseTokens(v, 1), 16)
    .option('--log', 'log every request on stderr (fastify JSON log)')
    .option(...TOKENIZER_OPTIONS.tokenizer)
    .option(...TOKENIZER_OPTIONS.chatTemplate)
    .option('--tensors', 'record the KV transfer plan; GET /v1/engine/tensors runs it on real KV blocks (tfjs) and compares with the model')
    .option('--tensor-scale <x>', "with --tensors: share of a real KV block's elements to move, in (0, 1]", (v) => parseNumber(v, 0))
    .option('--backend <name>', 'with --tensors: auto | tfjs-node-gpu | tfjs-node | tfjs-cpu', 'auto')
    .option('--kv-events <endpoint>', "publish KV cache events as vLLM does (ZMQ PUB, msgpack) on this endpoint, e.g. tcp://*:5557")
    .option('--kv-events-replay <endpoint>', 'ZMQ ROUTER endpoint answering replay requests for missed batches, e.g. tcp://*:5558')
    .option('--kv-events-topic <topic>', 'topic frame of every KV event message (vLLM\'s topic; llm-d reads kv@POD@MODEL)')
    .option('--kv-events-format <format>', 'map (vLLM since its map encoding) | array (older vLLM, positional events)', (v) => parseName(v, KV_EVENT_FORMATS), 'map')
    .option('--kv-events-config <json>', "vLLM's --kv-events-config JSON (endpoint, replay_endpoint, topic, buffer_steps, hwm); the flags above win");
  addServerFlags(command).action((flags: EngineFlags) => runCommand(() => engineCommand(flags)));
}

async function engineCommand(flags: EngineFlags): Promise<void> {
  const kvEventPublisher = kvEventPublisherOptions(flags);
  const hardware = await resolveEngineHardware(flags);
  const setup = await engineSetup(flags.setup, flags.policy);
  const modelName = servedModelName(flags, hardware.model.name);
  const engine = await startEngineServer({
    ...engineCoreOptions(hardware, { ...withoutKvEventFlags(flags), setup }),
    modelName,
    host: flags.host,
    port: flags.port,
    bodyLimit: flags.maxBodyBytes,
    defaultMaxTokens: flags.defaultMaxTokens,
    log: flags.log ?? false,
    keys: keysFrom(flags),
    limits: limitsFrom(flags),
    tokenizer: tokenizerSource(flags, (line) => process.stderr.write(`kvflow engine: ${line}\n`)),
    ...(kvEventPublisher && { kvEventPublisher: { ...kvEventPublisher, onError: (line: string) => process.stderr.write(`kvflow engine: ${line}\n`) } }),
    ...(flags.tensors && {
      tensors: { backend: parseBackendChoice(flags.backend), ...(flags.tensorScale !== undefined && { tensorScale: flags.tensorScale }) },
    }),
  });
  const warning = exposureWarning('engine', flags.host, keysFrom(flags));
  if (warning) process.stderr.write(`${warning}\n`);
  const pool = engine.core.cost.gpuPoolPages * hardware.blockSize;
  emit(
    `kvflow engine listening on ${engine.url} (model ${modelName} on ${hardware.gpu.name}, ` +
      `setup ${setup.name}, policy ${engine.core.state().policy}, speed ${flags.speed}x, KV pool ${pool} tokens)`,
  );
  if (engine.kvEvents) {
    const replay = engine.kvEvents.replayEndpoint;
    emit(`kvflow engine publishing KV events on ${engine.kvEvents.endpoint}${replay ? ` (replay ${replay})` : ''}`);
  }
  await closeOnSignal(() => engine.close());
}

/** `--kv-events-config` (vLLM's JSON) with the `--kv-events*` flags over it; undefined: no events. */
function kvEventPublisherOptions(flags: EngineFlags): KvEventPublisherOptions | undefined {
  const config = flags.kvEventsConfig === undefined ? undefined : parseVllmKvEventsConfig(flags.kvEventsConfig);
  const endpoint = flags.kvEvents === undefined ? config?.endpoint : parseZmqEndpoint(flags.kvEvents, '--kv-events');
  const replayEndpoint = flags.kvEventsReplay === undefined ? config?.replayEndpoint : parseZmqEndpoint(flags.kvEventsReplay, '--kv-events-replay');
  if (endpoint === undefined) {
    if (replayEndpoint !== undefined || flags.kvEventsTopic !== undefined) throw InputError.flag('--kv-events', 'give the PUB endpoint (or --kv-events-config) with --kv-events-replay or --kv-events-topic');
    return undefined;
  }
  return {
    ...config,
    endpoint,
    ...(replayEndpoint !== undefined && { replayEndpoint }),
    ...((flags.kvEventsTopic ?? config?.topic) !== undefined && { topic: flags.kvEventsTopic ?? config?.topic }),
    format: flags.kvEventsFormat,
  };
}

/** A number > 0 (commander reports the flag with the message). */
export function parsePositive(text: string): number {
  const value = parseNumber(text, 0);
  if (!(value > 0)) throw new InvalidArgumentError(`"${text}" is not a number > 0`);
  return value;
}

/** The flags without `--kv-events` (a string here, a publisher in the engine's options). */
function withoutKvEventFlags(flags: EngineFlags): Omit<EngineFlags, 'kvEvents'> {
  const { kvEvents: _endpoint, ...rest } = flags;
  return rest;
}

/** The model id clients ask for: --served-model-name, else a Hugging Face id as given (vLLM serves that), else the preset. */
function servedModelName(flags: EngineFlags, preset: string): string {
  if (flags.servedModelName !== undefined) return flags.servedModelName;
  return flags.model?.includes('/') ? flags.model : preset;
}

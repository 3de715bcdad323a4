/**
 * The fields of `kvflow engine` (cli/engine.ts gets its flags from these tables): the hardware is the
 * simulator's hardware table (so `--engine`, `--mfu`, `--h2d-bandwidth`, ... mean in the engine exactly
 * what they mean in `simulate`), the scheduler knobs are the simulator's serving fields with the engine's
 * defaults, and the rest is the server's own.
 */
// Names the zod types in the tables' inferred types (type-only: nothing loads zod here).
import type { z as Zod } from 'zod';
import { ENGINE_DEFAULTS, ENGINE_SETUPS } from '../serve/engine/engine-config.js';
import { KV_EVENT_FORMATS } from '../serve/kv-events/wire.js';
import { modelHelp } from '../sim/presets.js';
import { boolean, fraction, integer, oneOf, positive, text, tokens, type ConfigField } from './field.js';
import { ACCESS_FIELDS, listenFields, TOKENIZER_FIELDS } from './server-fields.js';
import { parseSetupSpec, setupDefinitionSchema, type SetupSpec } from './setup-spec.js';
import { HARDWARE_FIELDS, SERVING_FIELDS } from './simulation-fields.js';

/** `--setup` of an online engine: a preset it can run (not belady) or a `name=...,policy=...` definition. */
export function parseEngineSetup(text: string): SetupSpec {
  const spec = parseSetupSpec(text, '--setup');
  if (typeof spec === 'string' && !(ENGINE_SETUPS as readonly string[]).includes(spec)) {
    throw new Error(`"${spec}" needs the future; an engine can run ${ENGINE_SETUPS.join(', ')}`);
  }
  return spec;
}

/** The engine's cache and scheduler. */
export const ENGINE_FIELDS = {
  setup: {
    flag: '--setup <setup>',
    description: `cache setup: ${ENGINE_SETUPS.join(', ')}, or name=...,policy=...,cpu=on,prefetch=ste[,engine=ideal]`,
    parse: parseEngineSetup,
    schema: (z) => z.union([z.enum(ENGINE_SETUPS), setupDefinitionSchema(z)]),
    default: ENGINE_DEFAULTS.setup,
  } satisfies ConfigField<SetupSpec>,
  policy: { flag: '--policy <name>', description: "eviction policy replacing the setup's: a registered name or a policy file (./my-policy.js)", ...text },
  speed: {
    flag: '--speed <x>',
    description: 'model seconds per wall-clock second (10 = ten times faster than the modelled GPU)',
    ...positive,
    default: ENGINE_DEFAULTS.speed,
  },
  blockSize: { flag: '--block-size <n>', description: 'tokens per KV page', ...integer(1), default: ENGINE_DEFAULTS.blockSize },
  tokenBudget: { ...SERVING_FIELDS.tokenBudget, description: 'most prompt tokens prefilled per iteration', default: ENGINE_DEFAULTS.tokenBudget },
  maxRunning: { ...SERVING_FIELDS.maxRunning, description: 'most requests running at once', default: ENGINE_DEFAULTS.maxRunning },
  schedule: { ...SERVING_FIELDS.schedule, default: ENGINE_DEFAULTS.schedule },
  loadAhead: { ...SERVING_FIELDS.loadAhead, default: ENGINE_DEFAULTS.loadAhead },
} as const satisfies Record<string, ConfigField>;

/** The hardware: the simulator's table, with the model's role as the served id said. */
export const ENGINE_HARDWARE_FIELDS = {
  ...HARDWARE_FIELDS,
  model: {
    ...HARDWARE_FIELDS.model,
    description: `${modelHelp()} (default Llama-3.1-8B); a Hugging Face id is also the served model id, as vLLM serves it`,
  },
} as const satisfies Record<string, ConfigField>;

/** What it serves and how clients reach it. */
export const ENGINE_SERVER_FIELDS = {
  ...listenFields({ port: 8000, bodyLimit: 8 * 2 ** 20 }),
  servedModelName: {
    flag: '--served-model-name <name>',
    description: 'model id clients ask for (default: --model when it is a Hugging Face id, else the preset name)',
    ...text,
  },
  defaultMaxTokens: { flag: '--default-max-tokens <n>', description: 'output tokens when a request gives no max_tokens', ...tokens(1), default: 16 },
  ...TOKENIZER_FIELDS,
  ...ACCESS_FIELDS,
} as const satisfies Record<string, ConfigField>;

/** Real KV tensors behind the model (`GET /v1/engine/tensors`). */
export const ENGINE_TENSOR_FIELDS = {
  tensors: {
    flag: '--tensors',
    description: 'record the KV transfer plan; GET /v1/engine/tensors runs it on real KV blocks (tfjs) and compares with the model',
    ...boolean,
  },
  tensorScale: { flag: '--tensor-scale <x>', description: "with --tensors: share of a real KV block's elements to move, in (0, 1]", ...fraction },
  backend: { flag: '--backend <name>', description: 'with --tensors: auto | tfjs-node-gpu | tfjs-node | tfjs-cpu', ...text, default: 'auto' },
} as const satisfies Record<string, ConfigField>;

/** KV cache events published as vLLM publishes them. */
export const ENGINE_KV_EVENT_FIELDS = {
  kvEvents: { flag: '--kv-events <endpoint>', description: 'publish KV cache events as vLLM does (ZMQ PUB, msgpack) on this endpoint, e.g. tcp://*:5557', ...text },
  kvEventsReplay: { flag: '--kv-events-replay <endpoint>', description: 'ZMQ ROUTER endpoint answering replay requests for missed batches, e.g. tcp://*:5558', ...text },
  kvEventsTopic: { flag: '--kv-events-topic <topic>', description: "topic frame of every KV event message (vLLM's topic; llm-d reads kv@POD@MODEL)", ...text },
  kvEventsFormat: {
    flag: '--kv-events-format <format>',
    description: 'map (vLLM since its map encoding) | array (older vLLM, positional events)',
    ...oneOf(KV_EVENT_FORMATS),
    default: 'map',
  },
  kvEventsConfig: {
    flag: '--kv-events-config <json>',
    description: "vLLM's --kv-events-config JSON (endpoint, replay_endpoint, topic, buffer_steps, hwm); the flags above win",
    ...text,
  },
} as const satisfies Record<string, ConfigField>;

/** Every field of `kvflow engine`, per concern (each a heading in `--help`). */
export const ENGINE_FIELD_GROUPS = {
  'Cache and scheduler': ENGINE_FIELDS,
  Hardware: ENGINE_HARDWARE_FIELDS,
  Server: ENGINE_SERVER_FIELDS,
  'Real tensors': ENGINE_TENSOR_FIELDS,
  'KV events': ENGINE_KV_EVENT_FIELDS,
} as const;

import type { Command } from 'commander';
import { engineCoreOptions } from '../serve/engine/engine-config.js';
import {
  ENGINE_FIELD_GROUPS,
  type ENGINE_FIELDS,
  type ENGINE_HARDWARE_FIELDS,
  type ENGINE_KV_EVENT_FIELDS,
  type ENGINE_SERVER_FIELDS,
  type ENGINE_TENSOR_FIELDS,
} from '../config/engine-fields.js';
import type { FlagValues } from '../config/field.js';
import { serverHardware } from '../config/hardware-input.js';
import type { HardwareConfig } from '../sim/hardware.js';
import type { Setup } from '../sim/setups.js';
import { engineSetup } from './engine-setup.js';
import { startEngineServer } from '../serve/engine/engine-server.js';
import { closeOnSignal } from '../serve/http/shutdown.js';
import { parseBackendChoice } from '../tensor/backend.js';
import { addFieldGroups } from './config-flags.js';
import { emit, runCommand } from './run.js';
import { keysFrom, limitsFrom } from './server-flags.js';
import { exposureWarning } from '../serve/http/auth.js';
import { tokenizerSource } from './tokenizer-flags.js';
import { InputError } from '../errors.js';
import type { KvEventPublisherOptions } from '../serve/kv-events/publisher.js';
import { parseVllmKvEventsConfig, parseZmqEndpoint } from '../serve/kv-events/kv-events-config.js';

/** Every flag of the command (config/engine-fields.ts), as commander parses them. */
export type EngineFlags = FlagValues<typeof ENGINE_FIELDS & typeof ENGINE_HARDWARE_FIELDS & typeof ENGINE_SERVER_FIELDS & typeof ENGINE_TENSOR_FIELDS & typeof ENGINE_KV_EVENT_FIELDS>;

/**
 * `kvflow engine`: an OpenAI-compatible server timed by the simulator's engine model, with the real cache
 * and policy inside. Prints its URL, serves until SIGINT/SIGTERM.
 */
export function registerEngine(program: Command): void {
  const command = program
    .command('engine')
    .description('OpenAI-compatible engine emulator: simulator timing in real time, real cache and policy inside');
  addFieldGroups(command, ENGINE_FIELD_GROUPS).action((flags: EngineFlags) => runCommand(() => engineCommand(flags)));
}

async function engineCommand(flags: EngineFlags): Promise<void> {
  const kvEventPublisher = kvEventPublisherOptions(flags);
  const { setup, hardware } = await engineSetupAndHardware(flags);
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

/** The engine's setup and hardware; a setup on an engine profile of its own (engine=ideal) runs on that profile. */
export async function engineSetupAndHardware(flags: EngineFlags): Promise<{ setup: Setup; hardware: HardwareConfig }> {
  const setup = await engineSetup(flags.setup, flags.policy);
  const hardware = await serverHardware({ ...flags, ...(setup.engine !== undefined && { engine: setup.engine }) }, flags.blockSize);
  return { setup, hardware };
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

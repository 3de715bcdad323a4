/**
 * KV event settings as users give them: ZMQ endpoints, and vLLM's `--kv-events-config` JSON (the same
 * object `vllm serve` takes), so an emulated engine is configured like the real one.
 */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { inputErrorFrom } from '../../zod-issues.js';
import { KV_EVENT_PUBLISHER_DEFAULTS, type KvEventPublisherOptions } from './publisher.js';

const MAX_ENDPOINT_CHARS = 1024;
const TCP = /^tcp:\/\/(\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\*|\d{1,5})$/;

/** A ZMQ endpoint (`tcp://host:port`, `tcp://*:port`, `ipc://path`, `inproc://name`); throws naming `flag`. */
export function parseZmqEndpoint(text: string, flag: string): string {
  if (text.length > MAX_ENDPOINT_CHARS) throw InputError.flag(flag, `endpoint longer than ${MAX_ENDPOINT_CHARS} characters`);
  const tcp = TCP.exec(text);
  if (tcp) {
    if (tcp[2] !== '*' && !(Number(tcp[2]) >= 0 && Number(tcp[2]) <= 65535)) throw InputError.flag(flag, `"${text}": port out of range`);
    return text;
  }
  if (/^(ipc|inproc):\/\/\S+$/.test(text)) return text;
  throw InputError.flag(flag, `"${text}" is not a ZMQ endpoint (tcp://HOST:PORT, tcp://*:PORT, ipc://PATH)`);
}

/** vLLM's KVEventsConfig fields (vllm/config/kv_events.py); unknown keys are refused, as vLLM refuses them. */
const vllmConfigSchema = z
  .object({
    enable_kv_cache_events: z.boolean().optional(),
    publisher: z.enum(['zmq', 'null']).optional(),
    endpoint: z.string().optional(),
    replay_endpoint: z.string().nullable().optional(),
    buffer_steps: z.number().int().min(1).max(10_000_000).optional(),
    hwm: z.number().int().min(0).max(100_000_000).optional(),
    max_queue_size: z.number().int().min(1).optional(),
    topic: z.string().max(1024).optional(),
  })
  .strict();

/**
 * Reads a `--kv-events-config` JSON object; undefined when it leaves events off (`enable_kv_cache_events`
 * false or `publisher: "null"`). vLLM's defaults: endpoint `tcp://*:5557`, no replay, empty topic.
 */
export function parseVllmKvEventsConfig(text: string, flag = '--kv-events-config'): KvEventPublisherOptions | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw InputError.flag(flag, `not JSON: ${(error as Error).message}`);
  }
  const parsed = vllmConfigSchema.safeParse(value);
  if (!parsed.success) throw inputErrorFrom(parsed.error, { flag }, { root: 'config' });
  const config = parsed.data;
  if (config.enable_kv_cache_events === false || config.publisher === 'null') return undefined;
  return {
    endpoint: parseZmqEndpoint(config.endpoint ?? 'tcp://*:5557', `${flag} endpoint`),
    ...(config.replay_endpoint != null && { replayEndpoint: parseZmqEndpoint(config.replay_endpoint, `${flag} replay_endpoint`) }),
    topic: config.topic ?? '',
    bufferSteps: config.buffer_steps ?? KV_EVENT_PUBLISHER_DEFAULTS.bufferSteps,
    hwm: config.hwm ?? KV_EVENT_PUBLISHER_DEFAULTS.hwm,
  };
}

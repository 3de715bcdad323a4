/**
 * The common shapes of chat and completion request bodies, recognised without zod: a plain chat (text
 * or text-part contents), a text prompt, the usual options. A body accepted here is one the zod schema
 * (openai-schema.ts) accepts unchanged, so it is used as it is; anything else (hints or an `agent_id`,
 * which zod converts, token-id prompts, any doubt) goes to the schema, which also words every error.
 * Zod's parse was the largest kvflow-side item of a gateway request after the chat template.
 */
import type { ChatRequest, CompletionRequest } from './openai-schema.js';

type Body = Record<string, unknown>;

/** `value` as a chat request when it has the common shape, else undefined (ask the schema). */
export function fastChatRequest(value: unknown): ChatRequest | undefined {
  if (!plainObject(value) || !commonFieldsPlain(value) || !optionalTokenLimit(value.max_completion_tokens)) return undefined;
  const messages = value.messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  for (const message of messages) if (!plainMessage(message)) return undefined;
  return value as ChatRequest;
}

/** `value` as a completion request when its prompt is text (or one text in a list), else undefined. */
export function fastCompletionRequest(value: unknown): CompletionRequest | undefined {
  if (!plainObject(value) || !commonFieldsPlain(value)) return undefined;
  const prompt = value.prompt;
  if (typeof prompt === 'string' || (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string')) return value as CompletionRequest;
  return undefined;
}

/** The fields both schemas share, each absent, null or of the plain kind the schema passes unchanged. */
function commonFieldsPlain(body: Body): boolean {
  if (typeof body.model !== 'string' || body.model.length === 0) return false;
  if (!optionalTokenLimit(body.max_tokens)) return false;
  if (body.stream != null && typeof body.stream !== 'boolean') return false;
  const options = body.stream_options;
  if (options != null && !(plainObject(options) && (options.include_usage == null || typeof options.include_usage === 'boolean'))) return false;
  if (body.n != null && body.n !== 1) return false;
  // Hints and KVFlow's agent_id are converted by the schema (ids to strings): not plain.
  if (body.agent_hints != null || body.agent_id != null) return false;
  if (body.cache_salt != null && !(typeof body.cache_salt === 'string' && body.cache_salt.length > 0)) return false;
  if (body.extra_key != null && typeof body.extra_key !== 'string') return false;
  return true;
}

function plainMessage(message: unknown): boolean {
  if (!plainObject(message) || typeof message.role !== 'string') return false;
  if (message.name !== undefined && typeof message.name !== 'string') return false;
  const content = message.content;
  if (content === undefined || content === null || typeof content === 'string') return true;
  if (!Array.isArray(content)) return false;
  for (const part of content) {
    if (!plainObject(part) || typeof part.type !== 'string' || (part.text !== undefined && typeof part.text !== 'string')) return false;
  }
  return true;
}

function optionalTokenLimit(value: unknown): boolean {
  return value == null || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1);
}

/** A JSON object (never an array), without an own `__proto__` key (which the schema drops). */
function plainObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Object.hasOwn(value, '__proto__');
}

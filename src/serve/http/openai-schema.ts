/**
 * The request shapes kvflow's servers accept: OpenAI chat and text completions (unknown fields pass,
 * as OpenAI-compatible servers do), the workflow hints the field uses, and KVFlow's `/v1/update` body.
 * A validation failure becomes a 400 naming the first bad field (`param`), OpenAI-style.
 */
import { z } from 'zod';
import { ApiError } from './openai-errors.js';

const identifier = z.union([z.string(), z.number()]).transform(String);

/**
 * SGLang-style workflow hints. Only the fields kvflow reads are typed; others pass through untouched.
 * `workflow_spec` is kvflow's: the name of a workflow registered at the gateway.
 */
export const agentHintsSchema = z.looseObject({
  workflow_id: identifier.optional(),
  workflow_spec: z.string().optional(),
  agent_id: identifier.optional(),
  step_id: identifier.optional(),
  parent_step_id: identifier.nullish(),
  children_step_ids: z.array(identifier).nullish(),
});
export type AgentHints = z.infer<typeof agentHintsSchema>;

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

const chatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
  name: z.string().optional(),
});
export type ChatMessage = z.infer<typeof chatMessage>;

const tokenLimit = z.number().int().min(1).nullish();

const common = {
  model: z.string().min(1),
  max_tokens: tokenLimit,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish(),
  agent_hints: agentHintsSchema.nullish(),
  /** KVFlow's per-request agent tag. */
  agent_id: identifier.nullish(),
  /** vLLM's and SGLang's cache isolation: requests with different salts share no cached prefix. */
  cache_salt: z.string().min(1, 'cache_salt must be a non-empty string').nullish(),
  /** SGLang's extra cache key, appended to cache_salt. */
  extra_key: z.string().nullish(),
};

export const chatRequestSchema = z.looseObject({
  ...common,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: tokenLimit,
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** One prompt: text, a one-element list of text, or token ids. Batched prompts are not supported. */
const prompt = z.union([
  z.string(),
  z.tuple([z.string()]),
  z.array(z.number().int().min(0)).min(1),
  z.tuple([z.array(z.number().int().min(0)).min(1)]),
]);

export const completionRequestSchema = z.looseObject({ ...common, prompt });
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/**
 * KVFlow's `/v1/update`: `agent_data` maps agents to steps-to-execution, `timestep_data` maps steps to
 * agents (the same information inverted; used when `agent_data` is absent), `timestep_cnt` counts updates.
 */
export const steUpdateSchema = z
  .looseObject({
    agent_data: z.record(z.string(), z.number().min(0).nullable()).optional(),
    timestep_data: z.record(z.string(), z.array(identifier)).optional(),
    timestep_cnt: z.number().int().min(0).optional(),
    partial: z.boolean().optional(),
  })
  .refine((body) => body.agent_data !== undefined || body.timestep_data !== undefined, {
    error: 'give agent_data or timestep_data',
  });
export type SteUpdate = z.infer<typeof steUpdateSchema>;

/** Validates `value`; the first problem becomes a 400 that names the field. */
export function parseRequest<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path.map(String).join('.');
  throw ApiError.invalid(param ? `${param}: ${issue.message}` : issue.message, param || null);
}

/** The output budget of a request: `max_completion_tokens`, else `max_tokens`, else the default. */
export function maxTokensOf(request: { max_tokens?: number | null; max_completion_tokens?: number | null }, fallback: number): number {
  return request.max_completion_tokens ?? request.max_tokens ?? fallback;
}

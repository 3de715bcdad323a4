/**
 * The request fast path never accepts what the zod schema would refuse or convert: on generated bodies
 * (valid and invalid fields mixed), whatever the fast path takes, the schema takes too, with the same
 * value; and the common bodies do take the fast path.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chatRequestSchema, completionRequestSchema } from '../../src/serve/http/openai-schema.js';
import { fastChatRequest, fastCompletionRequest } from '../../src/serve/http/request-fast-path.js';

const anyJson = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 4 }), fc.constant([]), fc.constant({}));
/** Mostly a valid value, sometimes any JSON value, sometimes absent. */
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(fc.oneof({ arbitrary, weight: 12 }, { arbitrary: anyJson, weight: 1 }), { nil: undefined, freq: 4 });
const tokenLimit = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 6 }, { arbitrary: fc.constantFrom(2 ** 53, 1.5, 0, -1), weight: 1 });
/** Mostly absent, sometimes a value, sometimes any JSON value. */
const rare = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: fc.oneof(arbitrary, anyJson), weight: 1 });
const part = fc.record({ type: maybe(fc.constantFrom('text', 'image_url')), text: maybe(fc.string({ maxLength: 5 })) }, { requiredKeys: [] });
const message = fc.oneof(
  { weight: 12, arbitrary: fc.record({ role: maybe(fc.constantFrom('system', 'user')), content: maybe(fc.oneof(fc.string({ maxLength: 6 }), fc.array(part, { maxLength: 2 }))), name: maybe(fc.string({ maxLength: 3 })) }, { requiredKeys: [] }) },
  { arbitrary: anyJson, weight: 1 },
);
const common = {
  model: maybe(fc.constantFrom('', 'Llama-3.1-8B', 'm')),
  max_tokens: maybe(tokenLimit),
  stream: maybe(fc.boolean()),
  stream_options: maybe(fc.record({ include_usage: maybe(fc.boolean()) }, { requiredKeys: [] })),
  n: maybe(fc.constantFrom(1, 2)),
  agent_hints: rare(fc.record({ agent_id: fc.oneof(fc.string({ maxLength: 3 }), fc.integer()) })),
  agent_id: rare(fc.oneof(fc.string({ maxLength: 3 }), fc.integer())),
  cache_salt: maybe(fc.string({ maxLength: 3 })),
  extra_key: maybe(fc.string({ maxLength: 3 })),
  temperature: maybe(fc.double()),
};
const chatBody = fc.record({ ...common, messages: maybe(fc.array(message, { maxLength: 3 })), max_completion_tokens: maybe(tokenLimit) }, { requiredKeys: [] });
const completionBody = fc.record(
  { ...common, prompt: maybe(fc.oneof(fc.string({ maxLength: 5 }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }), fc.array(fc.integer({ min: -1, max: 9 }), { maxLength: 3 }))) },
  { requiredKeys: [] },
);
/** What JSON.parse would give: undefined members absent. */
const json = (value: unknown) => JSON.parse(JSON.stringify(value)) as unknown;

describe('request fast path', () => {
  it('takes only bodies the schema takes unchanged (chat and completion, seed 31)', () => {
    let taken = 0;
    fc.assert(
      fc.property(chatBody, completionBody, (chat, completion) => {
        for (const [body, fast, schema] of [
          [json(chat), fastChatRequest, chatRequestSchema],
          [json(completion), fastCompletionRequest, completionRequestSchema],
        ] as const) {
          const accepted = (fast as (value: unknown) => unknown)(body);
          if (accepted === undefined) continue;
          taken++;
          const parsed = (schema as typeof chatRequestSchema).safeParse(body);
          expect(parsed.success).toBe(true);
          expect(parsed.data).toEqual(accepted);
        }
      }),
      { seed: 31, numRuns: 3000 },
    );
    expect(taken).toBeGreaterThan(50);
  });

  it('takes the common bodies, and leaves hints, agent ids, token ids and a __proto__ key to the schema', () => {
    const chat = { model: 'm', max_tokens: 8, stream: false, messages: [{ role: 'system', content: 'Plan.' }, { role: 'user', content: [{ type: 'text', text: 'Go' }] }] };
    expect(fastChatRequest(json(chat))).toEqual(chat);
    expect(fastCompletionRequest({ model: 'm', prompt: ['text'], cache_salt: 'a' })).toBeDefined();
    expect(fastChatRequest({ ...chat, agent_hints: { agent_id: 7 } })).toBeUndefined();
    expect(fastChatRequest({ ...chat, agent_id: 7 })).toBeUndefined();
    expect(fastCompletionRequest({ model: 'm', prompt: [1, 2] })).toBeUndefined();
    for (const bad of [{ role: 'user', content: [{ type: 'text', text: 5 }] }, { content: 'x' }, { role: 'user', name: null }, { role: 'user', content: 3 }]) {
      expect(fastChatRequest({ model: 'm', messages: [bad] })).toBeUndefined();
      expect(chatRequestSchema.safeParse({ model: 'm', messages: [bad] }).success).toBe(false);
    }
    expect(fastChatRequest(JSON.parse('{"__proto__": {}, "model": "m", "messages": [{"role": "user"}]}'))).toBeUndefined();
  });
});

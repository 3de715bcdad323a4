/**
 * ChatTemplate renders exactly as @huggingface/jinja's Template.render: the two preset templates on
 * generated conversations (system/user/assistant/tool turns, whitespace around contents, tool calls,
 * tools, with and without the generation prompt), the same errors, and a made-up template that
 * assigns, shadows and tests variables, so that nothing leaks from one render into the next.
 */
import { Template } from '@huggingface/jinja';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChatTemplate } from '../../src/workload/chat-render.js';
import { fastRenderFor } from '../../src/workload/chat-fast-templates.js';
import { LLAMA_3_1_INSTRUCT, QWEN_2_5_INSTRUCT } from '../../src/workload/chat-templates.js';

const SPECIALS = { bos_token: '<|begin_of_text|>', eos_token: '<|eot_id|>' };

/** The library's render of the same input, or its error message. */
function reference(source: string, items: Record<string, unknown>): string {
  try {
    return new Template(source).render({ ...SPECIALS, ...items });
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

function ours(template: ChatTemplate, items: Record<string, unknown>): string {
  try {
    return template.render(items);
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

const content = fc.oneof(fc.constantFrom('', ' Be brief.\n', 'Hi', '  padded  ', '{"temp": 31}', '<|eot_id|>'), fc.string({ maxLength: 30 }));
const toolCall = fc.record({ function: fc.record({ name: fc.constantFrom('search', 'run'), arguments: fc.constantFrom({}, { q: 'x' }) }) });
const turn = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'user', 'assistant', 'tool'), content }),
  fc.record({ role: fc.constant('assistant'), content, tool_calls: fc.array(toolCall, { minLength: 1, maxLength: 2 }) }),
);
const items = fc.record(
  {
    messages: fc.array(turn, { maxLength: 6 }),
    add_generation_prompt: fc.boolean(),
    tools: fc.constantFrom(undefined, [{ type: 'function', function: { name: 'search', parameters: {} } }]),
    date_string: fc.constantFrom(undefined, '01 Dec 2026'),
  },
  { requiredKeys: ['messages', 'add_generation_prompt'] },
);

describe('ChatTemplate', () => {
  for (const [name, source] of [
    ['Llama 3.1', LLAMA_3_1_INSTRUCT],
    ['Qwen2.5', QWEN_2_5_INSTRUCT],
  ] as const) {
    it(`renders ${name} as Template.render does, errors included (seed 29)`, () => {
      const template = new ChatTemplate(source, SPECIALS);
      fc.assert(
        fc.property(items, (input) => {
          const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
          expect(ours(template, given)).toBe(reference(source, given));
        }),
        { seed: 29, numRuns: 300 },
      );
    });
  }

  it('keeps no state between renders: assignments, namespaces and shadowed names stay in their render', () => {
    const source =
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% if seen is defined %}again {% endif %}{% set seen = m %}{% endfor %}" +
      "{{ ns.n }} {{ seen is defined }} {{ extra | default('none') }} {{ bos_token }} {{ range(2) | length }}{% set bos_token = 'X' %}{{ bos_token }}";
    const template = new ChatTemplate(source, SPECIALS);
    const cases = [{ messages: [1, 2, 3] }, { messages: [], extra: 'given' }, { messages: [1], bos_token: 'shadowed' }, { messages: [1, 2, 3] }];
    for (const input of cases) expect(ours(template, input)).toBe(reference(source, input));
    expect(ours(template, cases[0]!)).toBe(ours(template, cases[3]!));
  });

  // The presets' string-building renders (chat-fast-templates.ts): plain conversations with any text
  // (whitespace that String.prototype.trim and Python's strip disagree on, special-token text, braces),
  // any role, and the shapes that must fall back (empty, tool calls, extra variables, non-string fields).
  const text = fc.oneof(
    fc.constantFrom('', ' ', '\n\t x \r\n', '\u00a0nbsp\u00a0', '\ufeffbom\u2028', '\u0085next\u0085', '<|eot_id|><|im_end|>', '{{ x }}{% if %}', 'a\u0000b'),
    fc.string({ maxLength: 40, unit: 'grapheme' }),
  );
  const role = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('system', 'user', 'assistant') },
    { weight: 1, arbitrary: fc.constantFrom('developer', 'tool', 'ipython') },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  const plainTurn = fc.record({ role, content: text });
  const oddTurn = fc.oneof(
    fc.record({ role: fc.constant('assistant'), content: text, tool_calls: fc.constantFrom(null, [], [{ function: { name: 'run', arguments: {} } }]) }),
    fc.record({ role: fc.constant('user'), content: fc.constantFrom(null, 3, ['a']) }),
    fc.record({ role: fc.constant('user'), content: text, name: fc.constant('alice') }),
  );
  const plainItems = fc.record({
    messages: fc.array(fc.oneof({ weight: 20, arbitrary: plainTurn }, { weight: 1, arbitrary: oddTurn }), { maxLength: 5 }),
    add_generation_prompt: fc.oneof({ weight: 12, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom(1, 'yes', null) }),
    extra: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom({ date_string: '01 Dec 2026' }, { tools: [] }, { custom_tools: null }) }),
  });
  for (const [name, source] of [
    ['Llama 3.1', LLAMA_3_1_INSTRUCT],
    ['Qwen2.5', QWEN_2_5_INSTRUCT],
  ] as const) {
    it(`renders ${name}'s plain conversations by string building exactly as Template.render (seed 41)`, () => {
      const template = new ChatTemplate(source, SPECIALS);
      const fast = fastRenderFor(source, SPECIALS)!;
      let fastRenders = 0;
      fc.assert(
        fc.property(plainItems, ({ messages, add_generation_prompt, extra }) => {
          const given = { ...extra, messages, add_generation_prompt };
          const expected = reference(source, given);
          if (fast(given) !== undefined) {
            fastRenders++;
            expect(fast(given)).toBe(expected);
          }
          expect(ours(template, given)).toBe(expected);
        }),
        { seed: 41, numRuns: 500 },
      );
      // A good share of the generated conversations are plain: the string-building path was tested.
      expect(fastRenders).toBeGreaterThan(150);
    });
  }

  it('takes the string-building path only for the presets, exactly as published', () => {
    expect(fastRenderFor(LLAMA_3_1_INSTRUCT, SPECIALS)).toBeDefined();
    expect(fastRenderFor(QWEN_2_5_INSTRUCT, {})).toBeDefined();
    expect(fastRenderFor(`${LLAMA_3_1_INSTRUCT} `, SPECIALS)).toBeUndefined();
    expect(fastRenderFor(LLAMA_3_1_INSTRUCT, {})).toBeUndefined();
    expect(fastRenderFor('{{ messages }}', SPECIALS)).toBeUndefined();
  });
});

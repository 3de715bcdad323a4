/**
 * The served model's tokenizer and chat template: renders checked against the models' published
 * templates' outputs, piecewise (memoized) encoding equal to whole-text encoding, completion prompts with
 * the model's begin-of-text token, and salts that keep blocks apart.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { hashTokenBlocks } from '../../src/native.js';
import { PromptTokenizer, saltOf, saltSeed } from '../../src/serve/http/prompt-tokens.js';
import { loadPresetTokenizer, type ModelTokenizer } from '../../src/workload/model-tokenizer.js';
import { presetForModel } from '../../src/workload/tokenizer-presets.js';
import { requireTrace } from '../helpers/requirements.js';

const MINISWE = requireTrace('lmcache_agent_miniswe.jsonl');

const LLAMA_BOS = 128_000;
const LLAMA_HEADER = '<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n';

let llama: ModelTokenizer;
let qwen: ModelTokenizer;
beforeAll(async () => {
  [llama, qwen] = await Promise.all([loadPresetTokenizer('Llama-3.1-8B'), loadPresetTokenizer('Qwen2.5-32B')]);
}, 120_000);

describe('chat templates as published', () => {
  const chat = [
    { role: 'user', content: 'Hello, how are you?' },
    { role: 'assistant', content: "I'm doing great. How can I help you today?" },
    { role: 'user', content: "I'd like to show off how chat templating works!" },
  ];

  it('Llama 3.1 Instruct: BOS, the dated system header, trimmed turns, the assistant header last', () => {
    expect(llama.renderChat([{ role: 'system', content: '  Be brief.\n' }, { role: 'user', content: 'Hi' }])).toBe(
      `<|begin_of_text|>${LLAMA_HEADER}Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
    );
    expect(llama.renderChat(chat)).toBe(
      `<|begin_of_text|>${LLAMA_HEADER}<|eot_id|>` +
        '<|start_header_id|>user<|end_header_id|>\n\nHello, how are you?<|eot_id|>' +
        "<|start_header_id|>assistant<|end_header_id|>\n\nI'm doing great. How can I help you today?<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nI'd like to show off how chat templating works!<|eot_id|>" +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    expect(llama.renderChat(chat, { add_generation_prompt: false }).endsWith('works!<|eot_id|>')).toBe(true);
  });

  it('Qwen2.5 Instruct: the default system prompt when none is given, ChatML turns', () => {
    // The target transformers renders for Qwen2.5's template without a generation prompt.
    expect(qwen.renderChat(chat, { add_generation_prompt: false })).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n' +
        "<|im_start|>assistant\nI'm doing great. How can I help you today?<|im_end|>\n<|im_start|>user\nI'd like to show off how chat templating works!<|im_end|>\n",
    );
    expect(qwen.renderChat([{ role: 'system', content: 'Plan.' }, { role: 'user', content: 'Go' }])).toBe(
      '<|im_start|>system\nPlan.<|im_end|>\n<|im_start|>user\nGo<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('tool messages render as the templates say', () => {
    const tool = [
      { role: 'user', content: 'Weather in Hanoi?' },
      { role: 'tool', content: '{"temp": 31}' },
    ];
    expect(qwen.renderChat(tool)).toContain('<|im_start|>user\n<tool_response>\n{"temp": 31}\n</tool_response><|im_end|>\n');
    // A string `is iterable` in Jinja, so Llama's template writes tool output through tojson, quoted.
    expect(llama.renderChat(tool)).toContain('<|start_header_id|>ipython<|end_header_id|>\n\n"{\\"temp\\": 31}"<|eot_id|>');
  });

  it('a render leaves the stack trace limit as it found it, also when the template raises', () => {
    const before = Error.stackTraceLimit;
    llama.renderChat([{ role: 'user', content: 'Hi' }]);
    expect(Error.stackTraceLimit).toBe(before);
    const call = { function: { name: 'f', arguments: {} } };
    expect(() => llama.renderChat([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '', tool_calls: [call, call] }])).toThrow(
      'This model only supports single tool-calls at once!',
    );
    expect(Error.stackTraceLimit).toBe(before);
  });
});

describe('model tokens', () => {
  it('known Llama 3 ids: begin-of-text then the text, special-token text as special tokens', () => {
    expect(llama.prefixIds).toEqual([LLAMA_BOS]);
    expect(llama.encodeCompletion('Hello world')).toEqual([LLAMA_BOS, 9906, 1917]);
    expect(llama.encode('<|eot_id|>')).toEqual([128_009]);
    expect(qwen.prefixIds).toEqual([]);
    // Qwen2.5 has no <think> token (Qwen3 added it): it is three plain tokens.
    expect(qwen.encode('<think>').length).toBeGreaterThan(1);
  });

  it('encoding piece by piece between added tokens equals encoding the whole text (seed 13)', () => {
    const alphabet = ['Hello', ' world', '\n\n', '<|eot_id|>', '<|im_end|>', ' 42', 'é', '  ', 'def f(x):', '<|start_header_id|>', '🙂', 'tokens'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 40 }), (words) => {
        const text = words.join('');
        for (const tokenizer of [llama, qwen]) {
          const pieces = tokenizer.pieces(text).flatMap((piece) => (typeof piece === 'number' ? [piece] : tokenizer.encodePlain(piece)));
          expect(pieces).toEqual(tokenizer.encode(text));
        }
      }),
      { seed: 13, numRuns: 60 },
    );
  });

  it('a chat prompt is the rendered template tokenized; the system part is a prefix of it', () => {
    const prompts = new PromptTokenizer(llama, { blockSize: 16 });
    const system = { role: 'system', content: `You are the planner. ${'Think step by step. '.repeat(50)}` };
    const a = prompts.chat([system, { role: 'user', content: 'first' }]);
    const b = prompts.chat([system, { role: 'user', content: 'second' }]);
    const rendered = llama.renderChat([system, { role: 'user', content: 'first' }]);
    expect(a.tokens).toBe(llama.encode(rendered).length);
    expect(a.blocks).toEqual(hashTokenBlocks(llama.encode(rendered), 16));
    const systemOnly = llama.encode(llama.renderChat([system], { add_generation_prompt: false })).length;
    expect(a.systemTokens).toBe(systemOnly);
    const sharedBlocks = Math.floor(systemOnly / 16);
    expect(b.blocks.slice(0, sharedBlocks)).toEqual(a.blocks.slice(0, sharedBlocks));
  });

  it('a completion prompt starts with begin-of-text; token-id prompts are taken as given', () => {
    const prompts = new PromptTokenizer(llama, { blockSize: 16 });
    const text = 'Summarize the following report in three sentences. '.repeat(8);
    const expected = llama.encodeCompletion(text);
    expect(expected[0]).toBe(LLAMA_BOS);
    expect(prompts.completion(text).tokens).toBe(expected.length);
    expect(prompts.completion([text]).blocks).toEqual(hashTokenBlocks(expected, 16));
    expect(prompts.completion([1, 2, 3]).blocks).toEqual(hashTokenBlocks([1, 2, 3], 16));
  });

  it('maps served model ids to presets', () => {
    expect(presetForModel('meta-llama/Llama-3.1-8B-Instruct')).toBe('Llama-3.1-8B');
    expect(presetForModel('meta-llama/Meta-Llama-3.1-70B-Instruct')).toBe('Llama-3.1-70B');
    expect(presetForModel('Qwen/Qwen2.5-32B-Instruct')).toBe('Qwen2.5-32B');
    expect(presetForModel('gpt-4o')).toBeUndefined();
  });
});

describe('salted prefixes', () => {
  it("vLLM's cache_salt and SGLang's cache_salt + extra_key seed the blocks: different salts share none", () => {
    const prompts = new PromptTokenizer(llama, { blockSize: 16 });
    const text = 'A long shared instruction block. '.repeat(20);
    const plain = prompts.completion(text).blocks;
    const a = prompts.completion(text, 'tenant-a').blocks;
    const b = prompts.completion(text, 'tenant-b').blocks;
    expect(prompts.completion(text, 'tenant-a').blocks).toEqual(a);
    for (const [x, y] of [[plain, a], [a, b], [plain, b]] as const) expect(x.some((block) => y.includes(block))).toBe(false);
    expect(saltOf({ cache_salt: 'tenant-a' })).toBe('tenant-a');
    expect(saltOf({ cache_salt: 'x', extra_key: 'y' })).toBe('xy');
    expect(saltOf({})).toBeUndefined();
    expect(saltSeed(undefined)).toBe(0);
    expect(saltSeed('tenant-a')).not.toBe(0);
  });
});

describe('the fast encoder', () => {
  it('equals the Hugging Face library on real agent prompts and on random text (seed 13)', async () => {
    const { readFile } = await import('node:fs/promises');
    // The real prompts come from ../shared (test/helpers/requirements.ts: CI fails without them); the random text always runs.
    const lines = MINISWE ? (await readFile(MINISWE, 'utf8')).split('\n').filter(Boolean) : [];
    const prompts = lines.length === 0 ? [] : [0, 7, 40, 120, 241].map((i) => (JSON.parse(lines[i]!) as { input: string }).input.slice(0, 6000));
    for (const tokenizer of [llama, qwen]) for (const text of prompts) expect(tokenizer.encodePlain(text)).toEqual(tokenizer.referenceEncode(text));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ maxLength: 80 }), (a, b) => {
        const text = `${a} It's 2024-07-26, they'LL see\r\n\t${b}  \u00a0 12345 ünïcödé`;
        for (const tokenizer of [llama, qwen]) expect(tokenizer.encode(text)).toEqual(tokenizer.referenceEncode(text));
      }),
      { seed: 13, numRuns: 80 },
    );
  }, 60_000);
});

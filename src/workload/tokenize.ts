/**
 * The tokenizer behind importers of raw-text traces (LMCache agent traces). It is OpenAI's
 * `cl100k_base` BPE from `gpt-tokenizer`, which bundles its ranks, so it works offline and caches
 * nothing on disk. Why cl100k_base: Llama 3's tokenizer (the one upstream's `prefix_analysis.py` uses)
 * is cl100k_base's 100k ranks plus 28k more under the same pre-tokenizer, so counts and block
 * boundaries come closest to it of the offline choices.
 */

/** Name of the encoding, for docs and reports. */
export const TOKENIZER_NAME = 'cl100k_base';

/** Turns text into token ids. Special-token text such as `<|endoftext|>` is ordinary text here. */
export interface Tokenizer {
  encode(text: string): number[];
  count(text: string): number;
}

let loading: Promise<Tokenizer> | undefined;

/**
 * The shared tokenizer, loaded on first use: its ranks take about 70 ms and 40 MB to load, which
 * commands that never read raw text should not pay.
 */
export function loadTokenizer(): Promise<Tokenizer> {
  loading ??= import('gpt-tokenizer/encoding/cl100k_base').then((bpe) => {
    // Traces quote prompts that mention special tokens; they must not make encoding throw.
    const asText = { disallowedSpecial: new Set<string>() };
    return {
      encode: (text: string) => bpe.encode(text, asText),
      count: (text: string) => bpe.countTokens(text, asText),
    };
  });
  return loading;
}

/**
 * The gateway's prompt tokenizer per served model id, loaded once each: requests for different models
 * are tokenized as their own engines tokenize them. Models sharing a tokenizer (by preset or file) share
 * one instance, and so its memo of system prompts.
 */
import { PromptTokenizer, type TokenizerSource } from '../http/prompt-tokens.js';
import { presetForModel } from '../../workload/tokenizer-presets.js';

export class ModelTokenizers {
  readonly #source: TokenizerSource;
  readonly #blockSize: number;
  readonly #byModel = new Map<string, Promise<PromptTokenizer>>();
  readonly #byTokenizer = new Map<string, Promise<PromptTokenizer>>();
  /** The same tokenizers once loaded: a request for a known model does not wait a turn for a settled promise. */
  readonly #loaded = new Map<string, PromptTokenizer>();

  constructor(source: TokenizerSource, blockSize: number) {
    this.#source = source;
    this.#blockSize = blockSize;
  }

  /** The model's tokenizer if it is loaded already. */
  loaded(model: string): PromptTokenizer | undefined {
    return this.#loaded.get(model);
  }

  forModel(model: string): Promise<PromptTokenizer> {
    let tokenizer = this.#byModel.get(model);
    if (!tokenizer) {
      // One key per distinct tokenizer: a file for all, a preset, or the one fallback (which warns once).
      const key = this.#source.tokenizer ?? presetForModel(model) ?? 'fallback';
      tokenizer = this.#byTokenizer.get(key);
      if (!tokenizer) {
        tokenizer = PromptTokenizer.forModel(model, this.#source, { blockSize: this.#blockSize });
        this.#byTokenizer.set(key, tokenizer);
      }
      // Model ids come from clients when the served models are unknown: keep the map bounded.
      if (this.#byModel.size >= 4096) {
        this.#byModel.clear();
        this.#loaded.clear();
      }
      this.#byModel.set(model, tokenizer);
      const byModel = this.#byModel;
      const pending = tokenizer;
      pending.then(
        (loaded) => {
          if (byModel.get(model) === pending) this.#loaded.set(model, loaded);
        },
        () => {},
      );
    }
    return tokenizer;
  }
}

/** `--tokenizer` and `--chat-template` of the commands that serve models (gateway, engine). */
import { InputError } from '../errors.js';
import type { TokenizerSource } from '../serve/http/prompt-tokens.js';
import { TOKENIZER_PRESETS } from '../workload/tokenizer-presets.js';

export const TOKENIZER_OPTIONS = {
  tokenizer: [
    '--tokenizer <name>',
    `tokenizer for every model: a preset (${Object.keys(TOKENIZER_PRESETS).join(', ')}) or a Hugging Face tokenizer.json (default: the preset of the served model id, else cl100k_base with a warning)`,
  ],
  chatTemplate: ['--chat-template <file>', 'with --tokenizer FILE: a chat template (Jinja text, or a tokenizer_config.json) instead of its own'],
} as const;

/** `--tokenizer` / `--chat-template` as a tokenizer source. */
export function tokenizerSource(flags: { tokenizer?: string; chatTemplate?: string }, warn: (line: string) => void): TokenizerSource {
  if (flags.chatTemplate !== undefined && (flags.tokenizer === undefined || Object.hasOwn(TOKENIZER_PRESETS, flags.tokenizer))) {
    throw InputError.flag('--chat-template', 'goes with --tokenizer FILE (a tokenizer.json); presets bring their published template');
  }
  return {
    ...(flags.tokenizer !== undefined && { tokenizer: flags.tokenizer }),
    ...(flags.chatTemplate !== undefined && { chatTemplateFile: flags.chatTemplate }),
    warn,
  };
}

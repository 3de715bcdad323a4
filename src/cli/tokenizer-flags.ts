/** `--tokenizer` and `--chat-template` of the commands that serve models (gateway, engine; config/server-fields.ts). */
import { InputError } from '../errors.js';
import type { TokenizerSource } from '../serve/http/prompt-tokens.js';
import { TOKENIZER_PRESETS } from '../workload/tokenizer-presets.js';

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

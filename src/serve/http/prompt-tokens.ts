/**
 * Prompt text to token ids with the tokenizer the trace importers use (cl100k_base from gpt-tokenizer,
 * bundled, offline), then to block ids with the project's chained block hashing (`hashTokenBlocks`,
 * native when built), so a prompt gets the same blocks here as in an imported trace. Agents resend the
 * same long system prompt on every call, so token ids are memoized per message text: a 4k-token system
 * prompt is tokenized once and then costs a map lookup. A chat is tokenized message by message, which
 * keeps the tokens of a shared leading message identical across requests (and so its blocks).
 */
import { hashTokenBlocks } from '../../native.js';
import { loadTokenizer, type Tokenizer } from '../../workload/tokenize.js';
import { ApiError } from './openai-errors.js';
import type { ChatMessage, CompletionRequest } from './openai-schema.js';

/** A prompt as the cache sees it. */
export interface PromptBlocks {
  /** Prompt tokens. */
  tokens: number;
  /** Block ids (chained hashes), `ceil(tokens / blockSize)` of them. */
  blocks: number[];
  /** Tokens of the leading system/developer messages: the agent's fixed prompt if nothing better is known. */
  systemTokens: number;
}

export interface PromptTokenizerOptions {
  blockSize: number;
  /** Most tokens kept in the memo (default 4M, 16 MiB). */
  memoTokens?: number;
  /** Most texts kept in the memo (default 64k). */
  memoEntries?: number;
}

/** Texts shorter than this are tokenized every time: cheaper than keeping them. */
const MEMO_MIN_CHARS = 48;

export class PromptTokenizer {
  readonly blockSize: number;
  readonly #tokenizer: Tokenizer;
  readonly #memo = new Map<string, Int32Array>();
  readonly #memoLimit: number;
  readonly #memoEntries: number;
  #memoTokens = 0;

  /** Loads the shared tokenizer (its ranks, once per process) and makes a prompt tokenizer. */
  static async create(options: PromptTokenizerOptions): Promise<PromptTokenizer> {
    return new PromptTokenizer(await loadTokenizer(), options);
  }

  constructor(tokenizer: Tokenizer, options: PromptTokenizerOptions) {
    this.#tokenizer = tokenizer;
    this.blockSize = options.blockSize;
    this.#memoLimit = options.memoTokens ?? 4 * 2 ** 20;
    this.#memoEntries = options.memoEntries ?? 65536;
  }

  /** A chat rendered ChatML-style (`<|im_start|>role\ncontent<|im_end|>\n` per message) and hashed. */
  chat(messages: readonly ChatMessage[]): PromptBlocks {
    const parts: Int32Array[] = [];
    let systemTokens = 0;
    let leading = true;
    for (const message of messages) {
      const tokens = this.#tokens(`<|im_start|>${message.role}${message.name ? ` ${message.name}` : ''}\n${contentText(message)}<|im_end|>\n`);
      parts.push(tokens);
      leading &&= message.role === 'system' || message.role === 'developer';
      if (leading) systemTokens += tokens.length;
    }
    return this.#blocks(concat(parts), systemTokens);
  }

  /** A text completion's prompt (text or token ids). */
  completion(prompt: CompletionRequest['prompt']): PromptBlocks {
    const single = Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] !== 'number' ? prompt[0]! : prompt;
    if (typeof single === 'string') return this.#blocks(this.#tokens(single), 0);
    return this.#blocks(Int32Array.from(single as number[]), 0);
  }

  #blocks(tokens: Int32Array, systemTokens: number): PromptBlocks {
    if (tokens.length === 0) throw ApiError.invalid('the prompt is empty', 'prompt');
    return { tokens: tokens.length, blocks: hashTokenBlocks(tokens, this.blockSize), systemTokens };
  }

  #tokens(text: string): Int32Array {
    if (text.length < MEMO_MIN_CHARS) return new Int32Array(this.#tokenizer.encode(text));
    const known = this.#memo.get(text);
    if (known) {
      // Least recently used last: re-insert.
      this.#memo.delete(text);
      this.#memo.set(text, known);
      return known;
    }
    const tokens = new Int32Array(this.#tokenizer.encode(text));
    this.#memo.set(text, tokens);
    this.#memoTokens += tokens.length;
    for (const [oldest, value] of this.#memo) {
      if (this.#memoTokens <= this.#memoLimit && this.#memo.size <= this.#memoEntries) break;
      this.#memo.delete(oldest);
      this.#memoTokens -= value.length;
    }
    return tokens;
  }
}

function contentText(message: ChatMessage): string {
  const content = message.content;
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => part.text ?? `[${part.type}]`).join('');
}

function concat(parts: readonly Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const part of parts) length += part.length;
  const all = new Int32Array(length);
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

/**
 * Prompt text to the token ids the engine will see, then to block ids with the project's chained block
 * hashing (`hashTokenBlocks`, native when built), so the gateway's shadow blocks are the engine's blocks.
 *
 * With the served model's tokenizer (model-tokenizer.ts) a chat is rendered with its chat template and
 * `add_generation_prompt`, and a text prompt gets the model's leading special tokens, as vLLM and SGLang
 * do. Unknown models fall back to cl100k_base with a ChatML-style rendering, which only approximates
 * the engine (a warning says so once per model).
 *
 * Agents resend the same long system prompt on every call, so the text between special tokens is
 * memoized: a 4k-token system prompt is tokenized once and then costs a map lookup. `cache_salt` (vLLM)
 * and SGLang's `cache_salt` + `extra_key` seed the block hash, so differently salted prompts never share
 * a block, as in the engines.
 */
import { hashTokenBlocks } from '../../native.js';
import { loadPresetTokenizer, loadTokenizerFile, type ChatTurn, type ModelTokenizer } from '../../workload/model-tokenizer.js';
import { presetForModel, TOKENIZER_PRESETS } from '../../workload/tokenizer-presets.js';
import { loadTokenizer, TOKENIZER_NAME, type Tokenizer } from '../../workload/tokenize.js';
import { ApiError } from './openai-errors.js';
import type { ChatMessage, CompletionRequest } from './openai-schema.js';

/** A prompt as the cache sees it. */
export interface PromptBlocks {
  /** Prompt tokens (what the engine reports as `usage.prompt_tokens`). */
  tokens: number;
  /** Block ids (chained hashes, seeded by the salt), `ceil(tokens / blockSize)` of them. */
  blocks: number[];
  /** Tokens up to the end of the leading system/developer messages: the agent's fixed prompt if nothing better is known. */
  systemTokens: number;
  /** The token ids themselves (shared with the tokenizer's memo when the prompt is one memoized piece: read only). */
  ids: Int32Array;
}

export interface PromptTokenizerOptions {
  blockSize: number;
  /** Most tokens kept in the memo (default 4M, 16 MiB). */
  memoTokens?: number;
  /** Most texts kept in the memo (default 64k). */
  memoEntries?: number;
}

/** How to find a model's tokenizer: a preset by model id, or a tokenizer.json for every model. */
export interface TokenizerSource {
  /** For every model: a preset name (Llama-3.1-8B, ...) or a Hugging Face tokenizer.json (its tokenizer_config.json beside it). */
  tokenizer?: string;
  /** With a tokenizer.json: a chat template (Jinja, or a tokenizer_config.json) overriding its own. */
  chatTemplateFile?: string;
  /** Told once per model that falls back to cl100k_base. */
  warn?: (message: string) => void;
}

/** Texts shorter than this are tokenized every time: cheaper than keeping them. */
const MEMO_MIN_CHARS = 48;

/** The hash seed of a salt: 0 without one, never 0 with one (FNV-1a over UTF-16 units). */
export function saltSeed(salt: string | undefined): number {
  if (salt === undefined || salt === '') return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < salt.length; i++) hash = Math.imul(hash ^ salt.charCodeAt(i), 0x01000193);
  return hash >>> 0 || 1;
}

/** The salt of a request body as the engines read it: vLLM's `cache_salt`, SGLang's `cache_salt` + `extra_key`. */
export function saltOf(body: { cache_salt?: string | null; extra_key?: string | null }): string | undefined {
  const salt = (body.cache_salt ?? '') + (body.extra_key ?? '');
  return salt === '' ? undefined : salt;
}

export class PromptTokenizer {
  readonly blockSize: number;
  /** The tokenizer's name (a preset, a file, or cl100k_base). */
  readonly name: string;
  readonly #model: ModelTokenizer | undefined;
  readonly #fallback: Tokenizer | undefined;
  readonly #memo = new Map<string, Int32Array>();
  readonly #systemMemo = new Map<string, number>();
  readonly #memoLimit: number;
  readonly #memoEntries: number;
  #memoTokens = 0;
  readonly #encodePlain = (text: string): number[] => this.#model!.encodePlain(text);

  /** The prompt tokenizer for `model`: its preset or the given file, else cl100k_base with a warning. */
  static async forModel(model: string, source: TokenizerSource, options: PromptTokenizerOptions): Promise<PromptTokenizer> {
    if (source.tokenizer !== undefined && !Object.hasOwn(TOKENIZER_PRESETS, source.tokenizer)) {
      const loaded = await loadTokenizerFile(source.tokenizer, source.chatTemplateFile === undefined ? {} : { chatTemplatePath: source.chatTemplateFile });
      return new PromptTokenizer(loaded, options);
    }
    const preset = source.tokenizer ?? presetForModel(model);
    if (preset !== undefined) return new PromptTokenizer(await loadPresetTokenizer(preset), options);
    source.warn?.(
      `no tokenizer known for model "${model}": using ${TOKENIZER_NAME} with ChatML rendering, so prompt tokens and blocks only approximate the engine's (give --tokenizer FILE)`,
    );
    return PromptTokenizer.create(options);
  }

  /** The cl100k_base fallback (its ranks loaded once per process). */
  static async create(options: PromptTokenizerOptions): Promise<PromptTokenizer> {
    return new PromptTokenizer(await loadTokenizer(), options);
  }

  constructor(tokenizer: ModelTokenizer | Tokenizer, options: PromptTokenizerOptions) {
    if ('renderChat' in tokenizer) {
      this.#model = tokenizer;
      this.name = tokenizer.name;
    } else {
      this.#fallback = tokenizer;
      this.name = TOKENIZER_NAME;
    }
    this.blockSize = options.blockSize;
    this.#memoLimit = options.memoTokens ?? 4 * 2 ** 20;
    this.#memoEntries = options.memoEntries ?? 65536;
  }

  /** A chat as the engine renders it, ready for the assistant's reply. */
  chat(messages: readonly ChatMessage[], salt?: string): PromptBlocks {
    if (!this.#model?.hasChatTemplate) return this.#chatMl(messages, salt);
    const turns = messages.map(toTurn);
    const tokens = this.#encodePieces(this.#render(turns));
    return this.#blocks(tokens, this.#systemTokens(turns), salt);
  }

  /** A text completion's prompt (text, with the model's leading special tokens, or token ids as given). */
  completion(prompt: CompletionRequest['prompt'], salt?: string): PromptBlocks {
    const single = Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] !== 'number' ? prompt[0]! : prompt;
    if (typeof single !== 'string') return this.#blocks(Int32Array.from(single as number[]), 0, salt);
    if (!this.#model) return this.#blocks(this.#fallbackTokens(single), 0, salt);
    const body = this.#encodePieces(single);
    const prefix = this.#model.prefixIds;
    if (prefix.length === 0 || body.length === 0) return this.#blocks(body, 0, salt);
    const tokens = new Int32Array(prefix.length + body.length);
    tokens.set(prefix);
    tokens.set(body, prefix.length);
    return this.#blocks(tokens, 0, salt);
  }

  #render(turns: readonly ChatTurn[]): string {
    try {
      return this.#model!.renderChat(turns);
    } catch (error) {
      throw ApiError.invalid(`messages: the chat template of ${this.name} refused them: ${(error as Error).message}`, 'messages');
    }
  }

  /** Tokens of the rendered leading system/developer messages (memoized by their text). */
  #systemTokens(turns: readonly ChatTurn[]): number {
    let leading = 0;
    while (leading < turns.length && (turns[leading]!.role === 'system' || turns[leading]!.role === 'developer')) leading++;
    if (leading === 0) return 0;
    // One message (the usual case) keyed as `length:role` + content without building JSON: it starts with
    // a digit where JSON text starts with `[`, so the two kinds of key never meet.
    const first = turns[0]!;
    const key = leading === 1 ? `${first.role.length}:${first.role}${first.content}` : JSON.stringify(turns.slice(0, leading).map((turn) => [turn.role, turn.content]));
    let count = this.#systemMemo.get(key);
    if (count === undefined) {
      // Templates put the generation prompt last, so the system messages alone without it are a prefix.
      count = this.#encodePieces(this.#model!.renderChat(turns.slice(0, leading), { add_generation_prompt: false })).length;
      if (this.#systemMemo.size >= 4096) this.#systemMemo.clear();
      this.#systemMemo.set(key, count);
    }
    return count;
  }

  /** `text` cut at added tokens, plain pieces memoized (short ones used as the encoder returns them, not copied). */
  #encodePieces(text: string): Int32Array {
    const model = this.#model!;
    const parts: (Int32Array | number[] | number)[] = [];
    let length = 0;
    for (const piece of model.pieces(text)) {
      if (typeof piece === 'number') {
        parts.push(piece);
        length++;
      } else {
        const tokens = piece.length < MEMO_MIN_CHARS ? model.encodePlain(piece) : this.#memoized(piece, this.#encodePlain);
        parts.push(tokens);
        length += tokens.length;
      }
    }
    const all = new Int32Array(length);
    let offset = 0;
    for (const part of parts) {
      if (typeof part === 'number') all[offset++] = part;
      else {
        all.set(part, offset);
        offset += part.length;
      }
    }
    return all;
  }

  /** The cl100k_base path: each message rendered ChatML-style and tokenized on its own. */
  #chatMl(messages: readonly ChatMessage[], salt: string | undefined): PromptBlocks {
    const parts: Int32Array[] = [];
    let systemTokens = 0;
    let leading = true;
    for (const message of messages) {
      const tokens = this.#fallbackTokens(`<|im_start|>${message.role}${message.name ? ` ${message.name}` : ''}\n${contentText(message)}<|im_end|>\n`);
      parts.push(tokens);
      leading &&= message.role === 'system' || message.role === 'developer';
      if (leading) systemTokens += tokens.length;
    }
    return this.#blocks(concat(parts), systemTokens, salt);
  }

  #fallbackTokens(text: string): Int32Array {
    return this.#memoized(text, (t) => (this.#fallback ?? { encode: (s: string) => this.#model!.encode(s) }).encode(t));
  }

  #blocks(tokens: Int32Array, systemTokens: number, salt: string | undefined): PromptBlocks {
    if (tokens.length === 0) throw ApiError.invalid('the prompt is empty', 'prompt');
    return { tokens: tokens.length, blocks: hashTokenBlocks(tokens, this.blockSize, saltSeed(salt)), systemTokens, ids: tokens };
  }

  #memoized(text: string, encode: (text: string) => number[]): Int32Array {
    if (text.length < MEMO_MIN_CHARS) return new Int32Array(encode(text));
    const known = this.#memo.get(text);
    if (known) {
      // Least recently used last: re-insert.
      this.#memo.delete(text);
      this.#memo.set(text, known);
      return known;
    }
    const tokens = new Int32Array(encode(text));
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

/** An OpenAI message as chat templates expect it: content as text (parts joined), other fields kept. */
function toTurn(message: ChatMessage): ChatTurn {
  return { ...message, role: message.role, content: contentText(message) };
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

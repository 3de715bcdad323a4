/**
 * A tokenizer.json's byte-level BPE merges as integer tables: the same merges, in the same order, as
 * @huggingface/tokenizers' BPE model (lowest merge rank first, leftmost first among equal ones; with
 * `ignore_merges` a whole pre-token found in the vocabulary is kept as one token), built without the
 * library's constructor. That constructor keys each of Llama 3's 280k merges by a JSON string and was
 * most of an engine's start-up (about 1.7 s of 2.6 s CPU); these tables take a small fraction of it.
 *
 * Only tables whose every merge joins two vocabulary tokens into a third one, with one id per token and
 * every byte a token of its own, are taken (`bpeTablesOf` answers undefined otherwise and the library's model
 * is used): then merging ids is merging texts, token for token.
 */
import { Heap } from 'heap-js';

/** Token ids stay below 2^18 (Llama 3 and Qwen2 have < 2^18). */
const ID_BITS = 2 ** 18;
/** Heap entries are `rank * 2^33 + position`: exact below 2^53 for ranks < 2^19 and words < 2^33 symbols. */
const POSITION_BITS = 2 ** 33;
const MAX_RANKS = 2 ** 19;

/** The parts of tokenizer.json's `model` these tables read. */
export interface BpeModelJson {
  type?: unknown;
  vocab?: unknown;
  merges?: unknown;
  ignore_merges?: unknown;
  byte_fallback?: unknown;
  end_of_word_suffix?: unknown;
  continuing_subword_suffix?: unknown;
}

/**
 * What the BPE needs from tokenizer.json, as flat arrays (what a cache file stores, tokenizer-cache.ts):
 * token texts with their ids (the vocabulary, then the added tokens over it, as the library's
 * `tokens_to_ids`), and per merge rank the left, right and merged token ids (-1 for a merge line with one
 * part, which no pair of tokens ever forms).
 */
export interface BpeTables {
  tokens: string[];
  tokenIds: Int32Array;
  lefts: Int32Array;
  rights: Int32Array;
  merged: Int32Array;
  ignoreMerges: boolean;
}

/**
 * The tables of `model` with `addedTokens`, or undefined when the model is not a plain byte-level BPE
 * these tables reproduce exactly (the caller then uses the library's model). `byteChars[b]` is the
 * character byte `b` maps to (GPT-2's table).
 */
export function bpeTablesOf(model: BpeModelJson, addedTokens: readonly { id: number; content: string }[], byteChars: readonly string[]): BpeTables | undefined {
  if (model.type !== 'BPE' || model.byte_fallback || model.end_of_word_suffix || model.continuing_subword_suffix) return undefined;
  const vocab = model.vocab;
  const merges = model.merges;
  if (typeof vocab !== 'object' || vocab === null || !Array.isArray(merges) || merges.length >= MAX_RANKS) return undefined;
  const ids = new Map<string, number>();
  for (const token in vocab) ids.set(token, (vocab as Record<string, number>)[token]!);
  for (const token of addedTokens) ids.set(token.content, token.id);
  const seen = new Uint8Array(ID_BITS);
  for (const id of ids.values()) {
    if (!Number.isInteger(id) || id < 0 || id >= ID_BITS || seen[id]) return undefined;
    seen[id] = 1;
  }
  for (let b = 0; b < 256; b++) if (!ids.has(byteChars[b]!)) return undefined;
  const lefts = new Int32Array(merges.length).fill(-1);
  const rights = new Int32Array(merges.length).fill(-1);
  const merged = new Int32Array(merges.length).fill(-1);
  for (let rank = 0; rank < merges.length; rank++) {
    const merge = merges[rank] as unknown;
    let left: unknown;
    let right: unknown;
    if (typeof merge === 'string') {
      // The library splits "a b" with split(' ', 2): text after a second space is ignored.
      const space = merge.indexOf(' ');
      if (space < 0) continue;
      const end = merge.indexOf(' ', space + 1);
      left = merge.slice(0, space);
      right = merge.slice(space + 1, end < 0 ? undefined : end);
    } else if (Array.isArray(merge)) {
      if (merge.length !== 2) return undefined;
      [left, right] = merge as unknown[];
    } else return undefined;
    if (typeof left !== 'string' || typeof right !== 'string') return undefined;
    const leftId = ids.get(left);
    const rightId = ids.get(right);
    const mergedId = ids.get(left + right);
    if (leftId === undefined || rightId === undefined || mergedId === undefined) return undefined;
    lefts[rank] = leftId;
    rights[rank] = rightId;
    merged[rank] = mergedId;
  }
  return { tokens: [...ids.keys()], tokenIds: Int32Array.from(ids.values()), lefts, rights, merged, ignoreMerges: model.ignore_merges === true };
}

export class ByteLevelBpe {
  /** Token text -> id. */
  readonly #ids: Map<string, number>;
  /**
   * The merges by left token, in one sorted row per left id: row `l` is `[#rowStart[l], #rowStart[l + 1])`
   * of `#rowRight` (ascending) and `#rowRank` (ascending among equal rights; the last one counts, since a
   * later duplicate of a merge overrides the earlier in the library). Typed arrays: no hashing at start.
   */
  readonly #rowStart: Int32Array;
  readonly #rowRight: Int32Array;
  readonly #rowRank: Int32Array;
  /** Merge rank -> the merged token's id. */
  readonly #merged: Int32Array;
  /** Byte value -> id of its one-character token. */
  readonly #byteIds: Int32Array;
  readonly #ignoreMerges: boolean;

  /** The BPE of `tables` (from `bpeTablesOf`, or a cache file of them). */
  constructor(tables: BpeTables, byteChars: readonly string[]) {
    const { tokens, tokenIds, lefts, rights, merged } = tables;
    this.#ids = new Map();
    for (let i = 0; i < tokens.length; i++) this.#ids.set(tokens[i]!, tokenIds[i]!);
    // Counting sort by left id (ranks in order within a row), then each row sorted by right id, stably.
    let maxId = 0;
    for (const id of tokenIds) maxId = Math.max(maxId, id);
    const rowStart = new Int32Array(maxId + 2);
    for (let rank = 0; rank < merged.length; rank++) if (merged[rank]! >= 0) rowStart[lefts[rank]! + 1]!++;
    for (let id = 0; id <= maxId; id++) rowStart[id + 1]! += rowStart[id]!;
    const fill = rowStart.slice(0, maxId + 1);
    const keys = new Float64Array(rowStart[maxId + 1]!);
    for (let rank = 0; rank < merged.length; rank++) if (merged[rank]! >= 0) keys[fill[lefts[rank]!]!++] = rights[rank]! * MAX_RANKS + rank;
    for (let id = 0; id <= maxId; id++) if (rowStart[id + 1]! - rowStart[id]! > 1) keys.subarray(rowStart[id]!, rowStart[id + 1]!).sort();
    this.#rowStart = rowStart;
    this.#rowRight = new Int32Array(keys.length);
    this.#rowRank = new Int32Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const right = Math.floor(keys[i]! / MAX_RANKS);
      this.#rowRight[i] = right;
      this.#rowRank[i] = keys[i]! - right * MAX_RANKS;
    }
    this.#merged = merged;
    this.#byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = this.#ids.get(byteChars[b]!);
      if (id === undefined) throw new RangeError(`BPE tables without a token for byte ${b}`);
      this.#byteIds[b] = id;
    }
    this.#ignoreMerges = tables.ignoreMerges;
  }

  /** The rank of merging `left` with `right`, or -1 when no merge joins them. */
  #rank(left: number, right: number): number {
    if (left + 1 >= this.#rowStart.length) return -1;
    let low = this.#rowStart[left]!;
    let high = this.#rowStart[left + 1]!;
    // The last entry whose right id is <= right: the latest duplicate when there are several.
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#rowRight[middle]! <= right) low = middle + 1;
      else high = middle;
    }
    return low > this.#rowStart[left]! && this.#rowRight[low - 1] === right ? this.#rowRank[low - 1]! : -1;
  }

  /** Id of a token's text (vocabulary or added token), if it has one. */
  idOf(text: string): number | undefined {
    return this.#ids.get(text);
  }

  /**
   * Appends the ids of one pre-token to `out`: `bytes` is its UTF-8, `mapped` the same bytes as
   * byte-level characters (looked up whole when the model ignores merges for vocabulary words).
   */
  encodeWord(bytes: Uint8Array, mapped: string, out: number[]): void {
    if (this.#ignoreMerges) {
      const whole = this.#ids.get(mapped);
      if (whole !== undefined) {
        out.push(whole);
        return;
      }
    }
    const n = bytes.length;
    if (n === 1) {
      out.push(this.#byteIds[bytes[0]!]!);
      return;
    }
    // Symbols as a linked list over the original positions; a merged symbol keeps its left position.
    const symbols = new Int32Array(n);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      symbols[i] = this.#byteIds[bytes[i]!]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Candidate merges by (rank, position); entries made stale by earlier merges are skipped when popped.
    const queue = new Heap<number>((a, b) => a - b);
    const push = (position: number) => {
      const after = next[position]!;
      if (after < 0) return;
      const rank = this.#rank(symbols[position]!, symbols[after]!);
      if (rank >= 0) queue.push(rank * POSITION_BITS + position);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    const alive = new Uint8Array(n).fill(1);
    for (let entry = queue.pop(); entry !== undefined; entry = queue.pop()) {
      const rank = Math.floor(entry / POSITION_BITS);
      const position = entry - rank * POSITION_BITS;
      const after = next[position]!;
      if (!alive[position] || after < 0 || this.#rank(symbols[position]!, symbols[after]!) !== rank) continue;
      symbols[position] = this.#merged[rank]!;
      alive[after] = 0;
      const afterNext = next[after]!;
      next[position] = afterNext;
      if (afterNext >= 0) prev[afterNext] = position;
      if (prev[position]! >= 0) push(prev[position]!);
      push(position);
    }
    for (let i = 0; i >= 0; i = next[i]!) out.push(symbols[i]!);
  }
}

/**
 * Features of one page reference, computed from the past only: the request that touches the page and the
 * prefix history before it. Each is scaled to about [0, 1] by a fixed transform (no running statistics, so
 * a feature means the same at request 10 and at request 10 million, and replays are reproducible).
 *
 * Chosen by ablation on the Mooncake conversation trace (docs/results.md, "reuse"): each feature's row
 * there says how much the hit rate loses without it.
 */
export const FEATURE_NAMES = [
  /** 1 for the prompt's last block when it is partial: the next turn rewrites it, so it is rarely reused. */
  'last_partial',
  /** 1 when the prefix was seen before this request (a conversation's history rather than new text). */
  'seen_before',
  /** log2(1 + earlier accesses of the prefix) / 8. */
  'access_count',
  /** log2(1 + requests between the prefix's last two accesses) / 16; 0 if it had fewer than two. */
  'prefix_gap',
  /** log2(1 + requests since this conversation's previous turn) / 16; 0 for a new conversation. */
  'turn_gap',
  /** 1 when the request continues no earlier prefix beyond its first block (a new conversation). */
  'new_conversation',
  /** log2(1 + accesses of the deepest prefix seen before, i.e. the turn number) / 8. */
  'turns',
  /** Share of the request's blocks seen before. */
  'seen_share',
  /** log2(prompt tokens) / 20. */
  'prompt_length',
  /** log2(1 + output tokens) / 16. */
  'output_length',
  /** min(blocks after this one, 16) / 16. */
  'from_end',
  /** log2(1 + position of the block in the prompt) / 16. */
  'depth',
  /** log2(1 + distinct continuations of the prefix seen) / 8. */
  'children',
  /** log2(1 + blocks of the prompt not seen before) / 8: a short follow-up turn is likelier to get another. */
  'new_blocks',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** What a request says about all its pages at once. */
export interface RequestFeatures {
  blocks: number;
  lastPartial: boolean;
  /** Blocks of the request whose prefix was seen before (a prefix of the prompt). */
  seen: number;
  /** Requests since the conversation's previous turn; -1 for a new conversation. */
  turnGap: number;
  /** Accesses of the deepest prefix seen before (0 for a new conversation). */
  turns: number;
  inputLength: number;
  outputLength: number;
}

/** What the history says about one page's prefix before this access. */
export interface PrefixFeatures {
  count: number;
  lastGap: number;
  children: number;
}

/**
 * Writes the request-level features (turn gap, new conversation, turns, seen share, prompt and output
 * length) into `row[0 .. FEATURE_COUNT)`; `writeFeatures` copies them into each page's row.
 */
export function writeRequestFeatures(row: Float32Array, request: RequestFeatures, enabled: Uint8Array): void {
  const e = enabled;
  row[4] = e[4]! && request.turnGap >= 0 ? Math.log2(1 + request.turnGap) / 16 : 0;
  row[5] = e[5]! && request.turnGap < 0 ? 1 : 0;
  row[6] = e[6]! ? Math.log2(1 + request.turns) / 8 : 0;
  row[7] = e[7]! && request.blocks > 0 ? request.seen / request.blocks : 0;
  row[8] = e[8]! ? Math.log2(Math.max(1, request.inputLength)) / 20 : 0;
  row[9] = e[9]! ? Math.log2(1 + request.outputLength) / 16 : 0;
  row[13] = e[13]! ? Math.log2(1 + request.blocks - request.seen) / 8 : 0;
}

/**
 * Writes the features of block `i` of a request into `row[offset ..)`: the page-level ones computed here,
 * the request-level ones copied from `requestRow` (see writeRequestFeatures). Disabled features stay 0.
 */
export function writeFeatures(
  row: Float32Array,
  offset: number,
  request: RequestFeatures,
  requestRow: Float32Array,
  i: number,
  prefix: PrefixFeatures,
  enabled: Uint8Array,
): void {
  const last = request.blocks - 1;
  const e = enabled;
  const r = row;
  const o = offset;
  r[o] = e[0]! && i === last && request.lastPartial ? 1 : 0;
  r[o + 1] = e[1]! && i < request.seen ? 1 : 0;
  r[o + 2] = e[2]! ? log2p1(prefix.count) / 8 : 0;
  r[o + 3] = e[3]! && prefix.count >= 2 ? log2p1(prefix.lastGap) / 16 : 0;
  r[o + 4] = requestRow[4]!;
  r[o + 5] = requestRow[5]!;
  r[o + 6] = requestRow[6]!;
  r[o + 7] = requestRow[7]!;
  r[o + 8] = requestRow[8]!;
  r[o + 9] = requestRow[9]!;
  r[o + 10] = e[10]! ? Math.min(last - i, 16) / 16 : 0;
  r[o + 11] = e[11]! ? log2p1(i) / 16 : 0;
  r[o + 12] = e[12]! ? log2p1(prefix.children) / 8 : 0;
  r[o + 13] = requestRow[13]!;
}

/** log2(1 + x) of a count, from a table below 4096 (the per-page features are counts). */
function log2p1(x: number): number {
  return x < LOG_TABLE.length && x === (x | 0) ? LOG_TABLE[x]! : Math.log2(1 + x);
}
const LOG_TABLE = Float64Array.from({ length: 4096 }, (_, x) => Math.log2(1 + x));

/** Copies feature row `from` of `source` to row `to` of `target` (no subarray views: the hot path allocates nothing). */
export function copyRow(source: Float32Array, from: number, target: Float32Array, to: number, width: number = FEATURE_COUNT): void {
  const s = from * width;
  const t = to * width;
  for (let f = 0; f < width; f++) target[t + f] = source[s + f]!;
}

/** The enabled mask for a set of feature names to leave out (for ablations); unknown names throw. */
export function featureMask(without: readonly string[] = []): Uint8Array {
  const mask = new Uint8Array(FEATURE_COUNT).fill(1);
  for (const name of without) {
    const index = (FEATURE_NAMES as readonly string[]).indexOf(name);
    if (index < 0) throw new RangeError(`unknown reuse feature ${JSON.stringify(name)} (known: ${FEATURE_NAMES.join(', ')})`);
    mask[index] = 0;
  }
  return mask;
}

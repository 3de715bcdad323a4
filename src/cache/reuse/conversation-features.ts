/**
 * Features of one request as a conversation's turn, for the model of "will this conversation come back":
 * every full block of a turn is asked for again exactly when a later turn continues it, so one prediction
 * per request serves all its pages (a page-level loss is dominated by the easy pages: the shared first
 * block, the partial last one). Computed from the past only: the earlier turn this request continues
 * (found in the prefix history) and the request itself.
 *
 * Each feature is a group of one-hot bins, and a row lists the one bin set in each group: a logistic
 * model on them (BinnedLogistic) is an additive model of binned values, since continuation rates are not
 * monotone in most of these (e.g. the previous gap), and costs one weight per group to evaluate.
 */
export const CONVERSATION_FEATURES = [
  /** Turns before this one: 0 for a new conversation, capped at 8. */
  { name: 'turn', bins: 9 },
  /** floor(log2(1 + requests since the previous turn)), capped at 15; none for a first turn. */
  { name: 'turn_gap', bins: 16 },
  /** The previous turn's own gap to the one before it, same bins; none before the third turn. */
  { name: 'previous_gap', bins: 16 },
  /** floor(log2(prompt tokens / 256)), 0..11. */
  { name: 'prompt_length', bins: 12 },
  /** floor(2 log2(1 + blocks not seen before)), capped at 11. */
  { name: 'new_blocks', bins: 12 },
  /** floor(log2(1 + the user's new tokens)): prompt minus the previous turn's prompt and answer; none for a first turn. */
  { name: 'user_tokens', bins: 18 },
  /** floor(log2(1 + output tokens)), capped at 13. */
  { name: 'output_length', bins: 14 },
  /** Eighths of the last block the prompt fills (0: it ends on a block boundary). */
  { name: 'last_fill', bins: 8 },
] as const;

export type ConversationFeatureName = (typeof CONVERSATION_FEATURES)[number]['name'];

const OFFSETS = CONVERSATION_FEATURES.reduce<number[]>((offsets, f, i) => [...offsets, offsets[i]! + f.bins], [0]);
/** Bins of all groups together (the model's weights, bias aside). */
export const CONVERSATION_BINS = OFFSETS[OFFSETS.length - 1]!;
/** Entries of a conversation row: per group, the index of its bin among all bins, or -1 (no value or left out). */
export const CONVERSATION_WIDTH = CONVERSATION_FEATURES.length;

/** What a request says about its conversation (turn, gaps and lengths; -1 where there is no earlier turn). */
export interface ConversationTurn {
  turn: number;
  gap: number;
  previousGap: number;
  inputLength: number;
  outputLength: number;
  newBlocks: number;
  /** Prompt tokens minus the previous turn's prompt and output tokens; -1 for a first turn. */
  userTokens: number;
  blockSize: number;
}

/** The enabled mask (per group) for a set of group names to leave out; unknown names throw. */
export function conversationMask(without: readonly string[] = []): Uint8Array {
  const mask = new Uint8Array(CONVERSATION_FEATURES.length).fill(1);
  for (const name of without) {
    const index = CONVERSATION_FEATURES.findIndex((f) => f.name === name);
    if (index < 0) throw new RangeError(`unknown reuse conversation feature ${JSON.stringify(name)} (known: ${CONVERSATION_FEATURES.map((f) => f.name).join(', ')})`);
    mask[index] = 0;
  }
  return mask;
}

/** Writes `turn`'s row (one bin index per group, see CONVERSATION_WIDTH) into `row[offset ..)`. */
export function writeConversationRow(row: Float32Array, offset: number, turn: ConversationTurn, enabled: Uint8Array): void {
  const set = (group: number, bin: number) => {
    row[offset + group] = enabled[group] === 0 || bin < 0 ? -1 : OFFSETS[group]! + Math.min(bin, CONVERSATION_FEATURES[group]!.bins - 1);
  };
  const log2Floor = (x: number) => Math.floor(Math.log2(1 + x));
  set(0, turn.turn);
  set(1, turn.gap >= 0 ? log2Floor(turn.gap) : -1);
  set(2, turn.previousGap >= 0 ? log2Floor(turn.previousGap) : -1);
  set(3, Math.max(0, Math.floor(Math.log2(Math.max(1, turn.inputLength) / 256))));
  set(4, Math.floor(2 * Math.log2(1 + turn.newBlocks)));
  set(5, turn.userTokens >= 0 ? log2Floor(turn.userTokens) : -1);
  set(6, log2Floor(turn.outputLength));
  set(7, Math.floor((8 * (turn.inputLength % turn.blockSize)) / turn.blockSize));
}

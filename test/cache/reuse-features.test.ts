/**
 * The reuse model's feature rows, value by value: the page features (features.ts) and the conversation rows
 * (conversation-features.ts) for small hand-made requests, at the bounds of each transform.
 */
import { describe, expect, it } from 'vitest';
import { copyRow, FEATURE_COUNT, FEATURE_NAMES, featureMask, writeFeatures, writeRequestFeatures, type RequestFeatures } from '../../src/cache/reuse/features.js';
import {
  CONVERSATION_BINS,
  CONVERSATION_FEATURES,
  CONVERSATION_WIDTH,
  conversationMask,
  writeConversationRow,
  type ConversationTurn,
} from '../../src/cache/reuse/conversation-features.js';

const ALL = featureMask();
const NONE = new Uint8Array(FEATURE_COUNT);
const SENTINEL = 9;

function requestRow(request: RequestFeatures, enabled = ALL): number[] {
  const row = new Float32Array(FEATURE_COUNT).fill(SENTINEL);
  writeRequestFeatures(row, request, enabled);
  return [...row];
}

const f32 = (x: number) => Math.fround(x);

describe('writeRequestFeatures', () => {
  const request: RequestFeatures = { blocks: 4, lastPartial: true, seen: 2, turnGap: 3, turns: 1, inputLength: 1024, outputLength: 15 };

  it('writes the request-level features and leaves the page-level slots alone', () => {
    // turn_gap log2(1 + 3) / 16, new_conversation 0, turns log2(2) / 8, seen_share 2 / 4, prompt_length
    // log2(1024) / 20, output_length log2(16) / 16, new_blocks log2(1 + 4 - 2) / 8.
    expect(requestRow(request)).toEqual([SENTINEL, SENTINEL, SENTINEL, SENTINEL, 0.125, 0, 0.125, 0.5, 0.5, 0.25, SENTINEL, SENTINEL, SENTINEL, f32(Math.log2(3) / 8)]);
  });

  it('a new conversation (turn gap -1): new_conversation 1, turn_gap 0; a gap of 0 is not a new one', () => {
    const fresh = requestRow({ ...request, turnGap: -1, turns: 0 });
    expect(fresh[4]).toBe(0);
    expect(fresh[5]).toBe(1);
    expect(fresh[6]).toBe(0);
    const again = requestRow({ ...request, turnGap: 0 });
    expect(again[4]).toBe(0);
    expect(again[5]).toBe(0);
    expect(requestRow({ ...request, turnGap: 1 })[4]).toBe(1 / 16);
  });

  it('no blocks: seen share 0 (not 0 / 0); an empty prompt: prompt_length 0 (log2 of at least 1)', () => {
    const empty = requestRow({ ...request, blocks: 0, seen: 0, inputLength: 0, outputLength: 0 });
    expect(empty[7]).toBe(0);
    expect(empty[8]).toBe(0);
    expect(empty[9]).toBe(0);
    expect(empty[13]).toBe(0);
    expect(requestRow({ ...request, inputLength: 1 })[8]).toBe(0);
  });

  it('disabled features are 0 whatever the request', () => {
    expect(requestRow(request, NONE)).toEqual([SENTINEL, SENTINEL, SENTINEL, SENTINEL, 0, 0, 0, 0, 0, 0, SENTINEL, SENTINEL, SENTINEL, 0]);
    expect(requestRow({ ...request, turnGap: -1 }, NONE)[5]).toBe(0);
    const noOutput = requestRow(request, featureMask(['output_length']));
    expect(noOutput[9]).toBe(0);
    expect(noOutput[8]).toBe(0.5);
  });
});

describe('writeFeatures', () => {
  const request: RequestFeatures = { blocks: 4, lastPartial: true, seen: 2, turnGap: 3, turns: 1, inputLength: 1000, outputLength: 15 };
  /** The request-level row: distinct values, to see which slot each lands in. */
  const shared = Float32Array.from({ length: FEATURE_COUNT }, (_, f) => 100 + f);

  /** Block `i`'s row written at offset FEATURE_COUNT of a three-row buffer; also returns the rows around it. */
  function pageRow(i: number, prefix: { count: number; lastGap: number; children: number }, enabled = ALL, of = request) {
    const rows = new Float32Array(3 * FEATURE_COUNT).fill(SENTINEL);
    writeFeatures(rows, FEATURE_COUNT, of, shared, i, prefix, enabled);
    return { row: [...rows.subarray(FEATURE_COUNT, 2 * FEATURE_COUNT)], around: [...rows.subarray(0, FEATURE_COUNT), ...rows.subarray(2 * FEATURE_COUNT)] };
  }

  it('block 1 of 4 (seen), prefix seen 3 times, last gap 7, one continuation', () => {
    const { row, around } = pageRow(1, { count: 3, lastGap: 7, children: 1 });
    // last_partial 0 (not the last block), seen_before 1, access_count log2(4) / 8, prefix_gap log2(8) / 16,
    // the request's six, from_end min(3 - 1, 16) / 16, depth log2(2) / 16, children log2(2) / 8, new_blocks.
    expect(row).toEqual([0, 1, 0.25, 3 / 16, 104, 105, 106, 107, 108, 109, 2 / 16, 1 / 16, 1 / 8, 113]);
    expect(around).toEqual(new Array(2 * FEATURE_COUNT).fill(SENTINEL));
  });

  it('the last block: partial, not seen, nothing after it', () => {
    const { row } = pageRow(3, { count: 0, lastGap: 0, children: 0 });
    expect(row).toEqual([1, 0, 0, 0, 104, 105, 106, 107, 108, 109, 0, 2 / 16, 0, 113]);
    // A full last block is not partial.
    expect(pageRow(3, { count: 0, lastGap: 0, children: 0 }, ALL, { ...request, lastPartial: false }).row[0]).toBe(0);
    // A partial prompt's earlier blocks are not partial.
    expect(pageRow(2, { count: 0, lastGap: 0, children: 0 }).row[0]).toBe(0);
  });

  it('seen_before stops at the seen prefix; prefix_gap needs two accesses', () => {
    expect(pageRow(0, { count: 1, lastGap: 5, children: 0 }).row.slice(0, 4)).toEqual([0, 1, 0.125, 0]);
    expect(pageRow(2, { count: 2, lastGap: 5, children: 0 }).row.slice(0, 4)).toEqual([0, 0, f32(Math.log2(3) / 8), f32(Math.log2(6) / 16)]);
  });

  it('from_end is capped at 16 blocks; counts past the log table and fractional gaps are exact', () => {
    const long = { ...request, blocks: 40, seen: 0 };
    expect(pageRow(2, { count: 4096, lastGap: 2.5, children: 5000 }, ALL, long).row).toEqual([
      0,
      0,
      f32(Math.log2(4097) / 8),
      f32(Math.log2(3.5) / 16),
      104,
      105,
      106,
      107,
      108,
      109,
      1,
      f32(Math.log2(3) / 16),
      f32(Math.log2(5001) / 8),
      113,
    ]);
    expect(pageRow(30, { count: 4095, lastGap: 4095, children: 0 }, ALL, long).row.slice(0, 4)).toEqual([0, 0, 1.5, 0.75]);
    expect(pageRow(30, { count: 0, lastGap: 0, children: 0 }, ALL, long).row[10]).toBe(9 / 16);
  });

  it('disabled page features are 0; the request-level ones are copied as written', () => {
    const { row } = pageRow(3, { count: 3, lastGap: 7, children: 1 }, NONE);
    expect(row).toEqual([0, 0, 0, 0, 104, 105, 106, 107, 108, 109, 0, 0, 0, 113]);
  });
});

describe('copyRow and featureMask', () => {
  it('copyRow copies exactly one row of the given width, row to row', () => {
    const source = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    const target = new Float32Array(12).fill(-1);
    copyRow(source, 2, target, 1, 3);
    expect([...target]).toEqual([-1, -1, -1, 7, 8, 9, -1, -1, -1, -1, -1, -1]);
    const wide = Float32Array.from({ length: 3 * FEATURE_COUNT }, (_, i) => i);
    const into = new Float32Array(3 * FEATURE_COUNT).fill(-1);
    copyRow(wide, 1, into, 0);
    expect([...into.subarray(0, FEATURE_COUNT)]).toEqual(Array.from({ length: FEATURE_COUNT }, (_, i) => FEATURE_COUNT + i));
    expect(into[FEATURE_COUNT]).toBe(-1);
  });

  it('featureMask leaves out the named features, the first one included, and names the known ones for an unknown name', () => {
    expect([...featureMask()]).toEqual(new Array(FEATURE_COUNT).fill(1));
    expect([...featureMask(['last_partial', 'new_blocks'])]).toEqual([0, ...new Array(FEATURE_COUNT - 2).fill(1), 0]);
    expect(FEATURE_NAMES.indexOf('output_length')).toBe(9);
    expect(() => featureMask(['no_such'])).toThrow('unknown reuse feature "no_such" (known: last_partial, seen_before, access_count,');
  });
});

describe('conversation rows', () => {
  const turn: ConversationTurn = { turn: 2, gap: 3, previousGap: 6, inputLength: 1060, outputLength: 7, newBlocks: 3, userTokens: 30, blockSize: 16 };
  const offsets = [0, 9, 25, 41, 53, 65, 83, 97];

  function row(of: ConversationTurn, enabled = conversationMask()): number[] {
    const out = new Float32Array(CONVERSATION_WIDTH + 2).fill(SENTINEL);
    writeConversationRow(out, 1, of, enabled);
    expect(out[0]).toBe(SENTINEL);
    expect(out[CONVERSATION_WIDTH + 1]).toBe(SENTINEL);
    return [...out.subarray(1, CONVERSATION_WIDTH + 1)];
  }

  it('the groups and their bins', () => {
    expect(CONVERSATION_FEATURES.map((f) => f.name)).toEqual(['turn', 'turn_gap', 'previous_gap', 'prompt_length', 'new_blocks', 'user_tokens', 'output_length', 'last_fill']);
    expect(CONVERSATION_BINS).toBe(105);
    expect(CONVERSATION_WIDTH).toBe(8);
  });

  it('one bin per group, offset by the groups before it', () => {
    // turn 2; gap floor(log2 4) = 2; previous floor(log2 7) = 2; prompt floor(log2(1060 / 256)) = 2;
    // new blocks floor(2 log2 4) = 4; user tokens floor(log2 31) = 4; output floor(log2 8) = 3;
    // last fill floor(8 * (1060 % 16) / 16) = floor(8 * 4 / 16) = 2.
    expect(row(turn)).toEqual([2, 9 + 2, 25 + 2, 41 + 2, 53 + 4, 65 + 4, 83 + 3, 97 + 2]);
  });

  it('zero gaps and zero user tokens are bins 0; a first turn has none (-1)', () => {
    expect(row({ ...turn, gap: 0, previousGap: 0, userTokens: 0, newBlocks: 0, outputLength: 0, inputLength: 1024 })).toEqual([2, 9, 25, 41 + 2, 53, 65, 83, 97]);
    expect(row({ ...turn, turn: 0, gap: -1, previousGap: -1, userTokens: -1 })).toEqual([0, -1, -1, 43, 57, -1, 86, 99]);
    // A short prompt: bin 0 (floor(log2(1 / 256)) is negative), also for 0 tokens.
    expect(row({ ...turn, inputLength: 100 })[3]).toBe(41);
    expect(row({ ...turn, inputLength: 0 })[3]).toBe(41);
    expect(row({ ...turn, newBlocks: 1 })[4]).toBe(53 + 2);
  });

  it('values past the last bin take the last bin', () => {
    const big = { turn: 20, gap: 1e9, previousGap: 1e9, inputLength: 2 ** 30 + 15, outputLength: 1e9, newBlocks: 1e6, userTokens: 1e9, blockSize: 16 };
    expect(row(big)).toEqual(offsets.map((offset, g) => offset + CONVERSATION_FEATURES[g]!.bins - 1));
  });

  it('groups left out are -1; the mask names the groups, the first included', () => {
    expect([...conversationMask(['turn', 'user_tokens'])]).toEqual([0, 1, 1, 1, 1, 0, 1, 1]);
    expect(row(turn, conversationMask(['turn', 'last_fill']))).toEqual([-1, 11, 27, 43, 57, 69, 86, -1]);
    expect(() => conversationMask(['nope'])).toThrow('unknown reuse conversation feature "nope" (known: turn, turn_gap, previous_gap,');
  });
});

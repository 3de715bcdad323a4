/**
 * The reuse learner (src/cache/reuse/reuse-learner.ts) on small hand-made request streams: the page target's
 * feature rows and samples, the conversation target's turns, labels and partial blocks, the training rounds
 * (each one the same fit as a model trained alone on the learner's samples), the adaptive horizons from
 * reuse and turn gaps, and how a probability becomes extra life.
 */
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../src/cache/reuse/features.js';
import { CONVERSATION_WIDTH } from '../../src/cache/reuse/conversation-features.js';
import { LogisticModel } from '../../src/cache/reuse/logistic.js';
import { BinnedLogistic } from '../../src/cache/reuse/binned-logistic.js';
import { ReuseLearner, REUSE_DEFAULTS, type ReuseOptions } from '../../src/cache/reuse/reuse-learner.js';

const BLOCK = 16;
const MAX_LOGIT = Math.log((1 - 1e-4) / 1e-4);
const f32 = (x: number) => Math.fround(x);

function access(blocks: number[], inputLength: number, outputLength = 0) {
  return { blocks, inputLength, outputLength, blockSize: BLOCK };
}

/** Observes one request and ends it; returns whether a round trained. */
function step(learner: ReuseLearner, blocks: number[], inputLength = blocks.length * BLOCK, outputLength = 0): boolean {
  learner.observe(access(blocks, inputLength, outputLength));
  return learner.endRequest();
}

const rowsOf = (learner: ReuseLearner, n: number) => Array.from({ length: n }, (_, i) => [...learner.pageRows.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT)]);

const trainRows = (learner: ReuseLearner) => {
  const { samples } = learner;
  return Array.from({ length: samples.trainCount }, (_, k) => [...samples.trainFeatures.subarray(k * samples.width, (k + 1) * samples.width)]);
};
const trainLabels = (learner: ReuseLearner) => [...learner.samples.trainLabels.subarray(0, learner.samples.trainCount)];

const page: Partial<ReuseOptions> = { target: 'page', horizonFrom: 'fixed', horizon: 100, without: [], sampleEvery: 1, minSamples: 1e9 };

describe('page target: feature rows from the history', () => {
  it('writes each block\'s row from the history before the request (hand-computed)', () => {
    const learner = new ReuseLearner(page);
    // r0: blocks 1, 2, 3, the last one partial (40 tokens), 7 output tokens; nothing seen before.
    expect(learner.observe(access([1, 2, 3], 40, 7))).toBe(0);
    learner.endRequest();
    const r0 = [0, 1, 0, 0, f32(Math.log2(40) / 20), 3 / 16]; // turn_gap, new_conversation, turns, seen_share, prompt, output
    const newBlocks0 = 0.25; // log2(1 + 3) / 8
    expect(rowsOf(learner, 3)).toEqual([
      // last_partial, seen_before, access_count, prefix_gap, ..., from_end, depth, children, new_blocks
      [0, 0, 0, 0, ...r0, 2 / 16, 0, 1 / 8, newBlocks0],
      [0, 0, 0, 0, ...r0, 1 / 16, 1 / 16, 1 / 8, newBlocks0],
      [1, 0, 0, 0, ...r0, 0, f32(Math.log2(3) / 16), 0, newBlocks0],
    ]);
    // r1: continues blocks 1, 2 (accessed once, at r0) with 4, 5; a full prompt, no output.
    expect(learner.observe(access([1, 2, 4, 5], 64, 0))).toBe(1);
    learner.endRequest();
    // turn gap 1 - 0, turns 1 (accesses of the deepest seen prefix, [1, 2]), seen 2 of 4, log2(64) / 20.
    const r1 = [1 / 16, 0, 1 / 8, 0.5, f32(6 / 20), 0];
    const newBlocks1 = f32(Math.log2(3) / 8);
    expect(rowsOf(learner, 4)).toEqual([
      [0, 1, 1 / 8, 0, ...r1, 3 / 16, 0, 1 / 8, newBlocks1],
      [0, 1, 1 / 8, 0, ...r1, 2 / 16, 1 / 16, f32(Math.log2(3) / 8), newBlocks1], // [1, 2] now has two continuations
      [0, 0, 0, 0, ...r1, 1 / 16, f32(Math.log2(3) / 16), 1 / 8, newBlocks1],
      [0, 0, 0, 0, ...r1, 0, 2 / 16, 0, newBlocks1],
    ]);
    // r3 (after an unrelated r2): blocks 1, 2, 4 seen (the deepest, [1, 2, 4], accessed once at r1), 6 new.
    learner.observe(access([9], 16));
    learner.endRequest();
    learner.observe(access([1, 2, 4, 6], 50, 3));
    learner.endRequest();
    const r3 = [f32(Math.log2(3) / 16), 0, 1 / 8, 0.75, f32(Math.log2(50) / 20), 2 / 16];
    const newBlocks3 = 1 / 8;
    expect(rowsOf(learner, 4)).toEqual([
      // [1] and [1, 2]: seen twice, last gap 1; [1, 2, 4]: seen once.
      [0, 1, f32(Math.log2(3) / 8), 1 / 16, ...r3, 3 / 16, 0, 1 / 8, newBlocks3],
      [0, 1, f32(Math.log2(3) / 8), 1 / 16, ...r3, 2 / 16, 1 / 16, f32(Math.log2(3) / 8), newBlocks3],
      [0, 1, 1 / 8, 0, ...r3, 1 / 16, f32(Math.log2(3) / 16), f32(Math.log2(3) / 8), newBlocks3],
      [1, 0, 0, 0, ...r3, 0, 2 / 16, 0, newBlocks3],
    ]);
    expect(learner.requests).toBe(4);
  });

  it('a prompt that shares only its first block with the past is a new conversation', () => {
    const learner = new ReuseLearner(page);
    step(learner, [1, 2]);
    step(learner, [1, 3]);
    const row = rowsOf(learner, 2)[0]!;
    expect(row.slice(4, 8)).toEqual([0, 1, 0, 0.5]); // no turn gap, new conversation, no turns, 1 of 2 seen
    step(learner, [1, 3, 4]);
    expect(rowsOf(learner, 1)[0]!.slice(4, 8)).toEqual([1 / 16, 0, 1 / 8, f32(2 / 3)]);
  });

  it('the default leaves out output_length', () => {
    const learner = new ReuseLearner({ ...page, without: REUSE_DEFAULTS.without });
    learner.observe(access([1], 16, 255));
    expect(learner.pageRows[9]).toBe(0);
    expect(learner.pageRows[8]).toBe(f32(4 / 20));
  });

  it('grows its buffers for a prompt longer than 256 blocks', () => {
    const learner = new ReuseLearner(page);
    const blocks = Array.from({ length: 300 }, (_, i) => i);
    learner.observe(access(blocks, 300 * BLOCK));
    learner.endRequest();
    learner.observe(access(blocks, 300 * BLOCK));
    const rows = rowsOf(learner, 300);
    expect(rows[299]!.slice(0, 3)).toEqual([0, 1, 1 / 8]);
    expect(rows[299]![11]).toBe(f32(Math.log2(300) / 16));
    expect(learner.lives.length).toBeGreaterThanOrEqual(300);
    expect([...learner.lives.subarray(0, 300)]).toEqual(new Array(300).fill(0));
  });
});

describe('page target: samples and labels', () => {
  it('samples one page reference in sampleEvery, labels 1 when its prefix comes back within the horizon, 0 after', () => {
    const learner = new ReuseLearner({ ...page, sampleEvery: 2, horizon: 3 });
    step(learner, [1, 2, 3]); // r0: references 0, 1, 2; sampled: 0 ([1]) and 2 ([1, 2, 3])
    expect(learner.samples.labelled).toBe(0);
    step(learner, [1, 2]); // r1: references 3, 4; sampled 4 ([1, 2] at r1); [1] comes back: labelled 1
    expect(trainLabels(learner)).toEqual([1]);
    expect(trainRows(learner)[0]!.slice(0, 4)).toEqual([0, 0, 0, 0]);
    step(learner, [7]); // r2: reference 5
    step(learner, [7]); // r3: reference 6, sampled ([7] at r3); r0's [1, 2, 3] still within the horizon
    expect(trainLabels(learner)).toEqual([1]);
    step(learner, [8]); // r4: r0's [1, 2, 3] expires (4 - 0 > 3): label 0
    expect(trainLabels(learner)).toEqual([1, 0]);
    expect(trainRows(learner)[1]![0]).toBe(0); // [1, 2, 3] was a full last block
    expect(trainRows(learner)[1]![10]).toBe(0); // the last block of its prompt
    step(learner, [1, 2]); // r5: [1, 2] of r1 is back within 4 requests... 5 - 1 = 4 > 3: not labelled 1
    expect(trainLabels(learner)).toEqual([1, 0, 0]);
    expect(learner.samples.labelled).toBe(3);
  });
});

describe('training rounds', () => {
  it('train every retrainEvery requests once minSamples are labelled, the same fit as a model alone', () => {
    const options = { ...page, horizon: 2, minSamples: 3, retrainEvery: 2, learningRate: 0.1, batchSize: 4, stepsPerFit: 2, seed: 3, shape: 'linear' as const, lifetime: 10 };
    const learner = new ReuseLearner(options);
    const twin = new LogisticModel({ learningRate: 0.1, batchSize: 4, stepsPerFit: 2, seed: 3 });
    const prompts = [[1, 2], [1, 2, 3], [5], [1, 2], [6], [7], [1, 2, 3], [8]];
    const rounds: boolean[] = [];
    for (const [r, blocks] of prompts.entries()) {
      learner.observe(access(blocks, blocks.length * BLOCK));
      const before = learner.samples.trainCount;
      const trained = learner.endRequest();
      rounds.push(trained);
      if (trained) twin.fit(learner.samples.trainFeatures, learner.samples.trainLabels, before);
      expect(learner.fits, `after r${r}`).toBe(twin.fits);
    }
    // Rounds are due after requests 2, 4, 6, 8; the first with 3 labelled samples is after 4.
    expect(rounds).toEqual([false, false, false, true, false, true, false, true]);
    // Lives of the last request's page: lifetime * P from the model as it is now.
    learner.observe(access([1, 2, 3], 3 * BLOCK));
    const rows = learner.pageRows;
    for (let i = 0; i < 3; i++) {
      const z = twin.logit(rows, i * FEATURE_COUNT);
      expect(learner.lives[i]).toBeCloseTo(10 / (1 + Math.exp(-z)), 12);
      expect(learner.life(rows, i * FEATURE_COUNT)).toBeCloseTo(10 / (1 + Math.exp(-z)), 12);
    }
    expect(new Set([...learner.lives.subarray(0, 3)]).size).toBe(3);
  });

  it('rounds are retrainEvery apart up to denseUntil, then retrainLater', () => {
    const learner = new ReuseLearner({ ...page, minSamples: 0, retrainEvery: 2, denseUntil: 4, retrainLater: 3 });
    const rounds = Array.from({ length: 12 }, (_, r) => step(learner, [r + 1]));
    // After requests 2, 4 (dense), then 4 + 3 = 7, 10.
    expect(rounds.map((trained, r) => (trained ? r + 1 : 0)).filter(Boolean)).toEqual([2, 4, 7, 10]);
    expect(learner.fits).toBe(4);
  });

  it('a logit shape: extra life lifetime * logit, clamped to P in [1e-4, 1 - 1e-4]', () => {
    const learner = new ReuseLearner({ ...page, lifetime: 10, shape: 'logit', minSamples: 1, retrainEvery: 1, horizon: 1, learningRate: 0.5 });
    const twin = new LogisticModel({ learningRate: 0.5, batchSize: REUSE_DEFAULTS.batchSize, stepsPerFit: REUSE_DEFAULTS.stepsPerFit, seed: REUSE_DEFAULTS.seed });
    for (let r = 0; r < 4; r++) {
      learner.observe(access([r % 2 === 0 ? 1 : 2], BLOCK));
      const before = learner.samples.trainCount;
      if (learner.endRequest()) twin.fit(learner.samples.trainFeatures, learner.samples.trainLabels, before);
    }
    // r0's sample is labelled 0 at r2 (2 - 0 > 1, before [1] comes back): rounds after r2 and r3.
    expect(learner.fits).toBe(2);
    learner.observe(access([1], BLOCK));
    const z = twin.logit(learner.pageRows, 0);
    expect(Math.abs(z)).toBeLessThan(MAX_LOGIT);
    expect(learner.lives[0]).toBeCloseTo(10 * z, 12);
  });
});

describe('extra life from a probability', () => {
  it('linear: lifetime * p; logit: lifetime * ln(p / (1 - p)), clamped; before any round P = 0.5', () => {
    const linear = new ReuseLearner({ shape: 'linear', lifetime: 10, horizonFrom: 'fixed' });
    expect(linear.lifeOf(0.25)).toBe(2.5);
    expect(linear.lifeOf(1)).toBe(10);
    expect(linear.life(new Float32Array(CONVERSATION_WIDTH), 0)).toBe(5);
    const logit = new ReuseLearner({ shape: 'logit', lifetime: 10, horizonFrom: 'fixed' });
    expect(logit.lifeOf(0.25)).toBeCloseTo(10 * Math.log(1 / 3), 12);
    expect(logit.lifeOf(0.8)).toBeCloseTo(10 * Math.log(4), 12);
    expect(logit.lifeOf(0.5)).toBe(0);
    expect(logit.lifeOf(1)).toBeCloseTo(10 * MAX_LOGIT, 10);
    expect(logit.lifeOf(0)).toBeCloseTo(-10 * MAX_LOGIT, 10);
    expect(logit.lifeOf(1e-6)).toBeCloseTo(-10 * MAX_LOGIT, 10);
    expect(logit.life(new Float32Array(CONVERSATION_WIDTH), 0)).toBe(0);
  });
});

describe('conversation target', () => {
  const conversation: Partial<ReuseOptions> = { horizonFrom: 'fixed', horizon: 100, minSamples: 1e9, shape: 'linear', lifetime: 10 };

  it('one sample per request with two or more full blocks, at its last full block; labelled by the next turn', () => {
    const learner = new ReuseLearner({ ...conversation, horizon: 3 });
    step(learner, [1, 2, 99], 40, 5); // r0: full blocks 1, 2 (a sample), partial 99
    step(learner, [7], 16); // r1: one full block: no sample
    step(learner, [1, 2, 3], 48, 1); // r2: continues r0 (turn 1): r0's sample labelled 1
    expect(trainLabels(learner)).toEqual([1]);
    const first = trainRows(learner)[0]!;
    expect(first.slice(0, 3)).toEqual([0, -1, -1]); // r0: turn 0, no gaps
    step(learner, [8, 9], 32); // r3: a sample
    step(learner, [20], 16);
    step(learner, [21], 16);
    step(learner, [22], 16); // r6: r2's sample expires (6 - 2 > 3): label 0
    expect(trainLabels(learner)).toEqual([1, 0]);
    const second = trainRows(learner)[1]!;
    // r2: turn 1, gap 2 (bin 1 of turn_gap: 9 + 1), previous gap none, user tokens 48 - 45 = 3 (bin 2).
    expect([second[0], second[1], second[2], second[5]]).toEqual([1, 10, -1, 65 + 2]);
    step(learner, [23], 16); // r7: r3's sample expires
    expect(trainLabels(learner)).toEqual([1, 0, 0]);
  });

  it('the turn continued is the deepest earlier turn end within the full blocks seen', () => {
    const learner = new ReuseLearner(conversation);
    step(learner, [1, 2], 32, 4); // r0: a turn ending at [1, 2]
    step(learner, [1, 2, 3, 4], 64, 4); // r1: continues r0 (turn 1, gap 1)
    step(learner, [50], 16);
    step(learner, [1, 2, 3, 4, 5], 70, 0); // r3: continues r1 (turn 2, gap 2, previous gap 1), block 5 partial
    const row = [...learner.turnRow];
    // user tokens: 70 - (64 + 4) = 2: bin floor(log2 3) = 1; new blocks: 1 -> bin 2.
    expect(row.slice(0, 6)).toEqual([2, 9 + 1, 25 + 1, 41, 53 + 2, 65 + 1]);
    // A prompt that rewrites the last block of r1 continues r0 only.
    step(learner, [1, 2, 3, 9], 64, 0);
    expect([...learner.turnRow].slice(0, 3)).toEqual([1, 9 + 2, -1]); // gap 4 - 0
    // A request whose only seen full block is the first continues nothing.
    step(learner, [1, 60, 61], 48, 0);
    expect([...learner.turnRow].slice(0, 3)).toEqual([0, -1, -1]);
    // A partial block that was seen does not count as a full one: [1, 2, 3, 4] seen, but 4 is partial here.
    step(learner, [1, 2, 3, 4], 60, 0);
    expect([...learner.turnRow].slice(0, 2)).toEqual([1, 9 + 2]); // continues r0 (gap 6 - 0... bin floor(log2 7) = 2)
  });

  it('full blocks share the turn\'s life; partial last blocks get their own reuse rate once a model exists', () => {
    const options = { ...conversation, horizon: 4, minSamples: 1, retrainEvery: 1, learningRate: 0.1, batchSize: 4, stepsPerFit: 1, seed: 2 };
    const learner = new ReuseLearner(options);
    const twin = new BinnedLogistic({ learningRate: 0.1, batchSize: 4, stepsPerFit: 1, seed: 2 });
    const prompts: [number[], number][] = [
      [[1, 2, 90], 40], // partial 1
      [[1, 2, 90], 40], // partial 2: the same prompt within the horizon, its partial block reused
      [[5, 6], 32],
      [[1, 2, 3, 91], 60], // partial 3
      [[7, 8], 32],
      [[11, 12], 32],
      [[13, 14], 32],
      [[15, 16], 32],
      [[13, 14, 92], 40], // partial 4: new prompt
    ];
    let partials = 0;
    let reused = 0;
    for (const [r, [blocks, inputLength]] of prompts.entries()) {
      learner.observe(access(blocks, inputLength));
      const n = blocks.length;
      const fullLife = learner.life(learner.turnRow, 0);
      if (inputLength % BLOCK !== 0) {
        partials++;
        if (r === 1) reused++;
        const expected = learner.fits > 0 ? (10 * (reused + 1)) / (partials + 2) : 5;
        expect(learner.lives[n - 1], `r${r}`).toBeCloseTo(expected, 12);
        for (let i = 0; i < n - 1; i++) expect(learner.lives[i]).toBe(fullLife);
      } else {
        for (let i = 0; i < n; i++) expect(learner.lives[i]).toBe(fullLife);
      }
      const before = learner.samples.trainCount;
      if (learner.endRequest()) twin.fit(learner.samples.trainFeatures, learner.samples.trainLabels, before);
      expect(learner.fits).toBe(twin.fits);
    }
    expect(learner.fits).toBeGreaterThan(2);
    learner.observe(access([1, 2, 3, 4], 64));
    expect(learner.lives[0]).toBeCloseTo(10 / (1 + Math.exp(-twin.logit(learner.turnRow, 0))), 12);
    expect(learner.lives[3]).toBe(learner.lives[0]);
  });
});

describe('adaptive horizons', () => {
  /** Prompt [1, 2] at r0, unrelated one-block prompts, [1, 2] again at each of `returns`. */
  function run(options: Partial<ReuseOptions>, returns: number[], slots = Infinity, until = Math.max(...returns) + 1): ReuseLearner {
    const learner = new ReuseLearner({ retrainEvery: 1, minSamples: 1e9, shape: 'linear', ...options }, slots);
    for (let r = 0; r < until; r++) step(learner, r === 0 || returns.includes(r) ? [1, 2] : [1000 + r]);
    return learner;
  }

  it('reuse gaps: the horizon is the upper edge of the quantile\'s bucket, the lifetime 1.5 x the mean gap below it', () => {
    // Two prefixes back after 10 requests (bucket floor(4 log2 11) = 13, edge round(2^3.5 - 1) = 10).
    const tens = run({ minReuses: 2 }, [10]);
    expect(tens.horizon).toBe(10);
    expect(tens.lifeOf(1)).toBeCloseTo(0.7 * 10, 12); // no gap below the bucket: lifetimeShare x horizon
    // Not enough reuses yet: the configured horizon.
    expect(run({ minReuses: 3 }, [10]).horizon).toBe(1000);
    // Then two more back after 1 request (bucket 4): the 95% quantile is still in bucket 13.
    const both = run({ minReuses: 2 }, [10, 11]);
    expect(both.horizon).toBe(10);
    expect(both.lifeOf(1)).toBeCloseTo(1.5 * (2 / 2), 12);
    // The median is in bucket 4, whose edge is below 8: 8.
    const median = run({ minReuses: 2, gapQuantile: 0.5 }, [10, 11]);
    expect(median.horizon).toBe(8);
    expect(median.lifeOf(1)).toBeCloseTo(0.7 * 8, 12);
    // A history horizon of twice the label horizon: [1, 2] (last used at r11) survives the sweep at r24...
    expect(median.samples.horizon).toBe(8);
  });

  it('reuse gaps with a bounded cache: capped where the reused prefixes would overflow it', () => {
    // 12 requests, one page: room 12 x share. Bucket 4 holds 2 requests of pages, bucket 13 holds 20.
    expect(run({ minReuses: 2, capacityShare: 1 }, [10, 11], 1).horizon).toBe(10);
    const capped = run({ minReuses: 2, capacityShare: 1 }, [10, 11], 1 / 6);
    // room 2: bucket 4 fits exactly (2 <= 2), bucket 13 does not.
    expect(capped.horizon).toBe(10);
    expect(capped.lifeOf(1)).toBeCloseTo(1.5, 12);
    const tight = run({ minReuses: 2, capacityShare: 1 }, [10, 11], 1 / 12);
    // room 1: not even bucket 4.
    expect(tight.horizon).toBe(8);
    expect(tight.lifeOf(1)).toBeCloseTo(0.7 * 8, 12);
  });

  it('turn gaps: the quantile of the gaps between turns, lifetime lifetimeShare x horizon', () => {
    const learner = new ReuseLearner({ horizonFrom: 'turn-gaps', retrainEvery: 1, minSamples: 1e9, minReuses: 2, shape: 'linear', lifetimeShare: 0.5 });
    const prompts = [[1, 2], [5], [1, 2, 3], [6], [7], [8], [9], [10], [11], [12], [13], [14], [15], [1, 2, 3, 4]];
    for (const blocks of prompts.slice(0, 3)) step(learner, blocks);
    expect(learner.horizon).toBe(1000); // one turn gap (2) so far
    for (const blocks of prompts.slice(3)) step(learner, blocks);
    // Gaps 2 (bucket 6) and 11 (bucket 14): the 95% quantile is in bucket 14, edge round(2^3.75 - 1) = 12.
    expect(learner.horizon).toBe(12);
    expect(learner.lifeOf(1)).toBeCloseTo(6, 12);
    const median = new ReuseLearner({ horizonFrom: 'turn-gaps', retrainEvery: 1, minSamples: 1e9, minReuses: 2, shape: 'linear', gapQuantile: 0.5 });
    for (const blocks of prompts) step(median, blocks);
    expect(median.horizon).toBe(8);
    expect(median.lifeOf(1)).toBeCloseTo(0.7 * 8, 12);
  });

  it('turn gaps of the page target count too', () => {
    const learner = new ReuseLearner({ ...page, horizonFrom: 'turn-gaps', retrainEvery: 1, minReuses: 1, shape: 'linear' });
    step(learner, [1, 2]);
    for (let r = 1; r < 20; r++) step(learner, [100 + r]);
    step(learner, [1, 2, 3]); // turn gap 20: bucket floor(4 log2 21) = 17, edge round(2^4.5 - 1) = 22
    expect(learner.horizon).toBe(22);
  });

  it('fixed: never changes', () => {
    expect(run({ minReuses: 1, horizonFrom: 'fixed', horizon: 77 }, [10, 11]).horizon).toBe(77);
  });
});

/**
 * Edges of the reuse learner (src/cache/reuse/reuse-learner.ts) that the mutation run of its small tests
 * left open: the prefix history's horizon (twice the label horizon), a turn ending at a reused node id 0,
 * a labelled prefix's pending sample cleared, the TensorFlow.js trainer, reuse gaps past the bucket table,
 * and the first round at exactly minSamples.
 */
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../src/cache/reuse/features.js';
import { ReuseModel } from '../../src/cache/reuse/model.js';
import { LogisticModel } from '../../src/cache/reuse/logistic.js';
import { ReuseLearner, type ReuseOptions } from '../../src/cache/reuse/reuse-learner.js';
import { cpuTfSync } from '../../src/tensor/backend.js';

const BLOCK = 16;

function step(learner: ReuseLearner, blocks: number[], inputLength = blocks.length * BLOCK, outputLength = 0): boolean {
  learner.observe({ blocks, inputLength, outputLength, blockSize: BLOCK });
  return learner.endRequest();
}

const page: Partial<ReuseOptions> = { target: 'page', horizonFrom: 'fixed', without: [], sampleEvery: 1, minSamples: 1e9 };

describe('reuse learner edges', () => {
  it('the prefix history keeps a prefix for twice the label horizon', () => {
    // Label horizon 4: the history sweeps every 8 requests and drops prefixes idle for more than 8.
    const seenAt = (gap: number) => {
      const learner = new ReuseLearner({ ...page, horizon: 4 });
      step(learner, [1, 2]);
      for (let r = 1; r < gap; r++) step(learner, [100 + r]);
      learner.observe({ blocks: [1, 2], inputLength: 2 * BLOCK, outputLength: 0, blockSize: BLOCK });
      return learner.pageRows[1]; // seen_before
    };
    expect(seenAt(6)).toBe(1);
    expect(seenAt(8)).toBe(1);
    expect(seenAt(17)).toBe(0); // idle 16 > 8 at the sweep at 16
  });

  it('an adaptive horizon moves the history horizon with it', () => {
    const learner = new ReuseLearner({ target: 'page', without: [], horizonFrom: 'reuse-gaps', minReuses: 2, retrainEvery: 1, minSamples: 1e9 });
    step(learner, [1, 2]);
    step(learner, [1, 2]); // gap 1 twice: horizon 8, history horizon 16
    expect(learner.horizon).toBe(8);
    for (let r = 2; r < 14; r++) step(learner, [100 + r]);
    learner.observe({ blocks: [1, 2], inputLength: 2 * BLOCK, outputLength: 0, blockSize: BLOCK });
    expect(learner.pageRows[1]).toBe(1); // idle 13 <= 16: still known
  });

  it('a turn whose last full block reuses freed node id 0 is continued like any other', () => {
    // Horizon 1: the history (horizon 2) frees [1] (node 0) and [5] (node 1) at the sweep of request 4;
    // request 4's prompt [7, 8] then takes node 1 for [7] and node 0 for [7, 8].
    const learner = new ReuseLearner({ horizonFrom: 'fixed', horizon: 1, minSamples: 1e9 });
    step(learner, [1]);
    step(learner, [5]);
    step(learner, [6]);
    step(learner, [6]);
    step(learner, [7, 8], 2 * BLOCK, 1);
    step(learner, [7, 8, 9], 3 * BLOCK, 0);
    // Turn 1, gap 1 (bin 1 of turn_gap), previous gap none, user tokens 48 - 33 = 15 (bin 4).
    expect([...learner.turnRow].slice(0, 3)).toEqual([1, 9 + 1, -1]);
    expect(learner.turnRow[5]).toBe(65 + 4);
  });

  it('a labelled prefix no longer points to a sample: its next return labels nothing', () => {
    const learner = new ReuseLearner({ ...page, sampleEvery: 2, horizon: 100 });
    step(learner, [5]); // reference 0 sampled (sample 0, [5])
    step(learner, [5, 7]); // [5] back: sample 0 labelled 1; reference 2 sampled (sample 1, [5, 7], request 1)
    expect([...learner.samples.trainLabels.subarray(0, learner.samples.trainCount)]).toEqual([1]);
    step(learner, [5]); // [5] back again, last used at request 1: no sample of its own
    expect(learner.samples.labelled).toBe(1);
  });

  it('trains with TensorFlow.js when asked (a hidden layer), the same fit as the model alone', () => {
    const options = { ...page, trainer: 'tfjs' as const, hidden: 3, horizon: 2, minSamples: 2, retrainEvery: 2, learningRate: 0.05, batchSize: 4, stepsPerFit: 2, seed: 4, shape: 'linear' as const, lifetime: 10 };
    const learner = new ReuseLearner(options);
    const twin = new ReuseModel(cpuTfSync(), { hidden: 3, learningRate: 0.05, batchSize: 4, stepsPerFit: 2, seed: 4 });
    for (const blocks of [[1, 2], [3], [1, 2], [4], [1, 2, 5], [6], [7], [8]]) {
      learner.observe({ blocks, inputLength: blocks.length * BLOCK, outputLength: 0, blockSize: BLOCK });
      const before = learner.samples.trainCount;
      if (learner.endRequest()) twin.fit(learner.samples.trainFeatures, learner.samples.trainLabels, before);
    }
    expect(learner.fits).toBeGreaterThan(1);
    expect(learner.fits).toBe(twin.fits);
    learner.observe({ blocks: [1, 2, 3], inputLength: 3 * BLOCK, outputLength: 0, blockSize: BLOCK });
    for (let i = 0; i < 3; i++) expect(learner.lives[i]).toBeCloseTo(10 * twin.predict(learner.pageRows, i * FEATURE_COUNT), 6);
    twin.dispose();
  });

  it('reuse gaps of 4,096 requests and more are bucketed like the rest', () => {
    // Gap 4096: bucket floor(4 log2 4097) = 48, edge round(2^12.25 - 1) = 4870; gap 5000: bucket 49, edge round(2^12.5 - 1) = 5792.
    const horizonAfter = (gap: number) => {
      const learner = new ReuseLearner({ horizon: 10_000, minReuses: 2, retrainEvery: 1, minSamples: 1e9 });
      step(learner, [1, 2]);
      for (let r = 1; r < gap; r++) step(learner, [100 + r]);
      step(learner, [1, 2]);
      return learner.horizon;
    };
    expect(horizonAfter(4096)).toBe(4870);
    expect(horizonAfter(5000)).toBe(5792);
    expect(horizonAfter(4095)).toBe(4870); // floor(4 log2 4096) = 48 too, from the table
  });

  it('the first round comes when exactly minSamples samples are labelled', () => {
    // Horizon 1, one-block prompts never repeated: each sample is labelled 0 two requests after its own.
    const rounds = (minSamples: number) => {
      const learner = new ReuseLearner({ ...page, horizon: 1, minSamples, retrainEvery: 1 });
      const out: number[] = [];
      for (let r = 0; r < 6; r++) {
        step(learner, [r + 1]);
        out.push(learner.samples.trainCount);
      }
      return { labelled: out, fits: learner.fits };
    };
    // Labelled after requests 0..5: 0, 0, 1, 2, 3, 4 (request r labels request r - 2's sample).
    expect(rounds(3)).toEqual({ labelled: [0, 0, 1, 2, 3, 4], fits: 2 });
    expect(rounds(4).fits).toBe(1);
  });

  it('the plain trainer fits the page target as LogisticModel does, whatever sampleEvery', () => {
    const learner = new ReuseLearner({ ...page, sampleEvery: 3, horizon: 3, minSamples: 1, retrainEvery: 1, learningRate: 0.2, batchSize: 2, stepsPerFit: 1, seed: 9 });
    const twin = new LogisticModel({ learningRate: 0.2, batchSize: 2, stepsPerFit: 1, seed: 9 });
    for (const blocks of [[1, 2, 3], [1, 2], [4], [1, 2, 3, 4], [5], [6], [7]]) {
      learner.observe({ blocks, inputLength: blocks.length * BLOCK, outputLength: 0, blockSize: BLOCK });
      const before = learner.samples.trainCount;
      if (learner.endRequest()) twin.fit(learner.samples.trainFeatures, learner.samples.trainLabels, before);
    }
    expect(learner.fits).toBe(twin.fits);
    expect(learner.fits).toBeGreaterThan(2);
    learner.observe({ blocks: [1, 2, 3], inputLength: 3 * BLOCK, outputLength: 0, blockSize: BLOCK });
    expect(learner.lives[1]).toBeCloseTo(700 * twin.logit(learner.pageRows, FEATURE_COUNT), 10);
  });

  it('a page-target turn whose deepest seen prefix is freed node id 0, and a conversation turn there with a gap', () => {
    // As above: the sweep of request 4 frees nodes 0 and 1, and [7, 8] takes node 0.
    const pageLearner = new ReuseLearner({ ...page, horizon: 1 });
    for (const blocks of [[1], [5], [6], [6], [7, 8]]) step(pageLearner, blocks);
    pageLearner.observe({ blocks: [7, 8, 9], inputLength: 3 * BLOCK, outputLength: 0, blockSize: BLOCK });
    // turn_gap log2(1 + 1) / 16, not a new conversation, turns log2(1 + 1) / 8.
    expect([...pageLearner.pageRows.subarray(4, 7)]).toEqual([1 / 16, 0, 1 / 8]);
    const learner = new ReuseLearner({ horizonFrom: 'fixed', horizon: 1, minSamples: 1e9 });
    for (const blocks of [[1], [5], [6], [6], [7, 8], [7, 8], [7, 8, 9]]) step(learner, blocks);
    // Request 6 continues request 5's turn at node 0 (turn 1, gap 1): turn 2, gap 1, previous gap 1.
    expect([...learner.turnRow].slice(0, 3)).toEqual([2, 9 + 1, 25 + 1]);
  });

  it('counts a partial last block reused only when the same prompt comes back within the horizon', () => {
    // Horizon 4, linear lives of lifetime 10: once a model exists, a partial block's life is
    // 10 x (reused + 1) / (partials + 2).
    const learner = new ReuseLearner({ horizonFrom: 'fixed', horizon: 4, minSamples: 1, retrainEvery: 1, shape: 'linear', lifetime: 10 });
    const partial = [1, 2, 90];
    const lives: number[] = [];
    const prompts = [[50, 51, 52, 53, 54], [60], [61], [62], [63], [64], [65], partial, partial, [66], [67], [68], partial, [69], [70], [71], [72], partial];
    for (const blocks of prompts) {
      const inputLength = blocks === partial ? 40 : blocks.length * BLOCK;
      learner.observe({ blocks, inputLength, outputLength: 0, blockSize: BLOCK });
      if (blocks === partial) lives.push(learner.lives[2]!);
      learner.endRequest();
    }
    expect(learner.fits).toBeGreaterThan(0); // the first sample (request 0) is labelled 0 at request 5
    // Requests 7 (new), 8 (1 after 7: reused), 12 (4 after 8: reused), 17 (5 after 12: not).
    expect(lives).toEqual([(10 * 1) / 3, (10 * 2) / 4, (10 * 3) / 5, (10 * 3) / 6].map((x) => expect.closeTo(x, 12)));
  });
});

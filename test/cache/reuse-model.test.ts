/**
 * The reuse model's trainers, step by step: the Adam step (adam.ts) against hand-computed weights, the
 * seeded row draws (row-draws.ts), the binned logistic model (binned-logistic.ts) after one and a few
 * steps, and the TensorFlow.js model with a hidden layer (model.ts): its first weights, its plain-loop
 * inference against TensorFlow.js's own, its training and its disposal.
 */
import { describe, expect, it } from 'vitest';
import { AdamWeights } from '../../src/cache/reuse/adam.js';
import { RowDraws } from '../../src/cache/reuse/row-draws.js';
import { BinnedLogistic } from '../../src/cache/reuse/binned-logistic.js';
import { CONVERSATION_BINS, CONVERSATION_WIDTH } from '../../src/cache/reuse/conversation-features.js';
import { FEATURE_COUNT } from '../../src/cache/reuse/features.js';
import { LogisticModel } from '../../src/cache/reuse/logistic.js';
import { ReuseModel } from '../../src/cache/reuse/model.js';
import { cpuTfSync } from '../../src/tensor/backend.js';

describe('AdamWeights', () => {
  it('takes TensorFlow.js Adam steps from summed gradients (hand-computed)', () => {
    const adam = new AdamWeights(3);
    // Step 1: mean gradients (1, -2, 0); the bias-corrected moments are g and g^2, so each weight moves
    // by 0.1 * g / (|g| + 1e-7), and a zero gradient moves nothing.
    adam.grad.set([2, -4, 0]);
    adam.step(2, 0.1);
    expect(adam.w[0]).toBeCloseTo(-0.1 / (1 + 1e-7), 14);
    expect(adam.w[1]).toBeCloseTo((0.1 * 2) / (2 + 1e-7), 14);
    expect(adam.w[2]).toBe(0);
    // Step 2: mean gradients (0.75, 0.25); m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2, corrections
    // 1 - 0.9^2 and 1 - 0.999^2.
    adam.grad.set([3, 1, 0]);
    adam.step(4, 0.1);
    expect(adam.w[0]).toBeCloseTo(-0.1982574870284988, 14);
    expect(adam.w[1]).toBeCloseTo(0.1572534485547167, 14);
    expect(adam.w[2]).toBe(0);
  });
});

describe('RowDraws', () => {
  it('draws xorshift32 rows, seed 0 as seed 1, negative seeds as unsigned', () => {
    const draws = (seed: number, count: number) => {
      const rows = new RowDraws(seed);
      return Array.from({ length: 6 }, () => rows.next(count));
    };
    // xorshift32 from 5: 1351845, 336141829, 3472693697, 3580160835, 1234782181, 1306475959.
    expect(draws(5, 10)).toEqual([5, 9, 7, 5, 1, 9]);
    // From 1: 270369, 67634689, 2647435461, 307599695, 2398689233, 745495504.
    expect(draws(1, 7)).toEqual([1, 3, 6, 4, 3, 5]);
    expect(draws(0, 7)).toEqual(draws(1, 7));
    expect(draws(-1, 2 ** 32)).toEqual([253983, 4228382207, 1958451267, 4056713434, 2049502865, 2560970988]);
  });
});

/** Conversation rows: the bin indices set per group (-1: none). */
function binnedRows(rows: number[][]): Float32Array {
  const out = new Float32Array(rows.length * CONVERSATION_WIDTH).fill(-1);
  rows.forEach((row, r) => out.set(row, r * CONVERSATION_WIDTH));
  return out;
}

describe('BinnedLogistic', () => {
  it('one step on one row: each set bin and the bias move by the learning rate (hand-computed)', () => {
    const model = new BinnedLogistic({ learningRate: 0.1, batchSize: 4, stepsPerFit: 1, seed: 1 });
    // Bins 0 (group 0), 20 and 104 (the last bin); the other groups unset.
    const rows = binnedRows([[0, 20, -1, -1, -1, -1, -1, 104]]);
    model.fit(rows, Float32Array.of(1), 1);
    expect(model.fits).toBe(1);
    // error = sigmoid(0) - 1 = -0.5 for each of the one-row batch: weight 0.1 * 0.5 / (0.5 + 1e-7) on the
    // three bins and the bias.
    const step = (0.1 * 0.5) / (0.5 + 1e-7);
    expect(model.logit(rows, 0)).toBeCloseTo(4 * step, 12);
    // Each weight alone: the bias, bin 0, bin 20, bin 104; an unseen bin has no weight.
    const alone = binnedRows([[-1, -1, -1, -1, -1, -1, -1, -1], [0, -1, -1, -1, -1, -1, -1, -1], [-1, -1, 20, -1, -1, -1, -1, -1], [-1, -1, -1, -1, -1, -1, -1, 104], [1, -1, -1, -1, -1, -1, -1, -1]]);
    expect([0, 1, 2, 3, 4].map((r) => model.logit(alone, r * CONVERSATION_WIDTH))).toEqual([step, 2 * step, 2 * step, 2 * step, step].map((x) => expect.closeTo(x, 12)));
  });

  it('draws batchSize rows per step, stepsPerFit steps, from the first count rows (pinned values)', () => {
    const rows = binnedRows([
      [0, 9, -1, 41, 53, -1, 83, 97],
      [1, 10, 25, 42, 54, 65, 84, 98],
      [2, 12, 27, 43, 55, 70, 85, 99],
      [0, 9, -1, 41, 60, -1, 90, 104],
      [8, 24, 40, 52, 64, 82, 96, 100],
    ]);
    const labels = Float32Array.of(0, 1, 1, 0, 1);
    const model = new BinnedLogistic({ learningRate: 0.05, batchSize: 3, stepsPerFit: 2, seed: 7 });
    model.fit(rows, labels, 4); // row 4 is never drawn
    model.fit(rows, labels, 5);
    expect(model.fits).toBe(2);
    const logits = [0, 1, 2, 3, 4].map((r) => model.logit(rows, r * CONVERSATION_WIDTH));
    expect(logits).toEqual(BINNED_GOLDEN.map((x) => expect.closeTo(x, 12)));
  });

  it('has one weight per bin and a bias', () => {
    expect(CONVERSATION_BINS).toBe(105);
  });
});

/** Checked against an independent Python implementation of the same draws and Adam steps (float64). */
const BINNED_GOLDEN = [-0.9152708414034533, 0.7146927121509965, 0.3542624235134575, -1.1483040738081791, -0.11057366123879092];

describe('LogisticModel', () => {
  it('one step on one row: each nonzero feature weight and the bias move by the learning rate (hand-computed)', () => {
    const model = new LogisticModel({ learningRate: 0.1, batchSize: 8, stepsPerFit: 1, seed: 1 });
    const row = new Float32Array(FEATURE_COUNT);
    row[0] = 1;
    row[5] = 0.5;
    model.fit(row, Float32Array.of(0), 1);
    // error = 0.5: gradients 0.5 and 0.25 and 0.5 (bias); each weight moves by -0.1 g / (|g| + 1e-7).
    const expected = -((0.1 * 0.5) / (0.5 + 1e-7)) * 1 - ((0.1 * 0.25) / (0.25 + 1e-7)) * 0.5 - (0.1 * 0.5) / (0.5 + 1e-7);
    expect(model.logit(row, 0)).toBeCloseTo(expected, 12);
  });
});

describe('ReuseModel with a hidden layer (TensorFlow.js)', () => {
  const options = { hidden: 4, learningRate: 0.05, batchSize: 4, stepsPerFit: 3, seed: 11 };
  const tf = cpuTfSync();

  /** A feature row with a few nonzero values (zeros are skipped by the plain inference). */
  function row(values: Record<number, number>): Float32Array {
    const out = new Float32Array(FEATURE_COUNT);
    for (const [f, value] of Object.entries(values)) out[Number(f)] = value;
    return out;
  }

  it('starts from He-initialised weights of its seed, zero biases, and scores rows as TensorFlow.js does', () => {
    const model = new ReuseModel(tf, options);
    expect(model.fits).toBe(0);
    const w1 = tf.randomNormal([FEATURE_COUNT, 4], 0, Math.sqrt(2 / FEATURE_COUNT), 'float32', 11);
    const w2 = tf.randomNormal([4, 1], 0, Math.sqrt(1 / 4), 'float32', 12);
    const rows = [row({ 0: 1, 3: 0.5, 13: 0.25 }), row({ 1: 1 }), row({ 2: -1, 7: 0.75 }), row({})];
    for (const features of rows) {
      const x = tf.tensor2d(features, [1, FEATURE_COUNT]);
      const expected = (tf.matMul(tf.relu(tf.matMul(x as never, w1 as never)) as never, w2 as never).dataSync() as Float32Array)[0]!;
      expect(model.logit(features, 0)).toBeCloseTo(expected, 6);
      expect(model.predict(features, 0)).toBeCloseTo(1 / (1 + Math.exp(-expected)), 6);
    }
    model.dispose();
  });

  it('reads a row at an offset', () => {
    const model = new ReuseModel(tf, options);
    const one = row({ 0: 1, 4: 0.5 });
    const two = new Float32Array(2 * FEATURE_COUNT);
    two.set(one, FEATURE_COUNT);
    expect(model.logit(two, FEATURE_COUNT)).toBe(model.logit(one, 0));
    model.dispose();
  });

  it('trains: positives raise the logit of their rows, fits are counted, and the same seed repeats', () => {
    const count = 6;
    const features = new Float32Array(count * FEATURE_COUNT);
    const labels = new Float32Array(count);
    for (let r = 0; r < count; r++) {
      features[r * FEATURE_COUNT + (r % 3)] = 1;
      features[r * FEATURE_COUNT + 10] = r / count;
      labels[r] = r % 3 === 0 ? 1 : 0;
    }
    const train = () => {
      const model = new ReuseModel(tf, options);
      const before = [0, 1].map((r) => model.logit(features, r * FEATURE_COUNT));
      for (let round = 0; round < 5; round++) model.fit(features, labels, count);
      const after = [0, 1, 2, 3, 4, 5].map((r) => model.logit(features, r * FEATURE_COUNT));
      const fits = model.fits;
      model.dispose();
      return { before, after, fits };
    };
    const tensors = tf.memory().numTensors;
    const first = train();
    expect(tf.memory().numTensors).toBe(tensors); // dispose frees the variables and the optimizer's moments
    expect(first.fits).toBe(5);
    expect(first.after[0]!).toBeGreaterThan(first.before[0]!);
    expect(first.after[1]!).toBeLessThan(first.before[1]!);
    expect(first.after).toEqual(HIDDEN_GOLDEN.map((x) => expect.closeTo(x, 5)));
    expect(train().after).toEqual(first.after);
  });
});

/** The logits after five fits, as the TensorFlow.js CPU backend computes them (float32; pinned, not derived). */
const HIDDEN_GOLDEN = [1.9574628917809065, -0.40592432022094727, -0.40592432022094727, 2.2261550049794536, -0.3005903369966223, -0.40592432022094727];

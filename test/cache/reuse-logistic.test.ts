/**
 * The plain logistic trainer against TensorFlow.js: the same loss, optimizer and mini-batch draws, so on
 * the same rows both end with the same model (to float32 rounding); and the policy refuses a hidden layer
 * the plain trainer cannot fit.
 */
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../src/cache/reuse/features.js';
import { LogisticModel } from '../../src/cache/reuse/logistic.js';
import { ReuseModel } from '../../src/cache/reuse/model.js';
import { ReusePolicy } from '../../src/cache/reuse/reuse-policy.js';
import { cpuTfSync } from '../../src/tensor/backend.js';

/** Rows whose label follows a known logistic rule of the first three features (seeded, no noise source but the draws). */
function rows(count: number): { features: Float32Array; labels: Float32Array } {
  const features = new Float32Array(count * FEATURE_COUNT);
  const labels = new Float32Array(count);
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
  for (let r = 0; r < count; r++) {
    for (let f = 0; f < FEATURE_COUNT; f++) features[r * FEATURE_COUNT + f] = next();
    const z = 3 * features[r * FEATURE_COUNT]! - 2 * features[r * FEATURE_COUNT + 1]! + features[r * FEATURE_COUNT + 2]! - 0.5;
    labels[r] = next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return { features, labels };
}

describe('LogisticModel', () => {
  const options = { learningRate: 0.05, batchSize: 256, stepsPerFit: 4, seed: 3 };

  it('takes the same Adam steps as the TensorFlow.js model with no hidden layer', () => {
    const { features, labels } = rows(2000);
    const plain = new LogisticModel(options);
    const tfjs = new ReuseModel(cpuTfSync(), { ...options, hidden: 0 });
    for (let round = 0; round < 10; round++) {
      plain.fit(features, labels, 2000);
      tfjs.fit(features, labels, 2000);
    }
    tfjs.dispose();
    expect(plain.fits).toBe(10);
    for (let r = 0; r < 50; r++) expect(plain.logit(features, r * FEATURE_COUNT)).toBeCloseTo(tfjs.logit(features, r * FEATURE_COUNT), 4);
  });

  it('learns the rule: the weights of the informative features have its signs', () => {
    const { features, labels } = rows(4000);
    const model = new LogisticModel({ ...options, stepsPerFit: 50 });
    for (let round = 0; round < 20; round++) model.fit(features, labels, 4000);
    const unit = (f: number) => {
      const row = new Float32Array(FEATURE_COUNT);
      row[f] = 1;
      return model.logit(row, 0) - model.logit(new Float32Array(FEATURE_COUNT), 0);
    };
    expect(unit(0)).toBeGreaterThan(1.5);
    expect(unit(1)).toBeLessThan(-1);
    expect(unit(2)).toBeGreaterThan(0.3);
    expect(Math.abs(unit(5))).toBeLessThan(0.5);
  });

  it('is the default trainer, a hidden layer asks for TensorFlow.js, and the conversation target for neither', () => {
    expect(new ReusePolicy().options.trainer).toBe('plain');
    expect(() => new ReusePolicy({ target: 'page', hidden: 8 })).toThrow(/hidden 8 needs trainer 'tfjs'/);
    expect(new ReusePolicy({ target: 'page', hidden: 8, trainer: 'tfjs' }).options.hidden).toBe(8);
    expect(() => new ReusePolicy({ trainer: 'tfjs' })).toThrow(/target 'conversation' needs trainer 'plain'/);
  });
});

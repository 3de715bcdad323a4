import { FEATURE_COUNT } from './features.js';
import { AdamWeights } from './adam.js';
import { RowDraws } from './row-draws.js';

export interface LogisticOptions {
  learningRate: number;
  batchSize: number;
  /** Mini-batches per `fit`. */
  stepsPerFit: number;
  /** Fixes the mini-batch draws. */
  seed: number;
}

/**
 * P(reuse within the horizon | features) by logistic regression, trained with Adam on mini-batches of the
 * sampled rows: the same model, loss and optimizer as ReuseModel with no hidden layer, in plain loops
 * over typed arrays. With 14 weights TensorFlow.js's cost is all per-operation dispatch (tensors, tape,
 * kernels for a 1024x14 product): a round took ~6 ms there and ~0.1 ms here, and the training rounds were
 * most of a replay's time (docs/results.md, "reuse").
 */
export class LogisticModel {
  readonly #options: LogisticOptions;
  readonly #weights = new AdamWeights(FEATURE_COUNT + 1); // bias last
  readonly #rows: RowDraws;
  #fits = 0;

  constructor(options: LogisticOptions) {
    this.#options = options;
    this.#rows = new RowDraws(options.seed);
  }

  get fits(): number {
    return this.#fits;
  }

  /** `stepsPerFit` Adam steps on mini-batches drawn (seeded) from the first `count` rows. */
  fit(features: Float32Array, labels: Float32Array, count: number): void {
    const { batchSize, stepsPerFit, learningRate } = this.#options;
    const size = Math.min(batchSize, count);
    const w = this.#weights.w;
    const grad = this.#weights.grad;
    const bias = FEATURE_COUNT;
    for (let step = 0; step < stepsPerFit; step++) {
      grad.fill(0);
      for (let k = 0; k < size; k++) {
        const row = this.#rows.next(count);
        const offset = row * FEATURE_COUNT;
        let z = w[bias]!;
        for (let f = 0; f < FEATURE_COUNT; f++) z += w[f]! * features[offset + f]!;
        // d(sigmoid cross-entropy)/dz = sigmoid(z) - label
        const error = 1 / (1 + Math.exp(-z)) - labels[row]!;
        for (let f = 0; f < FEATURE_COUNT; f++) grad[f]! += error * features[offset + f]!;
        grad[bias]! += error;
      }
      this.#weights.step(size, learningRate);
    }
    this.#fits++;
  }

  /** ln(P / (1 - P)) for the feature row at `features[offset ..)`. */
  logit(features: Float32Array, offset: number): number {
    const w = this.#weights.w;
    let z = w[FEATURE_COUNT]!;
    for (let f = 0; f < FEATURE_COUNT; f++) z += w[f]! * features[offset + f]!;
    return z;
  }
}

import { FEATURE_COUNT } from './features.js';
import { RowDraws } from './row-draws.js';

export interface LogisticOptions {
  learningRate: number;
  batchSize: number;
  /** Mini-batches per `fit`. */
  stepsPerFit: number;
  /** Fixes the mini-batch draws. */
  seed: number;
}

const BETA1 = 0.9;
const BETA2 = 0.999;
/** TensorFlow.js's Adam epsilon (its backend default), so both trainers take the same steps. */
const EPSILON = 1e-7;

/**
 * P(reuse within the horizon | features) by logistic regression, trained with Adam on mini-batches of the
 * sampled rows: the same model, loss and optimizer as ReuseModel with no hidden layer, in plain loops
 * over typed arrays. With 14 weights TensorFlow.js's cost is all per-operation dispatch (tensors, tape,
 * kernels for a 1024x14 product): a round took ~6 ms there and ~0.1 ms here, and the training rounds were
 * most of a replay's time (docs/results.md, "reuse").
 */
export class LogisticModel {
  readonly #options: LogisticOptions;
  readonly #w = new Float64Array(FEATURE_COUNT + 1); // bias last
  readonly #m = new Float64Array(FEATURE_COUNT + 1);
  readonly #v = new Float64Array(FEATURE_COUNT + 1);
  readonly #grad = new Float64Array(FEATURE_COUNT + 1);
  readonly #rows: RowDraws;
  #steps = 0;
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
    const w = this.#w;
    const grad = this.#grad;
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
      this.#adam(size, learningRate);
    }
    this.#fits++;
  }

  /** ln(P / (1 - P)) for the feature row at `features[offset ..)`. */
  logit(features: Float32Array, offset: number): number {
    const w = this.#w;
    let z = w[FEATURE_COUNT]!;
    for (let f = 0; f < FEATURE_COUNT; f++) z += w[f]! * features[offset + f]!;
    return z;
  }

  #adam(size: number, learningRate: number): void {
    const t = ++this.#steps;
    const correction1 = 1 - BETA1 ** t;
    const correction2 = 1 - BETA2 ** t;
    const grad = this.#grad;
    for (let f = 0; f <= FEATURE_COUNT; f++) {
      const g = grad[f]! / size;
      this.#m[f] = BETA1 * this.#m[f]! + (1 - BETA1) * g;
      this.#v[f] = BETA2 * this.#v[f]! + (1 - BETA2) * g * g;
      this.#w[f]! -= (learningRate * (this.#m[f]! / correction1)) / (Math.sqrt(this.#v[f]! / correction2) + EPSILON);
    }
  }

}

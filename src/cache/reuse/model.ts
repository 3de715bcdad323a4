import type { Tf } from '../../tensor/backend.js';
import { copyRow, FEATURE_COUNT } from './features.js';
import { RowDraws } from './row-draws.js';

type Tensor = ReturnType<Tf['tensor']>;
type Variable = ReturnType<Tf['variable']>;

export interface ReuseModelOptions {
  /** Hidden units; 0 is logistic regression. */
  hidden: number;
  learningRate: number;
  batchSize: number;
  /** Mini-batches per `fit`. */
  stepsPerFit: number;
  /** Fixes the initial weights and the mini-batch draws. */
  seed: number;
}

/**
 * P(reuse within the horizon | features): logistic regression, or one hidden ReLU layer, trained with
 * Adam on TensorFlow.js in mini-batches between requests. After each `fit` the weights are copied out
 * once, and inference runs as plain loops over them: a request's pages are scored in one pass without a
 * tensor round trip each, which is what lets replay keep its speed.
 */
export class ReuseModel {
  readonly #tf: Tf;
  readonly #options: ReuseModelOptions;
  readonly #variables: Variable[];
  readonly #optimizer: ReturnType<Tf['train']['adam']>;
  readonly #rows: RowDraws;
  // Weights mirrored for inference.
  #w1: Float32Array;
  #b1: Float32Array;
  #w2: Float32Array;
  #b2 = 0;
  #hiddenValues: Float32Array;
  #fits = 0;

  constructor(tf: Tf, options: ReuseModelOptions) {
    this.#tf = tf;
    this.#options = options;
    this.#rows = new RowDraws(options.seed);
    const h = options.hidden;
    this.#variables = tf.tidy(() =>
      h === 0
        ? [tf.variable(tf.zeros([FEATURE_COUNT, 1])), tf.variable(tf.zeros([1]))]
        : [
            tf.variable(tf.randomNormal([FEATURE_COUNT, h], 0, Math.sqrt(2 / FEATURE_COUNT), 'float32', options.seed)),
            tf.variable(tf.zeros([h])),
            tf.variable(tf.randomNormal([h, 1], 0, Math.sqrt(1 / h), 'float32', options.seed + 1)),
            tf.variable(tf.zeros([1])),
          ],
    );
    this.#optimizer = tf.train.adam(options.learningRate);
    this.#w1 = new Float32Array(0);
    this.#b1 = new Float32Array(0);
    this.#w2 = new Float32Array(0);
    this.#hiddenValues = new Float32Array(h);
    this.#sync();
  }

  /** Fits done so far. */
  get fits(): number {
    return this.#fits;
  }

  /** `stepsPerFit` Adam steps on mini-batches drawn (seeded) from the first `count` rows. */
  fit(features: Float32Array, labels: Float32Array, count: number): void {
    const tf = this.#tf;
    const { batchSize, stepsPerFit } = this.#options;
    const size = Math.min(batchSize, count);
    const x = new Float32Array(size * FEATURE_COUNT);
    const y = new Float32Array(size);
    for (let step = 0; step < stepsPerFit; step++) {
      for (let k = 0; k < size; k++) {
        const row = this.#rows.next(count);
        copyRow(features, row, x, k);
        y[k] = labels[row]!;
      }
      tf.tidy(() => {
        const xs = tf.tensor2d(x, [size, FEATURE_COUNT]);
        const ys = tf.tensor2d(y, [size, 1]);
        this.#optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(ys, this.#logits(xs)) as ReturnType<Tf['scalar']>, false, this.#variables);
      });
    }
    this.#sync();
    this.#fits++;
  }

  /** P(reuse) for the feature row at `features[offset ..)`. */
  predict(features: Float32Array, offset: number): number {
    return 1 / (1 + Math.exp(-this.logit(features, offset)));
  }

  /** ln(P / (1 - P)) for the feature row at `features[offset ..)` (the network's output before the sigmoid). */
  logit(features: Float32Array, offset: number): number {
    const h = this.#options.hidden;
    let z = this.#b2;
    if (h === 0) {
      for (let f = 0; f < FEATURE_COUNT; f++) z += this.#w1[f]! * features[offset + f]!;
    } else {
      const hidden = this.#hiddenValues;
      hidden.set(this.#b1);
      for (let f = 0; f < FEATURE_COUNT; f++) {
        const value = features[offset + f]!;
        if (value === 0) continue;
        const base = f * h;
        for (let j = 0; j < h; j++) hidden[j]! += this.#w1[base + j]! * value;
      }
      for (let j = 0; j < h; j++) if (hidden[j]! > 0) z += hidden[j]! * this.#w2[j]!;
    }
    return z;
  }

  dispose(): void {
    this.#tf.dispose(this.#variables);
    this.#optimizer.dispose();
  }

  #logits(xs: Tensor): Tensor {
    const tf = this.#tf;
    const v = this.#variables;
    if (v.length === 2) return tf.add(tf.matMul(xs as never, v[0]! as never), v[1]!) as Tensor;
    const hidden = tf.relu(tf.add(tf.matMul(xs as never, v[0]! as never), v[1]!));
    return tf.add(tf.matMul(hidden as never, v[2]! as never), v[3]!) as Tensor;
  }

  #sync(): void {
    const v = this.#variables;
    if (v.length === 2) {
      this.#w1 = (v[0]!.dataSync() as Float32Array).slice();
      this.#b2 = v[1]!.dataSync()[0]!;
    } else {
      this.#w1 = (v[0]!.dataSync() as Float32Array).slice();
      this.#b1 = (v[1]!.dataSync() as Float32Array).slice();
      this.#w2 = (v[2]!.dataSync() as Float32Array).slice();
      this.#b2 = v[3]!.dataSync()[0]!;
    }
  }

}

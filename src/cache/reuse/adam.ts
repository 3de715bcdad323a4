const BETA1 = 0.9;
const BETA2 = 0.999;
/** TensorFlow.js's Adam epsilon (its backend default), so the plain trainers take tfjs's steps. */
const EPSILON = 1e-7;

/**
 * Weights of a small model with their Adam moments and a gradient buffer: the one optimizer step of the
 * plain logistic trainers (logistic.ts, binned-logistic.ts), in the order TensorFlow.js applies it.
 */
export class AdamWeights {
  readonly w: Float64Array;
  /** Sums of the mini-batch's gradients; `step` divides by the batch size. */
  readonly grad: Float64Array;
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  #steps = 0;

  constructor(size: number) {
    this.w = new Float64Array(size);
    this.grad = new Float64Array(size);
    this.#m = new Float64Array(size);
    this.#v = new Float64Array(size);
  }

  /** One Adam step from the gradient summed over `batch` rows. */
  step(batch: number, learningRate: number): void {
    const t = ++this.#steps;
    const correction1 = 1 - BETA1 ** t;
    const correction2 = 1 - BETA2 ** t;
    const { w, grad } = this;
    const m = this.#m;
    const v = this.#v;
    for (let f = 0; f < w.length; f++) {
      const g = grad[f]! / batch;
      m[f] = BETA1 * m[f]! + (1 - BETA1) * g;
      v[f] = BETA2 * v[f]! + (1 - BETA2) * g * g;
      w[f]! -= (learningRate * (m[f]! / correction1)) / (Math.sqrt(v[f]! / correction2) + EPSILON);
    }
  }
}

import { CONVERSATION_BINS, CONVERSATION_WIDTH } from './conversation-features.js';
import type { LogisticOptions } from './logistic.js';
import { AdamWeights } from './adam.js';
import { RowDraws } from './row-draws.js';

/**
 * Logistic regression on one-hot bins given as the index of the bin set in each group (a conversation row,
 * conversation-features.ts): one weight per bin plus a bias, trained like LogisticModel (Adam, seeded
 * mini-batches of the labelled rows). A row touches one weight per group, so a step costs the groups,
 * not the bins.
 */
export class BinnedLogistic {
  readonly #options: LogisticOptions;
  readonly #weights = new AdamWeights(CONVERSATION_BINS + 1); // bias last
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
  fit(rows: Float32Array, labels: Float32Array, count: number): void {
    const { batchSize, stepsPerFit, learningRate } = this.#options;
    const size = Math.min(batchSize, count);
    const grad = this.#weights.grad;
    for (let step = 0; step < stepsPerFit; step++) {
      grad.fill(0);
      for (let k = 0; k < size; k++) {
        const row = this.#rows.next(count);
        const offset = row * CONVERSATION_WIDTH;
        const error = 1 / (1 + Math.exp(-this.logit(rows, offset))) - labels[row]!;
        for (let g = 0; g < CONVERSATION_WIDTH; g++) {
          const bin = rows[offset + g]!;
          if (bin >= 0) grad[bin]! += error;
        }
        grad[CONVERSATION_BINS]! += error;
      }
      this.#weights.step(size, learningRate);
    }
    this.#fits++;
  }

  /** ln(P / (1 - P)) for the row at `rows[offset ..)`. */
  logit(rows: Float32Array, offset: number): number {
    const w = this.#weights.w;
    let z = w[CONVERSATION_BINS]!;
    for (let g = 0; g < CONVERSATION_WIDTH; g++) {
      const bin = rows[offset + g]!;
      if (bin >= 0) z += w[bin]!;
    }
    return z;
  }

}

/**
 * `kvflow engine --tensors`: the engine records the transfers its links issue (prefetches, load-backs,
 * write-through) and `GET /v1/engine/tensors` runs the plan recorded so far on real KV blocks (tfjs),
 * comparing measured with modelled transfer time, as `kvflow simulate --tensors` does after a run.
 * Recording is bounded so a long-running engine does not grow without end.
 */
import type { HardwareConfig } from '../../sim/hardware.js';
import type { BackendChoice } from '../../tensor/backend.js';
import type { TensorPlanReport } from '../../types.js';
import { runTensorPlans } from '../../tensor/run-plans.js';
import { TransferRecorder, type TransferObserver, type TransferObservers } from '../../sim/transfer-plan.js';

export interface EngineTensorOptions {
  backend: BackendChoice;
  /** Share of a real KV block's elements to move, in (0, 1]. */
  tensorScale?: number;
}

/** Transfers kept for execution; later ones are counted but not recorded. */
const MAX_RECORDED = 100_000;
/** Pages executed per direction on one request of the endpoint. */
const MAX_EXECUTED_PAGES = 4_096;

export class EngineTensorRecorder implements TransferObservers {
  readonly #plan = new TransferRecorder();
  readonly #options: EngineTensorOptions;
  readonly #hardware: HardwareConfig;
  readonly #setup: string;
  #dropped = 0;
  readonly h2d: TransferObserver = this.#bounded(this.#plan.h2d);
  readonly d2h: TransferObserver = this.#bounded(this.#plan.d2h);

  constructor(setup: string, hardware: HardwareConfig, options: EngineTensorOptions) {
    this.#setup = setup;
    this.#hardware = hardware;
    this.#options = options;
  }

  /** Runs the recorded plan on real blocks. */
  async execute(): Promise<TensorPlanReport & { droppedTransfers: number }> {
    const [report] = await runTensorPlans(new Map([[this.#setup, this.#plan]]), {
      hardware: this.#hardware,
      backend: this.#options.backend,
      maxPages: MAX_EXECUTED_PAGES,
      ...(this.#options.tensorScale !== undefined && { tensorScale: this.#options.tensorScale }),
    });
    return { ...report!, droppedTransfers: this.#dropped };
  }

  #bounded(inner: TransferObserver): TransferObserver {
    return {
      issued: (bytes, start, end) => {
        if (this.#plan.transfers.length < MAX_RECORDED) inner.issued(bytes, start, end);
        else this.#dropped++;
      },
      cancelled: (bytes) => inner.cancelled(bytes),
    };
  }
}

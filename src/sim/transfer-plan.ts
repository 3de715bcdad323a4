/**
 * The hook between the simulator's links and real tensors (`kvflow simulate --tensors`). A `Link` given
 * an observer reports every transfer it issues (prefetches and on-demand load-backs on `h2d`,
 * write-through on `d2h`) and every queued transfer it cancels; a `TransferRecorder` keeps them as a plan
 * that `executeTransferPlan` then runs on the block stores. Recording first and executing after keeps
 * the simulation deterministic: wall-clock copies never feed back into simulated time.
 */
import type { TransferDirection } from './cost-model.js';

/** What a link tells about its transfers, in simulated seconds. */
export interface TransferObserver {
  /** A transfer of `bytes` starts on the wire at `start` and lands at `end` (latency included). */
  issued(bytes: number, start: number, end: number): void;
  /** A queued transfer of `bytes` was cancelled before it was issued (a stale prefetch). */
  cancelled(bytes: number): void;
}

/** One observer per direction, for one setup's run. */
export interface TransferObservers {
  h2d: TransferObserver;
  d2h: TransferObserver;
}

export interface PlannedTransfer {
  direction: TransferDirection;
  bytes: number;
  start: number;
  end: number;
}

/** Records one setup's transfer plan. */
export class TransferRecorder implements TransferObservers {
  readonly transfers: PlannedTransfer[] = [];
  readonly cancelled = { h2d: 0, d2h: 0 };
  readonly h2d: TransferObserver = this.#observer('h2d');
  readonly d2h: TransferObserver = this.#observer('d2h');

  #observer(direction: TransferDirection): TransferObserver {
    return {
      issued: (bytes, start, end) => {
        this.transfers.push({ direction, bytes, start, end });
      },
      cancelled: () => {
        this.cancelled[direction]++;
      },
    };
  }
}

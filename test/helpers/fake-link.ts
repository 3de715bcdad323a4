import type { Transfer } from '../../src/sim/link.js';
import type { TransferQueue } from '../../src/sim/prefetcher.js';

/** A link that queues transfers until `start`, and delivers a started one on `land`: tests decide when each moves. */
export class FakeLink implements TransferQueue {
  readonly queued: Transfer[] = [];
  readonly inFlight: Transfer[] = [];
  submit(transfer: Transfer): void {
    this.queued.push(transfer);
  }
  cancel(transfer: Transfer): boolean {
    const at = this.queued.indexOf(transfer);
    if (at < 0) return false;
    this.queued.splice(at, 1);
    return true;
  }
  start(): Transfer {
    const transfer = this.queued.shift()!;
    this.inFlight.push(transfer);
    return transfer;
  }
  land(): void {
    this.inFlight.shift()!.onDone();
  }
}

import type { TransferObserver } from './transfer-plan.js';
import type { Clock, Timed } from './event-queue.js';

/** One batch of pages moving over a link. */
export interface Transfer {
  bytes: number;
  /** Called when the last byte has arrived (not called for cancelled transfers). */
  onDone: () => void;
  /** Called when the transfer is issued, with the time its first byte moves. */
  onStart?: (start: number) => void;
}

export interface LinkOptions {
  /** Bytes per second. */
  bandwidth: number;
  /** Seconds added to every transfer (DMA setup, driver). */
  latency: number;
  /** Transfers in flight at once; later ones wait in FIFO order and can still be cancelled. */
  concurrency: number;
  /** Told of every transfer issued or cancelled (`kvflow simulate --tensors` records the plan). */
  observer?: TransferObserver;
  /** Seconds a transfer holds the wire (default bytes / bandwidth); the layer-wise load path sets it. */
  wireSeconds?: (bytes: number) => number;
}

/**
 * A PCIe link in one direction. Bytes are serialized at `bandwidth` in FIFO order (transfers in flight
 * share the wire one after another), each transfer also pays `latency`, and at most `concurrency`
 * transfers are issued at once. Issued transfers run to completion; queued ones can be cancelled.
 */
export class Link implements Timed {
  readonly options: LinkOptions;
  readonly #events: Clock;
  #queue: Transfer[] = [];
  /** Issued transfers in the order they land (each lands after the one before: the wire is FIFO). */
  #landing: Transfer[] = [];
  #landed = 0;
  #inFlight = 0;
  #wireFreeAt = 0;
  #busySeconds = 0;
  #bytes = 0;

  constructor(events: Clock, options: LinkOptions) {
    this.#events = events;
    // One object literal with every field (callers spread and add fields): a hidden class of its own per
    // run made the link's methods deoptimise (see Replica's fixedShape).
    const { bandwidth, latency, concurrency, observer, wireSeconds } = options;
    this.options = { bandwidth, latency, concurrency, observer, wireSeconds };
  }

  /** Seconds the wire carried data. */
  get busySeconds(): number {
    return this.#busySeconds;
  }
  /** Bytes delivered or in flight. */
  get bytes(): number {
    return this.#bytes;
  }
  /** Transfers issued or waiting. */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  submit(transfer: Transfer): void {
    this.#queue.push(transfer);
    this.#pump();
  }

  /** Removes a transfer that has not been issued yet; returns false if it is already in flight. */
  cancel(transfer: Transfer): boolean {
    const at = this.#queue.indexOf(transfer);
    if (at < 0) return false;
    this.#queue.splice(at, 1);
    this.options.observer?.cancelled(transfer.bytes);
    return true;
  }

  /** Seconds a transfer of `bytes` submitted now would take if the link were idle. */
  idleSeconds(bytes: number): number {
    return this.options.latency + (this.options.wireSeconds ? this.options.wireSeconds(bytes) : bytes / this.options.bandwidth);
  }

  #pump(): void {
    while (this.#inFlight < this.options.concurrency && this.#queue.length > 0) {
      const transfer = this.#queue.shift()!;
      const wire = this.options.wireSeconds ? this.options.wireSeconds(transfer.bytes) : transfer.bytes / this.options.bandwidth;
      const start = Math.max(this.#events.now, this.#wireFreeAt);
      this.#wireFreeAt = start + wire;
      this.#busySeconds += wire;
      this.#bytes += transfer.bytes;
      this.#inFlight++;
      this.options.observer?.issued(transfer.bytes, start, this.#wireFreeAt + this.options.latency);
      transfer.onStart?.(start);
      this.#landing.push(transfer);
      this.#events.wake(this.#wireFreeAt + this.options.latency, this, 0);
    }
  }

  /** The oldest issued transfer has landed. */
  onTime(): void {
    const transfer = this.#landing[this.#landed]!;
    this.#landing[this.#landed++] = undefined!;
    if (this.#landed === this.#landing.length) {
      this.#landing.length = 0;
      this.#landed = 0;
    }
    this.#inFlight--;
    transfer.onDone();
    this.#pump();
  }
}

/**
 * Copies KV blocks between the host and device stores, each direction through its own limiter (the copy
 * streams of a PCIe link), with cancellation between blocks: a cancelled copy keeps the blocks it already
 * moved, like a DMA stopped between pages. Checksums travel with the blocks so stores can verify them.
 */
import type { TensorBackend } from './backend.js';
import type { DeviceBlockStore, HostBlockStore } from './block-store.js';
import { Limiter } from './limiter.js';

export interface CopyResult {
  /** Blocks moved (fewer than asked when cancelled). */
  blocks: number;
  bytes: number;
  /** Wall time from the copy's start (after waiting for a stream) to its end. */
  seconds: number;
  cancelled: boolean;
}

export interface MoverOptions {
  /** Copies in flight per direction. */
  h2dConcurrency: number;
  d2hConcurrency: number;
}

export class BlockMover {
  readonly #backend: TensorBackend;
  readonly #host: HostBlockStore;
  readonly #device: DeviceBlockStore;
  readonly #h2d: Limiter;
  readonly #d2h: Limiter;

  constructor(backend: TensorBackend, host: HostBlockStore, device: DeviceBlockStore, options: MoverOptions) {
    this.#backend = backend;
    this.#host = host;
    this.#device = device;
    this.#h2d = new Limiter(options.h2dConcurrency);
    this.#d2h = new Limiter(options.d2hConcurrency);
  }

  /** Copies host slots `from[i]` into device slots `to[i]`. */
  toDevice(from: readonly number[], to: readonly number[], signal?: AbortSignal): Promise<CopyResult> {
    checkPairs(from, to);
    return this.#copy(this.#h2d, from.length, signal, async (i) => {
      const source = this.#host.view(from[i]!);
      // The pure-JS backend would keep a reference to the host array: copy it, as a DMA would.
      const data = this.#backend.copiesOnUpload ? source : source.slice();
      this.#device.put(to[i]!, this.#device.upload(data), this.#host.expected(from[i]!));
    });
  }

  /** Copies device slots `from[i]` into host slots `to[i]`; the device keeps its copy. */
  toHost(from: readonly number[], to: readonly number[], signal?: AbortSignal): Promise<CopyResult> {
    checkPairs(from, to);
    return this.#copy(this.#d2h, from.length, signal, async (i) => {
      const tensor = this.#device.get(from[i]!);
      if (!tensor) throw new Error(`device slot ${from[i]} is empty`);
      const sum = this.#device.expected(from[i]!);
      // A handle of our own, so a concurrent put into the same slot cannot dispose it mid-read.
      const held = tensor.clone();
      try {
        this.#host.view(to[i]!).set((await held.data()) as Float32Array);
      } finally {
        held.dispose();
      }
      this.#host.noteCopied(to[i]!, sum);
    });
  }

  async #copy(limiter: Limiter, count: number, signal: AbortSignal | undefined, moveBlock: (i: number) => Promise<void>): Promise<CopyResult> {
    const bytes = this.#device.block.bytes;
    const result = await limiter.run(async () => {
      const started = performance.now();
      let blocks = 0;
      while (blocks < count && !signal?.aborted) {
        await moveBlock(blocks);
        blocks++;
      }
      return { blocks, bytes: blocks * bytes, seconds: (performance.now() - started) / 1000, cancelled: blocks < count };
    }, signal);
    return result ?? { blocks: 0, bytes: 0, seconds: 0, cancelled: true };
  }
}

function checkPairs(from: readonly number[], to: readonly number[]): void {
  if (from.length !== to.length) throw new RangeError(`copy of ${from.length} blocks into ${to.length} slots`);
}

/**
 * Host <-> device bandwidth measured by moving real KV blocks through the block stores, every round trip
 * checksum-verified. `measureBandwidth` gives one number per direction (`kvflow doctor`);
 * `calibrateLink` fits the link model's per-direction bandwidth, latency and concurrency
 * (`kvflow calibrate --link`), the fields a `--config` file's `h2d` and `d2h` take.
 */
import { solveLeastSquares } from '../sim/calibrate.js';
import type { LinkConfig } from '../sim/hardware.js';
import type { TensorBackend } from './backend.js';
import type { KvBlockShape } from './block-shape.js';
import { BlockMover, type CopyResult } from './block-mover.js';
import { DeviceBlockStore, HostBlockStore } from './block-store.js';

export interface Bandwidth {
  /** Bytes per second, host to device. */
  h2d: number;
  /** Bytes per second, device to host. */
  d2h: number;
}

export interface LinkSample {
  direction: 'h2d' | 'd2h';
  /** Blocks per transfer. */
  blocks: number;
  bytes: number;
  /** Median seconds of one transfer. */
  seconds: number;
}

export interface LinkCalibration {
  h2d: LinkConfig;
  d2h: LinkConfig;
  /** Timings the fit used. */
  samples: LinkSample[];
}

/** A host store with room for sources and returns, a device store, and a mover over them. */
class Rig {
  readonly host: HostBlockStore;
  readonly device: DeviceBlockStore;
  readonly mover: BlockMover;

  constructor(backend: TensorBackend, block: KvBlockShape, blocks: number, concurrency = 1) {
    this.host = new HostBlockStore(block, 2 * blocks * block.bytes);
    this.device = new DeviceBlockStore(backend.tf, block, blocks * block.bytes);
    this.mover = new BlockMover(backend, this.host, this.device, { h2dConcurrency: concurrency, d2hConcurrency: concurrency });
    for (let slot = 0; slot < blocks; slot++) this.host.fill(slot, slot + 1);
  }

  /** Host slots [offset, offset + n). */
  static range(offset: number, n: number): number[] {
    return Array.from({ length: n }, (_, i) => offset + i);
  }

  /** Throws unless every device slot and every written host slot holds what was copied into it. */
  async verify(): Promise<void> {
    for (const slot of this.device.occupiedSlots()) {
      if (!(await this.device.verify(slot))) throw new Error(`device slot ${slot}: checksum mismatch after copy`);
    }
    for (const slot of this.host.writtenSlots()) {
      if (!this.host.verify(slot)) throw new Error(`host slot ${slot}: checksum mismatch after round trip`);
    }
  }

  dispose(): void {
    this.device.dispose();
  }
}

/**
 * Moves `blocks` blocks to the device and back, `rounds` times after one warm-up, and returns the
 * median bandwidth of each direction. Throws if any round trip changed a bit.
 */
export async function measureBandwidth(backend: TensorBackend, block: KvBlockShape, options: { blocks?: number; rounds?: number } = {}): Promise<Bandwidth> {
  const blocks = options.blocks ?? 32;
  const rounds = options.rounds ?? 5;
  const rig = new Rig(backend, block, blocks);
  try {
    const slots = Rig.range(0, blocks);
    const returns = Rig.range(blocks, blocks);
    const h2d: number[] = [];
    const d2h: number[] = [];
    for (let round = -1; round < rounds; round++) {
      const up = await rig.mover.toDevice(slots, slots);
      const down = await rig.mover.toHost(slots, returns);
      if (round >= 0) {
        h2d.push(rate(up));
        d2h.push(rate(down));
      }
    }
    await rig.verify();
    return { h2d: median(h2d), d2h: median(d2h) };
  } finally {
    rig.dispose();
  }
}

/**
 * Fits `seconds = latency + bytes / bandwidth` per direction over transfers of 1 to `maxBlocks` blocks,
 * then takes as concurrency the fewest copies in flight that reach 95% of the best throughput.
 */
export async function calibrateLink(
  backend: TensorBackend,
  block: KvBlockShape,
  options: { maxBlocks?: number; rounds?: number; concurrencies?: number[] } = {},
): Promise<LinkCalibration> {
  const maxBlocks = options.maxBlocks ?? 128;
  const rounds = options.rounds ?? 9;
  const concurrencies = options.concurrencies ?? [1, 2, 4, 8];
  const sizes = [1, 2, 4, 8, 16, 32, 64, 128].filter((n) => n <= maxBlocks);
  const samples = await timeTransfers(backend, block, sizes, rounds);
  const streams = await bestConcurrency(backend, block, concurrencies, Math.max(1, Math.floor(maxBlocks / 8)));
  const link = (direction: 'h2d' | 'd2h'): LinkConfig => ({
    ...fitLatencyBandwidth(samples.filter((s) => s.direction === direction)),
    concurrency: streams[direction],
  });
  return { h2d: link('h2d'), d2h: link('d2h'), samples };
}

async function timeTransfers(backend: TensorBackend, block: KvBlockShape, sizes: number[], rounds: number): Promise<LinkSample[]> {
  const largest = Math.max(...sizes);
  const rig = new Rig(backend, block, largest);
  try {
    const samples: LinkSample[] = [];
    for (const n of sizes) {
      const slots = Rig.range(0, n);
      const returns = Rig.range(largest, n);
      const up: number[] = [];
      const down: number[] = [];
      for (let round = -1; round < rounds; round++) {
        const u = await rig.mover.toDevice(slots, slots);
        const d = await rig.mover.toHost(slots, returns);
        if (round >= 0) {
          up.push(u.seconds);
          down.push(d.seconds);
        }
      }
      samples.push({ direction: 'h2d', blocks: n, bytes: n * block.bytes, seconds: median(up) });
      samples.push({ direction: 'd2h', blocks: n, bytes: n * block.bytes, seconds: median(down) });
    }
    await rig.verify();
    return samples;
  } finally {
    rig.dispose();
  }
}

/** Per direction, the fewest concurrent transfers of `blocks` blocks that reach 95% of the best throughput. */
async function bestConcurrency(backend: TensorBackend, block: KvBlockShape, levels: number[], blocks: number): Promise<{ h2d: number; d2h: number }> {
  const most = Math.max(...levels);
  const rig = new Rig(backend, block, most * blocks, most);
  try {
    const throughput = { h2d: new Map<number, number>(), d2h: new Map<number, number>() };
    for (const level of levels) {
      const jobs = Array.from({ length: level }, (_, j) => Rig.range(j * blocks, blocks));
      let started = performance.now();
      await Promise.all(jobs.map((slots) => rig.mover.toDevice(slots, slots)));
      throughput.h2d.set(level, (level * blocks * block.bytes) / ((performance.now() - started) / 1000));
      started = performance.now();
      await Promise.all(jobs.map((slots) => rig.mover.toHost(slots, slots.map((s) => s + most * blocks))));
      throughput.d2h.set(level, (level * blocks * block.bytes) / ((performance.now() - started) / 1000));
    }
    await rig.verify();
    const pick = (rates: Map<number, number>) => {
      const best = Math.max(...rates.values());
      return levels.find((level) => rates.get(level)! >= 0.95 * best) ?? 1;
    };
    return { h2d: pick(throughput.h2d), d2h: pick(throughput.d2h) };
  } finally {
    rig.dispose();
  }
}

/** Least squares of seconds on bytes; a negative intercept (noise) means no measurable latency. */
export function fitLatencyBandwidth(samples: readonly Pick<LinkSample, 'bytes' | 'seconds'>[]): { bandwidth: number; latency: number } {
  const totalBytes = samples.reduce((sum, s) => sum + s.bytes, 0);
  const totalSeconds = samples.reduce((sum, s) => sum + s.seconds, 0);
  const fit = solveLeastSquares(samples.map((s) => [s.bytes, 1]), samples.map((s) => s.seconds));
  if (fit && fit[0]! > 0 && fit[1]! >= 0) return { bandwidth: 1 / fit[0]!, latency: fit[1]! };
  const throughOrigin = solveLeastSquares(samples.map((s) => [s.bytes]), samples.map((s) => s.seconds));
  if (throughOrigin && throughOrigin[0]! > 0) return { bandwidth: 1 / throughOrigin[0]!, latency: 0 };
  return { bandwidth: totalBytes / totalSeconds, latency: 0 };
}

function rate(copy: CopyResult): number {
  return copy.bytes / Math.max(copy.seconds, 1e-9);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

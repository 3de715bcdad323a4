/**
 * Runs a setup's recorded transfer plan (transfer-plan.ts) on real KV blocks: every h2d transfer
 * (prefetch or load-back) copies its pages from the host store to the device store, every d2h transfer
 * (write-through) the other way, each direction through as many copy streams as the link model's
 * `concurrency`, and reports measured against modelled transfer time. Stores are rings of block slots,
 * so memory stays bounded by their capacities whatever the plan's size; checksums travel with the blocks
 * and every slot is verified after each direction.
 */
import type { LinkConfig } from '../sim/hardware.js';
import type { TransferDirection } from '../sim/cost-model.js';
import type { DirectionReport, TensorPlanReport } from '../types.js';
import type { TensorBackend } from './backend.js';
import type { KvBlockShape } from './block-shape.js';
import { BlockMover } from './block-mover.js';
import { DeviceBlockStore, HostBlockStore } from './block-store.js';
import type { PlannedTransfer, TransferRecorder } from '../sim/transfer-plan.js';

export interface TensorPlanOptions {
  backend: TensorBackend;
  /** The scaled block; `modelBytes` is the simulator's page size. */
  block: KvBlockShape;
  link: { h2d: LinkConfig; d2h: LinkConfig };
  /** Host store capacity in bytes (default 256 MiB). */
  hostBytes?: number;
  /** Device store capacity in bytes (default 256 MiB). */
  deviceBytes?: number;
  /** Most pages executed per direction; later transfers count in the model only (default 20,000). */
  maxPages?: number;
  /** Stops the execution between blocks. */
  signal?: AbortSignal;
}

const DEFAULT_STORE_BYTES = 256 * 2 ** 20;
const DEFAULT_MAX_PAGES = 20_000;

/** Executes `plan` for `setup` and compares it with the link model. Disposes every tensor it made. */
export async function executeTransferPlan(setup: string, plan: TransferRecorder, options: TensorPlanOptions): Promise<TensorPlanReport> {
  const { backend, block } = options;
  const baseline = backend.tf.memory().numTensors;
  const host = new HostBlockStore(block, options.hostBytes ?? DEFAULT_STORE_BYTES);
  const device = new DeviceBlockStore(backend.tf, block, options.deviceBytes ?? DEFAULT_STORE_BYTES);
  const mover = new BlockMover(backend, host, device, {
    h2dConcurrency: options.link.h2d.concurrency,
    d2hConcurrency: options.link.d2h.concurrency,
  });
  const context: PhaseContext = { host, device, mover, options, hostCursor: 0, deviceCursor: 0 };
  try {
    const h2d = await runDirection('h2d', plan, context);
    const d2h = await runDirection('d2h', plan, context);
    device.dispose();
    return {
      setup,
      backend: backend.name,
      tensorScale: block.scale,
      blockShape: [...block.shape],
      blockBytes: block.bytes,
      pageBytes: block.modelBytes,
      h2d,
      d2h,
      leakedTensors: backend.tf.memory().numTensors - baseline,
    };
  } finally {
    device.dispose();
  }
}

interface PhaseContext {
  host: HostBlockStore;
  device: DeviceBlockStore;
  mover: BlockMover;
  options: TensorPlanOptions;
  /** Next ring positions. */
  hostCursor: number;
  deviceCursor: number;
}

async function runDirection(direction: TransferDirection, plan: TransferRecorder, context: PhaseContext): Promise<DirectionReport> {
  const { host, device, mover, options } = context;
  const link = options.link[direction];
  const pageBytes = options.block.modelBytes;
  const issued = plan.transfers.filter((t) => t.direction === direction).sort((a, b) => a.start - b.start);
  const pagesOf = (t: PlannedTransfer) => Math.max(1, Math.round(t.bytes / pageBytes));
  const executed = takeWithinPages(issued, pagesOf, options.maxPages ?? DEFAULT_MAX_PAGES);
  const executedPages = executed.reduce((sum, t) => sum + pagesOf(t), 0);
  if (direction === 'h2d') prepareHost(host, executedPages);
  else await prepareDevice(context, executedPages);

  // Slots are assigned up front, in plan order, so concurrent copies never race for a ring position.
  const occupied = direction === 'd2h' ? device.occupiedSlots() : [];
  const jobs = executed.map((t) => {
    const pages = pagesOf(t);
    const hostSlots = ring(context, 'host', pages);
    const deviceSlots = direction === 'h2d' ? ring(context, 'device', pages) : occupiedRing(occupied, pages, context);
    return { hostSlots, deviceSlots };
  });
  const started = performance.now();
  const results = await Promise.all(
    jobs.map(({ hostSlots, deviceSlots }) =>
      direction === 'h2d' ? mover.toDevice(hostSlots, deviceSlots, options.signal) : mover.toHost(deviceSlots, hostSlots, options.signal),
    ),
  );
  const measuredSeconds = (performance.now() - started) / 1000;
  const measuredBytes = results.reduce((sum, r) => sum + r.bytes, 0);
  const verified = await verifyStores(host, device);

  const modelledBytes = issued.reduce((sum, t) => sum + pagesOf(t) * pageBytes, 0);
  const modelledSeconds = issued.reduce((sum, t) => sum + link.latency + (pagesOf(t) * pageBytes) / link.bandwidth, 0);
  const measuredBandwidth = measuredBytes > 0 && measuredSeconds > 0 ? measuredBytes / measuredSeconds : null;
  const projectedSeconds = measuredBandwidth === null ? null : modelledBytes / measuredBandwidth;
  return {
    transfers: issued.length,
    pages: issued.reduce((sum, t) => sum + pagesOf(t), 0),
    cancelled: plan.cancelled[direction],
    executedTransfers: executed.length,
    executedPages,
    modelledBytes,
    modelledSeconds,
    measuredBytes,
    measuredSeconds,
    measuredBandwidth,
    projectedSeconds,
    ratio: projectedSeconds === null || modelledSeconds === 0 ? null : projectedSeconds / modelledSeconds,
    verified,
  };
}

/** The leading transfers whose pages fit in `maxPages` (always at least one, when there is one). */
function takeWithinPages(transfers: PlannedTransfer[], pagesOf: (t: PlannedTransfer) => number, maxPages: number): PlannedTransfer[] {
  const taken: PlannedTransfer[] = [];
  let pages = 0;
  for (const t of transfers) {
    if (taken.length > 0 && pages + pagesOf(t) > maxPages) break;
    taken.push(t);
    pages += pagesOf(t);
  }
  return taken;
}

/** Fills the host slots an h2d phase will read, before timing starts. */
function prepareHost(host: HostBlockStore, pages: number): void {
  for (let slot = 0; slot < Math.min(host.capacity, pages); slot++) if (host.expected(slot) === undefined) host.fill(slot, slot + 1);
}

/** Makes sure the device holds blocks for a d2h phase to read (uploaded untimed when h2d left none). */
async function prepareDevice(context: PhaseContext, pages: number): Promise<void> {
  const { host, device, mover } = context;
  const wanted = Math.min(device.capacity, host.capacity, pages);
  if (device.used >= wanted) return;
  const slots = Array.from({ length: wanted }, (_, i) => i);
  prepareHost(host, wanted);
  await mover.toDevice(slots, slots);
}

/** The next `pages` positions of the host or device ring. */
function ring(context: PhaseContext, store: 'host' | 'device', pages: number): number[] {
  const capacity = store === 'host' ? context.host.capacity : context.device.capacity;
  const slots: number[] = [];
  for (let i = 0; i < pages; i++) {
    if (store === 'host') slots.push(context.hostCursor++ % capacity);
    else slots.push(context.deviceCursor++ % capacity);
  }
  return slots;
}

/** `pages` of the device slots that hold blocks, cycling through them. */
function occupiedRing(occupied: readonly number[], pages: number, context: PhaseContext): number[] {
  return Array.from({ length: pages }, () => occupied[context.deviceCursor++ % occupied.length]!);
}

async function verifyStores(host: HostBlockStore, device: DeviceBlockStore): Promise<boolean> {
  for (const slot of device.occupiedSlots()) if (!(await device.verify(slot))) return false;
  for (const slot of host.writtenSlots()) if (!host.verify(slot)) return false;
  return true;
}

/**
 * The layer-wise host load path of SGLang's HiCache (engine profile `sglang-0.4`). A load of B bytes over
 * L layers runs on one load thread, layer after layer (managers/cache_controller.py,
 * load_thread_func_layer_by_layer); each layer costs:
 *
 * - `direct` (v0.4, mem_cache/memory_pool.py get_flat_data_by_layer + transfer_per_layer): a CPU gather of
 *   B/L bytes into a new, unpinned tensor at the host copy bandwidth, a synchronous copy of B/L bytes that
 *   the driver stages through pinned memory (so at most the host copy bandwidth), and one synchronisation;
 * - `kernel` (sgl-project/sglang PR #7313): one gather kernel reads B/L bytes of pinned host memory over
 *   the link, and one synchronisation.
 *
 * The forward pass of the batch that needs the data overlaps with it: layer i computes once layer i has
 * landed (model layers wait on layer_done_counter).
 */
import type { LoadPathConfig } from './hardware.js';

export interface LayerwiseTiming {
  /** Seconds one layer's share of `bytes` takes on the load thread. */
  layerSeconds(bytes: number): number;
  /** Seconds the whole load of `bytes` occupies the load thread. */
  loadSeconds(bytes: number): number;
}

export function layerwiseTiming(path: LoadPathConfig, linkBandwidth: number, layers: number): LayerwiseTiming {
  const pageable = path.pageableBandwidth ?? Math.min(linkBandwidth, path.hostCopyBandwidth);
  const perByte = path.mode === 'kernel' ? 1 / linkBandwidth : 1 / path.hostCopyBandwidth + 1 / pageable;
  const layerSeconds = (bytes: number) => (bytes / layers) * perByte + path.syncLatency;
  return { layerSeconds, loadSeconds: (bytes) => layers * layerSeconds(bytes) };
}

/**
 * When a forward pass of `forward` seconds over `layers` layers, started at `start`, ends if layer i may
 * only compute once a load that began at `loadStart` has landed i + 1 layers of `layerSeconds` each. Every
 * layer takes forward / layers; the pass ends after the last layer, so the bound is the larger of the pass
 * alone, the first layer's wait plus the whole pass, and the last layer's arrival plus one layer.
 */
export function overlappedEnd(start: number, forward: number, layers: number, loadStart: number, layerSeconds: number): number {
  const perLayer = forward / layers;
  return Math.max(start + forward, loadStart + layerSeconds + forward, loadStart + layers * layerSeconds + perLayer);
}

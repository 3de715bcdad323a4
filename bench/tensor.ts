/**
 * Tensor benchmark (issue 5): host <-> device bandwidth of real Llama-3.1-8B KV blocks on the backend
 * that loads here, at three tensor scales (block sizes), the link calibration `kvflow calibrate --link`
 * writes, and a 4,096-page transfer plan executed with the A10G link's concurrency, checksums verified.
 */
import { resolveHardware } from '../src/sim/hardware.js';
import { calibrateLink, measureBandwidth } from '../src/tensor/bandwidth.js';
import { selectBackend } from '../src/tensor/backend.js';
import { formatShape, kvBlockShape } from '../src/tensor/block-shape.js';
import { executeTransferPlan } from '../src/tensor/plan-executor.js';
import { TransferRecorder } from '../src/sim/transfer-plan.js';
import type { BenchLine } from './replay.js';

export async function benchTensor(): Promise<BenchLine[]> {
  const backend = await selectBackend('auto');
  const hardware = resolveHardware({ gpu: 'A10G', model: 'Llama-3.1-8B' });
  const lines: BenchLine[] = [{ name: 'backend', value: `${backend.name} (${backend.devices.join('; ')})` }];
  for (const scale of [1 / 64, 1 / 16, 1 / 4]) {
    const block = kvBlockShape(hardware.model, 16, scale);
    const { h2d, d2h } = await measureBandwidth(backend, block, { blocks: 32, rounds: 5 });
    lines.push({
      name: `bandwidth ${formatShape(block.shape)}`,
      value: `${kib(block.bytes)} blocks: h2d ${gbps(h2d)}, d2h ${gbps(d2h)}`,
    });
  }
  const block = kvBlockShape(hardware.model, 16, 1 / 16);
  const link = await calibrateLink(backend, block);
  for (const direction of ['h2d', 'd2h'] as const) {
    const l = link[direction];
    lines.push({ name: `calibrate --link ${direction}`, value: `${gbps(l.bandwidth)}, latency ${(l.latency * 1e6).toFixed(1)} us, concurrency ${l.concurrency}` });
  }
  const plan = new TransferRecorder();
  for (let i = 0; i < 64; i++) plan.h2d.issued(64 * block.modelBytes, i, i + 1);
  const started = performance.now();
  const report = await executeTransferPlan('bench', plan, { backend, block, link: { h2d: hardware.h2d, d2h: hardware.d2h } });
  const wall = (performance.now() - started) / 1000;
  lines.push({
    name: 'plan 64 x 64 pages h2d',
    value:
      `${report.h2d.measuredSeconds.toFixed(3)} s copying (${gbps(report.h2d.measuredBandwidth ?? 0)}), ${wall.toFixed(3)} s with ` +
      `setup and verification; ratio to the A10G model ${report.h2d.ratio?.toFixed(2)}x, verified ${report.h2d.verified}, leaked ${report.leakedTensors}`,
  });
  return lines;
}

function gbps(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;
}

function kib(bytes: number): string {
  return `${(bytes / 2 ** 10).toFixed(0)} KiB`;
}

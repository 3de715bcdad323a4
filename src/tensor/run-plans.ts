/**
 * `kvflow simulate --tensors`: after the simulation, each setup's recorded transfer plan runs on real KV
 * blocks, and a table (or the report's `tensors` field) compares measured with modelled transfer time.
 */
import { renderTable } from '../report/table.js';
import type { HardwareConfig } from '../sim/hardware.js';
import { selectBackend, type BackendChoice } from './backend.js';
import { DEFAULT_TENSOR_SCALE, formatShape, kvBlockShape } from './block-shape.js';
import type { DirectionReport, TensorPlanReport } from '../types.js';
import { executeTransferPlan } from './plan-executor.js';
import type { TransferRecorder } from '../sim/transfer-plan.js';

export interface TensorRunOptions {
  hardware: HardwareConfig;
  backend?: BackendChoice;
  tensorScale?: number;
  /** Most pages executed per direction and setup. */
  maxPages?: number;
}

/** Executes every setup's plan, in the order given, on one backend. */
export async function runTensorPlans(plans: ReadonlyMap<string, TransferRecorder>, options: TensorRunOptions): Promise<TensorPlanReport[]> {
  const backend = await selectBackend(options.backend ?? 'auto');
  const block = kvBlockShape(options.hardware.model, options.hardware.blockSize, options.tensorScale ?? DEFAULT_TENSOR_SCALE);
  const reports: TensorPlanReport[] = [];
  for (const [setup, plan] of plans) {
    reports.push(
      await executeTransferPlan(setup, plan, {
        backend,
        block,
        link: { h2d: options.hardware.h2d, d2h: options.hardware.d2h },
        ...(options.maxPages !== undefined && { maxPages: options.maxPages }),
      }),
    );
  }
  return reports;
}

/** One row per setup and direction with traffic. */
export function renderTensorTable(reports: readonly TensorPlanReport[]): string {
  const first = reports[0];
  if (!first) return '';
  const rows: (string | number)[][] = [];
  for (const report of reports) {
    for (const direction of ['h2d', 'd2h'] as const) {
      const d: DirectionReport = report[direction];
      if (d.transfers === 0 && d.cancelled === 0) continue;
      rows.push([
        report.setup,
        direction,
        `${d.transfers} (${d.cancelled} cancelled)`,
        d.executedPages === d.pages ? String(d.pages) : `${d.executedPages} of ${d.pages}`,
        seconds(d.modelledSeconds),
        `${seconds(d.measuredSeconds)} for ${mib(d.measuredBytes)}`,
        d.measuredBandwidth === null ? '-' : `${(d.measuredBandwidth / 1e9).toFixed(2)} GB/s`,
        d.projectedSeconds === null ? '-' : seconds(d.projectedSeconds),
        d.ratio === null ? '-' : `${d.ratio.toFixed(2)}x`,
        d.verified ? 'ok' : 'MISMATCH',
      ]);
    }
  }
  const heading =
    `Real KV blocks (${first.backend}, block ${formatShape(first.blockShape)} = ${mib(first.blockBytes)} float32, ` +
    `scale ${first.tensorScale.toPrecision(3)} of a ${mib(first.pageBytes)} page):`;
  const table = renderTable(['setup', 'link', 'transfers', 'pages run', 'modelled', 'measured', 'bandwidth', 'projected', 'ratio', 'checksums'], rows);
  return rows.length === 0 ? `${heading}\nno transfers` : `${heading}\n${table}`;
}

function seconds(value: number): string {
  return value >= 1 ? `${value.toFixed(2)} s` : `${(value * 1000).toFixed(1)} ms`;
}

function mib(bytes: number): string {
  return bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 10).toFixed(0)} KiB`;
}

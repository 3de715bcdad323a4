import type { Command } from 'commander';
import { DEFAULT_BLOCK_SIZE } from '../types.js';
import { nativeHashInUse, nativeLoadError, loadNative } from '../native.js';
import { renderTable } from '../report/table.js';
import { MODELS } from '../sim/presets.js';
import { measureBandwidth, type Bandwidth } from '../tensor/bandwidth.js';
import { parseBackendChoice, selectBackend, type BackendAttempt } from '../tensor/backend.js';
import { DEFAULT_TENSOR_SCALE, formatShape, kvBlockShape } from '../tensor/block-shape.js';
import { parseNumber } from './flags.js';
import { emit, runCommand } from './run.js';

interface DoctorFlags {
  backend: string;
  tensorScale?: number;
  json?: boolean;
}

/** Exactly what `kvflow doctor --json` prints (issue 5). */
export interface DoctorReport {
  backend: string;
  tried: BackendAttempt[];
  native: boolean;
  /** Bytes per second, measured by moving real KV blocks. */
  bandwidth: Bandwidth;
}

/**
 * `kvflow doctor`: which tensor backend loaded and why the others did not, the devices, whether the
 * native addon is built, and host <-> device bandwidth measured on real (checksum-verified) KV blocks of
 * Llama-3.1-8B's shape at `--tensor-scale`.
 */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('what kvflow can use here: tensor backend (and why others failed), devices, native addon, measured host<->device bandwidth')
    .option('--backend <name>', 'auto | tfjs-node-gpu | tfjs-node | tfjs-cpu', 'auto')
    .option('--tensor-scale <x>', `share of a real Llama-3.1-8B KV block's elements to move, in (0, 1] (default ${DEFAULT_TENSOR_SCALE})`, (v) => parseNumber(v, 0))
    .option('--json', 'print one JSON document on stdout')
    .action((flags: DoctorFlags) =>
      runCommand(async () => {
        const { report, devices, block } = await diagnose(flags);
        emit(flags.json ? JSON.stringify(report) : renderDoctor(report, devices, block));
      }),
    );
}

async function diagnose(flags: DoctorFlags) {
  const backend = await selectBackend(parseBackendChoice(flags.backend));
  const block = kvBlockShape(MODELS['Llama-3.1-8B'], DEFAULT_BLOCK_SIZE, flags.tensorScale ?? DEFAULT_TENSOR_SCALE);
  const bandwidth = await measureBandwidth(backend, block);
  const report: DoctorReport = { backend: backend.name, tried: backend.tried, native: loadNative() !== undefined, bandwidth };
  return { report, devices: backend.devices, block };
}

function renderDoctor(report: DoctorReport, devices: string[], block: ReturnType<typeof kvBlockShape>): string {
  const tried = report.tried.map((attempt) => [attempt.name, attempt.ok ? 'loaded' : `failed: ${attempt.error}`]);
  const native = report.native
    ? `built${nativeHashInUse() ? ', used for block hashing' : ', not used (KVFLOW_NATIVE=0)'}`
    : `not available (${nativeLoadError() ?? 'unknown'}); the TypeScript path runs`;
  const gbps = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB/s`;
  return [
    renderTable(
      ['check', 'result'],
      [
        ['tensor backend', report.backend],
        ...tried.map(([name, result]) => [`  ${name}`, result!]),
        ...devices.map((device, i) => [i === 0 ? 'devices' : '', device]),
        ['native addon', native],
        ['host -> device', gbps(report.bandwidth.h2d)],
        ['device -> host', gbps(report.bandwidth.d2h)],
      ],
      false,
    ),
    `bandwidth: median of 5 round trips of 32 blocks ${formatShape(block.shape)} (${(block.bytes / 2 ** 10).toFixed(0)} KiB float32 each), checksums verified`,
  ].join('\n');
}

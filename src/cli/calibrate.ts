import type { Command } from 'commander';
import { writeFile } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { renderTable } from '../report/table.js';
import { fitRoofline, type RooflineFit } from '../sim/calibrate.js';
import { readCalibrationCsv } from '../sim/calibration-csv.js';
import { fitLoadPath, readLoadRows, type LoadPathFit } from '../sim/load-calibration.js';
import type { LinkConfig } from '../sim/hardware.js';
import { hardwareFor } from '../config/hardware-input.js';
import { gpuHelp, modelHelp } from '../sim/presets.js';
import { calibrateLink } from '../tensor/bandwidth.js';
import { parseBackendChoice, selectBackend } from '../tensor/backend.js';
import { DEFAULT_TENSOR_SCALE, formatShape, kvBlockShape } from '../tensor/block-shape.js';
import { parseNumber } from './flags.js';
import { checkWritable } from './output-paths.js';
import { emit, runCommand } from './run.js';

export interface CalibrateFlags {
  link?: boolean;
  from?: string;
  loadFrom?: string;
  gpu?: string;
  model?: string;
  config?: string;
  backend?: string;
  tensorScale?: number;
  out?: string;
  json?: boolean;
}

/** `kvflow calibrate --from` result; field names are the `--json` contract. */
export interface RowsCalibration {
  source: string;
  gpu: string;
  model: string;
  rows: number;
  fit: { mfu: number; bandwidthEfficiency: number; iterationOverhead: number };
  identified: RooflineFit['identified'];
  boundRows: RooflineFit['boundRows'];
  error: RooflineFit['error'];
  /** The config document written to `out` (only the coefficients the rows determine, within range). */
  config: Record<string, unknown>;
  out: string | null;
  warnings: string[];
}

/** `kvflow calibrate --link` result; field names are the `--json` contract. */
export interface LinkCalibrationResult {
  backend: string;
  blockShape: number[];
  blockBytes: number;
  h2d: LinkConfig;
  d2h: LinkConfig;
  samples: { direction: 'h2d' | 'd2h'; blocks: number; bytes: number; seconds: number }[];
  config: Record<string, unknown>;
  out: string | null;
}

/**
 * `kvflow calibrate`: measure the host link by moving real KV blocks (`--link`), or fit the roofline
 * coefficients to measured iterations (`--from rows.csv`). Either way `--out FILE` writes a config that
 * `kvflow simulate --config FILE` accepts.
 */
export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description('measure the host link (--link) or fit the cost model to measured iterations (--from rows.csv); --out writes a --config file')
    .option('--link', 'measure host<->device bandwidth, latency and concurrency by moving real KV blocks (tfjs)')
    .option('--from <rows.csv>', 'fit mfu, bandwidthEfficiency and iterationOverhead to measured iterations (columns batch_tokens, context_tokens, seconds[, kind])')
    .option('--load-from <rows.csv>', 'fit the layer-wise host load path (gather, copy, per-layer sync) to measured loads (columns bytes, layers, seconds[, stage]; bench/gpu/)')
    .option('--gpu <name>', `the GPU the rows were measured on: ${gpuHelp()} (default A10G)`)
    .option('--model <name>', `${modelHelp()} (default Llama-3.1-8B); with --link it shapes the blocks`)
    .option('--config <file>', 'hardware config to start from (its gpu, model and presets)')
    .option('--backend <name>', 'with --link: auto | tfjs-node-gpu | tfjs-node | tfjs-cpu', 'auto')
    .option('--tensor-scale <x>', `with --link: share of a real KV block's elements to move, in (0, 1] (default ${DEFAULT_TENSOR_SCALE})`, (v) => parseNumber(v, 0))
    .option('--out <file>', 'write the result as a hardware config file')
    .option('--json', 'print one JSON document on stdout')
    .action((flags: CalibrateFlags) =>
      runCommand(async () => {
        const { from, loadFrom } = flags;
        const modes = [flags.link, from, loadFrom].filter((given) => given !== undefined && given !== false).length;
        if (modes !== 1) throw InputError.flag('--link/--from/--load-from', 'give exactly one of --link, --from FILE or --load-from FILE');
        if (loadFrom !== undefined) {
          const result = await calibrateLoadPath({ ...flags, loadFrom });
          emit(flags.json ? JSON.stringify(result) : renderLoadPath(result));
        } else if (from === undefined) {
          const result = await calibrateLinkCommand(flags);
          emit(flags.json ? JSON.stringify(result) : renderLink(result));
        } else {
          const result = await calibrateFromRows({ ...flags, from });
          emit(flags.json ? JSON.stringify(result) : renderRows(result));
        }
      }),
    );
}

function hardwareOf(flags: CalibrateFlags) {
  return hardwareFor(
    {
      ...(flags.gpu !== undefined && { gpu: flags.gpu }),
      ...(flags.model !== undefined && { model: flags.model }),
      ...(flags.config !== undefined && { config: flags.config }),
    },
    undefined,
    'flags',
  );
}

/** Fits the rows of `flags.from` and writes `flags.out` if given. */
export async function calibrateFromRows(flags: CalibrateFlags & { from: string }): Promise<RowsCalibration> {
  checkWritable(flags.out, '--out');
  const hardware = await hardwareOf(flags);
  const rows = await readCalibrationCsv(flags.from);
  const fit = fitRoofline(rows, hardware, flags.from);
  const warnings: string[] = [];
  const config: Record<string, unknown> = {
    description: `kvflow calibrate --from ${flags.from}: ${rows.length} rows on ${hardware.gpu.name} with ${hardware.model.name}`,
    gpu: hardware.gpu.name,
    model: hardware.model.name,
  };
  const fitted = { mfu: fit.mfu, bandwidthEfficiency: fit.bandwidthEfficiency, iterationOverhead: fit.iterationOverhead };
  for (const [name, value] of Object.entries(fitted) as [keyof typeof fitted, number][]) {
    if (!fit.identified[name]) warnings.push(`${name}: no row is bound by it, so the rows do not determine it; kept ${value}`);
    else if (name !== 'iterationOverhead' && value > 1) warnings.push(`${name}: fitted ${value.toFixed(3)} > 1 (faster than the preset's peak): check --gpu and --model; not written`);
    else config[name] = value;
  }
  if (flags.out !== undefined) await writeFile(flags.out, `${JSON.stringify(config, null, 2)}\n`);
  return {
    source: flags.from,
    gpu: hardware.gpu.name,
    model: hardware.model.name,
    rows: fit.rows,
    fit: fitted,
    identified: fit.identified,
    boundRows: fit.boundRows,
    error: fit.error,
    config,
    out: flags.out ?? null,
    warnings,
  };
}

/** `kvflow calibrate --load-from` result; field names are the `--json` contract. */
export interface LoadPathCalibration {
  source: string;
  gpu: string;
  fit: LoadPathFit;
  /** The config document written to `out`. */
  config: Record<string, unknown>;
  out: string | null;
  warnings: string[];
}

/**
 * Fits the load path to the rows of `flags.loadFrom` and writes `flags.out` if given. With `load` rows
 * only, the gather and the copy are not separated: the host copy bandwidth written is the one that gives
 * the fitted total under the model's pageable copy (the link, capped by the host copy bandwidth).
 */
export async function calibrateLoadPath(flags: CalibrateFlags & { loadFrom: string }): Promise<LoadPathCalibration> {
  const hardware = await hardwareOf(flags);
  const fit = fitLoadPath(await readLoadRows(flags.loadFrom), flags.loadFrom);
  const warnings: string[] = [];
  let loadPath: Record<string, number>;
  if (fit.hostCopyBandwidth !== undefined && fit.copyBandwidth !== undefined) {
    loadPath = { hostCopyBandwidth: fit.hostCopyBandwidth, pageableBandwidth: fit.copyBandwidth, syncLatency: fit.syncLatency };
  } else {
    const link = hardware.h2d.bandwidth;
    const perByte = 1 / fit.combinedBandwidth;
    // 1/H + 1/min(link, H) = perByte: H <= link gives H = 2 / perByte, otherwise 1/H = perByte - 1/link.
    const host = 2 / perByte <= link ? 2 / perByte : 1 / (perByte - 1 / link);
    warnings.push('only whole-load rows: gather and copy are not separated (add stage gather/copy rows); hostCopyBandwidth assumes the pageable copy runs at min(link, host copy)');
    loadPath = Number.isFinite(host) && host > 0 ? { hostCopyBandwidth: host, syncLatency: fit.syncLatency } : { syncLatency: fit.syncLatency };
  }
  const config = {
    description: `kvflow calibrate --load-from ${flags.loadFrom}: ${fit.rows} rows on ${hardware.gpu.name}`,
    gpu: hardware.gpu.name,
    loadPath,
  };
  if (flags.out !== undefined) await writeFile(flags.out, `${JSON.stringify(config, null, 2)}\n`);
  return { source: flags.loadFrom, gpu: hardware.gpu.name, fit, config, out: flags.out ?? null, warnings };
}

function renderLoadPath(result: LoadPathCalibration): string {
  const { fit } = result;
  const rate = (bytesPerSecond: number | undefined) => (bytesPerSecond === undefined ? 'not separated' : `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`);
  const table = renderTable(
    ['term', 'fitted'],
    [
      ['host gather', rate(fit.hostCopyBandwidth)],
      ['per-layer copy', rate(fit.copyBandwidth)],
      ['gather + copy', rate(fit.combinedBandwidth)],
      ['per-layer sync', `${(fit.syncLatency * 1e6).toFixed(1)} us`],
      ['mean / max relative error', `${(fit.error.meanRelativeError * 100).toFixed(2)}% / ${(fit.error.maxRelativeError * 100).toFixed(2)}%`],
    ],
  );
  return [`${result.source}: ${fit.rows} rows on ${result.gpu}`, table, ...result.warnings.map((w) => `warning: ${w}`), ...(result.out ? [`wrote ${result.out}`] : [])].join('\n');
}

/** Measures the link with real blocks and writes `flags.out` if given. */
export async function calibrateLinkCommand(flags: CalibrateFlags): Promise<LinkCalibrationResult> {
  checkWritable(flags.out, '--out');
  const backend = await selectBackend(parseBackendChoice(flags.backend ?? 'auto'));
  const hardware = await hardwareOf(flags);
  const block = kvBlockShape(hardware.model, hardware.blockSize, flags.tensorScale ?? DEFAULT_TENSOR_SCALE);
  const link = await calibrateLink(backend, block);
  const config = {
    description: [
      `kvflow calibrate --link: measured with ${backend.name} (${backend.devices.join('; ')})`,
      `moving ${formatShape(block.shape)} float32 KV blocks (${block.bytes} bytes) on ${new Date().toISOString().slice(0, 10)}`,
    ],
    h2d: link.h2d,
    d2h: link.d2h,
  };
  if (flags.out !== undefined) await writeFile(flags.out, `${JSON.stringify(config, null, 2)}\n`);
  return {
    backend: backend.name,
    blockShape: [...block.shape],
    blockBytes: block.bytes,
    h2d: link.h2d,
    d2h: link.d2h,
    samples: link.samples,
    config,
    out: flags.out ?? null,
  };
}

function renderRows(result: RowsCalibration): string {
  const row = (name: keyof RowsCalibration['fit'], value: string, bound: string) => [
    name,
    value,
    result.identified[name] ? `yes${bound}` : 'no (kept the preset)',
  ];
  return [
    `calibrate: ${result.rows} rows from ${result.source}, ${result.gpu} with ${result.model}`,
    renderTable(
      ['coefficient', 'fitted', 'determined'],
      [
        row('mfu', result.fit.mfu.toFixed(4), ` (${result.boundRows.compute} compute-bound rows)`),
        row('bandwidthEfficiency', result.fit.bandwidthEfficiency.toFixed(4), ` (${result.boundRows.memory} memory-bound rows)`),
        row('iterationOverhead', `${(result.fit.iterationOverhead * 1000).toFixed(3)} ms`, ''),
      ],
    ),
    `fit error: rmse ${(result.error.rmseSeconds * 1000).toFixed(3)} ms, mean ${(result.error.meanRelativeError * 100).toFixed(2)}%, ` +
      `max ${(result.error.maxRelativeError * 100).toFixed(2)}% of the measured time`,
    ...result.warnings.map((warning) => `warning: ${warning}`),
    result.out ? `config: ${result.out} (use with kvflow simulate --config)` : 'add --out FILE to write these as a config for kvflow simulate --config',
  ].join('\n');
}

function renderLink(result: LinkCalibrationResult): string {
  const row = (name: 'h2d' | 'd2h') => {
    const link = result[name];
    return [name, `${(link.bandwidth / 1e9).toFixed(2)} GB/s`, `${(link.latency * 1e6).toFixed(1)} us`, link.concurrency];
  };
  return [
    `calibrate --link: ${result.backend}, blocks ${formatShape(result.blockShape)} (${(result.blockBytes / 2 ** 10).toFixed(0)} KiB float32)`,
    renderTable(['link', 'bandwidth', 'latency', 'concurrency'], [row('h2d'), row('d2h')]),
    result.out ? `config: ${result.out} (use with kvflow simulate --config)` : 'add --out FILE to write these as a config for kvflow simulate --config',
  ].join('\n');
}

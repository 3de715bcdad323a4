/**
 * `kvflow calibrate --load-from rows.csv`: fits the layer-wise load path (load-path.ts) to measured host
 * loads, as `--from` fits the roofline. One row is one measured operation:
 *
 *   bytes,layers,seconds[,stage]
 *
 * - `stage` `load` (the default): a whole host-to-device load of `bytes` over `layers` layers, timed from
 *   the first gather to the last layer's synchronisation: seconds = bytes x (gather + copy) + layers x sync.
 * - `stage` `gather`: the host gathers alone: seconds = bytes x gather.
 * - `stage` `copy`: the per-layer copies and synchronisations alone: seconds = bytes x copy + layers x sync.
 *
 * gather and copy are seconds per byte (1 / bandwidth). With `load` rows only, gather and copy cannot be
 * told apart (both scale with bytes): their sum is fitted and reported as not separated. Column order is
 * free, names case-insensitive, `#` comments and blank lines skipped; problems read `file:line: column: problem`.
 * bench/gpu/load_rows.py produces these rows on a machine with a GPU and SGLang.
 */
import { InputError } from '../errors.js';
import { readInputText } from '../input-files.js';
import { solveLeastSquares } from './calibrate.js';
import { csvCells } from './calibration-csv.js';

export const LOAD_STAGES = ['load', 'gather', 'copy'] as const;
export type LoadStage = (typeof LOAD_STAGES)[number];
const REQUIRED = ['bytes', 'layers', 'seconds'] as const;
type Column = (typeof REQUIRED)[number] | 'stage';

export interface LoadRow {
  line: number;
  stage: LoadStage;
  bytes: number;
  layers: number;
  seconds: number;
}

export interface LoadPathFit {
  rows: number;
  /** Bytes/s of the host gather (undefined when the rows cannot separate it from the copy). */
  hostCopyBandwidth: number | undefined;
  /** Bytes/s of the per-layer copies (undefined when not separated). */
  copyBandwidth: number | undefined;
  /** Bytes/s of gather and copy together (always determined). */
  combinedBandwidth: number;
  /** Seconds of each layer's copy call and synchronisation. */
  syncLatency: number;
  error: { meanRelativeError: number; maxRelativeError: number };
}

export async function readLoadRows(path: string): Promise<LoadRow[]> {
  return parseLoadRows(await readInputText(path), path);
}

export function parseLoadRows(text: string, file: string): LoadRow[] {
  let header: Map<Column, number> | undefined;
  let lastLine = 1;
  const rows: LoadRow[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    lastLine = line;
    const fields = trimmed.split(',').map((field) => field.trim());
    if (!header) {
      header = new Map();
      fields.forEach((name, at) => {
        const column = name.toLowerCase() as Column;
        if ([...REQUIRED, 'stage'].includes(column)) header!.set(column, at);
      });
      for (const column of REQUIRED) {
        if (!header.has(column)) throw InputError.atLine(file, line, column, `missing column (the header must name ${REQUIRED.join(', ')}; stage is optional)`);
      }
      return;
    }
    const { field, number } = csvCells(fields, header, file, line);
    const stage = (header.has('stage') ? field('stage').toLowerCase() : '') || 'load';
    if (!(LOAD_STAGES as readonly string[]).includes(stage)) {
      throw InputError.atLine(file, line, 'stage', `expected ${LOAD_STAGES.join(', ')}, got ${JSON.stringify(field('stage'))}`);
    }
    rows.push({
      line,
      stage: stage as LoadStage,
      bytes: number('bytes', (v) => v > 0, 'a number of bytes > 0'),
      layers: number('layers', (v) => Number.isSafeInteger(v) && v >= 1, 'an integer >= 1'),
      seconds: number('seconds', (v) => v > 0, 'a number of seconds > 0'),
    });
  });
  if (!header) throw InputError.atLine(file, 1, 'header', `no header; expected one naming ${REQUIRED.join(', ')}`);
  if (rows.length < 2) throw InputError.atLine(file, lastLine, 'rows', `${rows.length} data rows; at least 2 are needed to fit a per-byte and a per-layer term`);
  return rows;
}

/**
 * Least squares on the relative error. Unknowns: gather and copy seconds per byte and the per-layer
 * synchronisation; without gather or copy rows, gather + copy is one unknown.
 */
export function fitLoadPath(rows: readonly LoadRow[], source = 'rows'): LoadPathFit {
  const separated = rows.some((row) => row.stage === 'gather') || rows.some((row) => row.stage === 'copy');
  const design = rows.map((row) => {
    const gather = row.stage === 'copy' ? 0 : row.bytes;
    const copy = row.stage === 'gather' ? 0 : row.bytes;
    const sync = row.stage === 'gather' ? 0 : row.layers;
    return separated ? [gather, copy, sync] : [row.bytes, sync];
  });
  const solution = solveLeastSquares(
    design,
    rows.map((row) => row.seconds),
    rows.map((row) => 1 / (row.seconds * row.seconds)),
  );
  if (!solution) throw InputError.atPath(source, 'rows', 'the rows do not determine the terms (vary bytes and layers across rows)');
  const [gather, copy, sync] = separated ? (solution as [number, number, number]) : [undefined, undefined, solution[1]!];
  const combined = separated ? gather! + copy! : solution[0]!;
  if (!(combined > 0) || (separated && !(gather! > 0 && copy! > 0))) {
    throw InputError.atPath(source, 'rows', 'the fit gives a non-positive per-byte cost: check the rows');
  }
  const syncLatency = Math.max(0, sync!);
  const predict = (row: LoadRow) =>
    row.stage === 'gather' ? row.bytes * gather! : row.stage === 'copy' ? row.bytes * copy! + row.layers * syncLatency : row.bytes * combined + row.layers * syncLatency;
  let relative = 0;
  let maxRelative = 0;
  for (const row of rows) {
    const r = Math.abs(predict(row) - row.seconds) / row.seconds;
    relative += r;
    maxRelative = Math.max(maxRelative, r);
  }
  return {
    rows: rows.length,
    hostCopyBandwidth: separated ? 1 / gather! : undefined,
    copyBandwidth: separated ? 1 / copy! : undefined,
    combinedBandwidth: 1 / combined,
    syncLatency,
    error: { meanRelativeError: relative / rows.length, maxRelativeError: maxRelative },
  };
}

/**
 * Measured iteration times for `kvflow calibrate --from rows.csv`. One row is one engine iteration:
 *
 *   batch_tokens,context_tokens,seconds[,kind]
 *
 * - `kind` `prefill` (the default when the column is absent or empty): one prefill chunk computing
 *   `batch_tokens` new prompt tokens after `context_tokens` tokens already in the KV cache.
 * - `kind` `decode`: `batch_tokens` requests each generating one token, each attending to
 *   `context_tokens` tokens of context.
 * - `seconds`: the measured wall time of the iteration.
 *
 * Column order is free, names are case-insensitive, other columns are ignored; blank lines and lines
 * starting with `#` are skipped. Problems are reported as `file:line: column: problem`.
 */
import { InputError } from '../errors.js';
import { readInputText } from '../input-files.js';

export const CALIBRATION_COLUMNS = ['batch_tokens', 'context_tokens', 'seconds'] as const;
export const OPTIONAL_CALIBRATION_COLUMNS = ['kind'] as const;
export const ROW_KINDS = ['prefill', 'decode'] as const;
export type RowKind = (typeof ROW_KINDS)[number];
/**
 * Most rows a calibration reads: fitting tries every split of the rows into the two regimes, which
 * costs rows^2; measured iterations of one engine rarely need more than a few thousand.
 */
export const MAX_CALIBRATION_ROWS = 10_000;

/** Three coefficients need at least three rows. */
export const MIN_CALIBRATION_ROWS = 3;

export interface CalibrationRow {
  /** Line in the file, from 1. */
  line: number;
  kind: RowKind;
  batchTokens: number;
  contextTokens: number;
  seconds: number;
}

type Column = (typeof CALIBRATION_COLUMNS)[number] | (typeof OPTIONAL_CALIBRATION_COLUMNS)[number];

export async function readCalibrationCsv(path: string): Promise<CalibrationRow[]> {
  return parseCalibrationCsv(await readInputText(path), path);
}

export function parseCalibrationCsv(text: string, file: string): CalibrationRow[] {
  const lines = text.split(/\r?\n/);
  let header: Map<Column, number> | undefined;
  let fieldCount = 0;
  let lastLine = 1;
  const rows: CalibrationRow[] = [];
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    lastLine = line;
    const fields = trimmed.split(',').map((field) => field.trim());
    if (!header) {
      header = parseHeader(fields, file, line);
      fieldCount = fields.length;
      return;
    }
    if (fields.length !== fieldCount) {
      throw InputError.atLine(file, line, 'row', `expected ${fieldCount} comma-separated fields as in the header, got ${fields.length}`);
    }
    if (rows.length === MAX_CALIBRATION_ROWS) {
      throw InputError.atLine(file, line, 'rows', `more than ${MAX_CALIBRATION_ROWS.toLocaleString('en-US')} data rows; sample them (a few thousand are plenty)`);
    }
    rows.push(parseRow(fields, header, file, line));
  });
  if (!header) {
    throw InputError.atLine(file, 1, 'header', `no header; expected one naming ${CALIBRATION_COLUMNS.join(', ')}`);
  }
  if (rows.length < MIN_CALIBRATION_ROWS) {
    throw InputError.atLine(
      file,
      lastLine,
      'rows',
      `${rows.length} data row${rows.length === 1 ? '' : 's'}; at least ${MIN_CALIBRATION_ROWS} are needed to fit mfu, bandwidthEfficiency and iterationOverhead`,
    );
  }
  return rows;
}

function parseHeader(fields: string[], file: string, line: number): Map<Column, number> {
  const known = new Set<string>([...CALIBRATION_COLUMNS, ...OPTIONAL_CALIBRATION_COLUMNS]);
  const header = new Map<Column, number>();
  fields.forEach((field, index) => {
    const name = field.toLowerCase();
    if (!known.has(name)) return;
    if (header.has(name as Column)) throw InputError.atLine(file, line, name, 'column named twice');
    header.set(name as Column, index);
  });
  for (const column of CALIBRATION_COLUMNS) {
    if (!header.has(column)) {
      throw InputError.atLine(
        file,
        line,
        column,
        `missing column (the header must name ${CALIBRATION_COLUMNS.join(', ')}; ${OPTIONAL_CALIBRATION_COLUMNS.join(', ')} is optional)`,
      );
    }
  }
  return header;
}

/**
 * The cells of one CSV row by column name; `number` reads one that must be a finite number passing
 * `accept`, else it is an error at `file:line: column`. Shared by the calibration CSV readers.
 */
export function csvCells<C extends string>(fields: readonly string[], header: ReadonlyMap<C, number>, file: string, line: number) {
  const field = (column: C): string => fields[header.get(column)!] ?? '';
  const number = (column: C, accept: (value: number) => boolean, expected: string): number => {
    const text = field(column);
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || !accept(value)) {
      throw InputError.atLine(file, line, column, `expected ${expected}, got ${text === '' ? 'nothing' : JSON.stringify(text)}`);
    }
    return value;
  };
  return { field, number };
}

function parseRow(fields: string[], header: Map<Column, number>, file: string, line: number): CalibrationRow {
  const { field, number } = csvCells(fields, header, file, line);
  const kindText = header.has('kind') ? field('kind').toLowerCase() : '';
  if (kindText !== '' && !(ROW_KINDS as readonly string[]).includes(kindText)) {
    throw InputError.atLine(file, line, 'kind', `expected ${ROW_KINDS.join(' or ')}, got ${JSON.stringify(field('kind'))}`);
  }
  return {
    line,
    kind: (kindText || 'prefill') as RowKind,
    batchTokens: number('batch_tokens', (v) => Number.isSafeInteger(v) && v >= 1, 'an integer >= 1'),
    contextTokens: number('context_tokens', (v) => Number.isSafeInteger(v) && v >= 0, 'an integer >= 0'),
    seconds: number('seconds', (v) => v > 0, 'a number of seconds > 0'),
  };
}

/**
 * Importer for the Azure LLM inference traces (Azure/AzurePublicDataset, Splitwise, see
 * ../shared/traces/SOURCES.md): CSV with a header `TIMESTAMP,ContextTokens,GeneratedTokens`, one
 * request per row. The trace has lengths only, so every request gets blocks of its own (no sharing);
 * arrival times become seconds since the first row.
 */
import { InputError } from '../errors.js';
import type { TraceRequest } from '../types.js';
import type { Line, LineParser } from './lines.js';
import { AZURE_HEADER } from './format-markers.js';
import { describeValue, expectedGot } from './problem.js';
import { UniqueBlockIds } from './unique-blocks.js';

/** Field name for problems with the header line or a row's shape (no one column to blame). */
export const HEADER_FIELD = '(header)';
export const ROW_FIELD = '(row)';

const TIMESTAMP = 'TIMESTAMP';
const CONTEXT_TOKENS = 'ContextTokens';
const GENERATED_TOKENS = 'GeneratedTokens';
const REQUIRED_COLUMNS = [TIMESTAMP, CONTEXT_TOKENS, GENERATED_TOKENS] as const;

/** Azure rows carry no id; the line number makes one that is unique and easy to trace back. */
export function azureId(line: number): string {
  return `az-${line}`;
}

/** Which cell holds each required column: the header decides, so extra columns are allowed. */
interface ColumnLayout {
  width: number;
  timestamp: number;
  contextTokens: number;
  generatedTokens: number;
}

/**
 * Reads the header, then one request per row in file order, checking that timestamps never go
 * backwards. Cells are split on ',' only: the published files quote nothing.
 */
export class AzureLineParser implements LineParser<TraceRequest> {
  private layout: ColumnLayout | undefined;
  private readonly blocks = new UniqueBlockIds();
  /** The first valid row's time: t = 0. */
  private origin: WallTime | undefined;
  private last: { time: WallTime; text: string; line: number } | undefined;

  /** `blockSize` is the tokens per (unshared) block of the requests made. */
  constructor(
    private readonly file: string,
    private readonly blockSize: number,
  ) {}

  parse(line: Line): TraceRequest | undefined {
    if (this.layout === undefined) {
      this.layout = this.readHeader(line);
      return undefined;
    }
    const fail = (field: string, problem: string) => InputError.atLine(this.file, line.line, field, problem);
    const layout = this.layout;
    const cells = line.text.split(',');
    if (cells.length > layout.width) {
      throw fail(ROW_FIELD, `expected ${layout.width} comma-separated columns (as the header), got ${cells.length}`);
    }
    const cell = (index: number, column: string) => {
      const text = cells[index];
      if (text === undefined) throw fail(column, `missing (the row has ${cells.length} of ${layout.width} columns)`);
      return text.trim();
    };

    const timestampText = cell(layout.timestamp, TIMESTAMP);
    const time = parseWallTime(timestampText);
    if (time === undefined) {
      throw fail(TIMESTAMP, expectedGot('a time "YYYY-MM-DD HH:MM:SS.fffffff"', timestampText));
    }
    const inputLength = parseCount(cell(layout.contextTokens, CONTEXT_TOKENS), 1, CONTEXT_TOKENS, fail);
    const outputLength = parseCount(cell(layout.generatedTokens, GENERATED_TOKENS), 0, GENERATED_TOKENS, fail);
    if (this.last !== undefined && compareWallTimes(time, this.last.time) < 0) {
      throw fail(TIMESTAMP, `goes backwards: ${timestampText} after ${this.last.text} on line ${this.last.line}`);
    }

    this.origin ??= time;
    this.last = { time, text: timestampText, line: line.line };
    return {
      id: azureId(line.line),
      t: secondsBetween(this.origin, time),
      blocks: this.blocks.forPrompt(inputLength, this.blockSize),
      blockSize: this.blockSize,
      inputLength,
      outputLength,
    };
  }

  /** The first line must be a header naming the three columns (in any order, once each). */
  private readHeader(line: Line): ColumnLayout {
    const names = line.text.split(',').map((name) => name.trim());
    const indexOf = (column: string) => {
      const index = names.indexOf(column);
      if (index === -1 || names.indexOf(column, index + 1) !== -1) {
        const found = index === -1 ? `no column ${column}` : `column ${column} appears twice`;
        const problem = `expected a header with ${REQUIRED_COLUMNS.join(', ')}: ${found} in ${describeValue(line.text)}`;
        throw InputError.atLine(this.file, line.line, HEADER_FIELD, problem);
      }
      return index;
    };
    return {
      width: names.length,
      timestamp: indexOf(TIMESTAMP),
      contextTokens: indexOf(CONTEXT_TOKENS),
      generatedTokens: indexOf(GENERATED_TOKENS),
    };
  }
}

/** A CSV cell holding a count >= `min`, worded like the JSON readers' integer fields. */
function parseCount(
  text: string,
  min: 0 | 1,
  column: string,
  fail: (field: string, problem: string) => InputError,
): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw fail(column, expectedGot(min === 0 ? 'a non-negative integer' : 'an integer >= 1', text));
  }
  return value;
}

/**
 * A wall-clock time split into whole seconds since the epoch and nanoseconds, so that differences
 * keep the file's 100 ns precision (one double for epoch seconds plus 7 decimals would not).
 */
interface WallTime {
  seconds: number;
  nanos: number;
}

type Six<T> = [T, T, T, T, T, T];

const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** `YYYY-MM-DD HH:MM:SS[.fraction]` as UTC (the files give no zone), or undefined if malformed. */
function parseWallTime(text: string): WallTime | undefined {
  const match = WALL_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as Six<number>;
  const epochMs = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls over out-of-range parts (month 13, 25:00); a real time round-trips unchanged.
  const date = new Date(epochMs);
  const realDate = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!realDate || hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = match[7] ?? '';
  return { seconds: epochMs / 1000, nanos: Number(fraction.padEnd(9, '0')) };
}

function compareWallTimes(a: WallTime, b: WallTime): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}

/** Seconds from `from` to `to`, computed in integer nanoseconds and rounded once. */
function secondsBetween(from: WallTime, to: WallTime): number {
  return ((to.seconds - from.seconds) * 1e9 + (to.nanos - from.nanos)) / 1e9;
}

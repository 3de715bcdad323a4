/**
 * Reading a trace file of any supported format into canonical requests, streaming or whole. This is
 * where format detection, `skipInvalid` and the empty-file check live; line formats know none of it.
 */
import { InputError } from '../errors.js';
import type { ReadTraceOptions, Trace, TraceFormat, TraceRequest } from '../types.js';
import { CanonicalLineParser, DEFAULT_BLOCK_SIZE } from './canonical.js';
import { readLines, type Line, type LineParser } from './lines.js';
import { MOONCAKE_MARKER_KEY, MooncakeLineParser } from './mooncake.js';
import { expectedGot, parseJsonLine, ROOT_FIELD } from './problem.js';
import { isJsonObject } from './schemas.js';

/** What a stream learned about its file; filled in as it is read, final once the stream ends. */
export interface TraceStats {
  /** The format read: known from the first line that is a JSON object (under `auto`). */
  format: TraceFormat | undefined;
  /** Invalid lines skipped under `skipInvalid`. */
  skipped: number;
}

export interface StreamTraceOptions extends ReadTraceOptions {
  /** Filled in while streaming: the caller's window on the detected format and the skip count. */
  stats?: TraceStats;
}

const FORMAT_CHOICES = ['auto', 'kvflow', 'mooncake'] as const;

/**
 * Yields the requests of a trace file in file order, validating each line. Throws `InputError`
 * (`file:line: field: problem`) at the first invalid line unless `skipInvalid` is set, and
 * `<path>: empty trace` at the end if the file held no request.
 */
export async function* streamTrace(path: string, opts: StreamTraceOptions = {}): AsyncGenerator<TraceRequest> {
  const requested = checkFormat(opts.format);
  const blockSize = checkBlockSize(opts.blockSize);
  const stats = opts.stats ?? { format: undefined, skipped: 0 };
  let parser: LineParser<TraceRequest> | undefined;
  let requests = 0;

  for await (const line of readLines(path)) {
    let request: TraceRequest | undefined;
    try {
      if (parser === undefined) {
        stats.format = requested === 'auto' ? detectFormat(path, line) : requested;
        parser = stats.format === 'mooncake' ? new MooncakeLineParser(path) : new CanonicalLineParser(path, blockSize);
      }
      request = parser.parse(line);
    } catch (err) {
      if (!(opts.skipInvalid && err instanceof InputError)) throw err;
      stats.skipped++;
      continue;
    }
    if (request === undefined) continue; // a header line
    requests++;
    yield request;
  }

  if (requests === 0) {
    const { skipped } = stats;
    const note = skipped === 0 ? '' : ` (${skipped} invalid line${skipped === 1 ? '' : 's'} skipped)`;
    throw new InputError(`${path}: empty trace${note}`);
  }
}

/** Reads a whole trace file into memory; see `streamTrace` for validation and errors. */
export async function readTrace(path: string, opts: ReadTraceOptions = {}): Promise<Trace> {
  const stats: TraceStats = { format: undefined, skipped: 0 };
  const requests: TraceRequest[] = [];
  for await (const request of streamTrace(path, { ...opts, stats })) requests.push(request);
  // A trace with requests has had a first line, so its format is known.
  return { path, format: stats.format ?? 'kvflow', requests, skipped: stats.skipped };
}

/**
 * `auto`: Mooncake when the first line that is a JSON object has `hash_ids`, else kvflow. A line
 * before that one is invalid in every format: it throws the error either parser would give, so that
 * under `skipInvalid` a damaged first line does not decide the format of the whole file.
 */
function detectFormat(file: string, line: Line): TraceFormat {
  const value = parseJsonLine(file, line);
  if (!isJsonObject(value)) throw InputError.atLine(file, line.line, ROOT_FIELD, expectedGot('a JSON object', value));
  return Object.hasOwn(value, MOONCAKE_MARKER_KEY) ? 'mooncake' : 'kvflow';
}

function checkFormat(format: ReadTraceOptions['format']): (typeof FORMAT_CHOICES)[number] {
  const choice = format ?? 'auto';
  if (!(FORMAT_CHOICES as readonly string[]).includes(choice)) {
    throw InputError.flag('format', `expected one of ${FORMAT_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`);
  }
  return choice;
}

function checkBlockSize(blockSize: number | undefined): number {
  if (blockSize === undefined) return DEFAULT_BLOCK_SIZE;
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) {
    throw InputError.flag('block size', `expected an integer >= 1, got ${blockSize}`);
  }
  return blockSize;
}

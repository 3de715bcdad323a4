/**
 * Reading a trace file of any supported format into canonical requests, streaming or whole. This is
 * where format detection, `skipInvalid` and the empty-file check live; line formats know none of it.
 */
import { InputError } from '../errors.js';
import { DEFAULT_BLOCK_SIZE, type ReadTraceOptions, type Trace, type TraceFormat, type TraceRequest } from '../types.js';
import { AZURE_HEADER, LMCACHE_MARKER_KEYS, MOONCAKE_MARKER_KEY, SERVINGSIM_MARKER_KEY } from './format-markers.js';
import { readLineChunks, type Line, type LineChunk, type LineParser } from './lines.js';
import { expectedGot, parseJsonLine, ROOT_FIELD } from './problem.js';
import { isJsonObject } from './schemas.js';

/** What a stream learned about its file; filled in as it is read, final once the stream ends. */
export interface TraceStats {
  /** The format read: known from the first line that is an Azure header or a JSON object (under `auto`). */
  format: TraceFormat | undefined;
  /** Invalid lines skipped under `skipInvalid`. */
  skipped: number;
}

export interface StreamTraceOptions extends ReadTraceOptions {
  /** Filled in while streaming: the caller's window on the detected format and the skip count. */
  stats?: TraceStats;
  /** Under `skipInvalid`, called with the problem of each line skipped (`kvflow trace validate`). */
  onInvalid?: (problem: InputError) => void;
}

/** A trace file that holds no request: bad input like any other, but about no line in particular. */
export class EmptyTraceError extends InputError {}

/** Every format, in the order help texts list them. */
export const TRACE_FORMATS = [
  'kvflow',
  'mooncake',
  'azure',
  'lmcache',
  'servingsim',
] as const satisfies readonly TraceFormat[];
/** What `--format` accepts: a format, or `auto` to detect it from the first line. */
export const FORMAT_CHOICES = ['auto', ...TRACE_FORMATS] as const;

/** Most formats give one request per line; LLMServingSim gives a whole session (any number). */
type RequestParser = LineParser<TraceRequest> | LineParser<TraceRequest[]>;

/**
 * Yields the requests of a trace file in file order, validating each line. Throws `InputError`
 * (`file:line: field: problem`) at the first invalid line unless `skipInvalid` is set, and
 * `EmptyTraceError` (`<path>: empty trace`) at the end if the file held no request.
 */
export async function* streamTrace(path: string, opts: StreamTraceOptions = {}): AsyncGenerator<TraceRequest> {
  for await (const batch of streamTraceBatches(path, opts)) for (const request of batch) yield request;
}

/**
 * `streamTrace` a chunk of lines at a time (lines parse synchronously; one await per chunk, which for a
 * consumer that is itself synchronous per request saves an await per request). Batches are never empty. A
 * line that fails ends the stream after the requests of the lines before it are yielded, as line by line.
 */
export async function* streamTraceBatches(path: string, opts: StreamTraceOptions = {}): AsyncGenerator<TraceRequest[]> {
  const requested = checkFormat(opts.format);
  const blockSize = checkBlockSize(opts.blockSize);
  const stats = opts.stats ?? { format: undefined, skipped: 0 };
  let parser: RequestParser | undefined;
  let requests = 0;

  for await (const chunk of readLineChunks(path)) {
    const batch: TraceRequest[] = [];
    let failure: Failure | undefined;
    let from = 0;
    // Until there is a reader, lines are taken as text: the first that is not invalid decides the format.
    while (parser === undefined && from < chunk.count) {
      const line = chunk.line(from++);
      try {
        stats.format = requested === 'auto' ? detectFormat(path, line) : requested;
        parser = await createParser(stats.format, path, blockSize, opts.tokenizer);
        addParsed(batch, parser.parse(line));
      } catch (error) {
        failure = skipOrFail(error, opts, stats);
        if (failure) break;
      }
    }
    if (failure === undefined && parser !== undefined) failure = parseLines(parser, chunk, from, batch, opts, stats);
    requests += batch.length;
    if (batch.length > 0) yield batch;
    if (failure) throw failure.error;
  }

  if (requests === 0) {
    const { skipped } = stats;
    const note = skipped === 0 ? '' : ` (${skipped} invalid line${skipped === 1 ? '' : 's'} skipped)`;
    throw new EmptyTraceError(`${path}: empty trace${note}`);
  }
}

/** What ended a chunk early: a line's error that is not skipped. */
interface Failure {
  error: unknown;
}

/**
 * Lines `from..` of `chunk` into `batch`. The hot loop of reading, kept out of the async generator: code
 * compiled for a generator's loop is specialised to that call (its reader, its chunk) and is thrown away
 * when they are collected, so every read of a file would start cold again.
 */
function parseLines(parser: RequestParser, chunk: LineChunk, from: number, batch: TraceRequest[], opts: StreamTraceOptions, stats: TraceStats): Failure | undefined {
  const fast = parser.parseBytes !== undefined;
  for (let i = from; i < chunk.count; i++) {
    try {
      const scanned = fast ? parser.parseBytes!(chunk.bytes, chunk.starts[i]!, chunk.ends[i]!, chunk.numbers[i]!) : null;
      // Readers without a fast path take every line as text: the chunk decodes once for all of them.
      addParsed(batch, scanned !== null ? scanned : parser.parse(fast ? chunk.line(i) : chunk.lines()[i]!));
    } catch (error) {
      const failure = skipOrFail(error, opts, stats);
      if (failure) return failure;
    }
  }
  return undefined;
}

/**
 * A line's requests into the batch: one, a session's several, or none for a header line. One request is
 * stored at the end rather than pushed: each chunk's batch starts empty with small-integer elements, and an
 * optimised `push` that has seen that kind checks the value is a small integer and gives up (a "not a Smi"
 * deoptimisation and a second compile of `parseLines` in every cold read of a Mooncake trace); a keyed store
 * changes the array's kind instead. Same array either way.
 */
function addParsed(batch: TraceRequest[], parsed: TraceRequest | TraceRequest[] | undefined): void {
  if (parsed === undefined) return;
  if (Array.isArray(parsed)) for (const request of parsed) batch.push(request);
  else batch[batch.length] = parsed;
}

/** Under `skipInvalid` an invalid line is counted and reported, and reading goes on; anything else ends it. */
function skipOrFail(error: unknown, opts: StreamTraceOptions, stats: TraceStats): Failure | undefined {
  if (!(opts.skipInvalid && error instanceof InputError)) return { error };
  stats.skipped++;
  opts.onInvalid?.(error);
  return undefined;
}

/** Reads a whole trace file into memory; see `streamTrace` for validation and errors. */
export async function readTrace(path: string, opts: ReadTraceOptions = {}): Promise<Trace> {
  const stats: TraceStats = { format: undefined, skipped: 0 };
  const requests: TraceRequest[] = [];
  for await (const batch of streamTraceBatches(path, { ...opts, stats })) for (const request of batch) requests.push(request);
  // A trace with requests has had a first line, so its format is known.
  return { path, format: stats.format ?? 'kvflow', requests, skipped: stats.skipped };
}

/** The reader of `format`; each format's module loads only when a file of that format is read. */
async function createParser(format: TraceFormat, path: string, blockSize: number, tokenizer: string | undefined): Promise<RequestParser> {
  switch (format) {
    case 'kvflow':
      return new (await import('./canonical.js')).CanonicalLineParser(path, blockSize);
    case 'mooncake':
      return new (await import('./mooncake.js')).MooncakeLineParser(path);
    case 'azure':
      return new (await import('./azure.js')).AzureLineParser(path, blockSize);
    case 'lmcache': {
      const { DEFAULT_TEXT_TOKENIZER, loadTokenizer } = await import('./tokenize.js');
      const { LmcacheLineParser } = await import('./lmcache.js');
      return new LmcacheLineParser(path, blockSize, await loadTokenizer(tokenizer ?? DEFAULT_TEXT_TOKENIZER));
    }
    case 'servingsim':
      return new (await import('./servingsim.js')).ServingSimLineParser(path, blockSize);
  }
}

/**
 * `auto`: Azure when the first line is exactly its CSV header; otherwise, from the first line that is
 * a JSON object: Mooncake with `hash_ids`, LLMServingSim with `sub_requests`, LMCache with all of
 * `timestamp`, `input`, `output` and `session_id`, else kvflow. A line before that one is invalid in
 * every JSON format: it throws the error any of their parsers would give, so that under `skipInvalid`
 * a damaged first line does not decide the format of the whole file.
 */
function detectFormat(file: string, line: Line): TraceFormat {
  if (line.text.trim() === AZURE_HEADER) return 'azure';
  const value = parseJsonLine(file, line);
  if (!isJsonObject(value)) throw InputError.atLine(file, line.line, ROOT_FIELD, expectedGot('a JSON object', value));
  if (Object.hasOwn(value, MOONCAKE_MARKER_KEY)) return 'mooncake';
  if (Object.hasOwn(value, SERVINGSIM_MARKER_KEY)) return 'servingsim';
  if (LMCACHE_MARKER_KEYS.every((key) => Object.hasOwn(value, key))) return 'lmcache';
  return 'kvflow';
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

/**
 * Streaming line reader for line-oriented trace files (JSONL, CSV). Traces can be far larger than
 * memory, so files are read in big chunks and split on '\n' without ever holding the whole file.
 */
import { isAscii } from 'node:buffer';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** One non-blank line of a file. `line` counts every physical line from 1, so messages point at it. */
export interface Line {
  line: number;
  text: string;
}

/**
 * One await per chunk, and memory bounded whatever the file size. Not bigger: a streaming replay keeps a
 * chunk's requests alive until it has replayed them, and each young-generation collection meanwhile copies
 * them all; 256 KiB cut a Mooncake replay's CPU by about a tenth against 1 MiB.
 */
const CHUNK_BYTES = 256 << 10;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

/**
 * Yields the non-blank lines of a UTF-8 file: split on '\n', a trailing '\r' removed (CRLF files),
 * a final line without newline included, a leading byte-order mark dropped. Throws `InputError` when
 * the path is missing, is not a regular file or cannot be read.
 */
export async function* readLines(path: string): AsyncGenerator<Line> {
  for await (const lines of readLineBatches(path)) for (const line of lines) yield line;
}

/**
 * `readLines` a chunk at a time: the lines completed by each chunk read, in order (never empty). One
 * await per chunk instead of one per line, for readers that parse lines synchronously.
 */
export async function* readLineBatches(path: string): AsyncGenerator<Line[]> {
  for await (const chunk of readLineChunks(path)) yield chunk.lines();
}

/**
 * The non-blank lines completed by one chunk read, as byte ranges of `bytes` and, decoded on demand, as
 * `Line`s: `lines()[i]` is the line of `starts[i]..ends[i]`. Valid until the next chunk is asked for
 * (the reader reuses its buffer).
 */
export class LineChunk {
  /**
   * Never used: it keeps the layout (V8 map) of a chunk alive between reads. A layout lives only while an
   * object has it, and optimised code that checks for it is thrown away when a full collection drops it;
   * without this, a process that collects between two reads (a sweep, a server, the bench) reads each
   * file with the reader compiled afresh.
   */
  static readonly layoutKeeper: LineChunk = new LineChunk(Buffer.alloc(0), 0);
  /** Number of lines in the chunk. */
  count = 0;
  /** Physical line number (from 1) of each line. */
  readonly numbers: number[] = [];
  /** Byte offset of each line's first byte in `bytes`. */
  readonly starts: number[] = [];
  /** Byte offset just past each line's last byte (a trailing '\r' excluded). */
  readonly ends: number[] = [];
  private decoded: Line[] | undefined;

  /** `bytes[0, size)` holds whole lines only. */
  constructor(
    readonly bytes: Buffer,
    private readonly size: number,
  ) {}

  /** The lines as text: the chunk decodes once, as UTF-8 (pure ASCII as one-byte text, which is faster to make and parse). */
  lines(): Line[] {
    if (this.decoded !== undefined) return this.decoded;
    const text = decode(this.bytes, 0, this.size);
    const lines: Line[] = [];
    let start = 0;
    let i = 0;
    // Char offsets differ from byte offsets in non-ASCII text: split the text itself, at the same '\n's.
    for (;;) {
      const newline = text.indexOf('\n', start);
      const stop = newline === -1 ? text.length : newline;
      const end = text.charCodeAt(stop - 1) === CR ? stop - 1 : stop;
      if (!isBlank(text, start, end)) lines.push({ line: this.numbers[i++]!, text: text.slice(start, end) });
      if (newline === -1) break;
      start = newline + 1;
    }
    this.decoded = lines;
    return lines;
  }

  /** Line `i` as text, decoding only that line unless the whole chunk already is (same text either way:
   * a line's bytes end at a '\n', never inside a UTF-8 sequence). */
  line(i: number): Line {
    if (this.decoded !== undefined) return this.decoded[i]!;
    const start = this.starts[i]!;
    const end = this.ends[i]!;
    return { line: this.numbers[i]!, text: decode(this.bytes, start, end) };
  }

  /**
   * Adds every line of `bytes[0, size)` (which ends with '\n'), numbered on from `lineNumber`; returns the
   * last line's number. Apart from the async reader (readLineChunks) so that the per-line loop is a small
   * function of its own: V8 optimises it quickly, not the whole generator on-stack (a compile of tens of
   * ms on the compiler thread a cold replay's kernel waits behind).
   */
  addLines(lineNumber: number): number {
    const bytes = this.bytes;
    const last = this.size - 1;
    let start = 0;
    let newline = bytes.indexOf(LF, 0);
    while (newline !== -1 && newline <= last) {
      this.add(++lineNumber, start, newline);
      start = newline + 1;
      newline = newline === last ? -1 : bytes.indexOf(LF, start);
    }
    return lineNumber;
  }

  /** Adds the line `bytes[start, stop)` ('\r\n' ending handled here) unless it is blank. */
  add(lineNumber: number, start: number, stop: number): void {
    const end = stop > start && this.bytes[stop - 1] === CR ? stop - 1 : stop;
    for (let i = start; i < end; i++) {
      const c = this.bytes[i];
      if (c !== SPACE && c !== TAB && c !== CR && c !== LF) {
        this.numbers.push(lineNumber);
        this.starts.push(start);
        this.ends.push(end);
        this.count++;
        return;
      }
    }
  }
}

/**
 * `readLineBatches` as byte ranges: for readers with a fast path that scans bytes (see `LineChunk`).
 * Chunks are never empty.
 */
export async function* readLineChunks(path: string): AsyncGenerator<LineChunk> {
  await assertReadableFile(path);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw fileError(path, err);
  }
  try {
    // Bytes are split at '\n' (never inside a UTF-8 sequence) and only whole lines are handed out; the
    // unfinished last line stays in the buffer for the next read.
    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let filled = 0;
    let lineNumber = 0;
    let first = true;
    for (;;) {
      if (filled === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2); // one line longer than the buffer
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null));
      } catch (err) {
        throw fileError(path, err);
      }
      let end = filled + bytesRead;
      if (first) {
        first = false;
        if (end >= 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) {
          buffer.copy(buffer, 0, 3, end);
          end -= 3;
        }
      }
      if (bytesRead === 0) {
        if (end > 0) {
          const chunk = new LineChunk(buffer, end);
          chunk.add(lineNumber + 1, 0, end);
          if (chunk.count > 0) yield chunk;
        }
        return;
      }
      const last = buffer.lastIndexOf(LF, end - 1);
      if (last < 0) {
        filled = end;
        continue;
      }
      const chunk = new LineChunk(buffer, last + 1);
      lineNumber = chunk.addLines(lineNumber);
      if (chunk.count > 0) yield chunk;
      // Only now: the chunk's bytes stay valid while its reader works on them.
      buffer.copy(buffer, 0, last + 1, end);
      filled = end - (last + 1);
    }
  } finally {
    await handle.close();
  }
}

/** UTF-8 text of `buffer[start, end)`; pure ASCII (the usual trace) decodes as one-byte text, which is faster to make and to parse. */
function decode(buffer: Buffer, start: number, end: number): string {
  const bytes = buffer.subarray(start, end);
  return buffer.toString(isAscii(bytes) ? 'latin1' : 'utf8', start, end);
}

/** Checks up front that `path` is a readable regular file, so the error names the real problem. */
export async function assertReadableFile(path: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (err) {
    throw fileError(path, err);
  }
  if (!isFile) throw new InputError(`${path}: not a file`);
}

/** Turns a file-system failure the user can fix into a one-line `InputError`; anything else is a bug. */
function fileError(path: string, err: unknown): unknown {
  if (err instanceof InputError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new InputError(`${path}: no such file`);
    case 'EISDIR':
      return new InputError(`${path}: not a file`);
    case 'EACCES':
    case 'EPERM':
      return new InputError(`${path}: permission denied`);
    default:
      return err;
  }
}

/** True when `text[start, end)` holds only JSON whitespace. Checks the first character first: it is
 * almost always '{' or a digit, so real lines cost one comparison. */
function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== TAB && c !== CR && c !== LF) return false;
  }
  return true;
}

/**
 * Validates the lines of one trace file in order and turns them into requests. Stateful: formats
 * check things across lines (unique ids, non-decreasing timestamps, a header's defaults).
 */
export interface LineParser<T> {
  /** The request on this line, or `undefined` for a line that only sets defaults (a header).
   * Throws `InputError` for an invalid line; the parser's state is then as if the line were absent. */
  parse(line: Line): T | undefined;
  /**
   * Optional fast path: the request on the line `bytes[start, end)` (numbered `line`) when the line has
   * the usual shape, or `null` to have `parse` read it (undecided lines too: `parse` gives the errors).
   * Must return exactly what `parse` would, and throw only what `parse` would throw.
   */
  parseBytes?(bytes: Uint8Array, start: number, end: number, line: number): T | null;
}

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

/** Big chunks mean few awaits per file; 1 MiB keeps memory bounded whatever the file size. */
const CHUNK_BYTES = 1 << 20;

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
  await assertReadableFile(path);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw fileError(path, err);
  }
  try {
    // Bytes are split at '\n' (never inside a UTF-8 sequence) and only whole lines are decoded, in one
    // call per chunk; the unfinished last line stays in the buffer for the next read.
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
          const text = decode(buffer, end);
          const stop = text.charCodeAt(text.length - 1) === CR ? text.length - 1 : text.length;
          if (!isBlank(text, 0, stop)) yield [{ line: lineNumber + 1, text: text.slice(0, stop) }];
        }
        return;
      }
      const last = buffer.lastIndexOf(LF, end - 1);
      if (last < 0) {
        filled = end;
        continue;
      }
      const text = decode(buffer, last + 1);
      buffer.copy(buffer, 0, last + 1, end);
      filled = end - (last + 1);
      const lines: Line[] = [];
      let start = 0;
      let newline = text.indexOf('\n');
      while (newline !== -1) {
        lineNumber++;
        const stop = text.charCodeAt(newline - 1) === CR ? newline - 1 : newline;
        if (!isBlank(text, start, stop)) lines.push({ line: lineNumber, text: text.slice(start, stop) });
        start = newline + 1;
        newline = text.indexOf('\n', start);
      }
      if (lines.length > 0) yield lines;
    }
  } finally {
    await handle.close();
  }
}

/** UTF-8 text of `buffer[0, end)`; pure ASCII (the usual trace) decodes as one-byte text, which is faster to make and to parse. */
function decode(buffer: Buffer, end: number): string {
  const bytes = buffer.subarray(0, end);
  return buffer.toString(isAscii(bytes) ? 'latin1' : 'utf8', 0, end);
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
}

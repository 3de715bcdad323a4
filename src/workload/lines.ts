/**
 * Streaming line reader for line-oriented trace files (JSONL, CSV). Traces can be far larger than
 * memory, so files are read in big chunks and split on '\n' without ever holding the whole file.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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
const BOM = '\uFEFF';

/**
 * Yields the non-blank lines of a UTF-8 file: split on '\n', a trailing '\r' removed (CRLF files),
 * a final line without newline included, a leading byte-order mark dropped. Throws `InputError` when
 * the path is missing, is not a regular file or cannot be read.
 */
export async function* readLines(path: string): AsyncGenerator<Line> {
  await assertReadableFile(path);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: CHUNK_BYTES });
  let carry = ''; // the unfinished last line of the chunks read so far
  let lineNumber = 0;
  let firstChunk = true;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const piece = firstChunk && chunk.startsWith(BOM) ? chunk.slice(1) : chunk;
      firstChunk = false;
      let newline = piece.indexOf('\n');
      if (newline === -1) {
        carry += piece; // one line longer than a chunk: keep appending, never rescan it
        continue;
      }
      const text = carry + piece;
      newline += carry.length;
      let start = 0;
      while (newline !== -1) {
        lineNumber++;
        const end = text.charCodeAt(newline - 1) === CR ? newline - 1 : newline;
        if (!isBlank(text, start, end)) yield { line: lineNumber, text: text.slice(start, end) };
        start = newline + 1;
        newline = text.indexOf('\n', start);
      }
      carry = text.slice(start);
    }
  } catch (err) {
    throw fileError(path, err);
  }
  if (carry !== '') {
    lineNumber++;
    const end = carry.charCodeAt(carry.length - 1) === CR ? carry.length - 1 : carry.length;
    if (!isBlank(carry, 0, end)) yield { line: lineNumber, text: carry.slice(0, end) };
  }
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

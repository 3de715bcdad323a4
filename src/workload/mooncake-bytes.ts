/**
 * The fast path of the Mooncake reader (mooncake.ts): a line of the exact shape the published traces use,
 * `{"timestamp": N, "input_length": N, "output_length": N, "hash_ids": [N, ...]}` (any JSON whitespace,
 * plain non-negative integers of at most 15 digits), read straight from the file's bytes: no decoding,
 * no `JSON.parse`, no intermediate object. Anything else (other key order, extra keys, escapes, signs,
 * fractions, exponents, leading zeros, long numbers, bad syntax) is left to the JSON reader, which gives
 * the same values and every error message.
 */

/** The fields of a line the scanner accepted. */
export interface MooncakeFields {
  timestamp: number;
  inputLength: number;
  outputLength: number;
  blocks: number[];
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const COMMA = 0x2c;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Up to 15 decimal digits is always below 2^53: exact as a double, a safe integer as `JSON.parse` reads it. */
const MAX_DIGITS = 15;

const key = (name: string) => Uint8Array.from(Buffer.from(`"${name}"`, 'latin1'));
const TIMESTAMP = key('timestamp');
const INPUT_LENGTH = key('input_length');
const OUTPUT_LENGTH = key('output_length');
const HASH_IDS = key('hash_ids');

/** The last integer read by `integer`. */
let value = 0;

/** Reads the line `bytes[start, end)` into `out`; false (and `out` partly written) when it is not of the fast shape. */
export function scanMooncakeLine(bytes: Uint8Array, start: number, end: number, out: MooncakeFields): boolean {
  // Each step returns the position after what it read, or -1 (which every later step passes on).
  let at = expect(bytes, start, end, OPEN_BRACE);
  at = expect(bytes, integer(bytes, field(bytes, at, end, TIMESTAMP), end), end, COMMA);
  out.timestamp = value;
  at = expect(bytes, integer(bytes, field(bytes, at, end, INPUT_LENGTH), end), end, COMMA);
  out.inputLength = value;
  at = expect(bytes, integer(bytes, field(bytes, at, end, OUTPUT_LENGTH), end), end, COMMA);
  out.outputLength = value;
  at = expect(bytes, field(bytes, at, end, HASH_IDS), end, OPEN_BRACKET);
  if (at < 0) return false;
  const blocks: number[] = [];
  for (;;) {
    at = skipSpace(bytes, integer(bytes, at, end), end);
    if (at < 0 || at === end) return false;
    blocks.push(value);
    if (bytes[at] !== COMMA) break;
    at++;
  }
  at = skipSpace(bytes, expect(bytes, expect(bytes, at, end, CLOSE_BRACKET), end, CLOSE_BRACE), end);
  if (at !== end) return false;
  out.blocks = blocks;
  return true;
}

function skipSpace(bytes: Uint8Array, at: number, end: number): number {
  if (at < 0) return -1;
  while (at < end) {
    const c = bytes[at]!;
    if (c !== SPACE && c !== TAB && c !== CR && c !== LF) break;
    at++;
  }
  return at;
}

/** Whitespace, then the byte `c`. */
function expect(bytes: Uint8Array, at: number, end: number, c: number): number {
  at = skipSpace(bytes, at, end);
  return at >= 0 && at < end && bytes[at] === c ? at + 1 : -1;
}

/** Whitespace, the quoted key, whitespace, ':'. */
function field(bytes: Uint8Array, at: number, end: number, name: Uint8Array): number {
  at = skipSpace(bytes, at, end);
  if (at < 0 || at + name.length > end) return -1;
  for (let i = 0; i < name.length; i++) if (bytes[at + i] !== name[i]) return -1;
  return expect(bytes, at + name.length, end, COLON);
}

/** Whitespace, then a JSON integer without sign, fraction or exponent into `value`. A digit after a
 * leading 0 is invalid JSON and a '.', 'e' or 'E' after the digits makes another number: both stop
 * the digits at a byte that no caller accepts next. */
function integer(bytes: Uint8Array, at: number, end: number): number {
  at = skipSpace(bytes, at, end);
  if (at < 0) return -1;
  const first = at;
  let n = 0;
  while (at < end) {
    const c = bytes[at]!;
    if (c < ZERO || c > NINE) break;
    n = n * 10 + (c - ZERO);
    at++;
  }
  const digits = at - first;
  if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && bytes[first] === ZERO)) return -1;
  value = n;
  return at;
}

/**
 * The fast path of the Mooncake reader (mooncake.ts): a line of the exact shape the published traces use,
 * `{"timestamp": N, "input_length": N, "output_length": N, "hash_ids": [N, ...]}` (any JSON whitespace,
 * plain non-negative integers of at most 15 digits, one id per `blockSize` tokens of input_length), read
 * straight from the file's bytes: no decoding, no `JSON.parse`, no intermediate object. Anything else
 * (other key order, extra keys, escapes, signs, fractions, exponents, leading zeros, long numbers, another
 * number of ids, bad syntax) is left to the JSON reader, which gives the same values and every error message.
 *
 * One function with its loops inline, no helper calls: a CLI reads a trace once in a fresh process, where
 * code runs interpreted until V8 optimises it, and one loop is optimised (on-stack) after a few lines while
 * every small helper would wait for its own turn and cost a call per token meanwhile.
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
const QUOTE = 0x22;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
/** Stands for an integer in `LINE_START`. */
const NUMBER = 0x23; // '#'

/** Up to 15 decimal digits is always below 2^53: exact as a double, a safe integer as `JSON.parse` reads it. */
const MAX_DIGITS = 15;

/**
 * The line up to its first id, with JSON whitespace allowed before every token. Inside the quoted keys
 * bytes must match exactly; `#` is a number (timestamp, input_length, output_length in that order).
 */
/** The ids of the line being scanned (its first `count` entries), reused from line to line. */
const SCRATCH_IDS: number[] = [];

const LINE_START = Uint8Array.from(Buffer.from('{"timestamp":#,"input_length":#,"output_length":#,"hash_ids":[', 'latin1'));

/** `LINE_START` as the published traces write it, byte for byte (`#` a number, as there). */
const LITERAL_START = Uint8Array.from(Buffer.from('{"timestamp": #, "input_length": #, "output_length": #, "hash_ids": [', 'latin1'));

/**
 * Reads the line `bytes[start, end)` into `out`; false (and `out` partly written) when it is not of the
 * fast shape, which includes a zero input_length and a number of ids other than ceil(input_length / blockSize).
 */
export function scanMooncakeLine(bytes: Uint8Array, start: number, end: number, blockSize: number, out: MooncakeFields): boolean {
  let at = start;
  let c = 0;
  let numbers = 0;

  // The published traces' exact bytes first: one space after each ':' and ',', nothing else. No whitespace
  // to skip and no key state per byte: about half the general walk's time. The first byte that differs
  // sends the line to the general walk below, from its start, so this accepts a subset of what that walk
  // accepts, with the same values.
  literal: {
    for (let p = 0; p < LITERAL_START.length; p++) {
      const expected = LITERAL_START[p]!;
      if (expected === NUMBER) {
        const first = at;
        let n = 0;
        while (at < end) {
          c = bytes[at]!;
          if (c < ZERO || c > NINE) break;
          n = n * 10 + (c - ZERO);
          at++;
        }
        const digits = at - first;
        if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && bytes[first] === ZERO)) break literal;
        if (numbers === 0) out.timestamp = n;
        else if (numbers === 1) out.inputLength = n;
        else out.outputLength = n;
        numbers++;
        continue;
      }
      if (at >= end || bytes[at] !== expected) break literal;
      at++;
    }
    const count = Math.ceil(out.inputLength / blockSize);
    if (count < 1 || count > (end - at) / 2) break literal;
    const blocks = SCRATCH_IDS;
    let i = 0;
    for (;;) {
      const first = at;
      let n = 0;
      while (at < end) {
        c = bytes[at]!;
        if (c < ZERO || c > NINE) break;
        n = n * 10 + (c - ZERO);
        at++;
      }
      const digits = at - first;
      if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && bytes[first] === ZERO)) break literal;
      blocks[i++] = n;
      // `, ` then the next id, or `]}` ending the line.
      if (at + 2 > end) break literal;
      c = bytes[at]!;
      if (c === COMMA && bytes[at + 1] === SPACE) {
        if (i === count) break literal;
        at += 2;
        continue;
      }
      if (c !== CLOSE_BRACKET || bytes[at + 1] !== CLOSE_BRACE || at + 2 !== end || i !== count) break literal;
      out.blocks = blocks.slice(0, count);
      return true;
    }
  }

  at = start;
  numbers = 0;
  let inKey = false;
  for (let p = 0; p < LINE_START.length; p++) {
    const expected = LINE_START[p]!;
    if (!inKey) while (at < end && ((c = bytes[at]!) === SPACE || c === TAB || c === LF || c === CR)) at++;
    if (expected === NUMBER) {
      // A JSON integer without sign, fraction or exponent. A digit after a leading 0 is invalid JSON and a
      // '.', 'e' or 'E' after the digits makes another number: both stop the digits at a byte that the
      // pattern's next token never accepts.
      const first = at;
      let n = 0;
      while (at < end) {
        c = bytes[at]!;
        if (c < ZERO || c > NINE) break;
        n = n * 10 + (c - ZERO);
        at++;
      }
      const digits = at - first;
      if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && bytes[first] === ZERO)) return false;
      if (numbers === 0) out.timestamp = n;
      else if (numbers === 1) out.inputLength = n;
      else out.outputLength = n;
      numbers++;
      continue;
    }
    if (at >= end || bytes[at] !== expected) return false;
    at++;
    if (expected === QUOTE) inKey = !inKey;
  }

  // The ids: exactly as many as input_length asks for. Each id takes at least two bytes (a digit and a
  // separator), which bounds what a bogus input_length asks for.
  const count = Math.ceil(out.inputLength / blockSize);
  if (count < 1 || count > (end - at) / 2) return false;
  const blocks = SCRATCH_IDS;
  for (let i = 0; ; ) {
    while (at < end && ((c = bytes[at]!) === SPACE || c === TAB || c === LF || c === CR)) at++;
    const first = at;
    let n = 0;
    while (at < end) {
      c = bytes[at]!;
      if (c < ZERO || c > NINE) break;
      n = n * 10 + (c - ZERO);
      at++;
    }
    const digits = at - first;
    if (digits === 0 || digits > MAX_DIGITS || (digits > 1 && bytes[first] === ZERO)) return false;
    blocks[i++] = n;
    while (at < end && ((c = bytes[at]!) === SPACE || c === TAB || c === LF || c === CR)) at++;
    if (at >= end) return false;
    if (bytes[at] !== COMMA) {
      if (i !== count) return false;
      break;
    }
    if (i === count) return false;
    at++;
  }
  if (bytes[at] !== CLOSE_BRACKET) return false;
  at++;
  while (at < end && ((c = bytes[at]!) === SPACE || c === TAB || c === LF || c === CR)) at++;
  if (at >= end || bytes[at] !== CLOSE_BRACE) return false;
  at++;
  while (at < end && ((c = bytes[at]!) === SPACE || c === TAB || c === LF || c === CR)) at++;
  if (at !== end) return false;
  // A copy of exactly `count` ids made by a builtin: an array allocated here (`new Array`, a literal) would
  // carry an allocation site, and V8's pretenuring, deciding per site, then sometimes puts every line's ids
  // straight into the old generation: a process that reads traces repeatedly read each 2-3x slower.
  out.blocks = blocks.slice(0, count);
  return true;
}

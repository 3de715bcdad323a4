/**
 * Counts of tokens and bytes as people and engines write them: `4096`, `686,320` (vLLM's log prints KV
 * sizes with thousands separators), `686_320`, `512k`, `1.5M`, `64G`, `64GiB`, `5e8`, or `inf`. Suffixes are
 * powers of two (1k = 1024, 1M = 2^20), as KV pools and GPU memory are sized; `i` and a trailing `B` are
 * accepted and change nothing. One parser for every token and byte flag, config field and sweep grid.
 */

export type QuantityUnit = 'tokens' | 'bytes';

const SCALE: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** Digits grouped by thousands with one separator kind (`,`, `_`, or a space), or plain digits. */
const NUMBER = /^(\d{1,3}(?:([,_ ])\d{3})?(?:\2\d{3})*|\d+)(\.\d+)?$/;
const SUFFIX = /^([kmgt]?)(i?)(b?)$/i;

/** The value of `text` (null: inf), or a string saying why it is not one. */
function read(text: string, unit: QuantityUnit): number | null | string {
  let rest = text.trim();
  if (rest === 'inf') return null;
  // A unit word, as in vLLM's "686,320 tokens".
  if (unit === 'tokens') rest = rest.replace(/\s*tokens?$/i, '');
  else rest = rest.replace(/\s*bytes?$/i, '');
  // Scientific notation, as configs and scripts write large sizes (5e8).
  if (/^\d+(\.\d+)?e[+-]?\d+$/i.test(rest)) {
    const value = Number(rest);
    return value > Number.MAX_SAFE_INTEGER ? 'too large' : Math.floor(value);
  }
  const split = /^([\d,_ .]*\d)\s*([A-Za-z]*)$/.exec(rest);
  if (!split) return 'not a number';
  const [, digits, suffix] = split as unknown as [string, string, string];
  const number = NUMBER.exec(digits);
  if (!number) return 'separators must group digits by three (686,320 or 686_320)';
  const scale = SUFFIX.exec(suffix);
  if (!scale || (unit === 'tokens' && scale[3] !== '') || (scale[1] === '' && scale[2] !== '')) return `unknown suffix "${suffix}"`;
  const value = Number(number[1]!.replace(/[,_ ]/g, '') + (number[3] ?? '')) * SCALE[scale[1]!.toLowerCase()]!;
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) return 'too large';
  return Math.floor(value);
}

/**
 * A whole count of `unit` (fractions of a suffix are floored: `1.5k` = 1536), or null for `inf`. Throws a
 * RangeError saying what is wrong.
 */
export function parseQuantity(text: string, unit: QuantityUnit): number | null {
  const value = read(text, unit);
  if (typeof value === 'string') {
    const example = unit === 'tokens' ? '686,320, 512k, 1M' : '8589934592, 8G, 8GiB';
    throw new RangeError(
      `"${text}" is not a ${unit === 'tokens' ? 'token' : 'byte'} count: ${value} (accepted: an integer, thousands separators allowed, with optional suffix k, M, G, T, or inf; e.g. ${example})`,
    );
  }
  return value;
}

/**
 * A comma list of quantities (`1M,16M,inf`). A comma is a thousands separator when three bare digits
 * follow it and a bare number precedes it: `686,320,1M` is [686320, 1M].
 */
export function parseQuantityList(text: string, unit: QuantityUnit): (number | null)[] {
  const pieces: string[] = [];
  for (const piece of text.split(',')) {
    const last = pieces.length - 1;
    if (last >= 0 && /^\d{3}(\D.*)?$/.test(piece) && /^\d{1,3}(,\d{3})*$/.test(pieces[last]!)) pieces[last] += `,${piece}`;
    else pieces.push(piece);
  }
  return pieces.map((piece) => parseQuantity(piece, unit));
}

/** A byte count >= `min` (`8589934592`, `8G`, `8GiB`, `64e9`; no `inf`). Throws a RangeError saying what is wrong. */
export function parseBytes(text: string, min = 0): number {
  const value = parseQuantity(text, 'bytes');
  if (value === null || value < min) throw new RangeError(`"${text}" is not a byte count >= ${min}`);
  return value;
}

/** Bytes per second (`25e9`, `25G`, `25GB/s`). Throws a RangeError saying what is wrong. */
export function parseByteRate(text: string): number {
  const value = parseQuantity(text.trim().replace(/\/s$/i, ''), 'bytes');
  if (value === null || value < 1) throw new RangeError(`"${text}" is not a rate > 0 bytes/s`);
  return value;
}

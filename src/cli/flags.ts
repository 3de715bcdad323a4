import { InvalidArgumentError } from 'commander';
import { unknownName } from '../did-you-mean.js';
import { parseByteRate as parseBytesPerSecond, parseBytes, parseQuantity, parseQuantityList } from '../units.js';

/**
 * A token count such as `4096`, `686,320`, `512k`, `1M`, `1.5G` (suffixes are powers of two: 1M = 1048576),
 * or `inf` for unbounded (`null`).
 */
export function parseTokenCount(text: string): number | null {
  return asArgument(() => parseQuantity(text, 'tokens'));
}

/** A comma list of token counts (`686,320,1M` is two); duplicates are kept out, order is kept. */
export function parseTokenCountList(text: string): (number | null)[] {
  return [...new Set(asArgument(() => parseQuantityList(text, 'tokens')))];
}

/** A byte count >= `min` such as `8589934592`, `8,589,934,592`, `8G` or `8GiB` (no `inf`). */
export function parseByteCount(text: string, min = 0): number {
  return asArgument(() => parseBytes(text, min));
}

/**
 * Bytes per second such as `25e9`, `25000000000`, `25G`, `25GiB/s` (suffixes are powers of two, as for
 * byte counts: 25G/s = 25 GiB/s; write 25e9 for decimal GB/s).
 */
export function parseByteRate(text: string): number {
  return asArgument(() => parseBytesPerSecond(text));
}

function asArgument<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A comma list of names from `accepted`, in the given order, without duplicates. */
export function parseNameList<T extends string>(text: string, accepted: readonly T[]): T[] {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(accepted as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(unknownName(name, accepted));
    }
  }
  return [...new Set(names)] as T[];
}

/** One name from `accepted`. */
export function parseName<T extends string>(text: string, accepted: readonly T[]): T {
  if (!(accepted as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(unknownName(text, accepted));
  }
  return text as T;
}

/** An integer >= `min`. */
export function parseInteger(text: string, min = 1): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`"${text}" is not an integer >= ${min}`);
  }
  return value;
}

/** A finite number >= `min`. */
export function parseNumber(text: string, min = 0): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min) {
    throw new InvalidArgumentError(`"${text}" is not a number >= ${min}`);
  }
  return value;
}

/** A number > 0 (commander reports the flag with the message). */
export function parsePositive(text: string): number {
  const value = parseNumber(text, 0);
  if (!(value > 0)) throw new InvalidArgumentError(`"${text}" is not a number > 0`);
  return value;
}

import { InvalidArgumentError } from 'commander';

const SUFFIX: Record<string, number> = { '': 1, k: 2 ** 10, K: 2 ** 10, m: 2 ** 20, M: 2 ** 20, g: 2 ** 30, G: 2 ** 30 };

/**
 * A token count such as `4096`, `512k`, `1M`, `1.5G` (suffixes are powers of two: 1M = 1048576), or `inf`
 * for unbounded (`null`).
 */
export function parseTokenCount(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === 'inf') return null;
  const match = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(trimmed);
  if (!match) {
    throw new InvalidArgumentError(`"${text}" is not a token count (accepted: an integer with optional suffix k, M, G, or inf)`);
  }
  return Math.floor(Number(match[1]) * SUFFIX[match[2]!]!);
}

/** A comma list of token counts; duplicates are kept out, order is kept. */
export function parseTokenCountList(text: string): (number | null)[] {
  const values = text.split(',').map(parseTokenCount);
  return [...new Set(values)];
}

/** A comma list of names from `accepted`, in the given order, without duplicates. */
export function parseNameList<T extends string>(text: string, accepted: readonly T[]): T[] {
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(accepted as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown "${name}" (accepted: ${accepted.join(', ')})`);
    }
  }
  return [...new Set(names)] as T[];
}

/** One name from `accepted`. */
export function parseName<T extends string>(text: string, accepted: readonly T[]): T {
  if (!(accepted as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`unknown "${text}" (accepted: ${accepted.join(', ')})`);
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

/** A share in (0, 1]. */
export function parseFraction(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value <= 1)) {
    throw new InvalidArgumentError(`"${text}" is not a number in (0, 1]`);
  }
  return value;
}

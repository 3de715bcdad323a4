/**
 * Field validation shared by the trace line formats.
 *
 * The zod schemas are the specification and the source of every problem message. Running zod on each
 * of a trace's lines is the dominant cost of reading it, though (most of it in the per-element checks
 * of long block arrays), so each format also has a hand-written check that accepts exactly what its
 * schema accepts. Valid lines pass the quick check; zod runs only on lines that fail it, to confirm
 * and word the problem. test/workload/trace.test.ts checks that both agree on arbitrary values.
 */
import type { z } from 'zod';
import { lazySchema } from './lazy-zod.js';
import { expecting, firstIssue } from './problem.js';

// Each schema carries its own wording (see `expecting`): "expected a non-negative integer, got -1".
// zod 4 integers are safe integers, so block ids stay exact as JS numbers. Built on first use (lazy-zod.ts).
export const nonNegativeInt = lazySchema((z) => z.int(expecting('a non-negative integer')).min(0));
export const positiveInt = lazySchema((z) => z.int(expecting('an integer >= 1')).min(1));
export const nonNegativeNumber = lazySchema((z) => z.number(expecting('a number >= 0')).min(0));
export const blockIds = lazySchema((z) => z.array(nonNegativeInt(), expecting('a non-empty array of block ids')).min(1));

// The same rules as quick checks, one per schema above.
export function isNonNegativeInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function isPositiveInt(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

export function isNonNegativeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

export function isBlockIds(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  for (const id of value) if (!isNonNegativeInt(id)) return false;
  return true;
}

/** An object from `JSON.parse` whose fields may be read; arrays are objects to JS but not here. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Returns `value` as the schema's output when `accepts` (the schema's quick twin) says it is valid,
 * else runs the schema and throws its first problem as `file:line: field: problem`. Fields unknown
 * to the schema may remain on a quickly accepted value; callers read only the known ones.
 */
export function validateFields<S extends z.ZodType>(
  schema: () => S,
  accepts: (value: unknown) => value is z.output<S>,
  value: unknown,
  file: string,
  line: number,
): z.output<S> {
  if (accepts(value)) return value;
  const parsed = schema().safeParse(value);
  if (parsed.success) return parsed.data; // the quick check was stricter than the schema: still correct
  throw firstIssue(file, line, parsed.error);
}

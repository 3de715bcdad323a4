/**
 * Turning bad trace lines into `file:line: field: problem` errors. Shared by every line format so that
 * all readers word their problems the same way.
 */
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { inputErrorFrom } from '../zod-issues.js';
import type { Line } from './lines.js';

/** Field name used when the line is not JSON at all. */
export const JSON_FIELD = '(json)';
/** Field name used when the line is JSON but not an object. */
export const ROOT_FIELD = '(root)';

/** Parses one line as JSON, reporting a syntax error as an `InputError` on the `(json)` field. */
export function parseJsonLine(file: string, { line, text }: Line): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw InputError.atLine(file, line, JSON_FIELD, `invalid JSON: ${(err as Error).message}`);
  }
}

/**
 * A zod `error` option stating what a field expects. Given to a schema, it words the type issue and
 * every issue of that schema's checks, so `z.int(expecting('x')).min(0)` reads "expected x, got -1".
 */
export function expecting(what: string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => expectedGot(what, issue.input) };
}

/** "expected <what>, got <value>", or "missing, expected <what>" for an absent field. */
export function expectedGot(what: string, value: unknown): string {
  return value === undefined ? `missing, expected ${what}` : `expected ${what}, got ${describeValue(value)}`;
}

/** Maps the first issue of a failed parse to the line's error; the path becomes `blocks.3` style. */
export function firstIssue(file: string, line: number, error: z.ZodError): InputError {
  return inputErrorFrom(error, { file, line }, { root: ROOT_FIELD });
}

const MAX_SHOWN_CHARS = 40;

/** A short, one-line rendering of a JSON value for messages: scalars shown, containers named. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  switch (typeof value) {
    case 'string': {
      const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}...` : value;
      return JSON.stringify(shown);
    }
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/**
 * One configuration field, described once: its command-line flag, its help text, its default, how a flag's
 * text becomes a value, and the zod schema a document (a sweep grid, a config file) checks the same value
 * with. The commander options (cli/config-flags.ts), the sweep-grid fields (sweep/sweep-grid.ts) and the
 * hardware config-document layering (sim/hardware.ts `layerOverrides`) are all built from tables of these
 * fields (config/simulation-fields.ts), so a field added to a table is a flag, a grid field and, for
 * hardware, a config-file field at once.
 *
 * Nothing here loads zod: schemas are functions of the zod API, called only when a document is checked,
 * so `--help` and runs from flags stay as fast as before.
 */
import type { z as Zod } from 'zod';
import { unknownName } from '../did-you-mean.js';
import { parseByteRate, parseBytes, parseQuantity } from '../units.js';
import type { ZodApi } from '../workload/lazy-zod.js';

/** One field. `T` is the parsed value, the same from a flag and from a document. */
export interface ConfigField<T = unknown> {
  /** The flag with its argument, as commander writes it: `--link-latency <s>`; booleans have none. */
  readonly flag: string;
  /** Help text: what the field does, and its default when that depends on other fields. */
  readonly description: string;
  /** Text of a flag into a value; throws an `Error` whose message says what is accepted. Absent for booleans. */
  readonly parse?: (text: string) => T;
  /** The same value in a JSON document (sweep grid, config file). */
  readonly schema: (z: ZodApi) => Zod.ZodType<T, unknown>;
  /** The default a run gets when the field is absent (shown in `--help`); absent: resolved later or unset. */
  readonly default?: T;
  /** How `--help` shows the default when `String(default)` would not do. */
  readonly defaultText?: string;
  /** A flag the command cannot run without. */
  readonly required?: boolean;
  /** A flag that may be given several times, each adding to a list. */
  readonly repeatable?: boolean;
  /** Booleans: also a `--no-...` flag with this help text. */
  readonly negation?: string;
}

/** A table of fields by name; names are the flags in camelCase, as commander and documents spell them. */
export type FieldTable = Readonly<Record<string, ConfigField>>;

/** The value of a field, the same from a flag and from a document. */
export type FieldValue<F> = F extends { schema: (z: never) => Zod.ZodType<infer T, unknown> } ? T : never;

/** The values commander parses for a table: a field with a default is always set, the others may be absent. */
export type FlagValues<T> = { -readonly [K in keyof T as T[K] extends { default: unknown } ? K : never]: FieldValue<T[K]> } & {
  -readonly [K in keyof T as T[K] extends { default: unknown } ? never : K]?: FieldValue<T[K]>;
};

/** The kebab-case flag a field name stands for: `linkLatency` -> `--link-latency`. */
export function flagName(field: string): string {
  return `--${field.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

/** The zod object of a table: every field optional, described, and defaulted where the table gives one. */
export function tableSchema(z: ZodApi, table: FieldTable, options: { defaults: boolean }) {
  const shape: Record<string, Zod.ZodType> = {};
  for (const [name, field] of Object.entries(table)) {
    const schema = (field as ConfigField).schema(z);
    shape[name] = (options.defaults && field.default !== undefined ? schema.default(field.default as never) : schema.optional()).describe(field.description);
  }
  return z.strictObject(shape);
}

// Value kinds: the flag parser and the document schema of each, side by side so they cannot drift apart.

/** An integer in [min, max]. */
export function integer(min: number, max?: number, maxProblem?: string): Pick<ConfigField<number>, 'parse' | 'schema'> {
  return {
    parse: (text) => {
      const value = parseIntegerText(text, min);
      if (max !== undefined && value > max) throw new Error(maxProblem?.replace('%s', text) ?? `"${text}" is more than ${max}`);
      return value;
    },
    schema: (z) => {
      const schema = z.number().int().min(min);
      return max === undefined ? schema : schema.max(max, { error: `must be <= ${max}` });
    },
  };
}

/** A finite number >= min. */
export function number(min: number): Pick<ConfigField<number>, 'parse' | 'schema'> {
  return { parse: (text) => parseNumberText(text, min), schema: (z) => z.number().min(min) };
}

/** A finite number > 0. */
export const positive: Pick<ConfigField<number>, 'parse' | 'schema'> = {
  parse: (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || !(value > 0)) throw new Error(`"${text}" is not a number > 0`);
    return value;
  },
  schema: (z) => z.number().gt(0),
};

/** A share in (0, 1]. */
export const fraction: Pick<ConfigField<number>, 'parse' | 'schema'> = {
  parse: parseFractionText,
  schema: (z) => z.number().gt(0).max(1),
};

/** A whole token count >= min: `8192`, `8k` (no `inf`). */
export function tokens(min: number): Pick<ConfigField<number>, 'parse' | 'schema'> {
  return { parse: (text) => parseTokensText(text, min), schema: (z) => textOrNumber(z, z.number().int().min(min), (text) => parseTokensText(text, min)) };
}

/** A byte count: `64e9`, `64G`, `64GiB`. */
export const byteCount: Pick<ConfigField<number>, 'parse' | 'schema'> = {
  parse: (text) => parseBytes(text, 0),
  schema: (z) => textOrNumber(z, z.number().min(0), (text) => parseBytes(text, 0)),
};

/** Bytes per second: `25e9`, `25G`, `25GB/s`. */
export const byteRate: Pick<ConfigField<number>, 'parse' | 'schema'> = {
  parse: parseByteRate,
  schema: (z) => textOrNumber(z, z.number().gt(0), parseByteRate),
};

/** One name of `accepted`. */
export function oneOf<T extends string>(accepted: readonly T[]): Pick<ConfigField<T>, 'parse' | 'schema'> {
  return {
    parse: (text) => {
      if (!(accepted as readonly string[]).includes(text)) throw new Error(unknownName(text, accepted));
      return text as T;
    },
    schema: (z) => z.enum(accepted as [T, ...T[]]) as unknown as Zod.ZodType<T, unknown>,
  };
}

/** A comma list of names of `accepted` (an array in documents), in order, without repeats. */
export function listOf<T extends string>(accepted: readonly T[]): Pick<ConfigField<T[]>, 'parse' | 'schema'> {
  return {
    parse: (text) => {
      const names = text.split(',').map((name) => name.trim());
      for (const name of names) if (!(accepted as readonly string[]).includes(name)) throw new Error(unknownName(name, accepted));
      return [...new Set(names)] as T[];
    },
    schema: (z) => z.array(z.enum(accepted as [T, ...T[]])).min(1) as unknown as Zod.ZodType<T[], unknown>,
  };
}

/** A name resolved through `resolve` (presets under any case or alias), kept as written. */
export function presetName(accepted: readonly string[], resolve: (text: string) => string | undefined, aliases: readonly string[] = []): Pick<ConfigField<string>, 'parse' | 'schema'> {
  const problem = (text: string) => unknownName(text, accepted, '', aliases);
  return {
    // Flags keep the text; the hardware resolver resolves it once (and reports it under the flag's name).
    parse: (text) => text,
    schema: (z) => z.string().refine((text) => resolve(text) !== undefined, { error: (issue) => problem(String(issue.input)) }),
  };
}

/** A file path (relative paths in documents are relative to the document). */
export const path: Pick<ConfigField<string>, 'parse' | 'schema'> = { parse: (text) => text, schema: (z) => z.string().min(1) };

/** Free text. */
export const text: Pick<ConfigField<string>, 'parse' | 'schema'> = { parse: (value) => value, schema: (z) => z.string().min(1) };

/** On or off: a flag without argument, `true`/`false` in documents. */
export const boolean: Pick<ConfigField<boolean>, 'schema'> = { schema: (z) => z.boolean() };

/** A value written as flag text in a document, or as the number itself. */
function textOrNumber(z: ZodApi, numeric: Zod.ZodType<number>, parse: (text: string) => number): Zod.ZodType<number, unknown> {
  return z.union([numeric, z.string()]).transform((value, context) => {
    if (typeof value === 'number') return value;
    try {
      return parse(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

// The flag-text checks, worded as every kvflow flag words them.

/** An integer >= `min`. */
export function parseIntegerText(text: string, min = 1): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) throw new Error(`"${text}" is not an integer >= ${min}`);
  return value;
}

/** A finite number >= `min`. */
export function parseNumberText(text: string, min = 0): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min) throw new Error(`"${text}" is not a number >= ${min}`);
  return value;
}

/** A share in (0, 1]. */
export function parseFractionText(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value <= 1)) throw new Error(`"${text}" is not a number in (0, 1]`);
  return value;
}

/** A whole token count >= `min` such as `4096`, `512k`, `1M` (no `inf`). */
export function parseTokensText(text: string, min = 1): number {
  const value = parseQuantity(text, 'tokens');
  if (value === null || value < min) throw new Error(`"${text}" is not a token count >= ${min}`);
  return value;
}

/**
 * A command line read without commander, for the command lines that need nothing of it: every argument a
 * known long flag given once (`--name value`, `--name=value` or a bare boolean), every value accepted by
 * its parser, every required flag present. The result is the object commander's `opts()` would hold (the
 * same keys, values, defaults and key order). Anything else (help, a short or unknown flag, a repeat, a
 * value that starts with `-` or that its parser rejects, a missing value or required flag) gives
 * `undefined`, and commander reads the line as always, with its own words and exit codes.
 *
 * Why: commander and its `child_process` import are about a tenth of a `kvflow replay`'s start-up.
 */
import type { ConfigField } from '../config/field.js';

/** A flag as commander is given it: `--name` (a boolean) or `--name <value>`, with its help text. */
export type FlagOption = Pick<ConfigField, 'flag' | 'description' | 'parse' | 'default' | 'required' | 'repeatable' | 'negation'>;

/** `--name` or `--name <value>`: the only shapes read here (no short flag, optional value or variadic). */
const PLAIN_FLAG = /^--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?: <[^<>[\]]+>)?$/;

interface FlagSpec {
  /** The key in the parsed object: commander's camelCase of the flag's name. */
  key: string;
  takesValue: boolean;
  option: FlagOption;
}

/** The flags of `args` (the arguments after the command's name), or `undefined` when commander must read them. */
export function parsePlainFlags(args: readonly string[], options: readonly FlagOption[]): Record<string, unknown> | undefined {
  const specs = new Map<string, FlagSpec>();
  const values: Record<string, unknown> = {};
  for (const option of options) {
    const match = PLAIN_FLAG.exec(option.flag);
    // A `--no-...` pair or a repeatable flag follows commander rules not copied here.
    if (match === null || option.negation !== undefined || option.repeatable) return undefined;
    const key = camelCase(match[1]!);
    specs.set(`--${match[1]}`, { key, takesValue: option.flag.includes(' '), option });
    // Commander stores defaults as options are added: their keys come first, in option order.
    if (option.default !== undefined) values[key] = option.default;
  }
  const given = new Set<FlagSpec>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const equals = arg.indexOf('=');
    const spec = specs.get(equals === -1 ? arg : arg.slice(0, equals));
    if (spec === undefined || given.has(spec)) return undefined;
    given.add(spec);
    if (!spec.takesValue) {
      if (equals !== -1) return undefined;
      values[spec.key] = true;
      continue;
    }
    const text = equals === -1 ? args[++i] : arg.slice(equals + 1);
    // A value that looks like a flag is a mistake commander and main.ts word.
    if (text === undefined || text.startsWith('-')) return undefined;
    const parse = spec.option.parse;
    try {
      values[spec.key] = parse ? parse(text) : text;
    } catch {
      return undefined;
    }
  }
  for (const spec of specs.values()) if (spec.option.required && !given.has(spec)) return undefined;
  return values;
}

/** `skip-invalid` -> `skipInvalid`, as commander names an option's value. */
function camelCase(name: string): string {
  return name.split('-').reduce((text, word) => text + word[0]!.toUpperCase() + word.slice(1));
}

/**
 * Commander options built from configuration field tables (config/field.ts): each field becomes its flag,
 * with its help text, its default and its parser, so a field added to a table is a flag without an edit
 * here. A parser's error becomes commander's "argument ... is invalid" usage error (exit 2).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ConfigField, FieldTable } from '../config/field.js';
import { InputError } from '../errors.js';

/** Adds a flag per field of `table`, listed in `--help` under `heading` (one heading per concern). */
export function addFieldOptions(command: Command, table: FieldTable, heading?: string): Command {
  for (const field of Object.values(table) as ConfigField[]) {
    for (const option of fieldOptions(field)) command.addOption(heading === undefined ? option : option.helpGroup(heading));
  }
  return command;
}

/** Adds the flags of several tables, each under its concern's heading in `--help`. */
export function addFieldGroups(command: Command, groups: Readonly<Record<string, FieldTable>>): Command {
  for (const [heading, table] of Object.entries(groups)) addFieldOptions(command, table, `${heading}:`);
  return command;
}

/** The option of one field, and its `--no-...` option for a boolean that has one. */
export function fieldOptions(field: ConfigField): Option[] {
  const option = new Option(field.flag, field.description);
  const parse = field.parse;
  if (parse) {
    const parser = field.repeatable
      ? (text: string, previous: unknown) => [...((previous as unknown[] | undefined) ?? []), asArgument(() => parse(text))]
      : (text: string) => asArgument(() => parse(text));
    option.argParser(parser as (text: string, previous: unknown) => unknown);
  }
  if (field.default !== undefined) option.default(field.default, field.defaultText);
  if (field.required) option.makeOptionMandatory();
  const negation = field.negation === undefined ? [] : [new Option(`--no-${field.flag.slice(2).split(' ')[0]}`, field.negation)];
  return [option, ...negation];
}

function asArgument<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    // Errors that already name their flag (setup definitions) stay as they are.
    if (error instanceof InvalidArgumentError || error instanceof InputError) throw error;
    throw new InvalidArgumentError((error as Error).message);
  }
}

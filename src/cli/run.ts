import type { CommanderError } from 'commander';
import { InputError } from '../errors.js';
import { operationalError } from './operational-errors.js';

let debug = false;

/** `--debug` (anywhere on the command line, or KVFLOW_DEBUG=1): print stacks of unexpected errors. */
export function setDebug(on: boolean): void {
  debug = on;
}

/** Exit codes of every kvflow command. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Runs a command body and turns what it throws into the exit code contract: bad usage or bad input (flag
 * values, files, lines) exits 2 with a one-line message; anything else is a runtime failure and exits 1.
 * Commands build their whole stdout before writing it, so a failure never leaves half a JSON document.
 */
export async function runCommand(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

export function reportError(error: unknown): number {
  if (isCommanderError(error)) {
    // Commander already printed its message (with the flag and accepted values) to stderr.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof InputError) {
    process.stderr.write(`kvflow: ${error.message}\n`);
    return EXIT.usage;
  }
  const operational = operationalError(error);
  if (operational) {
    process.stderr.write(`kvflow: ${operational.message}\n`);
    if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return operational.exit;
  }
  const detail = error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`kvflow: internal error: ${detail}${debug ? '' : ' (run with --debug for the stack trace)'}\n`);
  return EXIT.failure;
}

/**
 * Commander's own errors (usage errors it has already printed), recognised without loading commander: a
 * replay that commander never parsed (plain-command.ts) must not load it just to tell its errors apart.
 */
function isCommanderError(error: unknown): error is CommanderError {
  const { code, exitCode } = (error ?? {}) as Partial<CommanderError>;
  return error instanceof Error && typeof exitCode === 'number' && typeof code === 'string' && code.startsWith('commander.');
}

/** Writes a command's whole output at once. */
export function emit(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

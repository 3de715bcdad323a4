/**
 * Errors that mean "the user gave us something wrong" (exit code 2), as opposed to bugs or runtime
 * failures (exit code 1). The message is already formatted for a terminal: `file:line: field: problem`
 * for trace lines, `file: path.to.field: problem` for JSON documents, `--flag: problem` for flags.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(message: string) {
    super(message);
  }

  /** A problem on one line of a line-oriented file (JSONL, CSV). Lines count from 1. */
  static atLine(file: string, line: number, field: string, problem: string): InputError {
    return new InputError(`${file}:${line}: ${field}: ${problem}`);
  }

  /** A problem at a path inside a JSON document, e.g. `spec.json: agents.a0.fixed: must be >= 0`. */
  static atPath(file: string, path: string, problem: string): InputError {
    return new InputError(`${file}: ${path || '(root)'}: ${problem}`);
  }

  /** A bad command-line flag value, naming the flag and what it accepts. */
  static flag(flag: string, problem: string): InputError {
    return new InputError(`${flag}: ${problem}`);
  }
}

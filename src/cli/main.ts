#!/usr/bin/env node
/**
 * The `kvflow` command. The usual `kvflow replay` line runs without commander (plain-command.ts); every
 * other line, and any replay line commander has to word an answer to, goes through commander (program.ts).
 */
import { reportError, setDebug } from './run.js';

// `--debug` is taken out before anything parses, so it works in any position and for every command.
const argv = process.argv.filter((arg) => arg !== '--debug');
setDebug(argv.length !== process.argv.length || process.env.KVFLOW_DEBUG === '1');

try {
  const ran = argv[2] === 'replay' && (await (await import('./plain-command.js')).runWithoutCommander(argv.slice(2)));
  if (!ran) await (await import('./program.js')).runProgram(argv);
} catch (error) {
  process.exitCode = reportError(error);
}

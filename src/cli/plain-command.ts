/**
 * `kvflow replay` without commander, when its flags need nothing of commander (fast-flags.ts): the same
 * flags object, the same command body (replay-command.ts). Commander's parse and its `child_process` import
 * cost about as much CPU as Node's own start-up's tenth, on every replay.
 */
import { REPLAY_FIELDS } from '../config/replay-fields.js';
import { parsePlainFlags, type FlagOption } from './fast-flags.js';
import { replayCommand, REPLAY_OUTPUT_OPTIONS, type ReplayFlags } from './replay-command.js';
import { runCommand } from './run.js';

/**
 * Runs `args` (the command's name first) when it is a replay line read without commander; false (and
 * nothing done) when commander must read it. The options are the ones replay.ts registers, in its order.
 */
export async function runWithoutCommander(args: readonly string[]): Promise<boolean> {
  if (args[0] !== 'replay') return false;
  const options: FlagOption[] = [...Object.values(REPLAY_FIELDS), ...REPLAY_OUTPUT_OPTIONS];
  const flags = parsePlainFlags(args.slice(1), options);
  if (flags === undefined) return false;
  await runCommand(() => replayCommand(flags as unknown as ReplayFlags));
  return true;
}

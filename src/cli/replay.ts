import type { Command } from 'commander';
import { REPLAY_FIELDS } from '../config/replay-fields.js';
import { addFieldOptions } from './config-flags.js';
import { replayCommand, REPLAY_OUTPUT_OPTIONS, type ReplayFlags } from './replay-command.js';
import { runCommand } from './run.js';

export function registerReplay(program: Command): void {
  const command = program
    .command('replay')
    .description('cache-only replay of a trace: hit rate per eviction policy and capacity (DESIGN.md section 4)');
  // The run's settings: the same fields a sweep grid of kind replay takes.
  addFieldOptions(command, REPLAY_FIELDS);
  for (const { flag, description } of REPLAY_OUTPUT_OPTIONS) command.option(flag, description);
  command.action((flags: ReplayFlags) => runCommand(() => replayCommand(flags)));
}

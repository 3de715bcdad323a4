#!/usr/bin/env node
/** The `kvflow` command: one sub-command per file in this folder, each thin (parse, call, print). */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { registerDemo } from './demo.js';
import { registerReplay } from './replay.js';
import { registerSimulate } from './simulate.js';
import { registerTrace } from './trace.js';
import { registerDoctor } from './doctor.js';
import { registerCalibrate } from './calibrate.js';
import { reportError } from './run.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('kvflow')
  .description('workflow-aware KV prefix caching for LLM serving: replay traces, simulate serving setups, compare policies')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
for (const register of [registerReplay, registerSimulate, registerTrace, registerDoctor, registerCalibrate, registerDemo]) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}

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
import { registerEngine } from './engine.js';
import { registerGateway } from './gateway.js';
import { registerEmulate } from './emulate.js';
import { registerSweep } from './sweep.js';
import { reportError } from './run.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('kvflow')
  .description('workflow-aware KV prefix caching for LLM serving: replay traces, simulate serving setups, compare policies')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();
const commands = [
  registerReplay,
  registerSimulate,
  registerTrace,
  registerSweep,
  registerEngine,
  registerGateway,
  registerEmulate,
  registerDoctor,
  registerCalibrate,
  registerDemo,
];
for (const register of commands) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}

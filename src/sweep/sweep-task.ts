/**
 * Piscina worker entry: runs one sweep run (sweep-point.ts). Bad input comes back as a value, not a
 * thrown error, so it keeps its meaning (exit code 2) across the thread boundary.
 */
import { InputError } from '../errors.js';
import type { SweepRun } from './sweep-grid.js';
import { runSweepPoint, type SweepRunOutput } from './sweep-point.js';

export type SweepTaskResult = { ok: true; output: SweepRunOutput } | { ok: false; inputError: string };

export default async function sweepTask(input: { run: SweepRun; timelines: boolean }): Promise<SweepTaskResult> {
  try {
    return { ok: true, output: await runSweepPoint(input.run, { timelines: input.timelines }) };
  } catch (error) {
    if (error instanceof InputError) return { ok: false, inputError: error.message };
    throw error;
  }
}
